"""Kill -9 at random points: no viewing session is lost, doubled or left open.

A headless console process (the desks' own ``Console`` class) opens and closes feeds
against the real district server and is killed with SIGKILL at random moments; a last
run recovers and shuts down. Every session whose start reached the local outbox must
then be on the server exactly once, and ended.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dispatch_console.domain.audit_chain import ChainedRecord, first_break
from dispatch_console.services.audit_outbox import verify_outbox
from tests.conftest import DistrictStack, signed_in_client
from tests.paths import ROOT
from tests.services.test_audit_delivery_faults import LyingProxy


def _chain_id(outbox: Path) -> str:
    with sqlite3.connect(outbox) as db:
        return str(db.execute("SELECT chain_id FROM chain").fetchone()[0])


KILLS = 4
# Facilities staff have standing (audited) access to exterior cameras, and a user of
# their own here, so these sessions do not count against other tests' rate limits.
USERNAME = "facilities"


# Views last 0.05-0.2 s: heartbeats every 0.05 s make most of them beat, and a kill
# often lands between a session's heartbeats.
HEARTBEAT_S = "0.05"


def driver(server_url: str, outbox: Path, sessions: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.services.console_driver", server_url, str(outbox),
         USERNAME, str(sessions), HEARTBEAT_S],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_kill_9_at_random_points_loses_doubles_and_leaves_open_nothing(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    rng = random.Random(20261125)
    # Every audit record the district accepted, as it crossed the wire.
    wire: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def heard(method: str, path: str, body: bytes, status: int) -> None:
        if method == "PUT" and "/audit/sessions/" in path and status in (200, 201):
            with lock:
                wire.append((path.split("?")[0].rsplit("/", 1)[1], json.loads(body)))

    with LyingProxy(district_stack.server_url, on_forward=heard) as proxy:
        proxy.lying = False
        for _ in range(KILLS):
            process = driver(proxy.url, outbox, 1000)
            time.sleep(rng.uniform(1.5, 3.0))  # sign-in and start-up take about a second
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
        final = driver(proxy.url, outbox, 2)
        out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    assert "DONE" in out

    # On the wire: one chain, every link from 1 to its head, unbroken (replays allowed).
    links: dict[int, ChainedRecord] = {}
    chains: set[str] = set()
    for kind, body in wire:
        link = body.pop("chain")
        chains.add(link["chain"])
        record = ChainedRecord(link["seq"], kind, body, link["prev"], link["hash"])
        assert links.setdefault(record.seq, record) == record, "two records at one seq"
    assert chains == {_chain_id(outbox)}
    assert sorted(links) == list(range(1, len(links) + 1))
    assert first_break(links[seq] for seq in sorted(links)) is None
    assert verify_outbox(outbox).ok
    with sqlite3.connect(outbox) as db:
        beats = db.execute("SELECT COUNT(*) FROM outbox WHERE kind = 'heartbeat'").fetchone()[0]
        head = db.execute("SELECT head_seq FROM chain").fetchone()[0]
        recovered = db.execute(
            "SELECT s.seq, e.payload FROM outbox s JOIN outbox e ON e.session_id = s.session_id"
            " AND e.kind = 'end' WHERE s.kind = 'start'"
            " AND e.payload LIKE '%recovered_after_crash%'"
        ).fetchall()
        # A recovered end lies at the last durable mark written while it was open (its
        # last heartbeat, or a later record): never at the restart time.
        for start_seq, payload in recovered:
            ended_at = json.loads(payload)["ended_at"]
            (last_mark,) = db.execute(
                "SELECT MAX(created_at) FROM outbox WHERE seq >= ? AND seq < ("
                " SELECT seq FROM outbox WHERE kind = 'end' AND session_id ="
                " (SELECT session_id FROM outbox WHERE seq = ?))",
                (start_seq, start_seq),
            ).fetchone()
            assert ended_at == last_mark
    assert beats > 0
    assert len(links) == head  # every record made it across, once

    with sqlite3.connect(outbox) as db:
        started = {sid for (sid,) in db.execute("SELECT session_id FROM outbox WHERE kind='start'")}
        pending = db.execute(
            "SELECT COUNT(*) FROM outbox WHERE delivered_at IS NULL OR rejected = 1"
        ).fetchone()[0]
    assert len(started) > 2  # beyond the last run's two, the killed runs opened feeds
    assert pending == 0

    async def on_server() -> list[dict[str, object]]:
        auditor = await signed_in_client(district_stack.server_url, "safety")
        try:
            return [
                r for r in await auditor.audit_sessions(limit=1000) if r["session_id"] in started
            ]
        finally:
            await auditor.aclose()

    rows = asyncio.run(on_server())
    ids = [str(r["session_id"]) for r in rows]
    counts = {
        "lost": len(started - set(ids)),
        "duplicated": len(ids) - len(set(ids)),
        "left_open": sum(1 for r in rows if r["ended_at"] is None),
    }
    print(json.dumps({"sessions": len(started), "kills": KILLS, **counts}))
    assert counts == {"lost": 0, "duplicated": 0, "left_open": 0}
