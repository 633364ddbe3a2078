"""When the district revokes access, open feeds close by themselves, and say why."""

from __future__ import annotations

import time
from pathlib import Path

from dispatch_console.domain.models import EmergencyType
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import click_pin, close_desk, desk_settings, open_desk

CAMERAS = ("lhs-cam-02", "lhs-cam-04")


def test_revoking_the_grant_closes_every_feed_within_seconds(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        window = desk.window
        auditor = await signed_in_client(district_stack.server_url, "safety")
        try:
            declared = await desk.console.declare_emergency(
                "lincoln-hs", EmergencyType.EXPLOSION_OR_FIRE, "Smoke reported in the gym"
            )
            assert declared.grant is not None
            for camera_id in CAMERAS:
                click_pin(window, camera_id)
            await eventually(lambda: len(window.grid.tiles) == 2, 10, "two tiles")
            await eventually(
                lambda: all(t.frames_painted > 0 for t in window.grid.tiles), 20, "video"
            )
            revoked_at = time.monotonic()
            await auditor.revoke_grant(declared.grant.id)
            await eventually(lambda: window.grid.tiles == [], 5, "the feeds to close")
            closed_after = time.monotonic() - revoked_at
            assert closed_after < 2.5, f"feeds closed {closed_after:.2f} s after the revocation"
            assert "revoked access" in window.message.text()

            async def both_ended() -> bool:
                sessions = await auditor.audit_sessions(limit=500)
                mine = [s for s in sessions if s["grant_id"] == declared.grant.id]  # type: ignore[union-attr]
                return len(mine) == 2 and all(s["ended_at"] for s in mine)

            await eventually(both_ended, 10, "both session ends on the server")
            sessions = await auditor.audit_sessions(limit=500)
            reasons = {s["end_reason"] for s in sessions if s["grant_id"] == declared.grant.id}
            assert reasons == {"grant_revoked"}
            # The pins lock again: a new click opens nothing.
            click_pin(window, CAMERAS[0])
            await eventually(lambda: "not granted" in window.message.text(), 3, "lock reason")
            assert window.grid.tiles == []
            await auditor.end_emergency(declared.emergency.id)
        finally:
            await auditor.aclose()
            await close_desk(desk)

    qloop.run(scenario(), timeout=120)
