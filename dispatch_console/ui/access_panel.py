"""Emergencies and access: every active emergency, its grant or its waiting request.

Both desks show it. The district safety office gets buttons on each row (which ones comes
from the policy, through ``EmergencyStatus.actions``); police see the same rows read-only,
so a dispatcher can tell a lockdown is still waiting for the district.

Revoking and ending take two clicks: the first arms the button ("Confirm revoke"), the
second within a few seconds acts. No modal dialog: a nested event loop inside the
application's asyncio loop breaks qasync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.access_board import EmergencyStatus
from dispatch_console.domain.policy import EXTENSION_STEP, AccessAction

from . import theme

CONFIRM_TIMEOUT_MS = 5000
EXTENSION_MINUTES = int(EXTENSION_STEP.total_seconds() // 60)


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


_TONE_COLOUR = {"granted": theme.GRANTED, "waiting": theme.WAITING, "none": theme.NEUTRAL}


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

    def __init__(
        self, emergency_id: str, parent: QWidget | None, *, compact: bool, timeout_ms: int
    ) -> None:
        super().__init__(parent)
        self.emergency_id = emergency_id
        self.status: EmergencyStatus | None = None
        self._compact = compact
        self.setObjectName("emergencyRow")
        self.setStyleSheet(
            "#emergencyRow { background: #ffffff; border: 1px solid #d5d8dc;"
            f" border-left: 4px solid {theme.EMERGENCY.name()}; border-radius: 3px; }}"
        )
        self.headline = QLabel(self)
        self.headline.setStyleSheet(f"font-weight: bold; color: {theme.EMERGENCY.name()};")
        self.declared = QLabel(self)
        self.declared.setWordWrap(True)
        self.access = QLabel(self)
        self.access.setWordWrap(True)
        for label in (self.headline, self.declared, self.access):
            label.setTextFormat(Qt.TextFormat.PlainText)  # threat bases are typed by people
        if compact:
            self.declared.setStyleSheet("color: #5f6368; font-size: 8pt;")

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
        self._buttons: dict[AccessAction, QPushButton] = {
            AccessAction.APPROVE: self.approve,
            AccessAction.APPROVE_SCOPED: self.approve_scoped,
            AccessAction.DENY: self.deny,
            AccessAction.REVIEW: self.review,
            AccessAction.EXTEND: self.extend,
            AccessAction.REVOKE: self.revoke,
            AccessAction.END: self.end,
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
        layout.addLayout(buttons)

    def show_status(self, status: EmergencyStatus, school_name: str) -> None:
        previous = self.status
        self.status = status
        self.headline.setText(headline(status, school_name))
        self.declared.setText(declared_line(status))
        self.declared.setToolTip(status.emergency.threat_basis)
        text, tone = access_line(status, compact=self._compact)
        self.access.setText(text)
        self.access.setStyleSheet(f"color: {_TONE_COLOUR[tone].name()}; font-weight: bold;")
        # An armed button must not confirm an action on something else than it was armed on.
        if previous is None or _grant_id(previous) != _grant_id(status):
            self.revoke.disarm()
        for kind, button in self._buttons.items():
            button.setVisible(kind in status.actions)
            button.setEnabled(True)

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

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        compact: bool = False,
        confirm_timeout_ms: int = CONFIRM_TIMEOUT_MS,
        max_list_height: int = 200,
    ) -> None:
        """``compact`` panels (police desk) grow with their rows up to ``max_list_height``."""
        super().__init__(parent)
        self._compact = compact
        self._timeout_ms = confirm_timeout_ms
        self._rows: dict[str, EmergencyRow] = {}
        self._ordered: list[str] = []  # emergency ids, as the rows stand in the list
        self.title = QLabel(self)
        self.empty = QLabel("No active emergency at any school.", self)
        self.empty.setStyleSheet("color: #5f6368; padding: 4px 2px;")
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
                    status.emergency.id, self, compact=self._compact, timeout_ms=self._timeout_ms
                )
                row.action.connect(self.action_requested)
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
