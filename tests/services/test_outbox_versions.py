"""The outbox survives upgrades: versioned, migrated, and read whichever version wrote it."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import end_session
from dispatch_console.services.audit_outbox import OUTBOX_VERSION, AuditOutbox
from dispatch_console.services.errors import AuditNotRecorded
from tests.services.test_audit_shipper import JEFFERSON_CAMERAS, demo_user, new_session

# The table as the first console wrote it, before the file carried a version.
UNVERSIONED = """
CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('start', 'end')), payload TEXT NOT NULL,
    created_at TEXT NOT NULL, delivered_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT, rejected INTEGER NOT NULL DEFAULT 0, UNIQUE (session_id, kind));
"""


def write_start(path: Path, payload: dict[str, object]) -> None:
    with sqlite3.connect(path) as db:
        db.executescript(UNVERSIONED)
        db.execute(
            "INSERT INTO outbox (session_id, kind, payload, created_at) VALUES (?, 'start', ?, ?)",
            (payload["session_id"], json.dumps(payload), payload["started_at"]),
        )


def test_a_crash_left_session_from_another_version_is_recovered(tmp_path: Path) -> None:
    session = new_session(demo_user("dispatcher"), JEFFERSON_CAMERAS[0], datetime.now(UTC))
    record = dict(session.start_record())
    del record["floor_name"]  # a field this version has and the writer did not
    record["stream_profile"] = "sub"  # a field a newer writer added
    path = tmp_path / "outbox.sqlite3"
    write_start(path, record)

    async def scenario() -> None:
        outbox = AuditOutbox(path)
        try:
            recovered = await outbox.recover_unfinished()
            assert [s.session_id for s in recovered] == [session.session_id]
            assert recovered[0].end_reason is EndReason.RECOVERED_AFTER_CRASH
            assert recovered[0].floor_name == ""
        finally:
            outbox.close()

    asyncio.run(scenario())
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == OUTBOX_VERSION


def test_an_outbox_from_a_newer_console_is_refused_not_misread(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(UNVERSIONED)
        db.execute(f"PRAGMA user_version = {OUTBOX_VERSION + 1}")

    async def scenario() -> None:
        outbox = AuditOutbox(path)
        try:
            with pytest.raises(AuditNotRecorded, match="newer console"):
                await outbox.counts()
        finally:
            outbox.close()

    asyncio.run(scenario())


def test_delivered_sessions_are_pruned_after_the_grace_period_and_open_ones_never(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
        user = demo_user("dispatcher")
        now = datetime.now(UTC)
        try:
            done = new_session(user, JEFFERSON_CAMERAS[0], now)
            still_open = new_session(user, JEFFERSON_CAMERAS[1], now)
            await outbox.record_start(done)
            await outbox.record_end(end_session(done, EndReason.CLOSED_BY_USER, now))
            await outbox.record_start(still_open)
            for item in await outbox.pending():
                await outbox.mark_delivered(item.seq, now)
            assert await outbox.prune_delivered(now - timedelta(days=7)) == 0  # too recent
            assert await outbox.prune_delivered(now + timedelta(seconds=1)) == 2
            # The open session's start stays: crash recovery finds it by that row.
            recovered = await outbox.recover_unfinished()
            assert [s.session_id for s in recovered] == [still_open.session_id]
        finally:
            outbox.close()

    asyncio.run(scenario())
