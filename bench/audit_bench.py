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
