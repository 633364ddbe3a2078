"""Where the map starts: the district's schools with their emergency state, and the breadcrumb.

A dispatcher taking a call first needs to know which school is in trouble and whether
police may look yet; the floor plan comes second. The overview lists every school with
that state, schools under an emergency first; choosing one opens its plan. The breadcrumb
above the map (district › school › building › floor) carries the same state, and each of
its parts leads back up. Both are refreshed on every access change, so a grant, a denial
or an emergency's end shows without touching the map.

``school_summaries`` turns the access board (``domain.access_board``) into the wording both
show; the widgets only render it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QFont
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from dispatch_console.domain.access_board import EmergencyStatus
from dispatch_console.domain.models import District

from . import theme

# Breadcrumb link targets: "district", "school:<id>", "building:<id>".
DISTRICT_LINK = "district"


@dataclass(frozen=True)
class SchoolSummary:
    school_id: str
    name: str
    state: str  # what the overview and the breadcrumb say
    level: str  # "neutral", "waiting" or "emergency": the colour it is shown in
    buildings: int
    cameras: int


def _waited(waiting: timedelta | None) -> str:
    if waiting is None:
        return ""
    minutes = int(waiting.total_seconds() // 60)
    return f" for {minutes} min" if minutes else " for under a minute"


def school_summaries(
    district: District, statuses: Sequence[EmergencyStatus]
) -> list[SchoolSummary]:
    """Every school's emergency state, schools under an emergency first (district order kept)."""
    by_school: dict[str, EmergencyStatus] = {}
    for status in statuses:
        # Several emergencies at one school: the one with police access shows, else the first.
        known = by_school.get(status.emergency.school_id)
        if known is None or (known.grant is None and status.grant is not None):
            by_school[status.emergency.school_id] = status
    summaries = []
    for school in district.schools:
        found = by_school.get(school.id)
        if found is None:
            state, level = "no emergency", "neutral"
        else:
            kind = found.emergency.type.label.upper()
            if found.grant is not None:
                until = found.grant.expires_at.astimezone().strftime("%H:%M")
                state, level = f"{kind} — police access until {until}", "emergency"
            elif found.awaiting_approval:
                waited = _waited(found.waiting)
                state = f"{kind} — police access waiting for the district{waited}"
                level = "waiting"
            else:
                state, level = f"{kind} — no police access", "waiting"
        summaries.append(
            SchoolSummary(
                school.id,
                school.name,
                state,
                level,
                len(school.buildings),
                len(school.cameras()),
            )
        )
    summaries.sort(key=lambda s: s.level == "neutral")
    return summaries


# Text on the list's background: bright in the dark theme, deep in the light one.
_LEVEL_COLOUR = {
    "neutral": theme.MUTED_TEXT,
    "waiting": theme.WAITING_TEXT,
    "emergency": theme.EMERGENCY_TEXT,
}


class DistrictOverview(QWidget):
    """The district's schools; ``school_chosen(school_id)`` on click or Enter."""

    school_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: bold;")
        self.title.setWordWrap(True)
        self.schools = QListWidget(self)
        self.schools.setSpacing(2)
        self.schools.setWordWrap(True)
        self.schools.itemActivated.connect(self._chosen)
        self.schools.itemClicked.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.schools, 1)

    def show_schools(self, district_name: str, summaries: Sequence[SchoolSummary]) -> None:
        """List the schools; the selection stays on the same school across refreshes."""
        current = self.schools.currentItem()
        selected = current.data(Qt.ItemDataRole.UserRole) if current is not None else None
        under = sum(s.level != "neutral" for s in summaries)
        self.title.setText(
            f"{district_name}: {len(summaries)} schools, "
            f"{under or 'none'} under an emergency. Choose a school to open its plan."
        )
        self.schools.clear()
        for summary in summaries:
            cameras = f"{summary.cameras} camera{'s' if summary.cameras != 1 else ''}"
            item = QListWidgetItem(
                f"{summary.name}\n{summary.state}   ·   {summary.buildings} "
                f"building{'s' if summary.buildings != 1 else ''}, {cameras}"
            )
            item.setData(Qt.ItemDataRole.UserRole, summary.school_id)
            item.setForeground(QBrush(_LEVEL_COLOUR[summary.level]))
            if summary.level != "neutral":
                font = QFont(item.font())
                font.setBold(True)
                item.setFont(font)
            self.schools.addItem(item)
            if summary.school_id == selected:
                self.schools.setCurrentItem(item)
        if self.schools.currentItem() is None and self.schools.count():
            self.schools.setCurrentRow(0)

    def school_state(self, school_id: str) -> str:
        """The state line a school shows now (for the breadcrumb and tests)."""
        for row in range(self.schools.count()):
            item = self.schools.item(row)
            if item.data(Qt.ItemDataRole.UserRole) == school_id:
                return item.text().split("\n")[1].split("   ·   ")[0]
        raise KeyError(school_id)

    def _chosen(self, item: QListWidgetItem) -> None:
        school_id = item.data(Qt.ItemDataRole.UserRole)
        if isinstance(school_id, str):
            self.school_chosen.emit(school_id)


class Breadcrumb(QLabel):
    """District › school › building › floor, then the school's state; parts are links up.

    ``chosen(target)`` carries ``"district"``, ``"school:<id>"`` or ``"building:<id>"``.
    """

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.setWordWrap(True)  # long names wrap instead of widening the map column
        self.linkActivated.connect(self.chosen.emit)
        self.parts: list[str] = []
        self.state = ""

    def show_path(
        self, crumbs: Sequence[tuple[str, str]], state: str = "", level: str = "neutral"
    ) -> None:
        """``crumbs`` are (text, link target); the last one is where the map is (no link)."""
        self.parts = [text for text, _target in crumbs]
        self.state = state
        shown = [
            f"<a href='{escape(target)}' style='color:{theme.active().link}'>{escape(text)}</a>"
            if target and n < len(crumbs) - 1
            else f"<b>{escape(text)}</b>"
            for n, (text, target) in enumerate(crumbs)
        ]
        html = " › ".join(shown)
        if state:
            colour = _LEVEL_COLOUR[level].name()
            weight = "bold" if level != "neutral" else "normal"
            html += (
                f"&nbsp;&nbsp;·&nbsp;&nbsp;<span style='color:{colour}; font-weight:{weight}'>"
                f"{escape(state)}</span>"
            )
        self.setText(html)
