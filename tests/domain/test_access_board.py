"""The "Emergencies and access" board: rows, their order, and who gets which buttons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch_console.domain.access_board import decided_since, emergency_statuses
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.policy import AccessAction, access_actions

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
SAFETY = User("u2", "safety", "Sam Ortiz", "Riverside USD", Role.DISTRICT_SAFETY_OFFICER)
ADMIN = User("u3", "admin", "Pat Lee", "Riverside USD", Role.SCHOOL_ADMIN)


def emergency(id: str, school: str, minutes_ago: int, **kw: object) -> Emergency:
    return Emergency(
        id,
        school,
        EmergencyType.LOCKDOWN,
        "911 call",
        "Dana Reyes",
        NOW - timedelta(minutes=minutes_ago),
        **kw,  # type: ignore[arg-type]
    )


def grant(id: str, emergency_id: str, minutes_left: int, **kw: object) -> Grant:
    return Grant(
        id,
        emergency_id,
        "lincoln-hs",
        "Riverside PD",
        NOW - timedelta(minutes=10),
        NOW + timedelta(minutes=minutes_left),
        "Sam Ortiz",
        **kw,  # type: ignore[arg-type]
    )


def request(id: str, emergency_id: str, minutes_ago: int, status: str = "pending") -> AccessRequest:
    return AccessRequest(
        id,
        emergency_id,
        "jefferson-es",
        "Riverside PD",
        "Dana Reyes",
        NOW - timedelta(minutes=minutes_ago),
        status,
    )


CONTEXT = AccessContext(
    emergencies=(
        emergency("e-granted", "lincoln-hs", 20),
        emergency("e-waiting", "jefferson-es", 4),
        emergency("e-ended", "lincoln-hs", 30, ended_at=NOW - timedelta(minutes=1)),
        emergency("e-denied", "washington-ms", 50),
    ),
    grants=(
        grant("g-short", "e-granted", 5),
        grant("g-long", "e-granted", 40),
        grant("g-revoked", "e-granted", 90, revoked_at=NOW - timedelta(minutes=2)),
    ),
    requests=(request("r-1", "e-waiting", 4), request("r-old", "e-denied", 49, "denied")),
)


def test_rows_list_active_emergencies_with_requests_waiting_first() -> None:
    rows = emergency_statuses(CONTEXT, SAFETY, NOW)
    assert [r.emergency.id for r in rows] == ["e-waiting", "e-denied", "e-granted"]
    waiting, denied, granted = rows
    assert waiting.awaiting_approval and waiting.request is not None
    assert waiting.request.id == "r-1" and waiting.grant is None
    assert waiting.waiting == timedelta(minutes=4)
    assert denied.request is None and denied.grant is None and not denied.awaiting_approval
    # The grant in force that lasts longest; revoked grants do not count.
    assert granted.grant is not None and granted.grant.id == "g-long"
    assert granted.waiting is None


def test_approvers_get_the_buttons_the_row_allows() -> None:
    rows = {r.emergency.id: r.actions for r in emergency_statuses(CONTEXT, SAFETY, NOW)}
    assert rows["e-waiting"] == {
        AccessAction.APPROVE, AccessAction.APPROVE_SCOPED, AccessAction.DENY, AccessAction.END
    }  # fmt: skip
    assert rows["e-granted"] == {AccessAction.EXTEND, AccessAction.REVOKE, AccessAction.END}
    assert rows["e-denied"] == {AccessAction.END}


def test_everyone_else_sees_the_same_rows_read_only() -> None:
    for user in (DISPATCHER, ADMIN):
        rows = emergency_statuses(CONTEXT, user, NOW)
        assert [r.emergency.id for r in rows] == ["e-waiting", "e-denied", "e-granted"]
        # Police may only ask the district to extend their own agency's grant.
        asks = {AccessAction.REQUEST_EXTENSION} if user is DISPATCHER else set()
        assert [set(r.actions) for r in rows] == [set(), set(), asks]


def test_an_ended_emergency_offers_nothing_even_to_an_approver() -> None:
    assert (
        access_actions(SAFETY, emergency_active=False, grant_in_force=True, request_pending=True)
        == frozenset()
    )


def test_an_empty_context_has_no_rows() -> None:
    assert emergency_statuses(AccessContext(), SAFETY, NOW) == ()


def test_decisions_are_found_between_two_boards() -> None:
    before = emergency_statuses(CONTEXT, DISPATCHER, NOW)
    approved = AccessContext(
        CONTEXT.emergencies, (*CONTEXT.grants, grant("g-new", "e-waiting", 60)), ()
    )
    [(row, granted)] = decided_since(before, emergency_statuses(approved, DISPATCHER, NOW))
    assert row.emergency.id == "e-waiting" and granted
    denied = AccessContext(CONTEXT.emergencies, CONTEXT.grants, ())
    [(row, granted)] = decided_since(before, emergency_statuses(denied, DISPATCHER, NOW))
    assert row.emergency.id == "e-waiting" and not granted
    ended = AccessContext(CONTEXT.emergencies[:1], CONTEXT.grants, ())
    assert decided_since(before, emergency_statuses(ended, DISPATCHER, NOW)) == []
    assert decided_since(before, before) == []


def test_an_unreviewed_break_glass_grant_offers_its_review_until_recorded() -> None:
    assert AccessAction.REVIEW in access_actions(
        SAFETY,
        emergency_active=True,
        grant_in_force=True,
        request_pending=False,
        grant_needs_review=True,
    )
    assert AccessAction.REVIEW not in access_actions(
        SAFETY, emergency_active=True, grant_in_force=True, request_pending=False
    )
    assert (
        access_actions(
            DISPATCHER,
            emergency_active=True,
            grant_in_force=True,
            request_pending=False,
            grant_needs_review=True,
        )
        == frozenset()
    )
