"""Visible areas respect walls and doors; "covering here" asks the policy, nearest first.

The test floor (metres, y down)::

    y=0  +-----------+-----------+
         | Class A   | Office    |     classroom (private) / office (private)
    y=10 +--door-----+-----------+     door in the A wall at x 4..6; no door into the office
         | Hall                  |     hallway (common)
    y=16 +-----------------------+
        x=0         x=20        x=40
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch_console.domain.models import (
    AccessContext,
    Camera,
    Emergency,
    EmergencyType,
    Floor,
    Grant,
    Opening,
    Role,
    Room,
    RoomKind,
    User,
    Wall,
)
from dispatch_console.floorplan.coverage import cameras_covering
from dispatch_console.floorplan.visibility import FloorVisibility, VisibilityIndex, sector

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
SAFETY = User("u2", "safety", "Sam Ortiz", "Riverside USD", Role.DISTRICT_SAFETY_OFFICER)


def _camera(
    camera_id: str, at: tuple[float, float], heading: float, kind: RoomKind, fov: float = 90
) -> Camera:
    return Camera(
        id=camera_id,
        name=camera_id,
        school_id="test-school",
        building_id="b",
        floor_id="f1",
        position=at,
        heading_deg=heading,
        fov_deg=fov,
        range_m=30,
        room_id="r",
        room_kind=kind,
    )


HALL_WEST = _camera("hall-west", (1, 13), 0, RoomKind.HALLWAY)  # looks east along the hall
HALL_EAST = _camera("hall-east", (39, 13), 180, RoomKind.HALLWAY)  # looks west
HALL_UP = _camera("hall-up", (5, 15), 270, RoomKind.HALLWAY, fov=40)  # looks north at the door
CLASS_CAM = _camera("class-a", (1, 1), 45, RoomKind.CLASSROOM)  # private room

FLOOR = Floor(
    id="f1",
    name="Test floor",
    level=1,
    rooms=(
        Room("a", "Class A", RoomKind.CLASSROOM, ((0, 0), (20, 0), (20, 10), (0, 10))),
        Room("o", "Office", RoomKind.OFFICE, ((20, 0), (40, 0), (40, 10), (20, 10))),
        Room("h", "Hall", RoomKind.HALLWAY, ((0, 10), (40, 10), (40, 16), (0, 16))),
    ),
    cameras=(HALL_WEST, HALL_EAST, HALL_UP, CLASS_CAM),
    width_m=40,
    height_m=16,
    walls=(
        Wall("outer", ((0, 0), (40, 0), (40, 16), (0, 16), (0, 0))),
        Wall("hall-side", ((0, 10), (40, 10))),
        Wall("a-office", ((20, 0), (20, 10))),
    ),
    openings=(Opening("door-a", "door", ((4, 10), (6, 10))),),
)

EMERGENCY = Emergency(
    "e1", "test-school", EmergencyType.ACTIVE_THREAT, "911 call", "u1", NOW - timedelta(minutes=1)
)
GRANT = Grant(
    "g1", "e1", "test-school", "Riverside PD", NOW - timedelta(minutes=1), NOW + timedelta(hours=1),
    "break-glass policy",
)  # fmt: skip
GRANTED = AccessContext((EMERGENCY,), (GRANT,))


@pytest.fixture(scope="module")
def visibility() -> FloorVisibility:
    return FloorVisibility(FLOOR)


def test_a_wall_cuts_the_view_and_a_door_lets_it_through(visibility: FloorVisibility) -> None:
    area = visibility.areas["hall-up"]
    cone = sector(HALL_UP)
    assert area.area < cone.area  # the wall at y=10 cuts the sector
    from shapely.geometry import Point

    assert area.covers(Point(5, 7))  # straight through the door into Class A
    assert not area.covers(Point(9, 7))  # in Class A, but behind the wall beside the door
    assert area.covers(Point(5, 12))  # the hall in front of the camera


@pytest.mark.parametrize(
    ("spot", "expected"),
    [
        ((18, 13), ["hall-west", "hall-east"]),  # mid-hall: both, the nearer first
        ((22, 13), ["hall-east", "hall-west"]),
        ((8, 13), ["hall-west"]),  # 31 m from the east camera: out of its range
        # In front of the door: the classroom camera sees it too, through the doorway.
        ((5, 11), ["hall-up", "hall-west", "class-a"]),
        ((30, 5), []),  # in the office: behind a wall with no door, nobody sees it
        ((5, 6), ["class-a", "hall-up"]),  # in Class A, in line with the door
        ((15, 6), ["class-a"]),  # in Class A, beside the door: behind the wall for the hall
    ],
)
def test_covering_returns_exactly_the_cameras_that_see_the_spot(
    visibility: FloorVisibility, spot: tuple[float, float], expected: list[str]
) -> None:
    assert [c.id for c in visibility.covering(spot)] == expected


def test_police_get_only_shareable_cameras_and_only_under_a_grant() -> None:
    index = VisibilityIndex()
    spot = (5, 6)  # seen by the classroom camera and, through the door, by hall-up
    locked = cameras_covering(index, FLOOR, spot, DISPATCHER, AccessContext(), NOW)
    assert locked == []
    granted = cameras_covering(index, FLOOR, spot, DISPATCHER, GRANTED, NOW)
    assert [c.id for c in granted] == ["hall-up"]  # never the classroom camera
    district = cameras_covering(index, FLOOR, spot, SAFETY, AccessContext(), NOW)
    assert [c.id for c in district] == ["class-a", "hall-up"]


def test_the_index_builds_a_floor_once_and_rebuilds_a_changed_floor() -> None:
    index = VisibilityIndex()
    first = index.floor(FLOOR)
    assert index.floor(FLOOR) is first
    from dataclasses import replace

    moved = replace(FLOOR, openings=())
    rebuilt = index.floor(moved)
    assert rebuilt is not first
    assert [c.id for c in rebuilt.covering((5, 6))] == ["class-a"]  # the door is gone


def test_a_floor_without_walls_sees_the_whole_sector() -> None:
    from dataclasses import replace

    open_floor = replace(FLOOR, walls=(), openings=())
    visibility = FloorVisibility(open_floor)
    assert visibility.areas["hall-up"].equals(sector(HALL_UP))
    # Behind the Class A wall for the hall camera once walls count (see the cases above).
    assert "hall-west" in [c.id for c in visibility.covering((15, 6))]


def test_a_full_circle_camera_and_a_camera_on_its_wall() -> None:
    from dataclasses import replace

    dome = _camera("dome", (10, 13), 0, RoomKind.HALLWAY, fov=360)
    mounted = _camera("mounted", (30, 10.05), 90, RoomKind.HALLWAY)  # on the hall-side wall
    visibility = FloorVisibility(replace(FLOOR, cameras=(dome, mounted)))
    assert [c.id for c in visibility.covering((10, 15.5))] == ["dome"]
    assert [c.id for c in visibility.covering((30, 14))] == ["mounted", "dome"]
    assert visibility.covering((30, 5)) == []
