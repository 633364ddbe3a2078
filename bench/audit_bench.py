"""Audit benchmarks: records made durable per second, and a 10,000-record backlog drained.

``audit_outbox_events_per_s``: heartbeats made durable in a real outbox file (WAL,
synchronous=FULL: each call returns only after its commit is on disk), by one writer
(one record per commit) and by 36 concurrent writers, a full 6x6 grid, whose records
share commits (group commit).

``audit_drain_10k_s``: 10,000 queued records delivered by the real shipper to a real
district server process on loopback. With ``heartbeats`` (the realistic backlog): 36
sessions watched through an outage of about 69 minutes, a heartbeat every 15 s each.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

Emit = Callable[..., None]


def bench_outbox_events(emit: Emit, records: int = 4000) -> None:
    from dispatch_console.domain.session import utc_ms
    from dispatch_console.services.audit_outbox import AuditOutbox
    from tests.services.test_audit_outbox import T0, session

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-outbox-"))

    async def run(writers: int) -> float:
        outbox = AuditOutbox(data / f"outbox-{writers}.sqlite3")
        tiles = [session(T0 + timedelta(milliseconds=n)) for n in range(writers)]
        for tile in tiles:
            await outbox.record_start(tile)
        per_writer = records // writers

        async def writer(tile: Any) -> None:
            for n in range(per_writer):
                await outbox.record_heartbeat(tile, utc_ms(T0 + timedelta(seconds=n)))

        began = time.perf_counter()
        await asyncio.gather(*(writer(t) for t in tiles))
        elapsed = time.perf_counter() - began
        outbox.close()
        return per_writer * writers / elapsed

    for writers in (1, 36):
        rate = asyncio.run(run(writers))
        emit("audit_outbox_events_per_s", rate, "records/s", writers=writers,
             note="heartbeats, WAL + synchronous=FULL, durable before each call returns"
             + (", group commit" if writers > 1 else ", one commit per record"))  # fmt: skip


def bench_drain_10k(emit: Emit, district_processes: Callable[..., Any], heartbeats: bool) -> None:
    from dispatch_console.district.launch import stop_process
    from dispatch_console.domain.models import EndReason
    from dispatch_console.domain.session import end_session, utc_ms
    from dispatch_console.services.audit_outbox import AuditOutbox
    from dispatch_console.services.audit_shipper import AuditShipper
    from tests.conftest import signed_in_client
    from tests.services.test_audit_shipper import JEFFERSON_CAMERAS, demo_user, new_session

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-drain-"))
    processes, server_url, _ = district_processes(data)
    # The backlog a real outage leaves: a full 6x6 grid watched while the district was
    # unreachable, each session a start, a heartbeat every 15 s and an end. (Without
    # ``heartbeats``: 5,000 short sessions of a start and an end, which the district's
    # per-user limit on session starts throttles, as it would a console doing that.)
    if heartbeats:
        sessions = 36
        beats = 10_000 // sessions - 2
    else:
        sessions, beats = 5_000, 0
    span = timedelta(seconds=15 * (beats + 1))
    result: dict[str, float] = {}

    async def main() -> None:
        client = await signed_in_client(server_url, "dispatcher")
        outbox = AuditOutbox(data / "outbox.sqlite3")
        user = demo_user("dispatcher")
        start = datetime.now(UTC) - span - timedelta(seconds=60)
        opened = [
            new_session(user, JEFFERSON_CAMERAS[n % 2], start + timedelta(milliseconds=n))
            for n in range(sessions)
        ]
        for session in opened:
            await outbox.record_start(session)
        for b in range(1, beats + 1):
            for n, session in enumerate(opened):
                at = start + timedelta(seconds=15 * b, milliseconds=n)
                await outbox.record_heartbeat(session, utc_ms(at))
        for n, session in enumerate(opened):
            ended = end_session(
                session, EndReason.CLOSED_BY_USER, start + span + timedelta(milliseconds=n)
            )
            await outbox.record_end(ended)
        queued = (await outbox.counts())["pending"]
        shipper = AuditShipper(outbox, client)
        began = time.perf_counter()
        for _ in range(100):  # a failed flush (a 429, say) is retried, not forever
            if await shipper.flush():
                break
        result["seconds"] = time.perf_counter() - began
        result["queued"] = queued
        result.update({k: float(v) for k, v in (await outbox.counts()).items()})
        outbox.close()
        await client.aclose()

    try:
        asyncio.run(main())
    finally:
        for process in processes:
            stop_process(process)
    emit("audit_drain_10k_s", result["seconds"], "s", records=int(result["queued"]),
         records_per_s=round(result["queued"] / result["seconds"], 1),
         left_pending=int(result["pending"]), rejected=int(result["rejected"]),
         sessions=sessions, kinds="start, heartbeats, end" if heartbeats else "start and end",
         note="real shipper, district server on loopback, a request per record")  # fmt: skip


def bench_verify_100k(emit: Emit, records: int = 100_000) -> None:
    """``audit_verify_100k_s``: ``district audit verify`` over a 100,000-record log.

    The log is what a busy district accumulates: sessions of a start, heartbeats every
    15 s and an end (one start and end per 40 records), written through the server's own
    ``audit_log.append``, so every record is chained and the session index matches.
    The baseline in the same run is reading the same rows without checking anything.
    """
    from dispatch_console.district import audit_log
    from dispatch_console.district.db import Database
    from dispatch_console.domain.session import utc_ms
    from tests.district.test_server import REGISTRY, start_record

    path = Path(tempfile.mkdtemp(prefix="dispatch-bench-verify-")) / "district.db"
    db = Database(path)
    begin = datetime.now(UTC) - timedelta(days=30)
    user = {"id": "u-bench", "display_name": "Bench", "agency": "RPD", "role": "dispatcher"}
    camera = REGISTRY.cameras()[0].id
    written = 0
    n = 0
    while written < records:
        at = begin + timedelta(minutes=10 * n)
        row = start_record(user, camera, at)
        row.update(
            room_kind=None, client_started_at=row["started_at"], late=0, client_record="{}",
            ended_at=None, duration_ms=None, end_reason=None,
            start_received_at=row["started_at"], end_received_at=None,
            last_heartbeat_at=None, heartbeat_received_at=None,
        )  # fmt: skip
        with db.transaction() as conn:
            conn.execute(
                f"INSERT INTO audit_sessions({', '.join(row)})"
                f" VALUES ({', '.join('?' for _ in row)})",
                list(row.values()),
            )
            audit_log.append(conn, at, "session.start", row["session_id"], row)
            last = at
            for b in range(1, 39):
                last = at + timedelta(seconds=15 * b)
                beat = {"last_heartbeat_at": utc_ms(last), "heartbeat_received_at": utc_ms(last)}
                conn.execute(
                    "UPDATE audit_sessions SET last_heartbeat_at = ?, heartbeat_received_at = ?"
                    " WHERE session_id = ?",
                    (beat["last_heartbeat_at"], beat["heartbeat_received_at"], row["session_id"]),
                )
                audit_log.append(conn, last, "session.heartbeat", row["session_id"], beat)
            end = {
                "ended_at": utc_ms(last), "duration_ms": 38 * 15_000,
                "end_reason": "closed_by_user", "end_received_at": utc_ms(last),
            }  # fmt: skip
            conn.execute(
                "UPDATE audit_sessions SET ended_at = ?, duration_ms = ?, end_reason = ?,"
                " end_received_at = ? WHERE session_id = ?",
                (*end.values(), row["session_id"]),
            )
            audit_log.append(conn, last, "session.end", row["session_id"], end)
        written += 40
        n += 1

    def read_only(conn: Any) -> int:
        return sum(1 for _ in conn.execute("SELECT * FROM audit_log ORDER BY rowid"))

    began = time.perf_counter()
    db.read(read_only)
    baseline = time.perf_counter() - began
    began = time.perf_counter()
    report = db.read(audit_log.verify)
    elapsed = time.perf_counter() - began
    db.close()
    assert report.ok, report.first_problem
    emit("audit_verify_100k_s", elapsed, "s", records=report.records, sessions=report.sessions,
         read_only_baseline_s=round(baseline, 3),
         note="chain from the anchor + session index rebuilt and compared")  # fmt: skip
