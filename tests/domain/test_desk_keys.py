"""Which camera Ctrl+n opens, and which request the approve and deny keys act on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dispatch_console.domain.access_board import EmergencyStatus
from dispatch_console.domain.desk_keys import camera_number, numbered_cameras, oldest_awaiting
from dispatch_console.domain.models import (
    AccessRequest,
    Camera,
    Emergency,
    EmergencyType,
    Floor,
    RoomKind,
)
from dispatch_console.domain.policy import AccessAction

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def camera(camera_id: str, x: float, y: float) -> Camera:
    return Camera(camera_id, camera_id, "s", "b", "f", (x, y), 0, 90, 10, "r", RoomKind.HALLWAY)


def test_cameras_are_numbered_in_reading_order_not_file_order() -> None:
    listed = (camera("bottom", 5, 40), camera("top-right", 30, 2), camera("top-left", 3, 4))
    floor = Floor("f", "Ground", 0, (), listed, 50, 50)
    assert [c.id for c in numbered_cameras(floor)] == ["top-left", "top-right", "bottom"]
    assert camera_number(floor, 1) == listed[2]
    assert camera_number(floor, 3) == listed[0]
    assert camera_number(floor, 4) is None and camera_number(floor, 0) is None


def test_only_nine_cameras_get_a_number() -> None:
    floor = Floor("f", "Ground", 0, (), tuple(camera(f"c{i}", i, 0) for i in range(12)), 50, 50)
    assert len(numbered_cameras(floor)) == 9


def status(name: str, asked_minutes_ago: int, actions: set[AccessAction]) -> EmergencyStatus:
    emergency = Emergency(name, "s", EmergencyType.LOCKDOWN, "basis", "dana", NOW)
    asked = NOW - timedelta(minutes=asked_minutes_ago)
    request = AccessRequest(f"r-{name}", name, "s", "police", "dana", asked, "pending")
    return EmergencyStatus(emergency, None, request, frozenset(actions))


def test_the_keys_act_on_the_request_that_waited_longest() -> None:
    both = {AccessAction.APPROVE, AccessAction.DENY}
    statuses = [status("new", 1, both), status("old", 9, both), status("mid", 5, both)]
    assert oldest_awaiting(statuses, AccessAction.APPROVE) == statuses[1]
    # One the desk may not approve (no action) is skipped.
    statuses[1] = replace(statuses[1], actions=frozenset())
    assert oldest_awaiting(statuses, AccessAction.APPROVE) == statuses[2]
    granted = replace(statuses[0], request=None)
    assert oldest_awaiting([granted], AccessAction.DENY) is None
