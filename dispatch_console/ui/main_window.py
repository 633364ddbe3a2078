"""The console window: header, emergency panel, floor plan and video grid side by side.

Both desks list every active emergency ("Emergencies and access"): the district desk in
full above its viewing-session board, the police desk compactly above the floor plan.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabBar,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.audit_health import AuditHealth, AuditState

from . import theme
from .access_panel import AccessPanel, FerpaNotice, SchoolStateList
from .district_overview import Breadcrumb, DistrictOverview
from .emergency_panel import EmergencyPanel
from .map_view import FloorPlanView
from .video_grid import GridHome, VideoGrid
from .watch_board import WatchBoard


class MainWindow(QMainWindow):
    """``close_requested`` lets the controller end sessions before the window goes."""

    close_requested = Signal()
    sign_out_requested = Signal()
    closed = Signal()
    unlock_requested = Signal()

    def __init__(self, title: str, *, with_watch_board: bool) -> None:
        super().__init__()
        self.setWindowTitle(title)
        self.resize(1500, 900)
        self._allow_close = False
        self._lock_cover: QWidget | None = None
        self._lock_text: QLabel | None = None
        self.unlock_button: QPushButton | None = None
        central = QWidget(self)
        self.setCentralWidget(central)

        self.who = QLabel(central)
        self.who.setStyleSheet("font-weight: bold; font-size: 13pt;")
        self.school = QComboBox(central)
        self.school.setMinimumWidth(260)
        header = QHBoxLayout()
        header.addWidget(self.who, 1)
        header.addWidget(QLabel("School:", central))
        header.addWidget(self.school)
        self.search = QLineEdit(central)
        self.search.setPlaceholderText("Find camera: name, room or number (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(260)
        header.addWidget(self.search)
        QShortcut(QKeySequence.StandardKey.Find, self, self.search.setFocus)

        # Stays up for as long as the district server cannot be reached.
        self.connection = QLabel(central)
        self.connection.setWordWrap(True)
        self.connection.setStyleSheet(
            "QLabel { background: #a50e0e; color: white; padding: 6px 10px;"
            " font-weight: bold; border-radius: 3px; }"
        )
        self.connection.hide()
        # Audit delivery failing is not a connection problem (the proxy may answer fine):
        # it gets its own line, because "no audit record, no video" depends on it.
        self.audit_problem = QLabel(central)
        self.audit_problem.setWordWrap(True)
        self.audit_problem.setStyleSheet(
            "QLabel { background: #8a4b00; color: white; padding: 6px 10px;"
            " font-weight: bold; border-radius: 3px; }"
        )
        self.audit_problem.hide()
        # An audit record has waited past the alarm threshold: red, and it stays until
        # delivery resumes (the rule and its words are in domain/audit_health).
        self.audit_alarm = QLabel(central)
        self.audit_alarm.setObjectName("auditAlarm")
        self.audit_alarm.setWordWrap(True)
        self.audit_alarm.setStyleSheet(
            "QLabel { background: #b00020; color: white; padding: 6px 10px;"
            " font-weight: bold; border-radius: 3px; }"
        )
        self.audit_alarm.hide()
        # The district desk's latest audit finding, on a line of its own: it must not
        # overwrite the desk's message about the emergency in hand (and vice versa).
        self.audit_finding = QLabel(central)
        self.audit_finding.setObjectName("auditFinding")
        self.audit_finding.setWordWrap(True)
        self.audit_finding.setTextFormat(Qt.TextFormat.PlainText)
        self.audit_finding.setAccessibleName("Latest audit finding")
        self.audit_finding.hide()
        # The audit state, always in view at the bottom right of the desk.
        self.audit_status = QLabel("Audit: …", self)
        self.audit_status.setObjectName("auditStatus")
        self.audit_status.setStyleSheet("QLabel { padding: 0 8px; }")
        self.statusBar().addPermanentWidget(self.audit_status)
        # The district desk reads plan coordinates (metres) off the map, to place rooms
        # and cameras on a calibrated drawing (see floorplan import-image).
        self.plan_position: QLabel | None = None
        if with_watch_board:
            self.plan_position = QLabel("", self)
            self.plan_position.setAccessibleName("Pointer position on the plan")
            self.statusBar().insertPermanentWidget(0, self.plan_position)
        # The server answers but its live updates do not arrive: changes show late.
        self.live_updates = QLabel(central)
        self.live_updates.setWordWrap(True)
        self.live_updates.setStyleSheet(
            "QLabel { background: #6b5800; color: white; padding: 6px 10px;"
            " font-weight: bold; border-radius: 3px; }"
        )
        self.live_updates.hide()
        self.emergency = EmergencyPanel(central)
        self.message = QLabel(central)
        self.message.setWordWrap(True)
        self.message.hide()
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.message.hide)

        self.floors = QTabBar(central)
        self.floors.setExpanding(False)
        # Page Up / Page Down step through floors wherever the focus is in this window.
        self.floor_up = QShortcut(QKeySequence(Qt.Key.Key_PageUp), self)
        self.floor_down = QShortcut(QKeySequence(Qt.Key.Key_PageDown), self)
        # Alt+Home goes back to the district overview, where the map starts.
        self.overview_key = QShortcut(QKeySequence("Alt+Home"), self)
        self.breadcrumb = Breadcrumb(central)
        self.breadcrumb.setStyleSheet("color: palette(window-text);")
        self.overview = DistrictOverview(central)
        self.map = FloorPlanView(central)
        self.map.pointer_moved.connect(self._show_plan_position)
        # The district desk works this list; police glance at it (read-only, compact).
        self.access = AccessPanel(central, compact=not with_watch_board)
        left = column = QWidget(central)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        # The police desk: every school's state in one compact, clickable list, and the
        # FERPA notice shown while school video is on screen (ui/request_presenter).
        self.schools: SchoolStateList | None = None
        self.ferpa: FerpaNotice | None = None
        if not with_watch_board:
            # The incident list over the plan, with a handle between them: with several
            # emergencies the list grows, and the dispatcher decides how much plan to keep.
            status = QWidget(left)
            status_layout = QVBoxLayout(status)
            status_layout.setContentsMargins(0, 0, 0, 0)
            status_layout.addWidget(self.access)
            self.schools = SchoolStateList(status)
            status_layout.addWidget(self.schools)
            self.ferpa = FerpaNotice(central)
            plan_side = QWidget(left)
            plan_side_layout = QVBoxLayout(plan_side)
            plan_side_layout.setContentsMargins(0, 0, 0, 0)
            stacked = QSplitter(Qt.Orientation.Vertical, left)
            stacked.addWidget(status)
            stacked.addWidget(plan_side)
            stacked.setStretchFactor(0, 0)
            stacked.setStretchFactor(1, 1)
            stacked.setChildrenCollapsible(False)
            left_layout.addWidget(stacked, 1)
            left_layout = plan_side_layout
            left = plan_side
        left_layout.addWidget(self.breadcrumb)
        plan_page = QWidget(left)
        plan_layout = QVBoxLayout(plan_page)
        plan_layout.setContentsMargins(0, 0, 0, 0)
        plan_layout.addWidget(self.floors)
        plan_layout.addWidget(self.map, 1)
        # Page 0: the district overview; page 1: a school's floor plan.
        self.map_stack = QStackedWidget(left)
        self.map_stack.addWidget(self.overview)
        self.map_stack.addWidget(plan_page)
        left_layout.addWidget(self.map_stack, 1)
        # The symbols in one line; what the shading means and the keys are a hover away
        # (and in Help → Keyboard shortcuts): every line here is a line less of plan.
        legend = QLabel(
            "<span style='color:#1f8f4e'>●</span>&nbsp;unlocked &nbsp; "
            "<span style='color:#9a9fa6'>■</span>&nbsp;locked &nbsp; "
            "<span style='color:#b3261e'>⊖</span>&nbsp;never shared &nbsp; "
            "<span style='color:#1565c0'>◉</span>&nbsp;open &nbsp; "
            "<span style='color:#e0a100'>▲</span>&nbsp;offline",
            left,
        )
        legend.setToolTip(
            "Locked: needs an emergency and the district's grant. Offline: hover the pin "
            "for why. Shading: what each camera sees, walls considered. Click a spot (or "
            "right-click) to open the cameras that see it. Keys: PgUp/PgDn floor, +/− zoom, "
            "0 fit, Alt+Home district overview."
        )
        legend.setAccessibleName("Map legend")
        legend.setWordWrap(True)  # a narrow map column wraps it instead of widening
        left_layout.addWidget(legend)

        self.grid = VideoGrid(central)
        # The grid's place here; "Detach grid" moves the same widget to its own window.
        self.grid_home = GridHome(self.grid, central)
        splitter = QSplitter(Qt.Orientation.Horizontal, central)
        splitter.addWidget(column)
        splitter.addWidget(self.grid_home)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setChildrenCollapsible(False)
        splitter.setSizes([600, 900])

        layout = QVBoxLayout(central)
        layout.addLayout(header)
        layout.addWidget(self.connection)
        layout.addWidget(self.audit_problem)
        layout.addWidget(self.audit_alarm)
        layout.addWidget(self.audit_finding)
        layout.addWidget(self.live_updates)
        layout.addWidget(self.emergency)
        layout.addWidget(self.message)
        if self.ferpa is not None:
            layout.addWidget(self.ferpa)
        session_menu = self.menuBar().addMenu("&Session")
        self.sign_out_action = QAction("Sign &out", self)
        self.sign_out_action.setShortcut(QKeySequence("Ctrl+Shift+Q"))
        self.sign_out_action.setToolTip(
            "Close every feed, end this sign-in (and a remembered one) and return to the "
            "sign-in window (Ctrl+Shift+Q)"
        )
        self.sign_out_action.setStatusTip(self.sign_out_action.toolTip())
        self.sign_out_action.triggered.connect(self.sign_out_requested)
        exit_action = QAction("E&xit", self)
        exit_action.setShortcut(QKeySequence.StandardKey.Quit)
        exit_action.setToolTip("Close every feed and exit; a remembered sign-in stays")
        exit_action.setStatusTip(exit_action.toolTip())
        exit_action.triggered.connect(self.close)
        session_menu.addAction(self.sign_out_action)
        session_menu.addAction(exit_action)
        self.addActions([self.sign_out_action, exit_action])
        self.board: WatchBoard | None = None
        # The district desk's audit browser (its presenter opens it); police have none.
        self.audit_trail_action: QAction | None = None
        if with_watch_board:
            action = QAction("&Audit trail…", self)
            action.setShortcut(QKeySequence("Ctrl+Shift+A"))
            action.setToolTip(
                "Viewing sessions with their timelines, findings, workstations, exports "
                "(Ctrl+Shift+A)"
            )
            action.setStatusTip(action.toolTip())
            self.menuBar().addMenu("&District").addAction(action)
            self.addAction(action)  # the shortcut works wherever the focus is
            self.audit_trail_action = action
            vertical = QSplitter(Qt.Orientation.Vertical, central)
            vertical.addWidget(splitter)
            vertical.addWidget(self.access)
            board_box = QWidget(central)
            board_layout = QVBoxLayout(board_box)
            board_layout.setContentsMargins(0, 0, 0, 0)
            board_layout.addWidget(QLabel("<b>Viewing sessions</b> (live and recent)", board_box))
            self.board = WatchBoard(board_box)
            board_layout.addWidget(self.board)
            vertical.addWidget(board_box)
            vertical.setStretchFactor(0, 3)
            vertical.setStretchFactor(1, 1)
            vertical.setStretchFactor(2, 1)
            vertical.setChildrenCollapsible(False)
            vertical.setSizes([480, 170, 170])
            layout.addWidget(vertical, 1)
        else:
            layout.addWidget(splitter, 1)

    def show_overview(self, shown: bool) -> None:
        """The district overview (True) or the chosen school's floor plan (False)."""
        self.map_stack.setCurrentIndex(0 if shown else 1)

    def _show_plan_position(self, x_m: float, y_m: float) -> None:
        if self.plan_position is not None:
            self.plan_position.setText(f"x {x_m:.1f} m · y {y_m:.1f} m")

    def show_message(self, text: str, level: str = "info", timeout_ms: int = 15000) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(
            f"QLabel {{ {theme.message_style(level)} padding: 6px 10px; border-radius: 3px; }}"
        )
        self.message.show()
        self.statusBar().showMessage(text.split("\n")[0], timeout_ms)
        self._message_timer.start(timeout_ms)

    def show_connection_problem(self, problem: str | None) -> None:
        if problem is None:
            self.connection.hide()
            return
        self.connection.setText(
            f"{problem.rstrip('.')}. Retrying: access changes are not being received and "
            "no new feed can open until the connection is back."
        )
        self.connection.show()

    def show_live_updates_problem(self, problem: str | None, retry_s: float) -> None:
        if problem is None:
            self.live_updates.hide()
            return
        self.live_updates.setText(
            f"Live updates from the district are interrupted ({problem.rstrip('.')}). "
            f"Reconnecting and re-checking access at least every {retry_s:g} s meanwhile: "
            "approvals and revocations may show a few seconds late."
        )
        self.live_updates.show()

    def show_audit_finding(self, text: str | None, level: str = "warning") -> None:
        """The latest audit finding (None hides it); the audit browser lists them all."""
        if text is None:
            self.audit_finding.hide()
            return
        fill = {"error": "#b00020", "warning": "#8a4b00"}.get(level, "#3c4043")
        self.audit_finding.setStyleSheet(
            f"QLabel {{ background: {fill}; color: white; padding: 4px 10px; border-radius: 3px; }}"
        )
        self.audit_finding.setText(text)
        self.audit_finding.show()

    def show_audit_problem(self, problem: str | None) -> None:
        if problem is None:
            self.audit_problem.hide()
            return
        self.audit_problem.setText(
            f"Audit delivery is failing: {problem.rstrip('.')}. Viewing records are kept on "
            "this workstation and retried; new feeds open only once their record is delivered."
        )
        self.audit_problem.show()

    def show_audit_health(self, health: AuditHealth) -> None:
        """Render the audit state the domain decided: status text, skew, alarm banner."""
        text = health.text + (f"  ·  {health.skew}" if health.skew else "")
        colour = {
            AuditState.DELIVERED: theme.GRANTED_TEXT.name(),
            AuditState.QUEUED: theme.WAITING_TEXT.name(),
            AuditState.FAILING: theme.EMERGENCY_TEXT.name(),
        }[health.state]
        self.audit_status.setText(text)
        self.audit_status.setToolTip(health.detail)
        self.audit_status.setStyleSheet(
            f"QLabel {{ padding: 0 8px; color: {colour}; font-weight: bold; }}"
        )
        if health.alarm is None:
            self.audit_alarm.hide()
        else:
            self.audit_alarm.setText(health.alarm)
            self.audit_alarm.show()

    def allow_close(self) -> None:
        self._allow_close = True

    def show_locked(self, text: str | None) -> None:
        """Cover the whole window (plan, video, lists) while the desk is locked; None
        uncovers it. Nothing of the incident view is shown to whoever walks up."""
        if text is None:
            if self._lock_cover is not None:
                self._lock_cover.hide()
            return
        if self._lock_cover is None:
            cover = QWidget(self)
            cover.setObjectName("lockCover")
            cover.setAutoFillBackground(True)
            cover.setStyleSheet("#lockCover { background: #202124; } QLabel { color: white; }")
            self._lock_text = QLabel(cover)
            self._lock_text.setWordWrap(True)
            self._lock_text.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._lock_text.setStyleSheet("font-size: 16pt; font-weight: bold;")
            self.unlock_button = QPushButton("Unlock…", cover)
            self.unlock_button.clicked.connect(self.unlock_requested.emit)
            column = QVBoxLayout(cover)
            column.addStretch(1)
            column.addWidget(self._lock_text)
            column.addWidget(self.unlock_button, 0, Qt.AlignmentFlag.AlignHCenter)
            column.addStretch(1)
            self._lock_cover = cover
        assert self._lock_text is not None
        self._lock_text.setText(text)
        self._lock_cover.setGeometry(self.rect())
        self._lock_cover.show()
        self._lock_cover.raise_()

    @property
    def is_locked(self) -> bool:
        return self._lock_cover is not None and self._lock_cover.isVisible()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._lock_cover is not None:
            self._lock_cover.setGeometry(self.rect())

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._allow_close:
            event.accept()
            self.closed.emit()
            return
        # Sessions must be ended and reported first; the controller closes us after.
        event.ignore()
        self.close_requested.emit()
