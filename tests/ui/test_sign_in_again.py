"""When the district ends a sign-in, the desk asks again in place and keeps its view."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import ViewingSession
from dispatch_console.domain.totp import totp
from dispatch_console.services.credentials import TokenStore
from tests.conftest import DistrictStack, LoopRunner, eventually
from tests.ui.desk import close_desk, desk_settings, open_desk

CAMERA = "jes-cam-04"


def test_an_ended_sign_in_closes_feeds_as_signed_out_and_asks_again_in_place(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    account = demo_account("safety")

    async def scenario() -> None:
        desk = await open_desk(desk_settings(district_stack.server_url, tmp_path / "c"), "safety")
        ended: list[ViewingSession] = []
        desk.console.view_ended_listeners.append(ended.append)
        try:
            desk.window.school.setCurrentIndex(desk.window.school.findData("jefferson-es"))
            desk.controller.open_camera(CAMERA)
            await eventually(lambda: bool(desk.window.grid.tiles), 5, "the feed to open")
            tile = desk.window.grid.tiles[0]
            await eventually(lambda: tile.first_frame_painted_at is not None, 10, "a frame")
            floor_before = desk.window.map.floor
            # The district ends this sign-in (as at the end of a 12-hour token).
            ended_token = desk.console.client.token
            async with httpx.AsyncClient(base_url=district_stack.server_url) as http:
                answer = await http.post(
                    "/api/v1/auth/logout",
                    headers={"Authorization": f"Bearer {desk.console.client.token}"},
                )
            assert answer.status_code == 204
            await eventually(
                lambda: desk.controller.sign_in_window is not None, 5, "the sign-in prompt"
            )
            prompt = desk.controller.sign_in_window
            assert prompt is not None and prompt.isVisible()
            assert [s.end_reason for s in ended] == [EndReason.SIGNED_OUT], (
                desk.window.message.text()
            )
            assert desk.window.isVisible() and desk.window.map.floor is floor_before
            assert prompt.username.text() == account.username
            desk.window.grab().save(str(tmp_path / "desk-signed-out.png"))
            prompt.grab().save(str(tmp_path / "sign-in-again.png"))

            prompt.password.setText(account.password)
            prompt.code.setText(totp(account.totp_secret, time.time()))
            prompt.button.click()
            await eventually(lambda: desk.controller.sign_in_window is None, 5, "signed in")
            stored = await TokenStore(district_stack.server_url).load(account.username)
            assert stored is not None and stored == desk.console.client.token != ended_token
            assert not prompt.isVisible()
            assert not desk.console.sign_in_lost
            desk.controller.open_camera(CAMERA)  # works again with the new sign-in
            await eventually(lambda: bool(desk.window.grid.tiles), 5, "a feed after sign-in")
        finally:
            await close_desk(desk)

    qloop.run(scenario(), timeout=60)
