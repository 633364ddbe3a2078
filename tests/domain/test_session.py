"""The viewing-session record: time-ordered ids, millisecond UTC times, one end only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dispatch_console.domain.models import EndReason, Role, User
from dispatch_console.domain.session import (
    ViewingSession,
    elapsed_ms,
    end_session,
    heartbeat_record,
    parse_utc,
    recovered_end,
    stamp_after_start,
    start_session,
    utc_ms,
    uuid7,
)
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


def _lincoln_session(now: datetime, mono: float | None) -> ViewingSession:
    district = load_district(SAMPLE_DISTRICT)
    camera = district.camera("lhs-cam-01")
    user = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
    return start_session(
        user=user,
        camera=camera,
        school=district.school(camera.school_id),
        workstation_id="ws-1",
        app_version="0.1.0",
        emergency_id="e1",
        grant_id="g1",
        threat_basis="911 call: intruder",
        now=now,
        mono_now_s=mono,
    )


def test_durations_come_from_the_monotonic_clock_not_a_stepped_wall_clock() -> None:
    session = _lincoln_session(NOW, mono=1000.0)
    assert "started_mono_s" not in session.start_record()  # never leaves the process
    # NTP (or a person) stepped the wall clock back an hour mid-session.
    stepped = NOW - timedelta(hours=1)
    ended = end_session(session, EndReason.CLOSED_BY_USER, stepped, mono_now_s=1090.5)
    assert ended.ended_at == "2026-11-23T12:01:30.623Z"
    assert ended.duration_ms == 90_500
    # The district's check holds: the end is exactly duration_ms after the start.
    assert (parse_utc(ended.ended_at) - parse_utc(session.started_at)) == timedelta(
        milliseconds=90_500
    )
    # Heartbeats are stamped the same way.
    at = stamp_after_start(session, elapsed_ms(session, 1015.0))
    assert heartbeat_record(session, at) == {
        "session_id": session.session_id,
        "at": "2026-11-23T12:00:15.123Z",
    }


def test_a_crash_left_session_ends_at_its_latest_mark_never_before_its_start() -> None:
    session = _lincoln_session(NOW, mono=None)
    marks = ["2026-11-23T12:00:15.123Z", "2026-11-23T12:00:45.123Z", "2026-11-23T12:00:30.1Z"]
    ended = recovered_end(session, marks)
    assert ended.end_reason is EndReason.RECOVERED_AFTER_CRASH
    assert ended.ended_at == "2026-11-23T12:00:45.123Z"
    assert ended.duration_ms == 45_000
    assert recovered_end(session, []).duration_ms == 0
    assert recovered_end(session, ["2026-11-23T11:00:00.000Z"]).ended_at == session.started_at
