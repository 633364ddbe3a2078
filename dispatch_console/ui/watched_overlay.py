""" "Who is watching what now", as badges on the district desk's floor plan.

A purple eye badge beside each pin whose camera has an open viewing session, with the
number of viewers and a tooltip naming them (name, agency, for how long). The badges are
items of their own in the plan's live scene, not part of the pins: the plan view draws
what the access policy says of a camera, this overlay what the audit trail says.

The view clears its scene when it shows another floor (or redraws for a theme), which
deletes the badges; the overlay notices (``shiboken6.isValid``) and draws them again on
its next ``show``, which the presenter calls on each of those occasions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import shiboken6
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from dispatch_console.domain.district_desk import Watcher, watched_text

from . import theme
from .map_view import PIN_RADIUS_M, FloorPlanView

WATCHED = QColor("#6a1b9a")  # purple: no pin state uses it
BADGE_Z = 3  # above the pins (2) and their wedges
WATCHED_CAMERA = 1  # QGraphicsItem data key: the watched camera's id


class WatchedBadge(QGraphicsItem):
    """An eye in a purple disc, the viewer count beside it when more than one."""

    def __init__(self, camera_id: str, count: int, tip: str) -> None:
        super().__init__()
        self.camera_id = camera_id
        self.count = count
        self._r = PIN_RADIUS_M * theme.PIXELS_PER_METRE * 0.85
        self.setData(WATCHED_CAMERA, camera_id)
        self.setZValue(BADGE_Z)
        self.setToolTip(tip)

    def boundingRect(self) -> QRectF:
        r = self._r + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        r = self._r
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(Qt.GlobalColor.white, 1.5))
        painter.setBrush(QBrush(WATCHED))
        painter.drawEllipse(QPointF(0, 0), r, r)
        # The eye: an almond outline and its pupil.
        eye = QPainterPath()
        eye.moveTo(-r * 0.65, 0)
        eye.quadTo(0, -r * 0.7, r * 0.65, 0)
        eye.quadTo(0, r * 0.7, -r * 0.65, 0)
        painter.setPen(QPen(Qt.GlobalColor.white, max(r * 0.12, 1.0)))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(eye)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(Qt.GlobalColor.white))
        painter.drawEllipse(QPointF(0, 0), r * 0.22, r * 0.22)
        if self.count > 1:
            font = QFont()
            font.setPixelSize(max(int(r * 0.9), 4))
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(QPen(WATCHED))
            painter.drawText(QPointF(r * 0.9, -r * 0.6), str(self.count))


class WatchedOverlay:
    """The badges on one plan view; ``show`` draws those of the floor on screen."""

    def __init__(self, view: FloorPlanView) -> None:
        self._view = view
        self._badges: dict[str, WatchedBadge] = {}
        self._floor_id: str | None = None

    def show(self, watchers: Mapping[str, tuple[Watcher, ...]], now: datetime) -> None:
        floor = self._view.floor
        self._drop()
        if floor is None:
            return
        self._floor_id = floor.id
        scene = self._view.scene()
        offset = PIN_RADIUS_M * theme.PIXELS_PER_METRE * 1.2
        for camera in floor.cameras:
            seen_by = watchers.get(camera.id)
            if not seen_by:
                continue
            badge = WatchedBadge(camera.id, len(seen_by), watched_text(seen_by, now))
            x, y = camera.position
            scale = theme.PIXELS_PER_METRE
            badge.setPos(QPointF(x * scale + offset, y * scale - offset))
            scene.addItem(badge)
            self._badges[camera.id] = badge

    def _drop(self) -> None:
        for badge in self._badges.values():
            if shiboken6.isValid(badge) and badge.scene() is not None:
                badge.scene().removeItem(badge)
        self._badges.clear()

    def badge(self, camera_id: str) -> WatchedBadge | None:
        """The camera's badge while it is drawn (None: not watched, or not on screen)."""
        badge = self._badges.get(camera_id)
        if badge is None or not shiboken6.isValid(badge) or badge.scene() is None:
            return None
        return badge

    @property
    def watched(self) -> list[str]:
        return [c for c in self._badges if self.badge(c) is not None]
