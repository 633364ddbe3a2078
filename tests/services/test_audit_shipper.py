"""The audit shipper against the real district server: in order, at least once, never doubled."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console import __version__
from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EndReason, User
from dispatch_console.domain.session import ViewingSession, end_session, start_session
from dispatch_console.floorplan.loader import load_district
from dispatch_console.services.audit_outbox import AuditOutbox, OutboxItem
from dispatch_console.services.audit_shipper import AuditShipper
from dispatch_console.services.district_client import DistrictClient
from tests.conftest import DistrictStack, signed_in_client
from tests.paths import SAMPLE_DISTRICT

DISTRICT = load_district(SAMPLE_DISTRICT)
JEFFERSON_CAMERAS = [c.id for c in DISTRICT.school("jefferson-es").cameras()]


def new_session(
    user: User, camera_id: str, now: datetime, workstation_id: str = "test-ws"
) -> ViewingSession:
    """A session as a console starts it. Tests that read the district's findings about a
    chain pass a workstation of their own: other tests' outboxes on "test-ws" are, to
    the district, that workstation's store being reset (a chain_new finding)."""
    camera = DISTRICT.camera(camera_id)
    return start_session(
        user=user,
        camera=camera,
        school=DISTRICT.school(camera.school_id),
        workstation_id=workstation_id,
        app_version=__version__,
        emergency_id=None,
        grant_id=None,
        threat_basis="Shipper test: suspicious person at the playground fence",
        now=now,
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens here any more: connections are refused


def outbox_rows(path: Path) -> list[tuple[str, str, str | None, int, str | None]]:
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT session_id, kind, delivered_at, attempts, last_error FROM outbox ORDER BY seq"
        ).fetchall()


