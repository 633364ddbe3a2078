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
import time
from pathlib import Path

from tests.conftest import DistrictStack, signed_in_client
from tests.paths import ROOT

KILLS = 4
# Facilities staff have standing (audited) access to exterior cameras, and a user of
# their own here, so these sessions do not count against other tests' rate limits.
USERNAME = "facilities"


def driver(server_url: str, outbox: Path, sessions: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.services.console_driver", server_url, str(outbox),
         USERNAME, str(sessions)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_kill_9_at_random_points_loses_doubles_and_leaves_open_nothing(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    rng = random.Random(20261125)
    for _ in range(KILLS):
        process = driver(district_stack.server_url, outbox, 1000)
        time.sleep(rng.uniform(1.5, 3.0))  # sign-in and start-up take about a second
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)
    final = driver(district_stack.server_url, outbox, 2)
    out, err = final.communicate(timeout=60)
    assert final.returncode == 0, err
    assert "DONE" in out

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
