"""The grid on a real desk, against the district server, the stream gateway and the
simulator: a dropped stream comes back in the same viewing session, a full grid asks
before it replaces a feed, and an ended feed's tile says why; a large tile moves to the
camera's real main stream in the same session; the grid detaches to its own window
without reopening anything; a user's grid comes back at the next sign-in as
placeholders that reopen with one click."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest

from dispatch_console.district.launch import start_district_stack
from dispatch_console.domain.feed_health import TileState
from dispatch_console.domain.models import EmergencyType
from dispatch_console.domain.session import utc_ms
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.grid_store import grid_path
from dispatch_console.ui.map_view import pin_drag_data
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.paths import ROOT, SAMPLE_DISTRICT
from tests.ui.desk import close_desk, desk_settings, open_desk

SCHOOL = "jefferson-es"
FIRST, SECOND = "jes-cam-01", "jes-cam-02"  # used by no other UI test
SHOTS = ROOT / "build" / "screenshots"


@pytest.fixture(scope="module")
def main_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistrictStack]:
    """A district of its own whose simulator also serves real 1080p main streams, for two
    cameras only (each main stream costs an encoder, about a sixth of a core here)."""
    stack = start_district_stack(
        tmp_path_factory.mktemp("district-main"),
        SAMPLE_DISTRICT,
        camsim_args=("--cameras", f"{FIRST},jes-cam-03", "--main", "--gop", "1"),
        server_args=["--insecure-allow-totp-reuse"],
    )
    try:
        yield stack
    finally:
        stack.stop()


async def sessions_of(auditor: DistrictClient, camera_id: str, since: str) -> list[str]:
    """The server's viewing sessions of a camera started since ``since``."""
    sessions = await auditor.audit_sessions(limit=500)
    return sorted(
        s["session_id"]
        for s in sessions
        if s["camera_id"] == camera_id and s["started_at"] >= since
    )


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


def test_main_stream_detach_and_a_remembered_grid_on_a_real_desk(
    qloop: LoopRunner, main_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(main_stack.server_url, tmp_path)
    third = "jes-cam-03"
    SHOTS.mkdir(parents=True, exist_ok=True)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        auditor = await signed_in_client(main_stack.server_url, "safety")
        declared = await desk.console.declare_emergency(
            SCHOOL, EmergencyType.EXPLOSION_OR_FIRE, "Smoke in the east wing"
        )
        assert declared.grant is not None and declared.emergency is not None
        await desk.console.refresh_access()
        since = utc_ms(datetime.now(UTC) - timedelta(seconds=1))
        try:
            grid, controller = desk.window.grid, desk.controller
            assert grid.set_layout("1+5")
            # The large tile: sub first (the fastest first picture), then main.
            controller.open_camera(FIRST)
            await eventually(lambda: len(grid.tiles) == 1, 10, "a tile")
            big = grid.tiles[0]
            sid = big.session_id
            assert grid.position_of(sid) == 0
            await eventually(lambda: controller.feeds.feeds[sid].stream == "main", 30, "main")
            await eventually(lambda: big.shows_live, 10, "main live")
            feed = controller.feeds.feeds[sid]
            assert feed.player.source_size == (1920, 1080)
            assert "/main." in feed.url and len(feed.switch_gaps_s) == 1
            assert list(desk.console.views) == [sid]
            await eventually(
                lambda: sessions_of(auditor, FIRST, since), 10, "the session on the server"
            )
            assert await sessions_of(auditor, FIRST, since) == [sid]  # one audit record

            # A pin dropped on a small tile opens its camera there (the click's path).
            data = pin_drag_data(third)
            cell = grid.cell(3)
            cell.dropEvent(
                QDropEvent(
                    QPointF(20, 20),
                    Qt.DropAction.CopyAction,
                    data,
                    Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier,
                )
            )
            await eventually(lambda: grid.session_at(3) is not None, 15, "the dropped camera")
            small = grid.tile(grid.session_at(3) or "")
            assert small is not None and small.camera_id == third
            await eventually(lambda: small.shows_live, 20, "the dropped camera live")
            assert controller.feeds.feeds[small.session_id].stream == "sub"

            # Detach: the same widgets and players, no stream reopened, no new session.
            players = {k: f.player for k, f in controller.feeds.feeds.items()}
            tiles = list(grid.tiles)
            views = set(desk.console.views)
            before = {k: p.frames_shown for k, p in players.items()}
            home = desk.window.grid_home
            grid.detach_button.click()
            assert home.detached and home.grid_window is not None
            assert home.grid_window.isVisible() and grid.window() is home.grid_window
            # Within the offscreen screen (800×600): Qt keeps restored windows on one.
            home.grid_window.setGeometry(60, 40, 720, 520)
            await asyncio.sleep(1.0)
            assert list(grid.tiles) == tiles
            assert {k: f.player for k, f in controller.feeds.feeds.items()} == players
            assert all(p.frames_shown > before[k] for k, p in players.items())
            assert set(desk.console.views) == views
            assert await sessions_of(auditor, FIRST, since) == [sid]
            assert len(await sessions_of(auditor, third, since)) == 1
            home.grid_window.grab().save(str(SHOTS / "grid-detached.png"))
            desk.window.grab().save(str(SHOTS / "desk-grid-detached.png"))
            geometry = home.grid_window.geometry()
        finally:
            await close_desk(desk)

        # The next sign-in: the same layout, the cameras as placeholders, the window
        # where it was; nothing plays and no session starts until the user asks.
        assert grid_path(settings.data_dir, "dispatcher").exists()
        again = await open_desk(settings, "dispatcher")
        try:
            grid2, home2 = again.window.grid, again.window.grid_home
            assert grid2.layout_key == "1+5"
            assert {p: h.camera_id for p, h in grid2.placeholders.items()} == {
                0: FIRST,
                3: third,
            }
            assert grid2.tiles == [] and again.console.views == {}
            assert home2.detached and home2.grid_window is not None
            assert home2.grid_window.geometry() == geometry
            await asyncio.sleep(0.5)
            assert await sessions_of(auditor, FIRST, since) == [sid]
            home2.grid_window.grab().save(str(SHOTS / "grid-restored-placeholders.png"))
            # One click on a placeholder reopens it in its own tile: a new session.
            QTest.mouseClick(grid2.cell(3), Qt.MouseButton.LeftButton)
            await eventually(lambda: grid2.session_at(3) is not None, 15, "reopened")
            reopened = grid2.tile(grid2.session_at(3) or "")
            assert reopened is not None and reopened.camera_id == third
            await eventually(lambda: reopened.shows_live, 20, "reopened live")
            assert 0 in grid2.placeholders  # the other stays a placeholder
            assert len(await sessions_of(auditor, third, since)) == 2
        finally:
            with contextlib.suppress(ConsoleError):
                await auditor.end_emergency(declared.emergency.id)
            await auditor.aclose()
            await close_desk(again)

    qloop.run(scenario(), timeout=200)
