"""The district safety office's decisions through the Qt-free console, on the real server.

Deny, approve, extend, revoke and end, each followed by a fresh access state; a police
console is refused before anything reaches the server. Jefferson Elementary only, and the
emergencies made here are ended before the test returns.
"""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EmergencyType
from dispatch_console.domain.totp import totp
from dispatch_console.services.audit_outbox import AuditOutbox
from dispatch_console.services.console import Console
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.errors import ConsoleError
from tests.conftest import DistrictStack

SCHOOL = "jefferson-es"


async def signed_in_console(server_url: str, username: str, outbox: Path) -> Console:
    account = demo_account(username)
    console = Console(DistrictClient(server_url), AuditOutbox(outbox), workstation_id="test-ws")
    await console.sign_in(
        account.username, account.password, totp(account.totp_secret, time.time())
    )
    await console.refresh_access()
    return console


async def close(console: Console) -> None:
    await console.client.aclose()
    console.outbox.close()


def test_the_safety_office_decides_and_both_consoles_see_it(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def run() -> None:
        police = await signed_in_console(district_stack.server_url, "dispatcher", tmp_path / "p")
        safety = await signed_in_console(district_stack.server_url, "safety", tmp_path / "s")
        made: list[str] = []
        try:
            denied = await police.declare_emergency(
                SCHOOL, EmergencyType.LOCKDOWN, "Decisions test: a stranger at the gate"
            )
            made.append(denied.emergency.id)
            assert denied.grant is None and denied.request_id is not None
            # Police see their pending request, read-only; the district sees it too.
            [row] = [s for s in police.emergency_statuses() if s.emergency.id in made]
            assert row.awaiting_approval and row.actions == frozenset()
            with pytest.raises(ConsoleError, match="Only the district safety office"):
                await police.approve_request(denied.request_id)
            await safety.refresh_access()
            assert any(r.id == denied.request_id for r in safety.access.requests)

            reason = "Officers on site report no threat; use the front-office phone."
            decided = await safety.deny_request(denied.request_id, reason)
            assert decided.request.status == "denied" and decided.grant is None
            assert decided.request.decision_note == reason
            assert all(r.id != denied.request_id for r in safety.access.requests)
            with pytest.raises(ConsoleError, match="already been denied"):
                await safety.approve_request(denied.request_id)
            await safety.end_emergency(denied.emergency.id)

            approved = await police.declare_emergency(
                SCHOOL, EmergencyType.MEDICAL, "Decisions test: paramedics need the entrance"
            )
            made.append(approved.emergency.id)
            assert approved.request_id is not None
            decided = await safety.approve_request(approved.request_id)
            grant = decided.grant
            assert grant is not None and decided.request.status == "approved"
            assert grant.expires_at - grant.granted_at == timedelta(minutes=60)
            assert any(g.id == grant.id for g in safety.access.grants)

            extended = await safety.extend_grant(grant.id)
            assert extended.expires_at - grant.expires_at == timedelta(minutes=30)
            with pytest.raises(ConsoleError, match="not valid"):
                await safety.extend_grant(grant.id, 0)

            await safety.revoke_grant(grant.id)
            assert all(g.id != grant.id for g in safety.access.grants)
            with pytest.raises(ConsoleError, match="no longer in force"):
                await safety.extend_grant(grant.id)

            await safety.end_emergency(approved.emergency.id)
            assert all(e.id not in made for e in safety.access.emergencies)
            await police.refresh_access()
            assert all(s.emergency.id not in made for s in police.emergency_statuses())
        finally:
            for emergency_id in made:
                await safety.client.end_emergency(emergency_id)
            await close(police)
            await close(safety)

    asyncio.run(run())
