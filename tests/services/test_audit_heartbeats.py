"""Heartbeats of open viewing sessions: written on a timer, delivered with their chain
link, and a feed that can no longer be audited is closed."""

from __future__ import annotations

import asyncio
import itertools
import json
import sqlite3
import time
from pathlib import Path

import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import ViewingSession, parse_utc
from dispatch_console.domain.totp import totp
from dispatch_console.services.audit_outbox import AuditOutbox
from dispatch_console.services.console import Console
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.errors import AuditNotRecorded
from tests.conftest import DistrictStack, eventually, signed_in_client

CAMERA = "jes-cam-03"
INTERVAL_S = 0.2


async def beating_console(server_url: str, path: Path) -> Console:
    """A safety officer's console whose heartbeats come every 0.2 s instead of 15 s."""
    account = demo_account("safety")
    console = Console(
        DistrictClient(server_url),
        AuditOutbox(path),
        workstation_id="ws-heartbeat",
        heartbeat_interval_s=INTERVAL_S,
    )
    await console.sign_in(
        account.username, account.password, totp(account.totp_secret, time.time())
    )
    await console.start()
    return console


async def close_console(console: Console) -> None:
    await console.shutdown()
    console.outbox.close()
    await console.client.aclose()


def damage(path: Path) -> None:
    """Overwrite the outbox with garbage, as a failing disk or a careless tool would."""
    path.write_bytes(b"garbage, not a database " * 200)
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def heartbeats(path: Path, session_id: str) -> list[tuple[str, str | None]]:
    with sqlite3.connect(path) as db:
        return [
            (json.loads(payload)["at"], delivered)
            for payload, delivered in db.execute(
                "SELECT payload, delivered_at FROM outbox "
                "WHERE session_id = ? AND kind = 'heartbeat' ORDER BY seq",
                (session_id,),
            )
        ]


