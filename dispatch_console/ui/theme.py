"""Colours and sizes in one place, so views stay consistent and readable at a glance."""

from __future__ import annotations

from PySide6.QtGui import QColor

from dispatch_console.domain.models import RoomKind

ROOM_FILL: dict[RoomKind, QColor] = {
    RoomKind.HALLWAY: QColor("#dfe8f1"),
    RoomKind.CAFETERIA: QColor("#f3e6cf"),
    RoomKind.GYM: QColor("#dcefdc"),
    RoomKind.AUDITORIUM: QColor("#eadff2"),
    RoomKind.ENTRANCE: QColor("#cfe6ef"),
    RoomKind.STAIRWELL: QColor("#e4e4e4"),
    RoomKind.EXTERIOR: QColor("#e3efd7"),
    RoomKind.PARKING: QColor("#e6e6e0"),
}
PRIVATE_FILL = QColor("#c9c9c9")
WALL = QColor("#4a4f57")
ROOM_TEXT = QColor("#30343a")

PIN_UNLOCKED = QColor("#1f8f4e")
PIN_LOCKED = QColor("#9a9fa6")
PIN_NEVER = QColor("#b3261e")
PIN_OPEN = QColor("#1565c0")
PIN_OFFLINE = QColor("#e0a100")

EMERGENCY = QColor("#b3261e")
GRANTED = QColor("#1f8f4e")
NEUTRAL = QColor("#5f6368")

PIXELS_PER_METRE = 10.0
WAITING = QColor("#a35200")
CONFIRM = QColor("#8c1d18")
