"""The walking skeleton end to end, through the real UI, server, simulator and libVLC.

A dispatcher signs in, finds video locked, declares an active-threat emergency, gets a
break-glass grant, clicks a hallway pin and watches decoded frames in the grid, finds the
classroom camera still locked, and closes the tile. The district server must then hold
exactly one viewing session with the right user, camera, emergency, grant, start and end.
"""

from __future__ import annotations

import asyncio
import logging
import os
from datetime import timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from dispatch_console.domain.session import milliseconds_between, parse_utc
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import click_pin, close_desk, desk_settings, distinct_colours, open_desk

HALLWAY_CAMERA = "lhs-cam-01"
CLASSROOM_CAMERA = "lhs-cam-07"


def test_dispatcher_sees_live_video_only_under_a_grant_and_every_look_is_audited(
    qloop: LoopRunner,
    district_stack: DistrictStack,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        window = desk.window
        assert desk.console.client.token is not None
        secrets.append(desk.console.client.token)
        assert window.school.currentData() == "lincoln-hs"

        # Before any emergency: the pin stays locked and the reason is shown.
        click_pin(window, HALLWAY_CAMERA)
        await asyncio.sleep(0.3)
        assert window.grid.tiles == []
        assert "no emergency is declared" in window.message.text()
        assert "Live video is locked" in window.emergency.banner.text()

        # Declare an active threat: break-glass yields a grant at once.
        window.emergency.kind.setCurrentIndex(window.emergency.kind.findData("active_threat"))
        window.emergency.basis.setText("911 caller: armed intruder near the main entrance")
        QTest.mouseClick(window.emergency.declare, Qt.MouseButton.LeftButton)
        await eventually(lambda: bool(desk.console.access.grants), 10, "the grant")
        await eventually(lambda: "granted until" in window.emergency.banner.text(), 5, "banner")
        await eventually(lambda: "Emergency declared" in window.message.text(), 5, "confirmation")
        assert "break-glass" in window.emergency.banner.text()

        # The classroom camera stays locked, and says why.
        click_pin(window, CLASSROOM_CAMERA)
        await asyncio.sleep(0.2)
        assert window.grid.tiles == []
        assert "never shared with police" in window.message.text()

        # The hallway camera opens in the grid with real decoded frames.
        click_pin(window, HALLWAY_CAMERA)
        await eventually(lambda: len(window.grid.tiles) == 1, 10, "a tile")
        tile = window.grid.tiles[0]
        assert tile.title == "Main Hall West — 1st floor"
        await eventually(lambda: tile.frames_painted >= 3, 20, "painted frames")
        first = tile.grab().toImage()
        await asyncio.sleep(1.2)  # the burnt-in clock and the test pattern move
        second = tile.grab().toImage()
        if shots := os.environ.get("CONSOLE_SCREENSHOT_DIR"):
            window.grab().save(str(Path(shots) / "console-live.png"))
        assert distinct_colours(first) > 20, "the tile is uniform: no decoded video"
        assert first != second, "the picture did not change between two grabs"

        session_id = tile.session_id
        tile.close_button.click()
        await eventually(lambda: window.grid.tiles == [], 5, "the tile to close")

        # The district holds exactly this one session, with every field right.
        auditor = await signed_in_client(district_stack.server_url, "safety")
        try:

            async def ended_on_server() -> bool:
                sessions = await auditor.audit_sessions(limit=500)
                mine = [s for s in sessions if s["session_id"] == session_id]
                return bool(mine) and mine[0].get("ended_at") is not None

            await eventually(ended_on_server, 10, "the session end on the server")
            emergency = desk.console.access.emergencies[0]
            grant = desk.console.access.grants[0]
            sessions = await auditor.audit_sessions(limit=500)
            in_this_emergency = [s for s in sessions if s["emergency_id"] == emergency.id]
            assert len(in_this_emergency) == 1
            record = in_this_emergency[0]
            await auditor.end_emergency(emergency.id)  # leave Lincoln calm for other tests
        finally:
            await auditor.aclose()
        assert record["session_id"] == session_id
        assert record["user_id"] == "user-dispatcher"
        assert record["user_name"] == "Dana Reyes"
        assert record["agency"] == "Riverside Police Department"
        assert record["role"] == "police_dispatcher"
        assert record["camera_id"] == HALLWAY_CAMERA
        assert record["camera_name"] == "Main Hall West — 1st floor"
        assert record["school_id"] == "lincoln-hs"
        assert record["floor_name"] == "1st floor"
        assert record["grant_id"] == grant.id
        assert record["threat_basis"] == "911 caller: armed intruder near the main entrance"
        assert record["workstation_id"] == settings.workstation_id
        assert record["end_reason"] == "closed_by_user"
        # started_at is the server's receive time; the console's own is kept beside it.
        started, ended = parse_utc(record["client_started_at"]), parse_utc(record["ended_at"])
        assert timedelta(seconds=1) < ended - started < timedelta(seconds=60)
        assert record["duration_ms"] == milliseconds_between(started, ended)

        await close_desk(desk)  # ends nothing more: the only session is already closed

    qloop.run(scenario(), timeout=120)
    # Neither the session token nor a stream ticket reached the logs.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "playing http" in logged  # the player did log its stream, without the ticket
    assert "ticket=" not in logged
    assert all(secret not in logged for secret in secrets)
