"""An emergency's location over raw HTTP: a spot on one of the school's floors is stored,
returned and announced; a spot the district's plans cannot place is refused with a 422
that says what is wrong; a declaration without one (an older console) still works."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from dispatch_console.district.server import app_context
from tests.district.test_server import API, District, district  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)

LOBBY = {"floor_id": "lhs-main-1", "x": 36.0, "y": 45.0}  # Lincoln High, front lobby


def _declare(d: District, location: Any, school: str = "lincoln-hs") -> httpx.Response:
    body = {
        "school_id": school,
        "type": "lockdown",
        "threat_basis": "Caller reports a man with a gun in the lobby",
        "location": location,
    }
    return d.http.post(f"{API}/emergencies", headers=d.login("dispatcher"), json=body)


def _declare_raw(d: District, text: str) -> httpx.Response:
    """JSON written by hand: NaN and 1e400 cannot come out of json.dumps(allow_nan=False)."""
    headers = {**d.login("dispatcher"), "Content-Type": "application/json"}
    return d.http.post(f"{API}/emergencies", headers=headers, content=text.encode())


def test_a_location_round_trips_and_is_announced(district: District) -> None:  # noqa: F811
    declared = _declare(district, LOBBY)
    assert declared.status_code == 201, declared.text
    emergency = declared.json()["emergency"]
    assert emergency["location"] == LOBBY

    safety = district.login("safety")
    access = district.http.get(f"{API}/access", headers=safety).json()
    listed = next(e for e in access["emergencies"] if e["id"] == emergency["id"])
    assert listed["location"] == LOBBY

    rows = app_context(district.app).db.query(
        "SELECT data FROM events WHERE kind = 'emergency.declared' AND subject = ?",
        (emergency["id"],),
    )
    assert [json.loads(r["data"])["location"] for r in rows] == [LOBBY]

    ended = district.http.post(f"{API}/emergencies/{emergency['id']}/end", headers=safety)
    assert ended.status_code == 200 and ended.json()["location"] == LOBBY


def test_an_older_console_declares_without_a_location(district: District) -> None:  # noqa: F811
    response = district.http.post(
        f"{API}/emergencies",
        headers=district.login("dispatcher"),
        json={"school_id": "lincoln-hs", "type": "lockdown", "threat_basis": "Old console"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["emergency"]["location"] is None
    rows = app_context(district.app).db.query(
        "SELECT data FROM events WHERE kind = 'emergency.declared' AND subject = ?",
        (response.json()["emergency"]["id"],),
    )
    assert "location" not in json.loads(rows[0]["data"])


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ({"floor_id": "jes-1", "x": 10.0, "y": 10.0}, "belongs to Jefferson Elementary"),
        ({"floor_id": "no-such-floor", "x": 10.0, "y": 10.0}, "floor 'no-such-floor'"),
        ({"floor_id": "lhs-main-1", "x": 500.0, "y": 10.0}, "lies outside the floor"),
        ({"floor_id": "lhs-main-1", "x": 10.0, "y": -3.0}, "lies outside the floor"),
        ({"floor_id": "lhs-main-1", "x": 1e308, "y": 1e308}, "lies outside the floor"),
    ],
)
def test_a_location_the_plans_cannot_place_is_refused(
    district: District,  # noqa: F811
    location: dict[str, Any],
    says: str,
) -> None:
    response = _declare(district, location)
    assert response.status_code == 422, response.text
    assert says in response.json()["detail"]
    # Nothing was declared: the refusal comes before anything is stored.
    access = district.http.get(f"{API}/access", headers=district.login("safety")).json()
    assert access["emergencies"] == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_numbers_that_are_not_metres_are_refused(district: District, number: str) -> None:  # noqa: F811
    text = (
        '{"school_id": "lincoln-hs", "type": "lockdown", "threat_basis": "x", '
        f'"location": {{"floor_id": "lhs-main-1", "x": {number}, "y": 4}}}}'
    )
    response = _declare_raw(district, text)
    assert response.status_code == 422, response.text
    assert "finite numbers" in str(response.json()["detail"])


@pytest.mark.parametrize(
    "location",
    [
        {"floor_id": "lhs-main-1", "x": "36", "y": None},
        {"floor_id": "", "x": 1, "y": 1},
        {"x": 1, "y": 1},
        "lhs-main-1",
    ],
)
def test_a_malformed_location_is_a_422(district: District, location: Any) -> None:  # noqa: F811
    response = _declare(district, location)
    assert response.status_code == 422, response.text
    assert "location" in response.text
