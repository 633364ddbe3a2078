"""Plan geometry the views need, computed with shapely so widgets don't have to."""

from __future__ import annotations

from shapely.geometry import Polygon

from dispatch_console.domain.models import Point, Room


def label_point(room: Room) -> Point:
    """A point inside the room (not just its centroid, which can fall outside an L shape)."""
    point = Polygon(room.outline).representative_point()
    return float(point.x), float(point.y)
