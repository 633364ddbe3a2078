"""An emergency's location: the checks the server makes, the name desks give the spot, the
stored form, and what a console makes of the server's JSON."""

from __future__ import annotations

import math

import pytest

from dispatch_console.domain.emergency_location import (
    decode_location,
    encode_location,
    location_label,
    location_problem,
    room_at,
)
from dispatch_console.domain.models import EmergencyLocation
from dispatch_console.floorplan.loader import load_district
from dispatch_console.services.codec import emergency_from_json
from dispatch_console.services.errors import BadServerAnswer
from tests.paths import SAMPLE_DISTRICT

DISTRICT = load_district(SAMPLE_DISTRICT)
LOBBY = EmergencyLocation("lhs-main-1", 36.0, 45.0)


def test_a_spot_in_the_lobby_is_fine_and_named_by_its_room() -> None:
    assert location_problem(DISTRICT, "lincoln-hs", LOBBY) is None
    assert location_label(DISTRICT, LOBBY) == "Main Entrance Lobby (1st floor)"
    floor = DISTRICT.school("lincoln-hs").floor("lhs-main-1")
    room = room_at(floor, (36.0, 45.0))
    assert room is not None and room.kind.value == "entrance"


def test_each_problem_is_named() -> None:
    other = location_problem(DISTRICT, "jefferson-es", LOBBY)
    assert other is not None and "belongs to Lincoln High" in other
    unknown = location_problem(DISTRICT, "lincoln-hs", EmergencyLocation("x", 1, 1))
    assert unknown is not None and "'x'" in unknown
    off = location_problem(DISTRICT, "lincoln-hs", EmergencyLocation("lhs-main-1", 81, 10))
    assert off is not None and "outside the floor '1st floor'" in off and "0…80 m" in off
    for bad in (math.nan, math.inf, -math.inf):
        text = location_problem(DISTRICT, "lincoln-hs", EmergencyLocation("lhs-main-1", bad, 1))
        assert text is not None and "finite" in text
    # On the outline's edge still counts (a click on the stroke).
    assert (
        location_problem(DISTRICT, "lincoln-hs", EmergencyLocation("lhs-main-1", 80.3, 0)) is None
    )
    assert location_problem(DISTRICT, "lincoln-hs", EmergencyLocation("lhs-main-1", 80.6, 0))


def test_the_stored_form_round_trips_and_garbage_reads_as_none() -> None:
    assert decode_location(encode_location(LOBBY)) == LOBBY
    assert encode_location(None) is None
    assert decode_location(None) is None
    assert decode_location("{not json") is None
    assert decode_location('{"floor_id": "f"}') is None


def _emergency(**extra: object) -> dict[str, object]:
    return {
        "id": "em-1",
        "school_id": "lincoln-hs",
        "type": "lockdown",
        "threat_basis": "x",
        "declared_by": "Dana",
        "declared_at": "2026-11-20T10:00:00.000Z",
        "ended_at": None,
        **extra,
    }


def test_the_console_reads_the_location_and_copes_with_older_servers() -> None:
    assert emergency_from_json(_emergency()).location is None  # a server before the field
    assert emergency_from_json(_emergency(location=None)).location is None
    read = emergency_from_json(_emergency(location={"floor_id": "lhs-main-1", "x": 36, "y": 45}))
    assert read.location == LOBBY
    with pytest.raises(BadServerAnswer, match="numeric x and y"):
        emergency_from_json(_emergency(location={"floor_id": "f", "x": "1", "y": 2}))
    with pytest.raises(BadServerAnswer, match="not a JSON object"):
        emergency_from_json(_emergency(location=[1, 2]))