def test_an_open_session_writes_a_heartbeat_every_interval_and_stops_when_closed(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "o.sqlite3"

    async def scenario() -> None:
        console = await beating_console(district_stack.server_url, path)
        try:
            session = (await console.open_view(CAMERA)).session
            await eventually(
                lambda: len(heartbeats(path, session.session_id)) >= 3, 5, "three heartbeats"
            )
            ended = await console.close_view(session.session_id, EndReason.CLOSED_BY_USER)
            assert ended is not None and ended.ended_at is not None
            beats = heartbeats(path, session.session_id)
            await asyncio.sleep(INTERVAL_S * 3)
            # None after the end (their delivery may still complete: compare times only).
            assert [at for at, _ in heartbeats(path, session.session_id)] == [at for at, _ in beats]
            times = [parse_utc(at) for at, _ in beats]
            start, end = parse_utc(session.started_at), parse_utc(ended.ended_at)
            assert start < times[0] and times == sorted(times) and times[-1] <= end
            gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
            assert all(INTERVAL_S * 0.9 <= gap < INTERVAL_S * 5 for gap in gaps), gaps
        finally:
            await close_console(console)

    asyncio.run(scenario())


def test_heartbeats_reach_the_district_which_keeps_the_last_one(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    """Needs the district's PUT .../heartbeat (answers the stored session, with
    ``last_heartbeat_at``)."""
    path = tmp_path / "o.sqlite3"

    async def scenario() -> None:
        console = await beating_console(district_stack.server_url, path)
        auditor = await signed_in_client(district_stack.server_url, "safety")
        try:
            session = (await console.open_view(CAMERA)).session

            def delivered_beats() -> int:
                return sum(1 for _, d in heartbeats(path, session.session_id) if d is not None)

            await eventually(lambda: delivered_beats() >= 2, 5, "two heartbeats delivered")
            await console.close_view(session.session_id, EndReason.CLOSED_BY_USER)
            assert await console.shipper.flush() is True
            last_at = heartbeats(path, session.session_id)[-1][0]
            rows = [
                r
                for r in await auditor.audit_sessions(limit=1000)
                if r["session_id"] == session.session_id
            ]
            assert len(rows) == 1
            # The district records a heartbeat at most every MIN_HEARTBEAT_SPACING of the
            # console's time (a flood must not bloat its log); these come every 0.2 s, so
            # it keeps the first, and acknowledges the rest.
            first_at = heartbeats(path, session.session_id)[0][0]
            assert rows[0]["last_heartbeat_at"] == first_at != last_at
            assert rows[0]["end_reason"] == "closed_by_user"
        finally:
            await close_console(console)
            await auditor.aclose()

    asyncio.run(scenario())


def test_a_heartbeat_that_cannot_be_written_closes_the_feed_and_says_why(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "o.sqlite3"

    async def scenario() -> None:
        console = await beating_console(district_stack.server_url, path)
        ended: list[ViewingSession] = []
        stopped: list[tuple[str, str]] = []
        closing: list[str] = []
        console.view_ended_listeners.append(ended.append)
        console.audit_stop_listeners.append(lambda sid, why: stopped.append((sid, why)))
        console.view_closing_listeners.append(lambda s: closing.append(s.session_id))
        try:
            session = (await console.open_view(CAMERA)).session
            # Fill the outbox's disk (as in the end-retry test): cap the file at its
            # size and pack its last page with small rows far past the chain's head.
            db = console.outbox._conn()
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
            with pytest.raises(sqlite3.OperationalError, match="full"):
                for n in range(10_000):
                    db.execute(
                        "INSERT INTO outbox (seq, session_id, kind, payload, created_at, "
                        "delivered_at, prev, hash) "
                        "VALUES (?, 'filler', 'heartbeat', '{}', '', 'x', '', '')",
                        (1_000_000 + n,),
                    )
            await eventually(lambda: bool(stopped), 5, "the feed stopped for its audit")
            assert stopped[0][0] == session.session_id
            assert "audit trail could not be written" in stopped[0][1]
            assert "disk is full" in stopped[0][1]
            assert closing == [session.session_id]  # the player was told to stop
            # The end cannot be written either yet: kept, and retried by the end-retry.
            assert ended == []
            db.execute("DELETE FROM outbox WHERE session_id = 'filler'")  # space returns
            await eventually(lambda: bool(ended), 5, "the end written once space returned")
            assert ended[0].end_reason is EndReason.STREAM_FAILED
            assert console.failure_reasons[session.session_id] == stopped[0][1]
            assert console.views == {}
        finally:
            await close_console(console)

    asyncio.run(scenario())


def test_opening_a_feed_fails_closed_when_the_outbox_is_damaged(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "o.sqlite3"

    async def scenario() -> None:
        console = await beating_console(district_stack.server_url, path)
        try:
            console.outbox.close()
            damage(path)
            with pytest.raises(AuditNotRecorded) as caught:
                await console.open_view(CAMERA)
            assert "damaged" in str(caught.value)
            assert console.views == {}
        finally:
            await console.shutdown()
            console.outbox.close()
            await console.client.aclose()

    asyncio.run(scenario())


def test_a_picture_gap_reaches_the_district_in_the_same_session(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    """A reconnect keeps the session; the seconds without a picture are on its record."""
    path = tmp_path / "o.sqlite3"

    async def scenario() -> None:
        console = await beating_console(district_stack.server_url, path)
        auditor = await signed_in_client(district_stack.server_url, "safety")
        try:
            session = (await console.open_view(CAMERA)).session
            assert session.started_mono_s is not None
            lost = session.started_mono_s + 1.0
            back = lost + 4.25
            await console.record_picture_gap(session.session_id, lost, back, "hung up")
            assert await console.shipper.flush() is True
            timeline = await auditor.audit_timeline(session.session_id)
            gaps = [
                gap
                for entry in timeline
                if entry["kind"] == "session.heartbeat" and '"gaps"' in entry["detail"]
                for gap in json.loads(entry["detail"])["gaps"]
            ]
            assert len(gaps) == 1 and gaps[0]["reason"] == "hung up"
            span = parse_utc(gaps[0]["to"]) - parse_utc(gaps[0]["from"])
            assert span.total_seconds() == pytest.approx(4.25, abs=0.002)
            started = parse_utc(session.started_at)
            assert (parse_utc(gaps[0]["from"]) - started).total_seconds() == pytest.approx(
                1.0, abs=0.002
            )
            await console.close_view(session.session_id, EndReason.CLOSED_BY_USER)
        finally:
            await close_console(console)
            await auditor.aclose()

    asyncio.run(scenario())
