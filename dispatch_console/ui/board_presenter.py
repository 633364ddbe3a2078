"""The district desk's watch board: who watches what, read again when a viewing session
starts or ends (and after a reconnect), and on a slow timer besides."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer

from dispatch_console.domain.watch_rows import watch_rows
from dispatch_console.services.console import Console
from dispatch_console.services.sse import ServerEvent

from .main_window import MainWindow
from .operations import OperationRunner


class BoardPresenter(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        runner: OperationRunner,
        *,
        refresh_ms: int,
    ) -> None:
        super().__init__(window)
        self.console = console
        self.window = window
        self.runner = runner
        self._timer = QTimer(self)
        self._timer.setInterval(refresh_ms)
        self._timer.timeout.connect(self.refresh)
        if console.live is not None:
            console.live.event_listeners.append(self._on_live_event)

    def start(self) -> None:
        if self.window.board is not None:
            self._timer.start()
            self.refresh()

    def stop(self) -> None:
        self._timer.stop()

    def _on_live_event(self, event: ServerEvent) -> None:
        # The board lists viewing sessions: it reads them again when one starts or ends
        # (and after a reconnect), instead of every two seconds.
        if event.kind.startswith("viewing.") or event.kind in ("connected", "resync"):
            self.refresh()

    def refresh(self) -> None:
        board = self.window.board
        if board is None or self.runner.busy > 4:
            return
        self.runner.run(self.console.client.audit_sessions(limit=50), self._show)

    def _show(self, sessions: Sequence[Mapping[str, Any]]) -> None:
        if self.window.board is not None:
            self.window.board.show_rows(watch_rows(sessions))
