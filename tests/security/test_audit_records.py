"""Audit promises: the record is the server's truth, its times are real times, and no
client can flood the safety desk's list until real sessions fall off it."""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import Any

import pytest

from dispatch_console.domain.session import utc_ms, uuid7
from tests.district.test_server import start_record
from tests.security.conftest import API, Stack, StackFactory

pytestmark = pytest.mark.timeout(60)


def _me(district: Stack, who: dict[str, str]) -> dict[str, Any]:
    me: dict[str, Any] = district.http.get(f"{API}/auth/me", headers=who).json()
    return me


def _put_start(district: Stack, who: dict[str, str], record: dict[str, Any]) -> Any:
    return district.http.put(
        f"{API}/audit/sessions/{record['session_id']}/start", headers=who, json=record
    )


def _put_end(
    district: Stack, who: dict[str, str], session_id: str, ended_at: str, **kw: Any
) -> Any:
    body = {"session_id": session_id, "ended_at": ended_at, "duration_ms": None}
    body["end_reason"] = "closed_by_user"
    body.update(kw)
    return district.http.put(f"{API}/audit/sessions/{session_id}/end", headers=who, json=body)


def test_the_server_fills_identity_and_registry_not_the_client(district: Stack) -> None:
    police = district.login("dispatcher")
    record = start_record(_me(district, police), "lhs-cam-02", district.clock())
    record |= {
        "user_name": "Somebody Else",
        "agency": "Made-up Agency",
        "role": "district_safety_officer",
        "camera_name": "Nothing to see here",
        "school_name": "Other School",
        "building_name": "Shed",
        "floor_name": "Basement",
        "threat_basis": "",
    }
    stored = _put_start(district, police, record)
    assert stored.status_code == 201, stored.text
    row = stored.json()
    assert row["user_name"] == "Dana Reyes"
    assert row["agency"] == "Riverside Police Department"
    assert row["role"] == "police_dispatcher"
    assert row["camera_name"] == "Main Hall East — 1st floor"
    assert row["room_kind"] == "hallway"
    assert (row["school_name"], row["floor_name"]) == ("Lincoln High School", "1st floor")
    assert row["building_name"] != "Shed"


def test_the_server_records_the_grant_in_force_and_its_threat_basis(district: Stack) -> None:
    police = district.login("dispatcher")
    grant = district.declare(police, "active_threat")["grant"]
    record = start_record(_me(district, police), "lhs-cam-02", district.clock())
    record |= {"grant_id": None, "emergency_id": None, "threat_basis": "just looking"}
    row = _put_start(district, police, record).json()
    assert row["grant_id"] == grant["id"]
    assert row["emergency_id"] == grant["emergency_id"]
    assert row["threat_basis"] == "Caller reports a man with a gun"


def test_a_start_whose_camera_place_or_grant_does_not_match_is_refused(district: Stack) -> None:
    police = district.login("dispatcher")
    me = _me(district, police)
    district.declare(police, "active_threat")
    cases = {
        "a made-up grant": {"grant_id": "gr-does-not-exist"},
        "another school": {"school_id": "jefferson-es"},
        "another floor": {"floor_id": "f2"},
        "an unknown camera": {"camera_id": "no-such-camera"},
        "an emergency elsewhere": {"emergency_id": "em-does-not-exist"},
    }
    for what, change in cases.items():
        record = start_record(me, "lhs-cam-02", district.clock()) | change
        answer = _put_start(district, police, record)
        assert answer.status_code == 422, f"{what}: {answer.text}"
        assert answer.json()["detail"], what
    # Nothing was stored, and so no ticket either.
    assert district.http.get(f"{API}/audit/sessions", headers=police).json() == []


def test_the_server_stamps_its_own_start_time_and_keeps_the_clients(district: Stack) -> None:
    police = district.login("dispatcher")
    client_time = district.clock() - timedelta(seconds=40)  # a slow workstation clock
    record = start_record(_me(district, police), "lhs-cam-02", client_time)
    row = _put_start(district, police, record).json()
    assert row["started_at"] == utc_ms(district.clock())
    assert row["client_started_at"] == utc_ms(client_time)
    assert row["late"] is False
    # The same start again, later: 200 with the stored record, times unchanged.
    district.clock.advance(seconds=5)
    replay = _put_start(district, police, record)
    assert replay.status_code == 200
    assert replay.json() == row


def test_client_times_need_a_zone_and_are_normalised_to_utc_ms(district: Stack) -> None:
    police = district.login("dispatcher")
    me = _me(district, police)
    now = district.clock()
    for bad in ("2026-03-02", "2026-03-02T14:30:00", "yesterday", "1700000000", ""):
        answer = _put_start(
            district, police, start_record(me, "lhs-cam-02", now) | {"started_at": bad}
        )
        assert answer.status_code == 422, bad
    # An offset is fine; it is stored as UTC with milliseconds.
    local = now.replace(microsecond=0)
    offset_text = local.astimezone(timezone(timedelta(hours=-5))).isoformat()
    record = start_record(me, "lhs-cam-02", local) | {"started_at": offset_text}
    row = _put_start(district, police, record).json()
    assert row["client_started_at"] == utc_ms(local)
    assert row["client_started_at"].endswith("Z") and len(row["client_started_at"]) == 24


def test_times_in_the_future_are_refused(district: Stack) -> None:
    police = district.login("dispatcher")
    me = _me(district, police)
    for ahead in (timedelta(minutes=10), timedelta(days=365 * 7000)):
        future = district.clock() + ahead
        record = start_record(me, "lhs-cam-02", district.clock()) | {"started_at": utc_ms(future)}
        answer = _put_start(district, police, record)
        assert answer.status_code == 422
        assert "future" in answer.json()["detail"]
    # A few seconds of skew is not the future.
    slight = district.clock() + timedelta(seconds=20)
    record = start_record(me, "lhs-cam-02", slight)
    assert _put_start(district, police, record).status_code == 201


