"""Emergencies and access: every active emergency, its grant or its waiting request.

Both desks show it. The district safety office gets buttons on each row (which ones comes
from the policy, through ``EmergencyStatus.actions``); police see the same rows read-only,
so a dispatcher can tell a lockdown is still waiting for the district.

Revoking and ending take two clicks: the first arms the button ("Confirm revoke"), the
second within a few seconds acts. No modal dialog: a nested event loop inside the
application's asyncio loop breaks qasync.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.access_board import (
    FERPA_NOTICE,
    EmergencyStatus,
    EndedEmergency,
    RequestPhase,
    SchoolLine,
    expiring_soon,
    request_state,
    school_lines,
)
from dispatch_console.domain.models import District
from dispatch_console.domain.policy import EXTENSION_STEP, AccessAction

from . import theme

CONFIRM_TIMEOUT_MS = 5000
EXTENSION_MINUTES = int(EXTENSION_STEP.total_seconds() // 60)
# Countdowns move by the second: one timer per panel redraws them from the clock.
TICK_MS = 1000

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _clock(value: datetime) -> str:
    return value.astimezone().strftime("%H:%M")


def waited(duration: timedelta) -> str:
    """An escalation timer read at a glance: "under a minute", "4 min", "1 h 05 min"."""
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def access_line(status: EmergencyStatus, *, compact: bool = False) -> tuple[str, str]:
    """What the row says about police access, and its tone ("granted", "waiting", "none").

    ``compact`` leaves the agency out: a police desk only sees its own agency's access.
    """
    grant = status.grant
    if grant is not None:
        agency = "" if compact else f" {grant.agency}"
        text = f"Police access{':' if agency else ''}{agency} until {_clock(grant.expires_at)}"
        if not grant.whole_school:
            parts = [f"building {b}" for b in grant.buildings]
            if grant.cameras:
                count = len(grant.cameras)
                parts.append(f"{count} listed camera{'s' if count > 1 else ''}")
            text += f" — limited to {' and '.join(parts)}"
        if grant.break_glass:
            text += (
                f" — break-glass, reviewed by {grant.reviewed_by}"
                if grant.reviewed_by
                else " — break-glass, flagged for district review"
            )
        return text, "granted"
    request = status.request
    if request is not None:
        text = "Waiting for district approval"
        if status.waiting is not None:
            text += f" for {waited(status.waiting)}"
        agency = "" if compact else f"{request.agency}, "
        text += f" — {agency}requested by {request.requested_by}"
        return text, "waiting"
    return "No police access (request denied, or the grant ended)", "none"


def headline(status: EmergencyStatus, school_name: str) -> str:
    return f"{status.emergency.type.label.upper()} — {school_name}"


def declared_line(status: EmergencyStatus) -> str:
    e = status.emergency
    return f"Declared by {e.declared_by} at {_clock(e.declared_at)} · Why: {e.threat_basis}"


# Text on the theme's own background: the *_TEXT colours (fills are for white text).
_TONE_COLOUR = {
    "granted": theme.GRANTED_TEXT,
    "waiting": theme.WAITING_TEXT,
    "none": theme.MUTED_TEXT,
}
# The police desk's request line, coloured by where the request stands.
_PHASE_COLOUR = {
    RequestPhase.NONE: theme.MUTED_TEXT,
    RequestPhase.DECLARED: theme.MUTED_TEXT,
    RequestPhase.WAITING: theme.WAITING_TEXT,
    RequestPhase.GRANTED: theme.GRANTED_TEXT,
    RequestPhase.EXPIRING: theme.EMERGENCY_TEXT,
    RequestPhase.DENIED: theme.EMERGENCY_TEXT,
    RequestPhase.ENDED: theme.MUTED_TEXT,
}


class ConfirmButton(QPushButton):
    """A destructive action in two clicks: arm, then confirm; it disarms itself after a while.

    Emits ``confirmed`` on the second click.
    """

    confirmed = Signal()

    def __init__(
        self, label: str, confirm_label: str, parent: QWidget | None = None, *, timeout_ms: int
    ) -> None:
        super().__init__(label, parent)
        self._label = label
        self._confirm_label = confirm_label
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(timeout_ms)
        self._timer.timeout.connect(self.disarm)
        self.clicked.connect(self._on_click)

    @property
    def armed(self) -> bool:
        return self._timer.isActive()

    def _on_click(self) -> None:
        if self.armed:
            self.disarm()
            self.confirmed.emit()
            return
        self.setText(self._confirm_label)
        self.setStyleSheet(
            f"QPushButton {{ background: {theme.CONFIRM.name()}; color: white;"
            " font-weight: bold; }"
        )
        self._timer.start()

    def disarm(self) -> None:
        self._timer.stop()
        self.setText(self._label)
        self.setStyleSheet("")


class EmergencyRow(QFrame):
    """One active emergency; ``action(kind, target_id)`` when a button is used."""

    action = Signal(str, str)
    # Police ask the district for more time on this grant (the grant id).
    extension_asked = Signal(str)

    def __init__(
        self,
        emergency_id: str,
        parent: QWidget | None,
        *,
        compact: bool,
        timeout_ms: int,
        clock: Clock = _utc_now,
    ) -> None:
        super().__init__(parent)
        self.emergency_id = emergency_id
        self.status: EmergencyStatus | None = None
        self._compact = compact
        self._clock = clock
        # When this desk asked to extend the grant shown (grant id, time), if it did.
        self.asked: tuple[str, datetime] | None = None
        self.setObjectName("emergencyRow")
        # The card takes the theme's own colours (palette roles), so it is no white slab
        # on the dark desk; the red edge marks it as an emergency in both themes.
        self.setStyleSheet(
            "#emergencyRow { background: palette(base); border: 1px solid palette(mid);"
            f" border-left: 4px solid {theme.EMERGENCY.name()}; border-radius: 3px; }}"
        )
        self.headline = QLabel(self)
        self.declared = QLabel(self)
        self.declared.setWordWrap(True)
        self.access = QLabel(self)
        self.access.setWordWrap(True)
        for label in (self.headline, self.declared, self.access):
            label.setTextFormat(Qt.TextFormat.PlainText)  # threat bases are typed by people
        if compact:
            self.declared.setStyleSheet("font-size: 10pt;")

        self.approve = QPushButton("Approve", self)
        self.approve.setStyleSheet(
            f"QPushButton {{ background: {theme.GRANTED.name()}; color: white;"
            " font-weight: bold; padding: 3px 10px; }"
        )
        # Approve opens the whole school for the default time in one click; "Approve…"
        # asks which buildings or cameras, and for how long.
        self.approve_scoped = QPushButton("Approve…", self)
        self.approve_scoped.setToolTip("Choose buildings or cameras, and for how long")
        self.deny = QPushButton("Deny", self)
        self.review = QPushButton("Review…", self)
        self.review.setToolTip("Record the district's review of this break-glass grant")
        self.extend = QPushButton(f"Extend +{EXTENSION_MINUTES} min", self)
        self.revoke = ConfirmButton("Revoke", "Confirm revoke", self, timeout_ms=timeout_ms)
        self.end = ConfirmButton("End emergency", "Confirm end", self, timeout_ms=timeout_ms)
        # The police desk's one action: shown while the grant is expiring soon.
        self.ask_extension = QPushButton("Ask to extend", self)
        self.ask_extension.setToolTip(
            "Ask the district safety office to extend police access (they decide)"
        )
        self.ask_extension.setStyleSheet(
            f"QPushButton {{ background: {theme.WAITING.name()}; color: white;"
            " font-weight: bold; padding: 3px 10px; }"
        )
        self.ask_extension.clicked.connect(self._ask_extension)
        self._buttons: dict[AccessAction, QPushButton] = {
            AccessAction.APPROVE: self.approve,
            AccessAction.APPROVE_SCOPED: self.approve_scoped,
            AccessAction.DENY: self.deny,
            AccessAction.REVIEW: self.review,
            AccessAction.EXTEND: self.extend,
            AccessAction.REVOKE: self.revoke,
            AccessAction.END: self.end,
            AccessAction.REQUEST_EXTENSION: self.ask_extension,
        }
        self.approve.clicked.connect(lambda: self._act(AccessAction.APPROVE))
        self.deny.clicked.connect(lambda: self._act(AccessAction.DENY))
        self.approve_scoped.clicked.connect(lambda: self._act(AccessAction.APPROVE_SCOPED))
        self.review.clicked.connect(lambda: self._act(AccessAction.REVIEW))
        self.extend.clicked.connect(lambda: self._act(AccessAction.EXTEND))
        self.revoke.confirmed.connect(lambda: self._act(AccessAction.REVOKE))
        self.end.confirmed.connect(lambda: self._act(AccessAction.END))

        text = QVBoxLayout()
        text.setSpacing(2)
        text.addWidget(self.headline)
        text.addWidget(self.access)
        text.addWidget(self.declared)
        buttons = QHBoxLayout()
        buttons.setSpacing(4)
        for button in self._buttons.values():
            button.hide()
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 8, 6)
        layout.addLayout(text, 1)
        if compact:
            # The police desk's column is narrow: lines wrap, its one button goes under them.
            self.headline.setWordWrap(True)
            buttons.addStretch(1)
            text.addLayout(buttons)
        else:
            layout.addLayout(buttons)

    def show_status(self, status: EmergencyStatus, school_name: str) -> None:
        previous = self.status
        self.status = status
        self.headline.setText(headline(status, school_name))
        self.declared.setText(declared_line(status))
        self.declared.setToolTip(status.emergency.threat_basis)
        # An armed button must not confirm an action on something else than it was armed on.
        if previous is None or _grant_id(previous) != _grant_id(status):
            self.revoke.disarm()
        for kind, button in self._buttons.items():
            button.setVisible(kind in status.actions)
            button.setEnabled(True)
        self.tick()

    def tick(self) -> None:
        """Redraw what moves with the clock: the access line's countdown, and whether the
        grant is close enough to its end to offer "Ask to extend"."""
        status = self.status
        if status is None:
            return
        now = self._clock()
        if self._compact:
            # The police desk: the request's state with its countdown.
            state = request_state(status, now)
            text, colour = state.text, _PHASE_COLOUR[state.phase]
        else:
            text, tone = access_line(status, compact=False)
            colour = _TONE_COLOUR[tone]
        self.access.setText(text)
        self.access.setStyleSheet(f"color: {colour.name()}; font-weight: bold;")
        # Read at each redraw, so a theme switch reaches the headline too.
        self.headline.setStyleSheet(f"font-weight: bold; color: {theme.EMERGENCY_TEXT.name()};")
        size = " font-size: 10pt;" if self._compact else ""
        self.declared.setStyleSheet(f"color: {theme.MUTED_TEXT.name()};{size}")
        grant = status.grant
        offered = (
            AccessAction.REQUEST_EXTENSION in status.actions
            and grant is not None
            and expiring_soon(grant, now)
        )
        self.ask_extension.setVisible(offered)
        if offered and grant is not None and self.asked and self.asked[0] == grant.id:
            self.ask_extension.setText(f"Extension asked at {_clock(self.asked[1])}")
            self.ask_extension.setEnabled(False)
        elif offered:
            self.ask_extension.setText("Ask to extend")

    def _ask_extension(self) -> None:
        grant = self.status.grant if self.status is not None else None
        if grant is None:
            return
        self.ask_extension.setEnabled(False)  # until the district has the question
        self.extension_asked.emit(grant.id)

    def extension_answered(self, grant_id: str, asked: bool) -> None:
        """The district has the question (it shows when), or the asking failed (ask again)."""
        if asked:
            self.asked = (grant_id, self._clock())
        self.ask_extension.setEnabled(True)
        self.tick()

    def _act(self, kind: AccessAction) -> None:
        status = self.status
        if status is None:
            return
        target = _target(status, kind)
        if target is None:
            return
        for button in self._buttons.values():
            button.setEnabled(False)  # until the next access state arrives
        self.action.emit(kind.value, target)


def _grant_id(status: EmergencyStatus) -> str | None:
    return status.grant.id if status.grant else None


def _target(status: EmergencyStatus, kind: AccessAction) -> str | None:
    if kind in (AccessAction.APPROVE, AccessAction.APPROVE_SCOPED, AccessAction.DENY):
        return status.request.id if status.request else None
    if kind in (AccessAction.EXTEND, AccessAction.REVOKE, AccessAction.REVIEW):
        return _grant_id(status)
    return status.emergency.id


class _FittingScroll(QScrollArea):
    """A scroll area as tall as its rows (wrapped text included), up to a cap."""

    def __init__(self, parent: QWidget, max_height: int) -> None:
        super().__init__(parent)
        self._max_height = max_height

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        body = self.widget()
        if body is None:
            return 0
        inner = max(width - 2 * self.frameWidth(), 1)
        wanted = body.heightForWidth(inner) if body.hasHeightForWidth() else -1
        if wanted < 0:
            wanted = body.sizeHint().height()
        return min(wanted + 2 * self.frameWidth(), self._max_height)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), self.heightForWidth(self.width() or hint.width()))


class AccessPanel(QWidget):
    """Signals ``action_requested(action, target_id)``.

    ``action`` is an ``AccessAction`` value; the target is the request id for approve and
    deny, the grant id for extend and revoke, and the emergency id for end.
    """

    action_requested = Signal(str, str)
    # Police: "Ask to extend" on a grant (its id); the presenter asks the district.
    extension_requested = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        compact: bool = False,
        confirm_timeout_ms: int = CONFIRM_TIMEOUT_MS,
        max_list_height: int = 200,
        clock: Clock = _utc_now,
    ) -> None:
        """``compact`` panels (police desk) grow with their rows up to ``max_list_height``.

        ``clock`` gives the countdowns' now (tests pass a fake one); the panel's one timer
        redraws them every second.
        """
        super().__init__(parent)
        self._compact = compact
        self._timeout_ms = confirm_timeout_ms
        self.clock = clock
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.tick)
        self._rows: dict[str, EmergencyRow] = {}
        self._ordered: list[str] = []  # emergency ids, as the rows stand in the list
        self.title = QLabel(self)
        self.empty = QLabel("No active emergency at any school.", self)
        self.empty.setStyleSheet("padding: 4px 2px;")
        body = QWidget(self)
        self._list = QVBoxLayout(body)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.setSpacing(4)
        self._list.addWidget(self.empty)
        self._list.addStretch(1)
        scroll = _FittingScroll(self, max_list_height) if compact else QScrollArea(self)
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        if compact:
            scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(scroll, 1)
        self._scroll = scroll
        self._set_title(0, 0)

    @property
    def rows(self) -> list[EmergencyRow]:
        return [self._rows[key] for key in self._ordered]

    def row(self, emergency_id: str) -> EmergencyRow | None:
        return self._rows.get(emergency_id)

    def show_statuses(
        self, statuses: Sequence[EmergencyStatus], school_names: Mapping[str, str]
    ) -> None:
        """Render the board; rows are kept (and armed buttons with them) while they last."""
        wanted = [s.emergency.id for s in statuses]
        for emergency_id in set(self._rows) - set(wanted):
            gone = self._rows.pop(emergency_id)
            self._list.removeWidget(gone)
            gone.deleteLater()
        for status in statuses:
            row = self._rows.get(status.emergency.id)
            if row is None:
                row = EmergencyRow(
                    status.emergency.id,
                    self,
                    compact=self._compact,
                    timeout_ms=self._timeout_ms,
                    clock=lambda: self.clock(),
                )
                row.action.connect(self.action_requested)
                row.extension_asked.connect(self.extension_requested)
                self._rows[status.emergency.id] = row
            school_id = status.emergency.school_id
            row.show_status(status, school_names.get(school_id, school_id))
        if self._ordered != wanted:
            for emergency_id in wanted:
                self._list.removeWidget(self._rows[emergency_id])
            for position, emergency_id in enumerate(wanted):
                self._list.insertWidget(position, self._rows[emergency_id])
            self._ordered = wanted
        self.empty.setVisible(not statuses)
        self._scroll.updateGeometry()
        waiting = sum(1 for s in statuses if s.awaiting_approval)
        self._set_title(len(statuses), waiting)
        # Tick only while there is something to count.
        if statuses and not self.ticker.isActive():
            self.ticker.start()
        elif not statuses:
            self.ticker.stop()

    def tick(self) -> None:
        for row in self._rows.values():
            row.tick()
        # A countdown that wraps anew, or a button that appears, changes the rows' height.
        self._scroll.updateGeometry()

    def extension_answered(self, grant_id: str, asked: bool) -> None:
        """Tell the row showing this grant whether the district got the question."""
        for row in self._rows.values():
            if row.status is not None and _grant_id(row.status) == grant_id:
                row.extension_answered(grant_id, asked)

    def _set_title(self, active: int, waiting: int) -> None:
        text = "<b>Emergencies and access</b>"
        if active:
            text += f" — {active} active"
        if waiting:
            text += (
                f", <span style='color:{theme.WAITING.name()}'><b>{waiting} waiting for"
                " district approval</b></span>"
            )
        self.title.setText(text)


_LINE_COLOUR = {
    RequestPhase.NONE: theme.MUTED_TEXT,
    RequestPhase.DECLARED: theme.EMERGENCY_TEXT,
    RequestPhase.WAITING: theme.WAITING_TEXT,
    RequestPhase.GRANTED: theme.GRANTED_TEXT,
    RequestPhase.EXPIRING: theme.EMERGENCY_TEXT,
    RequestPhase.DENIED: theme.EMERGENCY_TEXT,
    RequestPhase.ENDED: theme.MUTED_TEXT,
}


class SchoolStateList(QListWidget):
    """Every school of the district with its emergency state, one compact line each.

    The dispatcher's "where is what" at a glance: click (or Enter) a school to open its
    plan, ``school_chosen(school_id)``. The lines come from ``school_lines``; the list's
    one timer redraws their countdowns from the clock every second.
    """

    school_chosen = Signal(str)

    def __init__(
        self, parent: QWidget | None = None, *, clock: Clock = _utc_now, max_rows: int = 6
    ) -> None:
        super().__init__(parent)
        self.setObjectName("schoolStates")
        self.setAccessibleName("Schools and their emergency state")
        self.setToolTip("Click a school to show its plan")
        self.clock = clock
        self._max_rows = max_rows
        self._district: District | None = None
        self._statuses: tuple[EmergencyStatus, ...] = ()
        self._ended: dict[str, EndedEmergency] = {}
        self.lines: tuple[SchoolLine, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setUniformItemSizes(True)
        self.itemClicked.connect(self._chosen)
        self.itemActivated.connect(self._chosen)
        self.ticker = QTimer(self)
        self.ticker.setInterval(TICK_MS)
        self.ticker.timeout.connect(self.tick)

    def show_state(
        self,
        district: District,
        statuses: Sequence[EmergencyStatus],
        ended: Mapping[str, EndedEmergency],
    ) -> None:
        self._district = district
        self._statuses = tuple(statuses)
        self._ended = dict(ended)
        self.tick()
        if not self.ticker.isActive():
            self.ticker.start()

    def tick(self) -> None:
        if self._district is None:
            return
        lines = school_lines(self._district, self._statuses, self._ended, self.clock())
        if self.count() != len(lines):
            self.clear()
            for _line in lines:
                self.addItem(QListWidgetItem())
        for row, line in enumerate(lines):
            item = self.item(row)
            # Two lines: the school, then its state (elided in a narrow column; the
            # tooltip has it whole).
            item.setText(f"{line.name}\n{line.text}")
            item.setToolTip(f"{line.name}: {line.text}")
            item.setData(Qt.ItemDataRole.UserRole, line.school_id)
            item.setForeground(QBrush(_LINE_COLOUR[line.phase]))
            font = QFont(item.font())
            font.setBold(line.phase is not RequestPhase.NONE)
            item.setFont(font)
        self.lines = lines
        rows = min(max(len(lines), 1), self._max_rows)
        row_height = max(self.sizeHintForRow(0), 2 * self.fontMetrics().lineSpacing() + 4)
        self.setFixedHeight(rows * row_height + 2 * self.frameWidth() + 2)

    def line(self, school_id: str) -> SchoolLine:
        return next(line for line in self.lines if line.school_id == school_id)

    def _chosen(self, item: QListWidgetItem) -> None:
        school_id = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(school_id, str):
            self.school_chosen.emit(school_id)


class FerpaNotice(QLabel):
    """The redisclosure notice police must see while school video is on their screen."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(FERPA_NOTICE, parent)
        self.setObjectName("ferpaNotice")
        self.setAccessibleName("FERPA notice")
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setStyleSheet(
            "QLabel#ferpaNotice { background: #fff4ce; color: #3c2f00; padding: 5px 10px;"
            " border: 1px solid #c99a00; border-radius: 3px; font-weight: bold; }"
        )
        self.hide()
