"""The district desk's audit side: the "Audit trail…" browser and live audit findings.

Kept out of the controller (which is big enough): the controller builds one of these
for the district desk only, and this class follows the live event stream itself.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

from dispatch_console.domain.audit_browser import Severity, event_finding_summary
from dispatch_console.services.console import Console
from dispatch_console.services.sse import ServerEvent

from .audit_browser import AuditBrowser
from .main_window import MainWindow
from .operations import OperationRunner

_LEVELS = {Severity.CRITICAL: "error", Severity.WARNING: "warning", Severity.INFO: "info"}
# A finding stays on screen this long: someone may be away from the desk for a minute.
FINDING_SHOWN_MS = 120_000


class AuditPresenter(QObject):
    def __init__(self, console: Console, window: MainWindow, runner: OperationRunner) -> None:
        super().__init__(window)
        self.console, self.window, self.runner = console, window, runner
        self.browser: AuditBrowser | None = None
        self.last_finding: str | None = None
        self._finding_timer = QTimer(self)
        self._finding_timer.setSingleShot(True)
        self._finding_timer.timeout.connect(lambda: self.window.show_audit_finding(None))
        if window.audit_trail_action is not None:
            window.audit_trail_action.triggered.connect(self.open_browser)
        if console.live is not None:
            console.live.event_listeners.append(self.on_live_event)

    def open_browser(self) -> AuditBrowser | None:
        """Show the audit browser (one per desk), reading everything afresh."""
        district = self.console.district
        if district is None:
            return None
        if self.browser is None:
            self.browser = AuditBrowser(
                self.console.client,
                self.runner,
                district,
                lambda: self.console.access.emergencies,
                self.window,
            )
        self.browser.show()
        self.browser.raise_()
        self.browser.activateWindow()
        self.browser.refresh()
        return self.browser

    def on_live_event(self, event: ServerEvent) -> None:
        """An ``audit.finding``: said on the desk at once, and the open browser's lists
        (findings, workstations) read again."""
        if event.kind != "audit.finding":
            return
        summary = event_finding_summary(event.data)
        self.last_finding = summary.text
        self.window.show_audit_finding(summary.text, _LEVELS[summary.severity])
        self._finding_timer.start(FINDING_SHOWN_MS)
        if self.browser is not None and self.browser.isVisible():
            self.browser.refresh_findings()
            self.browser.refresh_workstations()
