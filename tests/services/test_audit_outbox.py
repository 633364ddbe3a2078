"""The audit outbox on a real SQLite file: durable first, recovered after crashes, no doubles."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch_console.domain.models import EndReason, Role, User
from dispatch_console.domain.session import ViewingSession, end_session, start_session, utc_ms
from dispatch_console.floorplan.loader import load_district
from dispatch_console.services.audit_outbox import AuditOutbox
from dispatch_console.services.errors import AuditNotRecorded
from tests.paths import ROOT, SAMPLE_DISTRICT

T0 = datetime(2026, 3, 2, 14, 30, 0, 123000, tzinfo=UTC)
DISPATCHER = User(
    id="user-dispatcher",
    username="dispatcher",
    display_name="Dana Reyes",
    agency="Riverside Police Department",
    role=Role.POLICE_DISPATCHER,
)
DISTRICT = load_district(SAMPLE_DISTRICT)


def session(
    now: datetime = T0, camera_id: str = "jes-cam-02", basis: str = "Intruder"
) -> ViewingSession:
    camera = DISTRICT.camera(camera_id)
    return start_session(
        user=DISPATCHER,
        camera=camera,
        school=DISTRICT.school(camera.school_id),
        workstation_id="test-ws",
        app_version="0.0-test",
        emergency_id="em-test",
        grant_id="gr-test",
        threat_basis=basis,
        now=now,
    )


def rows(path: Path) -> list[tuple[str, str, str]]:
    """What the file holds, read with plain sqlite3 (not through the class under test)."""
    with sqlite3.connect(path) as db:
        return db.execute("SELECT session_id, kind, payload FROM outbox ORDER BY seq").fetchall()


def test_a_recorded_start_survives_closing_and_reopening_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "audit" / "outbox.sqlite3"
    started = session()

    first = AuditOutbox(path)
    asyncio.run(first.record_start(started))
    first.close()

    # No network anywhere: the record lives in the file the next console opens.
    reopened = AuditOutbox(path)
    try:
        pending = asyncio.run(reopened.pending())
    finally:
        reopened.close()
    assert [(i.session_id, i.kind) for i in pending] == [(started.session_id, "start")]
    assert pending[0].payload == started.start_record()
    assert pending[0].attempts == 0
    assert rows(path)[0][:2] == (started.session_id, "start")


def test_recovery_ends_open_sessions_once_with_recovered_after_crash(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = AuditOutbox(path)
    left_open = session(T0)
    closed = session(T0 + timedelta(seconds=1), camera_id="jes-cam-03")

    async def scenario() -> tuple[list[ViewingSession], list[ViewingSession]]:
        await outbox.record_start(left_open)
        await outbox.record_start(closed)
        await outbox.record_end(
            end_session(closed, EndReason.CLOSED_BY_USER, T0 + timedelta(seconds=2, milliseconds=7))
        )
        first = await outbox.recover_unfinished()
        second = await outbox.recover_unfinished()
        return first, second

    try:
        first, second = asyncio.run(scenario())
    finally:
        outbox.close()

    assert [s.session_id for s in first] == [left_open.session_id]
    recovered = first[0]
    assert recovered.end_reason is EndReason.RECOVERED_AFTER_CRASH
    assert recovered.started_at == left_open.started_at
    # The last durable mark while it was open: the other session's end, written after it.
    assert recovered.ended_at == "2026-03-02T14:30:02.130Z"
    assert recovered.duration_ms == 2007
    assert second == []  # nothing new the second time

    ends = [json.loads(p) for sid, kind, p in rows(path) if kind == "end"]
    by_session = {e["session_id"]: e["end_reason"] for e in ends}
    assert by_session == {
        left_open.session_id: "recovered_after_crash",
        closed.session_id: "closed_by_user",
    }
    assert len(ends) == 2


def test_a_crash_left_session_ends_at_its_last_heartbeat_not_at_the_restart(
    tmp_path: Path,
) -> None:
    outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
    watched = session(T0)

    async def scenario() -> list[ViewingSession]:
        await outbox.record_start(watched)
        for n in (1, 2, 3):
            await outbox.record_heartbeat(watched, utc_ms(T0 + timedelta(seconds=15 * n)))
        # The console is killed here and restarted hours later: the restart time is
        # nowhere in the record.
        return await outbox.recover_unfinished()

    try:
        recovered = asyncio.run(scenario())
    finally:
        outbox.close()
    assert len(recovered) == 1
    assert recovered[0].ended_at == utc_ms(T0 + timedelta(seconds=45))
    assert recovered[0].duration_ms == 45_000
    assert recovered[0].end_reason is EndReason.RECOVERED_AFTER_CRASH


CHILD = """
import asyncio, json, os, sys
from pathlib import Path
from dispatch_console.domain.session import ViewingSession
from dispatch_console.services.audit_outbox import AuditOutbox

