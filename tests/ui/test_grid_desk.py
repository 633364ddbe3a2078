"""The grid on a real desk, against the district server, the stream gateway and the
simulator: a dropped stream comes back in the same viewing session, a full grid asks
before it replaces a feed, and an ended feed's tile says why."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from dispatch_console.domain.feed_health import TileState
from dispatch_console.domain.models import EmergencyType
from dispatch_console.domain.session import utc_ms
from dispatch_console.services.errors import ConsoleError
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

SCHOOL = "jefferson-es"
FIRST, SECOND = "jes-cam-01", "jes-cam-02"  # used by no other UI test


def test_reconnect_replace_and_end_on_a_real_desk(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        window, controller = desk.window, desk.controller
        grid = window.grid
        auditor = await signed_in_client(district_stack.server_url, "safety")
        declared = await desk.console.declare_emergency(
            SCHOOL, EmergencyType.EXPLOSION_OR_FIRE, "Smoke in the east wing"
        )
        if declared.grant is None:  # the school may be on hold after another test's revoke
            assert declared.request_id is not None
            await auditor.approve_request(declared.request_id)
        await desk.console.refresh_access()
        assert declared.emergency is not None
        try:
            assert grid.set_layout("1x1")
            since = utc_ms(datetime.now(UTC) - timedelta(seconds=1))
            controller.open_camera(FIRST)
            await eventually(lambda: len(grid.tiles) == 1, 10, "a tile")
            tile = grid.tiles[0]
            await eventually(lambda: tile.shows_live, 20, "live video")
            session_id = tile.session_id

            # Someone else opens the same session's link: the gateway keeps one stream per
            # session and drops the console's. The console reconnects with a fresh link.
            url = controller.feeds.feeds[session_id].url
            async with (
                httpx.AsyncClient(timeout=10) as other,
                other.stream("GET", url) as answer,
            ):
                assert answer.status_code == 200
                await eventually(lambda: not tile.shows_live, 10, "the console's stream lost")
                assert tile.state in (TileState.STALLED, TileState.RECONNECTING)
            await eventually(lambda: tile.shows_live, 30, "live again after reconnecting")
            assert controller.feeds.feeds[session_id].reconnects >= 1
            assert list(desk.console.views) == [session_id]  # still one viewing session

            async def one_open_session() -> bool:
                # Sessions started since this test opened its tile (another test's desk may
                # have left one open on the shared server, its end never delivered).
                sessions = await auditor.audit_sessions(limit=500)
                mine = [
                    s
                    for s in sessions
                    if s["camera_id"] == FIRST and not s["ended_at"] and s["started_at"] >= since
                ]
                return [s["session_id"] for s in mine] == [session_id]

            await eventually(one_open_session, 10, "one open session on the server")

            # The grid is full (1×1): it asks before replacing, and replaces on yes.
            asked: list[tuple[str, str, str]] = []
            grid.confirm_replace = lambda label, old, new: asked.append((label, old, new)) or False
            controller.open_camera(SECOND)
            await asyncio.sleep(0.3)
            assert len(asked) == 1 and asked[0][0] == "1×1"
            assert [t.session_id for t in grid.tiles] == [session_id]  # "no" keeps it
            grid.confirm_replace = lambda label, old, new: True
            controller.open_camera(SECOND)
            await eventually(
                lambda: len(grid.tiles) == 1 and grid.tiles[0].session_id != session_id,
                15,
                "the second camera in the tile",
            )
            second = grid.tiles[0]
            await eventually(lambda: second.shows_live, 20, "the second camera live")
            assert session_id not in desk.console.views

            # The emergency ends: the feed closes and its cell says why.
            await auditor.end_emergency(declared.emergency.id)
            await eventually(lambda: grid.tiles == [], 10, "the feed to close")
            assert "Ended: the emergency was ended" in grid.note(0)
            window.grab().save(str(tmp_path / "desk.png"))
        finally:
            with contextlib.suppress(ConsoleError):  # already ended when the test passed
                await auditor.end_emergency(declared.emergency.id)
            await auditor.aclose()
            await close_desk(desk)

    qloop.run(scenario(), timeout=150)
