"""An emergency's location on the desks: choosing it, marking it, and the cameras that see it.

- Declaring: right-click on the plan → "Declare emergency here…" puts the spot in the
  declare row ("Location: Main Entrance Lobby (1st floor)", with a clear button); the
  declaration carries it. Offered only where the policy lets the user declare.
- Every desk showing that floor marks an active emergency's spot (a red warning sign,
  its tooltip naming the emergency, where and who declared it).
- The covering cameras: those whose visible area holds the spot (``floorplan.coverage``,
  walls considered) and that this user may watch now (``policy.can_view`` inside it). As
  soon as there are any (police: when the district grants access) their pins are ringed
  and the emergency row offers "Open cameras covering the location (n)" (Ctrl+Shift+L).
  Nothing opens by itself: each view is an audited session, the dispatcher decides.

The overlay's items live in the plan's live scene, which the view rebuilds on every floor,
theme or drawing change; it draws again on ``plan_redrawn`` (see ``watched_overlay``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import shiboken6
from PySide6.QtCore import QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QKeySequence, QPainter, QPainterPath, QPen, QShortcut
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem, QStyleOptionGraphicsItem, QWidget

from dispatch_console.domain.emergency_location import find_floor, location_label
from dispatch_console.domain.models import Camera, Emergency, EmergencyLocation
from dispatch_console.domain.policy import may_declare
from dispatch_console.floorplan.coverage import cameras_covering
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.services.console import Console

from . import theme
from .main_window import MainWindow
from .map_view import PIN_RADIUS_M

OPEN_COVERING_KEYS = "Ctrl+Shift+L"
PRESELECTED = QColor("#ffb300")  # amber ring: no pin state is drawn in it
MARKER_Z = 4  # above pins (2) and watched badges (3), under the "who sees this" cross (5)


class EmergencyMarker(QGraphicsItem):
    """A red warning triangle with "!" standing on the emergency's spot."""

    def __init__(self, emergency_id: str, tip: str) -> None:
        super().__init__()
        self.emergency_id = emergency_id
        self._r = PIN_RADIUS_M * theme.PIXELS_PER_METRE * 1.5
        self.setZValue(MARKER_Z)
        self.setToolTip(tip)

    def boundingRect(self) -> QRectF:
        r = self._r + 3
        return QRectF(-r, -2 * r, 2 * r, 2 * r + 3)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        r = self._r
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        sign = QPainterPath()
        sign.moveTo(0, 0)  # the tip touches the spot, the sign stands above it
        sign.lineTo(-r, -1.8 * r)
        sign.lineTo(r, -1.8 * r)
        sign.closeSubpath()
        painter.setPen(QPen(Qt.GlobalColor.white, 2))
        painter.setBrush(QBrush(theme.EMERGENCY))
        painter.drawPath(sign)
        painter.setPen(QPen(Qt.GlobalColor.white, max(r * 0.18, 1.5)))
        painter.drawLine(QPointF(0, -1.55 * r), QPointF(0, -0.85 * r))
        painter.drawPoint(QPointF(0, -0.55 * r))


def _ring(camera: Camera) -> QGraphicsPathItem:
    x, y = camera.position
    r = PIN_RADIUS_M * theme.PIXELS_PER_METRE * 1.7
    centre = QPointF(x * theme.PIXELS_PER_METRE, y * theme.PIXELS_PER_METRE)
    path = QPainterPath()
    path.addEllipse(centre, r, r)
    ring = QGraphicsPathItem(path)
    ring.setPen(QPen(PRESELECTED, 3.5))
    ring.setZValue(MARKER_Z - 0.5)
    ring.setToolTip(f"{camera.display_name}: sees the emergency's location")
    return ring