outbox = AuditOutbox(Path(sys.argv[1]))
session = ViewingSession(**json.loads(sys.argv[2]))
asyncio.run(outbox.record_start(session))
asyncio.run(outbox.record_heartbeat(session, sys.argv[3]))
print("recorded", flush=True)
os._exit(1)  # killed mid-session: no end, no close, no checkpoint
"""


def test_a_session_killed_in_another_process_is_recovered_by_the_next_one(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    started = session()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            str(path),
            json.dumps(started.start_record()),
            utc_ms(T0 + timedelta(seconds=15)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert child.returncode == 1, child.stderr
    assert child.stdout.strip() == "recorded"

    outbox = AuditOutbox(path)
    try:
        recovered = asyncio.run(outbox.recover_unfinished())
        pending = asyncio.run(outbox.pending())
        again = asyncio.run(outbox.recover_unfinished())
    finally:
        outbox.close()

    assert [s.session_id for s in recovered] == [started.session_id]
    assert recovered[0].end_reason is EndReason.RECOVERED_AFTER_CRASH
    assert recovered[0].duration_ms == 15_000  # at its heartbeat, not at the restart
    assert [(i.session_id, i.kind) for i in pending] == [
        (started.session_id, "start"),
        (started.session_id, "heartbeat"),
        (started.session_id, "end"),
    ]
    assert pending[0].payload == started.start_record()
    assert pending[2].payload["end_reason"] == "recovered_after_crash"
    assert again == []


def test_start_and_end_replays_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = AuditOutbox(path)
    started = session()
    first_end = end_session(started, EndReason.CLOSED_BY_USER, T0 + timedelta(seconds=3))
    other_end = end_session(started, EndReason.STREAM_FAILED, T0 + timedelta(seconds=9))

    async def scenario() -> None:
        await outbox.record_start(started)
        await outbox.record_start(started)
        await outbox.record_end(first_end)
        await outbox.record_end(first_end)
        await outbox.record_end(other_end)  # a later, different end does not replace the first
        await outbox.record_start(started)

    try:
        asyncio.run(scenario())
        pending = asyncio.run(outbox.pending())
        counts = asyncio.run(outbox.counts())
    finally:
        outbox.close()

    assert [(i.kind, i.seq) for i in pending] == [("start", 1), ("end", 2)]
    assert pending[1].payload == first_end.end_record()
    assert counts == {"pending": 2, "rejected": 0}
    assert len(rows(path)) == 2


def test_record_end_refuses_an_open_session(tmp_path: Path) -> None:
    outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
    try:
        with pytest.raises(ValueError, match="ended session"):
            asyncio.run(outbox.record_end(session()))
    finally:
        outbox.close()


def test_an_unopenable_location_is_reported_with_its_path(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the data directory should be")
    path = blocker / "audit" / "outbox.sqlite3"
    outbox = AuditOutbox(path)

    with pytest.raises(AuditNotRecorded) as caught:
        asyncio.run(outbox.record_start(session()))

    message = str(caught.value)
    assert str(path) in message
    assert "cannot be opened" in message
    assert "Video stays closed" in message
    assert not path.exists()
    outbox.close()


def test_a_full_database_refuses_the_start_and_says_the_disk_is_full(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = AuditOutbox(path)
    try:
        asyncio.run(outbox.record_start(session(T0)))
        db = outbox._conn()  # simulate a full disk on the outbox's connection
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")

        big = session(T0 + timedelta(seconds=1), basis="Intruder seen " + "x" * 50_000)
        with pytest.raises(AuditNotRecorded) as caught:
            asyncio.run(outbox.record_start(big))
        message = str(caught.value)
        assert str(path) in message
        assert "disk is full" in message
        assert "Video stays closed" in message

        # The refusal left nothing half-written: only the first start is in the file.
        assert [kind for _sid, kind, _p in rows(path)] == ["start"]

        # An end that cannot be written says it will be retried (the console keeps it).
        with pytest.raises(AuditNotRecorded) as caught_end:
            for n in range(500):  # small rows fill the last free bytes, then the disk is full
                later = session(T0 + timedelta(seconds=10 + n))
                ended = end_session(later, EndReason.CLOSED_BY_USER, T0 + timedelta(seconds=60 + n))
                asyncio.run(outbox.record_end(ended))
        assert "disk is full" in str(caught_end.value)
        assert "will be retried" in str(caught_end.value)
        assert str(path) in str(caught_end.value)
    finally:
        outbox.close()
