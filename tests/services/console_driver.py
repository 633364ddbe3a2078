"""A headless console for the kill -9 harness: ``python -m tests.services.console_driver``.

It drives the same ``Console`` class the desks use: sign in, recover what an earlier
run left open, then open and close feeds one after another until it is killed (or has
done ``SESSIONS``), and shut down cleanly if it gets that far.

    python -m tests.services.console_driver SERVER_URL OUTBOX USERNAME SESSIONS [HEARTBEAT_S]

HEARTBEAT_S shortens the 15 s heartbeat so short views beat too.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from pathlib import Path

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import HEARTBEAT_INTERVAL_S
from dispatch_console.domain.totp import totp
from dispatch_console.services.audit_outbox import AuditOutbox
from dispatch_console.services.console import Console
from dispatch_console.services.district_client import DistrictClient


async def drive(
    server_url: str, outbox: Path, username: str, sessions: int, heartbeat_s: float
) -> None:
    console = Console(
        DistrictClient(server_url),
        AuditOutbox(outbox),
        workstation_id="ws-kill",
        heartbeat_interval_s=heartbeat_s,
    )
    account = demo_account(username)
    await console.sign_in(
        account.username, account.password, totp(account.totp_secret, time.time())
    )
    recovered = await console.start()
    print(f"RECOVERED {len(recovered)}", flush=True)
    assert console.district is not None
    cameras = [
        camera
        for school in console.district.schools
        for camera in school.cameras()
        if console.decision(camera)
    ]
    for n in range(sessions):
        opened = await console.open_view(cameras[n % len(cameras)].id)
        print(f"OPEN {opened.session.session_id}", flush=True)
        await asyncio.sleep(random.uniform(0.05, 0.2))
        await console.close_view(opened.session.session_id, EndReason.CLOSED_BY_USER)
    # The harness checks that everything arrived: give the last flush time enough on a
    # loaded machine (the desks' 3 s exit budget leaves the rest for the next start).
    await console.shutdown(flush_timeout_s=30.0)
    console.outbox.close()
    await console.client.aclose()
    print("DONE", flush=True)


if __name__ == "__main__":
    url, path, user, count = sys.argv[1:5]
    beat = float(sys.argv[5]) if len(sys.argv) > 5 else HEARTBEAT_INTERVAL_S
    asyncio.run(drive(url, Path(path), user, int(count), beat))
