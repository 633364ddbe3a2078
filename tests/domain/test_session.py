"""The viewing-session record: time-ordered ids, millisecond UTC times, one end only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dispatch_console.domain.models import EndReason, Role, User
from dispatch_console.domain.session import end_session, parse_utc, start_session, utc_ms, uuid7
from dispatch_console.floorplan.loader import load_district
from tests.paths import SAMPLE_DISTRICT

NOW = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)


def test_uuid7_is_version_7_and_sorts_by_time() -> None:
    ids = [uuid7(1_700_000_000_000 + i) for i in range(50)]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert sorted(ids, key=str) == ids
    assert len(set(ids)) == 50


def test_times_are_utc_with_milliseconds() -> None:
    assert utc_ms(NOW) == "2026-11-23T12:00:00.123Z"
    assert parse_utc("2026-11-23T12:00:00.123Z") == NOW.replace(microsecond=123000)


def test_session_carries_the_whole_audit_record_and_ends_once() -> None:
    district = load_district(SAMPLE_DISTRICT)
    camera = district.camera("lhs-cam-01")
    user = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
    session = start_session(
        user=user,
        camera=camera,
        school=district.school(camera.school_id),
        workstation_id="ws-1",
        app_version="0.1.0",
        emergency_id="e1",
        grant_id="g1",
        threat_basis="911 call: intruder",
        now=NOW,
    )
    record = session.start_record()
    assert record["camera_name"] == "Main Hall West — 1st floor"
    assert record["floor_name"] == "1st floor" and record["school_name"] == "Lincoln High School"
    assert record["threat_basis"] == "911 call: intruder"
    assert "ended_at" not in record
    ended = end_session(session, EndReason.CLOSED_BY_USER, NOW + timedelta(seconds=90))
    again = end_session(ended, EndReason.APPLICATION_EXIT, NOW + timedelta(seconds=200))
    assert again == ended
    assert ended.end_record() == {
        "session_id": session.session_id,
        "ended_at": "2026-11-23T12:01:30.123Z",
        "duration_ms": 90000,
        "end_reason": "closed_by_user",
    }
