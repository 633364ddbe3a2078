"""The district desk's audit browser: who viewed which camera, when and why; what the
district found wrong with the trail; each workstation's state; exports for the board.

A thin view. The rules (filter parameters, the words and severity of a finding or a
workstation, the verdict) are in ``domain.audit_browser``; every call to the district
goes through the operation runner, so the desk never waits on the network or the disk.
File and question dialogs open with ``open()``, never ``exec()``: a nested event loop
would stall the asyncio work that shares Qt's loop. They are attributes (``choose_path``,
``choose_emergency``, ``offer_to_open``) so tests can answer them.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from PySide6.QtCore import QDateTime, Qt, QUrl
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QDialog,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.audit_browser import (
    SessionFilter,
    Severity,
    Verdict,
    duration_text,
    finding_summary,
    finding_title,
    silent_flag,
    verify_verdict,
    workstation_summary,
)
from dispatch_console.domain.models import District, Emergency, User
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.exports import save_text

from .operations import OperationRunner

T = TypeVar("T")

SEVERITY_COLOURS = {
    Severity.CRITICAL: "#fce8e6",
    Severity.WARNING: "#fef0c7",
    Severity.INFO: "",
}
_LEVEL_STYLE = {
    "info": "background: #e8f0fe; color: #174ea6;",
    "ok": "background: #e6f4ea; color: #1e6b2f;",
    "error": "background: #fce8e6; color: #a50e0e;",
}
SESSION_COLUMNS = (
    "Started (UTC)",
    "Ended (UTC)",
    "Duration",
    "How it ended",
    "Heartbeats",
    "Viewer",
    "Agency",
    "Camera",
    "School",
    "Workstation",
    "Why (threat basis)",
)
ANY = "(any)"

# (window title, suggested name, file filter, then) -> None; ``then(None)`` = cancelled.
PathChooser = Callable[[str, str, str, Callable[[str | None], None]], None]
# (emergencies as (id, label), then) -> None
EmergencyChooser = Callable[[Sequence[tuple[str, str]], Callable[[str | None], None]], None]
# (saved file) -> None
OpenOffer = Callable[[Path], None]


def _table(columns: Sequence[str], name: str, parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(list(columns))
    table.setAccessibleName(name)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    table.horizontalHeader().setStretchLastSection(True)
    table.setWordWrap(False)
    return table


def _cell(
    text: object, severity: Severity | None = None, tip: str | None = None
) -> QTableWidgetItem:
    item = QTableWidgetItem("" if text is None else str(text))
    if severity is not None and SEVERITY_COLOURS[severity]:
        item.setBackground(QBrush(QColor(SEVERITY_COLOURS[severity])))
    if tip:
        item.setToolTip(tip)
    return item


class AuditBrowser(QDialog):
    """Sessions (filtered, with each one's timeline), findings, workstations, exports."""

    def __init__(
        self,
        client: DistrictClient,
        runner: OperationRunner,
        district: District,
        emergencies: Callable[[], Sequence[Emergency]],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Audit trail — viewing sessions, findings, workstations")
        self.setAccessibleName("Audit trail")
        self.resize(1280, 780)
        self.client, self.runner, self.district = client, runner, district
        self._emergencies = emergencies
        self._seen_emergencies: dict[str, str] = {}
        self._sessions: list[dict[str, Any]] = []
        self._pending = 0
        self._timeline_for: str | None = None
        self.verdict: Verdict | None = None  # the last verification's, for the desk
        self.choose_path: PathChooser = self._choose_path
        self.choose_emergency: EmergencyChooser = self._choose_emergency
        self.offer_to_open: OpenOffer = self._offer_to_open

        self.tabs = QTabWidget(self)
        self.tabs.setAccessibleName("Audit trail views")
        self.tabs.addTab(self._sessions_page(), "&Sessions")
        self.findings = _table(("When (UTC)", "Finding", "Subject", "Detail"), "Findings", self)
        self.tabs.addTab(self.findings, "&Findings")
        self.workstations = _table(
            ("Workstation", "Last event (UTC)", "Open sessions", "Silent sessions", "State"),
            "Workstations",
            self,
        )
        self.tabs.addTab(self.workstations, "&Workstations")

        self.refresh_button = self._button("&Refresh", "Read everything again", self.refresh)
        self.export_button = self._button(
            "Export &CSV…", "Save the filtered sessions as CSV", self.export_csv
        )
        self.report_button = self._button(
            "Emergency &report…", "Save an emergency's report for the board", self.emergency_report
        )
        self.verify_button = self._button(
            "&Verify trail", "Check the district's whole audit chain", self.verify
        )
        self.close_button = self._button("Close", "Close the audit trail", self.close)
        self.busy = QProgressBar(self)
        self.busy.setAccessibleName("Working")
        self.busy.setRange(0, 0)  # an indeterminate bar: something is under way
        self.busy.setMaximumWidth(120)
        self.busy.setTextVisible(False)
        self.busy.hide()
        self.message = QLabel(self)
        self.message.setAccessibleName("Audit trail message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()

        buttons = QHBoxLayout()
        for button in (self.refresh_button, self.export_button, self.report_button):
            buttons.addWidget(button)
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.busy)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(buttons)
        self._fill_registry_filters()

    # -- building ---------------------------------------------------------------------

    def _button(self, text: str, name: str, slot: Callable[[], object]) -> QPushButton:
        button = QPushButton(text, self)
        button.setAccessibleName(name)
        button.setAutoDefault(False)
        button.clicked.connect(slot)
        return button

    def _combo(self, name: str, parent: QWidget, *, editable: bool = False) -> QComboBox:
        combo = QComboBox(parent)
        combo.setAccessibleName(name)
        combo.setEditable(editable)
        combo.setMinimumWidth(180)
        combo.addItem(ANY, None)
        return combo

    def _time(self, name: str, parent: QWidget) -> tuple[QCheckBox, QDateTimeEdit]:
        check = QCheckBox(name, parent)
        check.setAccessibleName(f"Filter by {name.lower()} time")
        edit = QDateTimeEdit(QDateTime.currentDateTime(), parent)
        edit.setAccessibleName(f"{name} (local time)")
        edit.setDisplayFormat("yyyy-MM-dd HH:mm:ss")
        edit.setCalendarPopup(True)
        edit.setEnabled(False)
        check.toggled.connect(edit.setEnabled)
        return check, edit

    def _sessions_page(self) -> QWidget:
        page = QWidget(self)
        self.school = self._combo("School", page)
        self.camera = self._combo("Camera", page)
        self.user = self._combo("User", page)
        self.agency = self._combo("Agency", page)
        self.emergency = self._combo("Emergency", page, editable=True)
        self.since_on, self.since = self._time("From", page)
        self.until_on, self.until = self._time("To", page)
        self.search_button = QPushButton("&Search", page)
        self.search_button.setAccessibleName("Search sessions with these filters")
        self.search_button.setDefault(True)
        self.search_button.clicked.connect(self.search)
        self.school.currentIndexChanged.connect(self._fill_cameras)
        # A long emergency label starts with its school, not with its last characters.
        self.emergency.currentIndexChanged.connect(self._show_label_start)
        self.emergency.setMinimumWidth(320)
        form = QGridLayout()
        for column, (label, widget) in enumerate(
            (
                ("Sc&hool", self.school),
                ("C&amera", self.camera),
                ("&User", self.user),
                ("A&gency", self.agency),
            )
        ):
            caption = QLabel(label, page)
            caption.setBuddy(widget)
            form.addWidget(caption, 0, 2 * column)
            form.addWidget(widget, 0, 2 * column + 1)
        caption = QLabel("&Emergency", page)
        caption.setBuddy(self.emergency)
        form.addWidget(caption, 1, 0)
        form.addWidget(self.emergency, 1, 1)
        form.addWidget(self.since_on, 1, 2)
        form.addWidget(self.since, 1, 3)
        form.addWidget(self.until_on, 1, 4)
        form.addWidget(self.until, 1, 5)
        form.addWidget(self.search_button, 1, 7)

        self.sessions = _table(SESSION_COLUMNS, "Viewing sessions", page)
        self.sessions.itemSelectionChanged.connect(self._on_session_selected)
        self.timeline_title = QLabel("Select a session to see its timeline.", page)
        self.timeline = _table(("At (UTC)", "Record", "Seq", "Detail"), "Session timeline", page)
        lower = QWidget(page)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        lower_layout.addWidget(self.timeline_title)
        lower_layout.addWidget(self.timeline)
        split = QSplitter(Qt.Orientation.Vertical, page)
        split.addWidget(self.sessions)
        split.addWidget(lower)
        split.setSizes([380, 220])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(page)
        layout.addLayout(form)
        layout.addWidget(split, 1)
        return page

    def _show_label_start(self) -> None:
        line = self.emergency.lineEdit()
        if line is not None:
            line.setCursorPosition(0)

    def _fill_registry_filters(self) -> None:
        for school in self.district.schools:
            self.school.addItem(school.name, school.id)
        self._fill_cameras()
        self._fill_emergencies()

    def _fill_cameras(self) -> None:
        school_id = self.school.currentData()
        self.camera.clear()
        self.camera.addItem(ANY, None)
        for school in self.district.schools:
            if school_id is None or school.id == school_id:
                for camera in school.cameras():
                    label = camera.name if school_id else f"{camera.name} ({school.name})"
                    self.camera.addItem(label, camera.id)

    def _fill_emergencies(self) -> None:
        names = {s.id: s.name for s in self.district.schools}
        for e in self._emergencies():
            when = e.declared_at.astimezone().strftime("%Y-%m-%d %H:%M")
            self._seen_emergencies.setdefault(
                e.id, f"{names.get(e.school_id, e.school_id)}, {e.type.label}, {when}"
            )
        current = self.emergency.currentData()
        self.emergency.blockSignals(True)
        self.emergency.clear()
        self.emergency.addItem(ANY, None)
        for emergency_id, label in self._seen_emergencies.items():
            self.emergency.addItem(label, emergency_id)
        if current is not None:
            self.emergency.setCurrentIndex(max(0, self.emergency.findData(current)))
        self.emergency.blockSignals(False)
        self._show_label_start()

    def _fill_accounts(self, users: Sequence[User]) -> None:
        """Users and agencies come from the district's accounts (approvers may list them)."""
        self.user.clear()
        self.user.addItem(ANY, None)
        for user in sorted(users, key=lambda u: u.display_name):
            self.user.addItem(f"{user.display_name} ({user.agency})", user.id)
        self.agency.clear()
        self.agency.addItem(ANY, None)
        for agency in sorted({u.agency for u in users}):
            self.agency.addItem(agency, agency)

    # -- running calls ----------------------------------------------------------------

    def _run(self, operation: Coroutine[Any, Any, T], done: Callable[[T], None], what: str) -> None:
        """Through the runner, with the busy bar up; a failure is said here, in words."""
        self._pending += 1
        self.busy.show()

        def finished() -> None:
            self._pending -= 1
            self.busy.setVisible(self._pending > 0)

        def ok(result: T) -> None:
            finished()
            done(result)

        def failed(error: ConsoleError) -> None:
            finished()
            self.say(f"{what} failed — {error.title}: {error.detail} {error.hint}".strip(), "error")

        self.runner.run(operation, ok, failed)

    @property
    def loading(self) -> bool:
        return self._pending > 0

    def say(self, text: str, level: str = "info") -> None:
        self.message.setText(text)
        self.message.setStyleSheet(
            f"QLabel {{ {_LEVEL_STYLE[level]} padding: 6px 10px; border-radius: 3px; }}"
        )
        self.message.show()

    # -- reading ----------------------------------------------------------------------

    def refresh(self) -> None:
        self._run(
            self.client.accounts(), self._keep_filter(self._fill_accounts), "Reading accounts"
        )
        self.search()
        self.refresh_findings()
        self.refresh_workstations()

    def _keep_filter(self, fill: Callable[[T], None]) -> Callable[[T], None]:
        """Refilling the user and agency lists keeps what was chosen in them."""

        def refill(result: T) -> None:
            chosen = (self.user.currentData(), self.agency.currentData())
            fill(result)
            for combo, value in zip((self.user, self.agency), chosen, strict=True):
                if value is not None:
                    combo.setCurrentIndex(max(0, combo.findData(value)))

        return refill

    def current_filter(self) -> SessionFilter:
        """The filters as chosen; ValueError when the time window makes no sense."""
        emergency = self.emergency.currentData()
        if emergency is None and self.emergency.currentText() not in ("", ANY):
            emergency = self.emergency.currentText().strip()  # an id typed in
        return SessionFilter(
            school_id=self.school.currentData(),
            camera_id=self.camera.currentData(),
            user_id=self.user.currentData(),
            agency=self.agency.currentData(),
            emergency_id=emergency,
            since=self._moment(self.since) if self.since_on.isChecked() else None,
            until=self._moment(self.until) if self.until_on.isChecked() else None,
        )

    @staticmethod
    def _moment(edit: QDateTimeEdit) -> datetime:
        return datetime.fromtimestamp(edit.dateTime().toMSecsSinceEpoch() / 1000, UTC)

    def _filter_or_say(self) -> SessionFilter | None:
        try:
            return self.current_filter()
        except ValueError as exc:
            self.say(f"Those filters cannot be used: {exc}.", "error")
            return None

    def search(self) -> None:
        where = self._filter_or_say()
        if where is None:
            return
        self._run(
            self.client.audit_sessions(limit=1000, where=where),
            self.show_sessions,
            "Reading the viewing sessions",
        )

    def show_sessions(self, sessions: Sequence[Mapping[str, Any]]) -> None:
        self._sessions = [dict(s) for s in sessions]
        table = self.sessions
        table.setSortingEnabled(False)
        table.setRowCount(len(sessions))
        for row, s in enumerate(sessions):
            flag = silent_flag(s)
            heard = s.get("last_heartbeat_at")
            values = (
                s.get("started_at"),
                s.get("ended_at") or "watching now",
                duration_text(s.get("duration_ms")),
                str(s.get("end_reason") or "").replace("_", " "),
                flag or (f"last {heard}" if heard else ""),
                s.get("user_name"),
                s.get("agency"),
                s.get("camera_name"),
                s.get("school_name"),
                s.get("workstation_id"),
                s.get("threat_basis"),
            )
            for column, value in enumerate(values):
                item = _cell(value, Severity.WARNING if flag else None)
                if column == 0:
                    item.setData(Qt.ItemDataRole.UserRole, s.get("session_id"))
                table.setItem(row, column, item)
            emergency_id = s.get("emergency_id")
            if emergency_id and emergency_id not in self._seen_emergencies:
                self._seen_emergencies[str(emergency_id)] = (
                    f"{s.get('school_name')}, {s.get('threat_basis')}"
                )
        table.resizeColumnsToContents()
        self._fill_emergencies()
        self.say(f"{len(sessions)} viewing session(s) match.", "info")

    def session_ids(self) -> list[str]:
        return [str(s["session_id"]) for s in self._sessions]

    def select_session(self, session_id: str) -> None:
        row = self.session_ids().index(session_id)
        self.sessions.selectRow(row)

    def _on_session_selected(self) -> None:
        rows = self.sessions.selectionModel().selectedRows()
        if not rows:
            return
        session = self._sessions[rows[0].row()]
        session_id = str(session["session_id"])
        self._timeline_for = session_id
        self.timeline_title.setText(
            f"Timeline of {session.get('user_name')} watching {session.get('camera_name')} "
            f"(session {session_id}):"
        )
        self.timeline.setRowCount(0)

        def show(entries: list[dict[str, Any]]) -> None:
            if self._timeline_for == session_id:  # not one clicked before it
                self.show_timeline(entries)

        self._run(self.client.audit_timeline(session_id), show, "Reading the session's timeline")

    def show_timeline(self, entries: Sequence[Mapping[str, Any]]) -> None:
        self.timeline.setRowCount(len(entries))
        for row, entry in enumerate(entries):
            detail = str(entry.get("detail", ""))
            values = (entry.get("at"), entry.get("kind"), entry.get("seq"), detail)
            for column, value in enumerate(values):
                self.timeline.setItem(
                    row, column, _cell(value, tip=detail if column == 3 else None)
                )
        self.timeline.resizeColumnsToContents()

    def refresh_findings(self) -> None:
        self._run(self.client.audit_findings(), self.show_findings, "Reading the findings")

    def show_findings(self, findings: Sequence[Mapping[str, Any]]) -> None:
        self.findings.setRowCount(len(findings))
        for row, f in enumerate(findings):
            summary = finding_summary(f)
            title = finding_title(str(f.get("kind")))
            values = (
                f.get("at"),
                f"● {title} (now)" if f.get("live") else title,
                f.get("subject"),
                f.get("detail"),
            )
            for column, value in enumerate(values):
                self.findings.setItem(row, column, _cell(value, summary.severity, summary.text))
        self.findings.resizeColumnsToContents()
        self.tabs.setTabText(1, f"&Findings ({len(findings)})")

    def refresh_workstations(self) -> None:
        self._run(
            self.client.audit_workstations(), self.show_workstations, "Reading the workstations"
        )

    def show_workstations(self, rows: Sequence[Mapping[str, Any]]) -> None:
        now = datetime.now(UTC)
        self.workstations.setRowCount(len(rows))
        for row, w in enumerate(rows):
            summary = workstation_summary(w, now)
            values = (
                w.get("workstation_id"),
                w.get("last_event_at") or "never",
                w.get("open_sessions"),
                w.get("overdue_sessions"),
                summary.text,
            )
            for column, value in enumerate(values):
                self.workstations.setItem(row, column, _cell(value, summary.severity))
        self.workstations.resizeColumnsToContents()

    # -- exports and verification -------------------------------------------------------

    def export_csv(self) -> None:
        where = self._filter_or_say()
        if where is None:
            return
        self._run(
            self.client.audit_sessions_csv(where),
            lambda text: self._save(text, "viewing-sessions.csv", "CSV files (*.csv)", "CSV"),
            "Exporting the viewing sessions",
        )

    def emergency_report(self) -> None:
        self._fill_emergencies()
        choices = list(self._seen_emergencies.items())
        if not choices:
            self.say("No emergency is known to this desk yet: search the sessions first.")
            return

        def chosen(emergency_id: str | None) -> None:
            if not emergency_id:
                return
            self._run(
                self.client.emergency_report(emergency_id),
                lambda html: self._save(
                    html,
                    f"emergency-{emergency_id}.html",
                    "Web pages (*.html)",
                    "report",
                    open_after=True,
                ),
                "Reading the emergency's report",
            )

        self.choose_emergency(choices, chosen)

    def _save(
        self, text: str, suggested: str, kinds: str, what: str, *, open_after: bool = False
    ) -> None:
        """Ask where, write it whole; on failure say why and ask again with the same text."""

        problem: list[str] = []  # why the last place failed, kept if the user gives up

        def chosen(path: str | None) -> None:
            if not path:
                said = f"{problem[-1]} " if problem else ""
                self.say(f"{said}The {what} was not saved.", "error" if problem else "info")
                return
            target = Path(path)

            def saved(where: Path) -> None:
                self.say(f"The {what} was saved to {where}.", "ok")
                if open_after:
                    self.offer_to_open(where)

            def failed(error: ConsoleError) -> None:
                problem.append(error.detail)
                self.say(f"{error.detail} {error.hint}", "error")
                self.choose_path(f"Save the {what} elsewhere", suggested, kinds, chosen)

            self.runner.run(save_text(target, text), saved, failed)

        self.choose_path(f"Save the {what}", suggested, kinds, chosen)

    def verify(self) -> None:
        def show(report: dict[str, Any]) -> None:
            verdict = verify_verdict(report)
            self.verdict = verdict
            self.say(f"{verdict.headline}\n{verdict.detail}", "ok" if verdict.ok else "error")

        self._run(self.client.audit_verify(), show, "Verifying the audit trail")

    # -- the dialogs tests answer -------------------------------------------------------

    def _choose_path(
        self, title: str, suggested: str, kinds: str, then: Callable[[str | None], None]
    ) -> None:
        dialog = QFileDialog(self, title, suggested, kinds)
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setAccessibleName(title)
        dialog.fileSelected.connect(then)
        dialog.rejected.connect(lambda: then(None))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _choose_emergency(
        self, choices: Sequence[tuple[str, str]], then: Callable[[str | None], None]
    ) -> None:
        labels = [label for _, label in choices]
        dialog = QInputDialog(self)
        dialog.setWindowTitle("Emergency report")
        dialog.setLabelText("Which emergency's report?")
        dialog.setAccessibleName("Choose the emergency")
        dialog.setComboBoxItems(labels)
        dialog.textValueSelected.connect(lambda label: then(choices[labels.index(label)][0]))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _offer_to_open(self, path: Path) -> None:
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Report saved",
            f"The report was saved to {path}. Open it now?",
            QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Close,
            self,
        )
        box.setAccessibleName("Open the saved report?")

        def answered(button: int) -> None:
            if button == QMessageBox.StandardButton.Open:
                QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

        box.finished.connect(answered)
        box.finished.connect(box.deleteLater)
        box.open()
