"""Where a declared emergency is: checking the spot a declarer gives, and naming it.

A location is a floor of the district's plans and a point on it in plan metres. The
server refuses a location that does not make sense before it stores the emergency (a
marker on another school's plan, or off the floor, would send officers' eyes to the
wrong place), and the desks name the spot by the room that holds it. Pure: the server,
the console and the tests share these rules.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .models import Building, District, EmergencyLocation, Floor, Point, Room, School

# How far outside the floor's extent a point may lie and still count (a click on the
# outline's stroke, a rounding error): well under a pin's width.
EDGE_TOLERANCE_M = 0.5


@dataclass(frozen=True)
class FloorPlace:
    """A floor with the school and building it belongs to."""

    school: School
    building: Building
    floor: Floor


def find_floor(district: District, floor_id: str) -> FloorPlace | None:
    """The floor with this id anywhere in the district, with its school and building."""
    for school in district.schools:
        for building in school.buildings:
            for floor in building.floors:
                if floor.id == floor_id:
                    return FloorPlace(school, building, floor)
    return None


def floor_extent(floor: Floor) -> tuple[float, float, float, float]:
    """The floor's extent (min x, min y, max x, max y): its declared size, widened to any
    room that reaches beyond it, so every point of the drawn plan is inside."""
    xs = [0.0, floor.width_m] + [p[0] for room in floor.rooms for p in room.outline]
    ys = [0.0, floor.height_m] + [p[1] for room in floor.rooms for p in room.outline]
    return min(xs), min(ys), max(xs), max(ys)


def location_problem(district: District, school_id: str, location: EmergencyLocation) -> str | None:
    """Why this location cannot go with an emergency at ``school_id`` (None: it can)."""
    if not (math.isfinite(location.x) and math.isfinite(location.y)):
        return "The location's x and y must be finite numbers of metres on the floor."
    place = find_floor(district, location.floor_id)
    if place is None:
        return f"The location names a floor {location.floor_id!r} this district does not have."
    if place.school.id != school_id:
        return (
            f"The location's floor {location.floor_id!r} belongs to {place.school.name}, "
            f"not to the school the emergency is declared at ({school_id!r})."
        )
    min_x, min_y, max_x, max_y = floor_extent(place.floor)
    tolerance = EDGE_TOLERANCE_M
    if not (
        min_x - tolerance <= location.x <= max_x + tolerance
        and min_y - tolerance <= location.y <= max_y + tolerance
    ):
        return (
            f"The location ({location.x:.6g}, {location.y:.6g}) lies outside the floor "
            f"{place.floor.name!r}, which spans x {min_x:g}…{max_x:g} m and "
            f"y {min_y:g}…{max_y:g} m."
        )
    return None


def _inside(point: Point, outline: tuple[Point, ...]) -> bool:
    """Even-odd ray casting: whether the point lies inside the polygon."""
    x, y = point
    inside = False
    for i, (x1, y1) in enumerate(outline):
        x2, y2 = outline[i - 1]
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def room_at(floor: Floor, point: Point) -> Room | None:
    """The room holding the point (the smallest, where rooms overlap), or None."""
    holding = [
        room for room in floor.rooms if len(room.outline) >= 3 and _inside(point, room.outline)
    ]
    return min(holding, key=lambda room: _area(room.outline), default=None)


def _area(outline: tuple[Point, ...]) -> float:
    return (
        abs(
            sum(
                x1 * y2 - x2 * y1
                for (x1, y1), (x2, y2) in zip(outline, outline[1:] + outline[:1], strict=True)
            )
        )
        / 2
    )


def location_label(district: District, location: EmergencyLocation) -> str:
    """How desks name the spot: "Main Entrance Lobby (1st floor)"; off any room, the
    floor alone ("1st floor, x 36 m, y 45 m")."""
    place = find_floor(district, location.floor_id)
    if place is None:
        return f"floor {location.floor_id} ({location.x:.0f} m, {location.y:.0f} m)"
    floor = place.floor
    where = floor.name
    if len(place.school.buildings) > 1:
        where = f"{place.building.name} · {floor.name}"
    room = room_at(floor, (location.x, location.y))
    if room is None:
        return f"{where}, x {location.x:.0f} m, y {location.y:.0f} m"
    return f"{room.name} ({where})"


def location_fields(location: EmergencyLocation) -> dict[str, str | float]:
    """The location as the API, the live event and the database write it."""
    return {"floor_id": location.floor_id, "x": location.x, "y": location.y}


def encode_location(location: EmergencyLocation | None) -> str | None:
    """The stored text of a location (None: the emergency has none)."""
    return None if location is None else json.dumps(location_fields(location))


def decode_location(text: str | None) -> EmergencyLocation | None:
    """A stored location back; text that is not one reads as no location, never an error
    (an emergency must stay readable whatever its optional spot says)."""
    if not text:
        return None
    try:
        raw = json.loads(text)
        return EmergencyLocation(str(raw["floor_id"]), float(raw["x"]), float(raw["y"]))
    except (ValueError, TypeError, KeyError):
        return None
