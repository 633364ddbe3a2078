"""A console follows the district's live events: no polling, and it survives a restart.

The district server here is the test's own (a copy of the seeded database, a fixed port)
so the test can stop it and start it again, as a district's IT would for an upgrade.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from pathlib import Path

import pytest

from dispatch_console.district.db import Database
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain.models import EmergencyType
from dispatch_console.services.console import Console
from tests.conftest import eventually, signed_in_client
from tests.paths import SAMPLE_DISTRICT
from tests.services.test_console import close_console, dispatcher_console

pytestmark = pytest.mark.timeout(90)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RestartableDistrict:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: ThreadedServer | None = None
        self._db: Database | None = None

    def start(self) -> None:
        self._db = Database(self.db_path)
        app = create_app(db=self._db, floorplans_dir=SAMPLE_DISTRICT, allow_totp_reuse=True)
        self._server = ThreadedServer(app, port=self.port)
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._db is not None:
            self._db.close()
            self._db = None


def _has_grant(console: Console, school_id: str) -> bool:
    return any(g.school_id == school_id for g in console.access.grants)


def test_an_approval_reaches_the_console_by_event_and_survives_a_server_restart(
    tmp_path: Path, seeded_db: Path
) -> None:
    shutil.copy(seeded_db, tmp_path / "district.db")
    district = RestartableDistrict(tmp_path / "district.db")
    district.start()

    async def scenario() -> None:
        console = await dispatcher_console(district.url, tmp_path / "outbox.sqlite3")
        safety = await signed_in_client(district.url, "safety")
        problems: list[str | None] = []
        try:
            live = console.follow_live_updates(max_backoff_s=0.5)
            live.problem_listeners.append(problems.append)
            await eventually(lambda: live.problem is None, 10, "live updates to connect")
            declared = await console.declare_emergency(
                "lincoln-hs", EmergencyType.LOCKDOWN, "Caller reports a lockdown drill gone wrong"
            )
            assert declared.request_id is not None and not _has_grant(console, "lincoln-hs")
            # Nothing polls: only the event can tell the console about the approval.
            decided = await safety.approve_request(declared.request_id)
            assert decided.grant is not None
            await eventually(lambda: _has_grant(console, "lincoln-hs"), 10, "the grant")

            district.stop()  # an upgrade: the stream breaks, the desk says so
            await eventually(lambda: live.problem is not None, 15, "the break to show")
            district.start()
            await eventually(lambda: live.problem is None, 15, "live updates to resume")
            resumed_from = live.last_event_id
            assert resumed_from is not None

            safety_again = await signed_in_client(district.url, "safety")
            try:
                await safety_again.revoke_grant(decided.grant.id)
            finally:
                await safety_again.aclose()
            await eventually(lambda: not _has_grant(console, "lincoln-hs"), 10, "the revocation")
            assert live.last_event_id is not None and live.last_event_id > resumed_from
            assert problems[-1] is None
        finally:
            await safety.aclose()
            await close_console(console)

    try:
        asyncio.run(scenario())
    finally:
        district.stop()
