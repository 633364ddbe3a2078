"""The Qt-free console workflow against the real district server: audit first, then video.

Everything here happens at Jefferson Elementary (other tests use Lincoln High on the same
shared server). The emergency declared here is ended before the test returns.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EmergencyType, EndReason
from dispatch_console.domain.session import ViewingSession
from dispatch_console.domain.totp import totp
from dispatch_console.services.audit_outbox import AuditOutbox
from dispatch_console.services.console import Console
from dispatch_console.services.district_client import DistrictClient, StreamTicket
from dispatch_console.services.errors import AccessDenied
from tests.conftest import DistrictStack, eventually, signed_in_client

SCHOOL = "jefferson-es"
CAMERA = "jes-cam-02"  # Main Corridor: a hallway, shareable with police
OTHER_CAMERA = "jes-cam-03"  # Cafeteria
THREAT_BASIS = "Caller reports an armed intruder in the Jefferson main corridor"


def outbox_rows(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """The outbox file as another process would read it (plain sqlite3)."""
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT session_id, kind, payload FROM outbox ORDER BY seq").fetchall()
    return [(sid, kind, json.loads(payload)) for sid, kind, payload in found]


async def dispatcher_console(server_url: str, outbox_path: Path) -> Console:
    account = demo_account("dispatcher")
    console = Console(
        DistrictClient(server_url), AuditOutbox(outbox_path), workstation_id="test-ws"
    )
    await console.sign_in(
        account.username, account.password, totp(account.totp_secret, time.time())
    )
    assert await console.start() == []  # a fresh outbox: nothing to recover
    return console


async def close_console(console: Console) -> None:
    await console.shutdown()
    console.outbox.close()
    await console.client.aclose()


async def server_session(auditor: DistrictClient, session_id: str) -> dict[str, Any] | None:
    return next(
        (r for r in await auditor.audit_sessions(limit=1000) if r["session_id"] == session_id),
        None,
    )


def test_a_locked_camera_is_denied_and_leaves_no_audit_record(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "console" / "outbox.sqlite3"

    async def scenario() -> None:
        console = await dispatcher_console(district_stack.server_url, path)
        auditor = await signed_in_client(district_stack.server_url, "safety")
        try:
            assert not any(e.school_id == SCHOOL for e in console.access.emergencies), (
                "another test left an emergency open at Jefferson"
            )
            before = len(await auditor.audit_sessions(limit=1000))
            with pytest.raises(AccessDenied) as caught:
                await console.open_view(CAMERA)
            assert "emergency" in str(caught.value).lower()
            assert console.views == {}
            assert await console.outbox.counts() == {"pending": 0, "rejected": 0}
            assert outbox_rows(path) == []
            assert len(await auditor.audit_sessions(limit=1000)) == before
        finally:
            await close_console(console)
            await auditor.aclose()

    asyncio.run(scenario())


def test_views_are_audited_before_the_ticket_and_close_when_the_emergency_ends(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "console" / "outbox.sqlite3"

    async def scenario() -> None:
        console = await dispatcher_console(district_stack.server_url, path)
        auditor = await signed_in_client(district_stack.server_url, "safety")
        ended_views: list[ViewingSession] = []
        console.view_ended_listeners.append(ended_views.append)

        # For each stream link: what the outbox file held when the start (asking for the
        # link) was sent, and what the server held once the link came back with it.
        at_ticket: list[tuple[list[tuple[str, str, dict[str, Any]]], dict[str, Any] | None]] = []
        real_start = console.client.audit_start
        separate_tickets: list[str] = []
        real_ticket = console.client.stream_ticket

        async def spy_start(record: dict[str, object], stream: str | None = None) -> dict[str, Any]:
            file_then = outbox_rows(path)
            answer = await real_start(record, stream)
            if stream is not None and answer.get("stream_link"):
                session_id = str(record["session_id"])
                at_ticket.append((file_then, await server_session(auditor, session_id)))
            return answer

        async def spy_ticket(camera_id: str, session_id: str) -> StreamTicket:
            separate_tickets.append(session_id)
            return await real_ticket(camera_id, session_id)

        console.client.audit_start = spy_start  # type: ignore[method-assign]
        console.client.stream_ticket = spy_ticket  # type: ignore[method-assign]

        emergency_id: str | None = None
        try:
            declared = await console.declare_emergency(
                SCHOOL, EmergencyType.ACTIVE_THREAT, f"  {THREAT_BASIS}  "
            )
            emergency_id = declared.emergency.id
            assert declared.grant is not None  # break-glass: granted at once
            assert declared.emergency.threat_basis == THREAT_BASIS
            assert console.district is not None
            assert console.decision(console.district.camera(CAMERA)).allowed

            # -- open, audited first ---------------------------------------------------
            opened = await console.open_view(CAMERA)
            session = opened.session
            assert opened.ticket.url.startswith(
                f"{district_stack.gateway_url}/streams/{CAMERA}/sub.ts?token="
            )
            secret = opened.ticket.url.split("token=", 1)[1]
            assert secret and secret not in repr(opened.ticket)

            assert len(at_ticket) == 1
            assert separate_tickets == []  # the link came with the start: one round trip
            file_then, server_then = at_ticket[0]
            assert [(sid, kind) for sid, kind, _ in file_then] == [(session.session_id, "start")]
            assert file_then[0][2] == session.start_record()
            assert server_then is not None, "the server had no start when the ticket was asked"
            assert server_then["ended_at"] is None

            assert session.user_id == "user-dispatcher"
            assert session.workstation_id == "test-ws"
            assert session.camera_id == CAMERA and session.school_id == SCHOOL
            assert session.emergency_id == emergency_id
            assert session.grant_id == declared.grant.id
            assert session.threat_basis == THREAT_BASIS
            assert set(console.views) == {session.session_id}

            # -- the user closes it ----------------------------------------------------
            closed = await console.close_view(session.session_id, EndReason.CLOSED_BY_USER)
            assert closed is not None and closed.end_reason is EndReason.CLOSED_BY_USER
            assert await console.close_view(session.session_id, EndReason.STREAM_FAILED) is None
            assert [s.session_id for s in ended_views] == [session.session_id]
            assert [k for sid, k, _ in outbox_rows(path) if sid == session.session_id] == [
                "start",
                "end",
            ]

            async def end_reason_on_server(session_id: str) -> str | None:
                row = await server_session(auditor, session_id)
                return None if row is None else row["end_reason"]

            async def closed_by_user() -> bool:
                return await end_reason_on_server(session.session_id) == "closed_by_user"

            await eventually(closed_by_user, 5, "the end delivered by the background shipper")

            # -- a second view, closed by the end of the emergency ---------------------
            second = (await console.open_view(OTHER_CAMERA)).session
            assert len(at_ticket) == 2 and at_ticket[1][1] is not None

            async with httpx.AsyncClient(base_url=district_stack.server_url) as http:
                answer = await http.post(
                    f"/api/v1/emergencies/{emergency_id}/end",
                    headers={"Authorization": f"Bearer {auditor.token}"},
                )
            assert answer.status_code == 200, answer.text
            emergency_id = None  # ended

            assert set(console.views) == {second.session_id}  # nothing happens by itself here
            await console.refresh_access()
            assert console.views == {}
            assert ended_views[-1].session_id == second.session_id
            assert ended_views[-1].end_reason is EndReason.EMERGENCY_ENDED
            second_end = [p for sid, k, p in outbox_rows(path) if sid == second.session_id]
            assert second_end[-1]["end_reason"] == "emergency_ended"

            async def emergency_ended() -> bool:
                return await end_reason_on_server(second.session_id) == "emergency_ended"

            await eventually(emergency_ended, 5, "emergency_ended on the server")

            # And video stays locked afterwards, again without an audit record.
            rows_before = len(outbox_rows(path))
            with pytest.raises(AccessDenied):
                await console.open_view(CAMERA)
            assert len(outbox_rows(path)) == rows_before
            assert len(at_ticket) == 2
        finally:
            if emergency_id is not None:  # the test failed half-way: leave Jefferson calm
                async with httpx.AsyncClient(base_url=district_stack.server_url) as http:
                    await http.post(
                        f"/api/v1/emergencies/{emergency_id}/end",
                        headers={"Authorization": f"Bearer {auditor.token}"},
                    )
            await close_console(console)
            await auditor.aclose()

        # Shutting down delivered everything: no records are left for the next start.
        reopened = AuditOutbox(path)
        try:
            assert await reopened.counts() == {"pending": 0, "rejected": 0}
        finally:
            reopened.close()

    asyncio.run(scenario())