def test_an_end_before_its_start_is_refused(district: Stack) -> None:
    police = district.login("dispatcher")
    start = district.clock()
    record = start_record(_me(district, police), "lhs-cam-02", start)
    assert _put_start(district, police, record).status_code == 201
    sid = record["session_id"]
    before = _put_end(district, police, sid, utc_ms(start - timedelta(seconds=1)))
    assert before.status_code == 422 and "before the session's start" in before.json()["detail"]
    negative = _put_end(district, police, sid, utc_ms(start), duration_ms=-5)
    assert negative.status_code == 422
    lying = _put_end(district, police, sid, utc_ms(start + timedelta(seconds=2)), duration_ms=9)
    assert lying.status_code == 422 and "duration_ms" in lying.json()["detail"]
    district.clock.advance(seconds=2)
    good = _put_end(district, police, sid, utc_ms(start + timedelta(seconds=2)))
    assert good.status_code == 200 and good.json()["duration_ms"] == 2000


def test_a_late_start_after_an_outage_is_accepted_and_flagged(district: Stack) -> None:
    police = district.login("dispatcher")
    me = _me(district, police)
    grant = district.declare(police, "active_threat")["grant"]
    began = district.clock()
    record = start_record(me, "lhs-cam-02", began) | {"grant_id": grant["id"]}
    district.clock.advance(minutes=40)  # the network was down; the outbox kept the start
    row = _put_start(district, police, record)
    assert row.status_code == 201, row.text
    stored = row.json()
    assert stored["late"] is True
    assert stored["client_started_at"] == utc_ms(began)
    assert stored["started_at"] == utc_ms(district.clock())  # no video before this moment

    # An old time the session itself does not back (its id was made at another moment)
    # is refused, and so is one from before the grant it names.
    elsewhen = int((began - timedelta(hours=3)).timestamp() * 1000)
    forged = start_record(me, "lhs-cam-02", began) | {"session_id": str(uuid7(elsewhen))}
    answer = _put_start(district, police, forged)
    assert answer.status_code == 422 and "UUIDv7" in answer.json()["detail"]
    before_grant = began - timedelta(minutes=30)
    early = start_record(me, "lhs-cam-02", before_grant) | {"grant_id": grant["id"]}
    answer = _put_start(district, police, early)
    assert answer.status_code == 422 and "before grant" in answer.json()["detail"]


def test_future_dated_starts_cannot_push_real_sessions_off_the_list(district: Stack) -> None:
    police = district.login("dispatcher")
    safety = district.login("safety")
    me = _me(district, police)
    real = start_record(me, "lhs-cam-02", district.clock())
    assert _put_start(district, police, real).status_code == 201
    for _ in range(30):
        flood = start_record(me, "lhs-cam-03", district.clock()) | {
            "started_at": "9999-12-31T23:59:59.999Z"
        }
        assert _put_start(district, police, flood).status_code == 422
    listed = district.http.get(f"{API}/audit/sessions?limit=1", headers=safety).json()
    assert [s["session_id"] for s in listed] == [real["session_id"]]


def test_the_list_is_ordered_by_the_servers_time(district: Stack) -> None:
    police = district.login("dispatcher")
    safety = district.login("safety")
    me = _me(district, police)
    first = start_record(me, "lhs-cam-02", district.clock() + timedelta(seconds=90))
    assert _put_start(district, police, first).status_code == 201
    district.clock.advance(seconds=10)
    second = start_record(me, "lhs-cam-03", district.clock() - timedelta(seconds=90))
    assert _put_start(district, police, second).status_code == 201
    listed = district.http.get(f"{API}/audit/sessions", headers=safety).json()
    assert [s["session_id"] for s in listed] == [second["session_id"], first["session_id"]]


def test_live_sessions_are_always_listed(district: Stack) -> None:
    police = district.login("dispatcher")
    safety = district.login("safety")
    me = _me(district, police)
    live = start_record(me, "lhs-cam-02", district.clock())
    assert _put_start(district, police, live).status_code == 201
    for _ in range(4):
        district.clock.advance(seconds=1)
        done = start_record(me, "lhs-cam-03", district.clock())
        assert _put_start(district, police, done).status_code == 201
        assert _put_end(district, police, done["session_id"], utc_ms(district.clock())).is_success
    listed = district.http.get(f"{API}/audit/sessions?limit=2", headers=safety).json()
    assert len(listed) == 3
    assert listed[0]["session_id"] == live["session_id"] and listed[0]["ended_at"] is None


def test_audit_starts_are_rate_limited_per_user(make_stack: StackFactory) -> None:
    district = make_stack(audit_starts_per_minute=5)
    police = district.login("dispatcher")
    other = district.login("supervisor")
    me = _me(district, police)
    for _ in range(5):
        assert (
            _put_start(
                district, police, start_record(me, "lhs-cam-02", district.clock())
            ).status_code
            == 201
        )
    limited = _put_start(district, police, start_record(me, "lhs-cam-02", district.clock()))
    assert limited.status_code == 429
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    # Another user is not limited by this one's flood.
    theirs = start_record(_me(district, other), "lhs-cam-02", district.clock())
    assert _put_start(district, other, theirs).status_code == 201
    district.clock.advance(seconds=61)
    assert (
        _put_start(district, police, start_record(me, "lhs-cam-02", district.clock())).status_code
        == 201
    )
