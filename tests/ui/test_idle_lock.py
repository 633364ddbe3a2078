"""A desk left alone locks itself: video closes (recorded as "locked"), the window is
covered, and only the same user's password and one-time code open it again.

Real desk, real server; the idle time is a second here instead of 30 minutes.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain import policy
from dispatch_console.domain.models import EmergencyType
from dispatch_console.domain.totp import totp
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

SCHOOL = "lincoln-hs"
CAMERA = "lhs-cam-06"  # Front Parking Lot


def test_an_idle_desk_locks_closes_its_video_as_locked_and_unlocks_with_a_sign_in(
    qloop: LoopRunner,
    district_stack: DistrictStack,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # This district lets desks lock even while video of an emergency is on screen.
    monkeypatch.setattr(policy, "IDLE_LOCK_SUSPENDED_WHILE_WATCHING_AN_EMERGENCY", False)
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        declared = await desk.console.declare_emergency(
            SCHOOL, EmergencyType.ACTIVE_THREAT, "Idle lock test: armed intruder"
        )
        try:
            if declared.grant is None:  # a hold from another test: approve instead
                assert declared.request_id is not None
                await auditor.approve_request(declared.request_id)
                await desk.console.refresh_access()
            controller, window = desk.controller, desk.window
            controller.open_camera(CAMERA)
            await eventually(lambda: len(desk.console.views) == 1, 15, "the feed to open")
            (session_id,) = desk.console.views
            controller.set_idle_lock(timedelta(seconds=1))
            await eventually(lambda: window.is_locked, 10, "the desk to lock")
            await eventually(lambda: not desk.console.views, 10, "the feed to close")
            assert not window.grid.tiles
            await desk.console.shipper.flush()
            record = next(
                r for r in await auditor.audit_sessions(limit=200) if r["session_id"] == session_id
            )
            assert record["end_reason"] == "locked"

            prompt = controller.sign_in_window
            assert prompt is not None and prompt.isVisible()
            assert prompt.username.text() == "dispatcher" and prompt.username.isReadOnly()
            account = demo_account("dispatcher")
            prompt.password.setText("not the password")
            prompt.code.setText(totp(account.totp_secret, time.time()))
            prompt.button.click()
            await eventually(lambda: bool(prompt.error.text()), 10, "the refusal")
            assert window.is_locked
            prompt.password.setText(account.password)
            prompt.code.setText(totp(account.totp_secret, datetime.now(UTC).timestamp()))
            prompt.button.click()
            await eventually(lambda: not window.is_locked, 10, "the desk to unlock")
            assert controller.sign_in_window is None
        finally:
            desk.controller.set_idle_lock(None)
            await auditor.end_emergency(declared.emergency.id)
            await auditor.aclose()
            await close_desk(desk)

    qloop.run(scenario(), timeout=90)


def test_a_desk_watching_an_active_emergency_does_not_lock(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    assert policy.IDLE_LOCK_SUSPENDED_WHILE_WATCHING_AN_EMERGENCY
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        declared = await desk.console.declare_emergency(
            SCHOOL, EmergencyType.ACTIVE_THREAT, "Idle lock test: watching"
        )
        try:
            if declared.grant is None:
                assert declared.request_id is not None
                await auditor.approve_request(declared.request_id)
                await desk.console.refresh_access()
            desk.controller.open_camera(CAMERA)
            await eventually(lambda: len(desk.console.views) == 1, 15, "the feed to open")
            desk.controller.set_idle_lock(timedelta(seconds=1))
            started = time.monotonic()
            while time.monotonic() - started < 3:
                await eventually(lambda: True, 1)
                assert not desk.window.is_locked
            assert len(desk.console.views) == 1
        finally:
            desk.controller.set_idle_lock(None)
            await auditor.end_emergency(declared.emergency.id)
            await auditor.aclose()
            await close_desk(desk)

    qloop.run(scenario(), timeout=90)
