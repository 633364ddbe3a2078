"""A workstation pinned to its district's gateway hosts refuses a link elsewhere: the
view is closed as a failed stream (and reported), and the reason names the host."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dispatch_console.domain.models import EmergencyType, EndReason
from dispatch_console.domain.session import utc_ms
from dispatch_console.services.errors import StreamFailed
from tests.conftest import DistrictStack, signed_in_client
from tests.services.test_console import (
    CAMERA,
    SCHOOL,
    close_console,
    dispatcher_console,
    server_session,
)


def test_a_link_to_a_host_it_does_not_allow_is_refused_and_the_session_ended(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def scenario() -> None:
        console = await dispatcher_console(district_stack.server_url, tmp_path / "o.sqlite3")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        declared = await console.declare_emergency(
            SCHOOL, EmergencyType.ACTIVE_THREAT, "Stream host test: armed intruder"
        )
        try:
            if declared.grant is None:  # a hold from another test's revoke: approve instead
                assert declared.request_id is not None
                await auditor.approve_request(declared.request_id)
                await console.refresh_access()
            console.allowed_stream_hosts = ("gw1.district.example",)
            since = utc_ms(datetime.now(UTC) - timedelta(seconds=1))
            with pytest.raises(StreamFailed, match=r"127\.0\.0\.1.*allowed_stream_hosts"):
                await console.open_view(CAMERA)
            assert not console.views
            await console.shipper.flush()
            rows = [  # this test's session (another may have left one open on the camera)
                r
                for r in await auditor.audit_sessions(limit=200)
                if r["camera_id"] == CAMERA and r["started_at"] >= since
            ]
            assert len(rows) == 1 and rows[0]["end_reason"] == "stream_failed"
            assert await server_session(auditor, rows[0]["session_id"]) is not None
            console.allowed_stream_hosts = ("127.0.0.1",)  # the demo gateway's host
            opened = await console.open_view(CAMERA)
            await console.close_view(opened.session.session_id, EndReason.CLOSED_BY_USER)
        finally:
            await auditor.end_emergency(declared.emergency.id)
            await auditor.aclose()
            await close_console(console)

    asyncio.run(scenario())