class EmergencySpotPresenter(QObject):
    """The location in the declare row, the markers on the plan, the covering cameras."""

    def __init__(
        self,
        console: Console,
        window: MainWindow,
        visibility: VisibilityIndex,
        *,
        open_school: Callable[[str], None],
        open_covering: Callable[[float, float], None],
    ) -> None:
        super().__init__(window)
        self.console = console
        self.window = window
        self.visibility = visibility
        self._open_school = open_school
        self._open_covering = open_covering
        # The spot the declarer chose for the next declaration (None: none).
        self.chosen: EmergencyLocation | None = None
        # What is drawn now (kept to remove it, and for tests).
        self.markers: list[EmergencyMarker] = []
        self.rings: dict[str, QGraphicsPathItem] = {}
        # The covering cameras offered for the current school's located emergency.
        self.offered: tuple[Emergency, list[Camera]] | None = None
        self._announced: set[str] = set()  # emergencies whose cameras were announced
        window.map.declare_here.connect(self.choose)
        window.map.plan_redrawn.connect(self.refresh)
        window.emergency.location_cleared.connect(self.clear)
        window.emergency.open_covering_requested.connect(self.open_covering)
        # After the controller's handler (connected first), which shows the school's floor.
        window.school.currentIndexChanged.connect(lambda _i: self._on_school_changed())
        self.key = QShortcut(QKeySequence(OPEN_COVERING_KEYS), window)
        self.key.activated.connect(window.emergency.open_covering.click)
        console.access_listeners.append(self.refresh)
        self._on_school_changed()

    # -- choosing the spot for a declaration ------------------------------------------

    def choose(self, x: float, y: float) -> None:
        """Map → "Declare emergency here…": the declare row carries this spot."""
        floor, district = self.window.map.floor, self.console.district
        if floor is None or district is None:
            return
        self.chosen = EmergencyLocation(floor.id, x, y)
        self.window.emergency.show_location(location_label(district, self.chosen))
        self.window.map.mark_spot((x, y))
        self.window.emergency.basis.setFocus()

    def clear(self) -> None:
        self.chosen = None
        self.window.emergency.show_location(None)

    def location_for(self, school_id: str) -> EmergencyLocation | None:
        """The chosen spot, if it is on this school's plan (the declare sends it)."""
        district = self.console.district
        if self.chosen is None or district is None:
            return None
        place = find_floor(district, self.chosen.floor_id)
        return self.chosen if place is not None and place.school.id == school_id else None

    def _on_school_changed(self) -> None:
        school_id = self.window.school.currentData()
        user = self.console.user
        if not isinstance(school_id, str) or user is None:
            return
        if self.chosen is not None and self.location_for(school_id) is None:
            self.clear()  # a spot at another school must not travel with this declaration
        self.refresh()

    # -- markers and covering cameras --------------------------------------------------

    def _located(self, now: datetime) -> list[Emergency]:
        return [
            e
            for e in self.console.access.emergencies
            if e.location is not None and e.is_active(now)
        ]

    def refresh(self) -> None:
        """Draw the markers and rings of the floor shown, and the offer of the school's
        located emergency, from the access state as it is now."""
        district, user = self.console.district, self.console.user
        if district is None or user is None:
            return
        now = datetime.now(UTC)
        located = self._located(now)
        school_id = self.window.school.currentData()
        # The same rule as the declare row (the server asks it too).
        self.window.map.offer_declare_here = isinstance(school_id, str) and may_declare(
            user, school_id
        )
        at_school = [e for e in located if e.school_id == school_id]
        self.offered = None
        if at_school:
            emergency = max(at_school, key=lambda e: e.declared_at)
            assert emergency.location is not None
            place = find_floor(district, emergency.location.floor_id)
            covering = (
                cameras_covering(
                    self.visibility,
                    place.floor,
                    (emergency.location.x, emergency.location.y),
                    user,
                    self.console.access,
                    now,
                )
                if place is not None
                else []
            )
            self.offered = (emergency, covering)
        self._draw(located)
        self._offer()

    def _draw(self, located: Sequence[Emergency]) -> None:
        for item in [*self.markers, *self.rings.values()]:
            if shiboken6.isValid(item) and item.scene() is not None:
                item.scene().removeItem(item)
        self.markers, self.rings = [], {}
        floor, district = self.window.map.floor, self.console.district
        if floor is None or district is None:
            return
        scene = self.window.map.scene()
        scale = theme.PIXELS_PER_METRE
        for emergency in located:
            spot = emergency.location
            if spot is None or spot.floor_id != floor.id:
                continue
            when = emergency.declared_at.astimezone().strftime("%H:%M")
            tip = (
                f"{emergency.type.label.upper()} declared here — "
                f"{location_label(district, spot)}, by {emergency.declared_by} at {when}"
            )
            marker = EmergencyMarker(emergency.id, tip)
            marker.setPos(QPointF(spot.x * scale, spot.y * scale))
            scene.addItem(marker)
            self.markers.append(marker)
        if self.offered is not None:
            for camera in self.offered[1]:
                if camera.floor_id == floor.id:
                    ring = _ring(camera)
                    scene.addItem(ring)
                    self.rings[camera.id] = ring

    def _offer(self) -> None:
        panel = self.window.emergency
        if self.offered is None:
            panel.offer_covering(None)
            return
        emergency, covering = self.offered
        assert emergency.location is not None and self.console.district is not None
        where = location_label(self.console.district, emergency.location)
        if not covering:
            waiting = "police access waits for the district" if self.console.is_police else ""
            panel.offer_covering(
                "Open cameras covering the location",
                enabled=False,
                tip=f"No camera you may open sees {where} now"
                + (f" ({waiting})." if waiting else "."),
            )
            return
        names = ", ".join(c.display_name for c in covering)
        panel.offer_covering(
            f"Open cameras covering the location ({len(covering)})",
            tip=f"{where}: {names} (nearest first). {OPEN_COVERING_KEYS}",
        )
        if self.console.is_police and emergency.id not in self._announced:
            # The dispatcher waited for this: say it once (the district desk always could).
            self._announced.add(emergency.id)
            self.window.show_message(
                f"{len(covering)} camera(s) see {where}, ringed on the plan: open them with "
                f"Open cameras covering the location ({OPEN_COVERING_KEYS}).",
                "info",
                timeout_ms=60000,
            )

    def open_covering(self) -> None:
        """Show the location's floor and open the cameras that see it: the same path as
        right-click → "Show cameras covering here" (policy and audit included)."""
        district = self.console.district
        if self.offered is None or district is None:
            return
        location = self.offered[0].location
        place = find_floor(district, location.floor_id) if location is not None else None
        if location is None or place is None:
            return
        self._open_school(place.school.id)
        floors = [f.id for b in place.school.buildings for f in b.floors]
        self.window.floors.setCurrentIndex(floors.index(place.floor.id))
        self._open_covering(location.x, location.y)