class RecordingClient(DistrictClient):
    """The real client, noting the order in which audit records go out."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.sent: list[tuple[str, str]] = []

    async def audit_start(
        self, record: dict[str, object], stream: str | None = None
    ) -> dict[str, Any]:
        stored = await super().audit_start(record, stream)
        self.sent.append((str(record["session_id"]), "start"))
        return stored

    async def audit_end(self, record: dict[str, object]) -> dict[str, Any]:
        stored = await super().audit_end(record)
        self.sent.append((str(record["session_id"]), "end"))
        return stored


def demo_user(username: str) -> User:
    return demo_account(username).user


async def server_rows(auditor: DistrictClient, ids: set[str]) -> list[dict[str, Any]]:
    return [r for r in await auditor.audit_sessions(limit=1000) if r["session_id"] in ids]


def test_records_flow_in_order_and_land_exactly_once(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"

    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        client = RecordingClient(district_stack.server_url)
        assert dispatcher.token is not None
        client.use_token(dispatcher.token)
        user = demo_user("dispatcher")
        outbox = AuditOutbox(path)
        shipper = AuditShipper(outbox, client)
        try:
            now = datetime.now(UTC)
            a = new_session(user, JEFFERSON_CAMERAS[0], now)
            b = new_session(user, JEFFERSON_CAMERAS[1], now + timedelta(milliseconds=5))
            await outbox.record_start(a)
            await outbox.record_start(b)
            a_end = end_session(a, EndReason.CLOSED_BY_USER, now + timedelta(seconds=2))
            b_end = end_session(b, EndReason.GRANT_EXPIRED, now + timedelta(seconds=3))
            await outbox.record_end(a_end)
            await outbox.record_end(b_end)

            assert await shipper.flush() is True
            assert await shipper.flush() is True  # nothing left: sends nothing again
            assert client.sent == [
                (a.session_id, "start"),
                (b.session_id, "start"),
                (a.session_id, "end"),
                (b.session_id, "end"),
            ]
            assert shipper.last_error is None
            assert await outbox.counts() == {"pending": 0, "rejected": 0}

            ids = {a.session_id, b.session_id}
            first_rows = await server_rows(auditor, ids)
            assert len(first_rows) == 2
            stored = {r["session_id"]: r for r in first_rows}
            for ended in (a_end, b_end):
                row = stored[ended.session_id]
                # The server keeps what only the client knows, and its own truth for the
                # rest (identity, registry, grant, threat basis, receive time).
                for key in ("user_id", "workstation_id", "app_version", "camera_id"):
                    assert row[key] == ended.start_record()[key], key
                assert row["client_started_at"] == ended.started_at
                assert row["ended_at"] == ended.ended_at
                assert row["duration_ms"] == ended.duration_ms
                assert row["end_reason"] == ended.end_reason

            # A crash after the server stored the records but before the outbox noted it:
            # everything is sent again. The server answers 200 and counts nothing twice.
            with sqlite3.connect(path) as db:
                db.execute("UPDATE outbox SET delivered_at = NULL")
            client.sent.clear()
            assert await outbox.counts() == {"pending": 4, "rejected": 0}
            assert await shipper.flush() is True
            assert len(client.sent) == 4
            assert await outbox.counts() == {"pending": 0, "rejected": 0}
            after = {r["session_id"]: r for r in await server_rows(auditor, ids)}
            assert after == stored  # same rows, same receipt times: the replays changed nothing

            # The same records queued again on another workstation's outbox: also harmless.
            other = AuditOutbox(tmp_path / "requeued.sqlite3")
            try:
                for record in (a, b):
                    await other.record_start(record)
                # A different (later) end for the same session: the first end still wins.
                await other.record_end(
                    end_session(a, EndReason.STREAM_FAILED, now + timedelta(seconds=9))
                )
                assert await AuditShipper(other, client).flush() is True
                assert await other.counts() == {"pending": 0, "rejected": 0}
            finally:
                other.close()
            assert {r["session_id"]: r for r in await server_rows(auditor, ids)} == stored

            # And on the wire, a replayed start is a 200 (not 201, not 409).
            async with httpx.AsyncClient(base_url=district_stack.server_url) as http:
                answer = await http.put(
                    f"/api/v1/audit/sessions/{a.session_id}/start",
                    json=a.start_record(),
                    headers={"Authorization": f"Bearer {dispatcher.token}"},
                )
            assert answer.status_code == 200
            assert len(await server_rows(auditor, ids)) == 2
        finally:
            outbox.close()
            for c in (client, dispatcher, auditor):
                await c.aclose()

    asyncio.run(scenario())


def test_an_unreachable_server_keeps_records_pending_until_a_good_client_delivers(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"

    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        assert dispatcher.token is not None
        offline = DistrictClient(f"http://127.0.0.1:{closed_port()}", timeout_s=2)
        offline.use_token(dispatcher.token)
        user = demo_user("dispatcher")
        now = datetime.now(UTC)
        started = new_session(user, JEFFERSON_CAMERAS[2], now)
        ended = end_session(started, EndReason.APPLICATION_EXIT, now + timedelta(seconds=4))

        outbox = AuditOutbox(path)
        try:
            await outbox.record_start(started)
            await outbox.record_end(ended)
            shipper = AuditShipper(outbox, offline)
            assert await shipper.flush() is False
            assert await shipper.flush() is False
            assert shipper.last_error is not None
            assert "Cannot reach the district server" in shipper.last_error
            assert await outbox.counts() == {"pending": 2, "rejected": 0}
            # The first record was tried twice and stays first; the end was never tried.
            start_row, end_row = outbox_rows(path)
            assert start_row[1:] == ("start", None, 2, shipper.last_error)
            assert end_row[1:] == ("end", None, 0, None)
        finally:
            outbox.close()
            await offline.aclose()
        assert await server_rows(auditor, {started.session_id}) == []

        # The network is back: the same file, a new console with a working connection.
        reopened = AuditOutbox(path)
        try:
            shipper = AuditShipper(reopened, dispatcher)
            assert await shipper.flush() is True
            assert shipper.last_error is None
            assert await reopened.counts() == {"pending": 0, "rejected": 0}
            assert [r[2] is not None for r in outbox_rows(path)] == [True, True]
        finally:
            reopened.close()
        rows = await server_rows(auditor, {started.session_id})
        assert len(rows) == 1
        assert rows[0]["client_started_at"] == started.started_at
        assert rows[0]["ended_at"] == ended.ended_at
        assert rows[0]["end_reason"] == "application_exit"
        await dispatcher.aclose()
        await auditor.aclose()

    asyncio.run(scenario())


def test_a_backlog_longer_than_one_batch_is_delivered_in_one_flush(
    district_stack: DistrictStack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a long outage more than one batch waits: flush() must not stop after the first.

    The outbox hands out 100 records per batch; the test makes a batch 3 records long so a
    backlog of several batches stays quick to deliver.
    """
    path = tmp_path / "outbox.sqlite3"
    batches: list[int] = []
    real_pending = AuditOutbox.pending

    async def small_batches(self: AuditOutbox, limit: int = 100) -> list[OutboxItem]:
        batch = await real_pending(self, min(limit, 3))
        batches.append(len(batch))
        return batch

    monkeypatch.setattr(AuditOutbox, "pending", small_batches)

    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        user = demo_user("dispatcher")
        outbox = AuditOutbox(path)
        ids: set[str] = set()
        try:
            now = datetime.now(UTC) - timedelta(hours=1)
            for n in range(4):
                started = new_session(user, JEFFERSON_CAMERAS[n], now + timedelta(seconds=n))
                ids.add(started.session_id)
                await outbox.record_start(started)
                later = now + timedelta(seconds=n, milliseconds=500)
                await outbox.record_end(end_session(started, EndReason.CLOSED_BY_USER, later))
            assert await outbox.counts() == {"pending": 8, "rejected": 0}
            assert await AuditShipper(outbox, dispatcher).flush() is True
            assert await outbox.counts() == {"pending": 0, "rejected": 0}
            assert batches == [3, 3, 2, 0]
        finally:
            outbox.close()
        rows = await server_rows(auditor, ids)
        assert len(rows) == 4
        assert all(r["end_reason"] == "closed_by_user" for r in rows)
        await dispatcher.aclose()
        await auditor.aclose()

    asyncio.run(scenario())


def test_a_session_the_server_refuses_for_good_does_not_block_later_records(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    """A start refused for good (here: filed under another user) is flagged with its end,
    and the records after it still reach the district."""

    async def scenario() -> None:
        client = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
        try:
            now = datetime.now(UTC)
            foreign = new_session(demo_user("supervisor"), JEFFERSON_CAMERAS[0], now)
            mine = new_session(demo_user("dispatcher"), JEFFERSON_CAMERAS[1], now)
            for session in (foreign, mine):
                await outbox.record_start(session)
                ended = end_session(session, EndReason.CLOSED_BY_USER, now + timedelta(seconds=5))
                await outbox.record_end(ended)
            shipper = AuditShipper(outbox, client)
            assert await shipper.flush()
            assert await outbox.is_rejected(foreign.session_id, "start")
            assert await outbox.is_rejected(foreign.session_id, "end")
            assert await outbox.counts() == {"pending": 0, "rejected": 2}
            rows = await server_rows(auditor, {foreign.session_id, mine.session_id})
            assert [r["session_id"] for r in rows] == [mine.session_id]
            assert rows[0]["end_reason"] == "closed_by_user"
        finally:
            outbox.close()
            await client.aclose()
            await auditor.aclose()

    asyncio.run(scenario())
