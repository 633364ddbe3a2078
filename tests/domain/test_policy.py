"""The access policy: police never see private rooms; no emergency grant, no video."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dispatch_console.domain.models import (
    AccessContext,
    Camera,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    RoomKind,
    User,
)
from dispatch_console.domain.policy import (
    COMMON_AREAS,
    can_view,
    grant_in_force,
    is_break_glass,
    may_approve,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
SAFETY = User("u2", "safety", "Sam Ortiz", "Riverside USD", Role.DISTRICT_SAFETY_OFFICER)


def camera(kind: RoomKind, *, school: str = "lincoln-hs", shareable: bool = True) -> Camera:
    return Camera(
        id=f"cam-{kind.value}",
        name=f"Camera in {kind.value}",
        school_id=school,
        building_id="b",
        floor_id="f",
        position=(1.0, 1.0),
        heading_deg=0.0,
        fov_deg=90.0,
        range_m=20.0,
        room_id="r",
        room_kind=kind,
        configured_shareable=shareable,
    )


def emergency(school: str = "lincoln-hs", *, ended: datetime | None = None) -> Emergency:
    return Emergency(
        "e1",
        school,
        EmergencyType.ACTIVE_THREAT,
        "911 call",
        "u1",
        NOW - timedelta(minutes=5),
        ended,
    )


def grant(**changes: object) -> Grant:
    base = Grant(
        id="g1",
        emergency_id="e1",
        school_id="lincoln-hs",
        agency="Riverside PD",
        granted_at=NOW - timedelta(minutes=5),
        expires_at=NOW + timedelta(minutes=55),
        approved_by="break-glass policy",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


GRANTED = AccessContext((emergency(),), (grant(),))


@pytest.mark.parametrize("kind", sorted(set(RoomKind) - COMMON_AREAS))
def test_police_never_see_private_rooms_even_with_a_grant(kind: RoomKind) -> None:
    decision = can_view(DISPATCHER, camera(kind), GRANTED, NOW)
    assert not decision.allowed
    assert decision.permanent
    assert "never shared with police" in decision.reason


@pytest.mark.parametrize("kind", sorted(COMMON_AREAS))
def test_police_see_common_areas_under_a_live_grant(kind: RoomKind) -> None:
    decision = can_view(DISPATCHER, camera(kind), GRANTED, NOW)
    assert decision.allowed
    assert decision.grant is not None and decision.grant.id == "g1"


def test_no_emergency_means_no_video() -> None:
    decision = can_view(DISPATCHER, camera(RoomKind.HALLWAY), AccessContext(), NOW)
    assert not decision.allowed and not decision.permanent
    assert "no emergency is declared" in decision.reason


def test_emergency_without_grant_means_no_video() -> None:
    context = AccessContext((emergency(),), ())
    decision = can_view(DISPATCHER, camera(RoomKind.HALLWAY), context, NOW)
    assert not decision.allowed
    assert "not granted" in decision.reason


@pytest.mark.parametrize(
    "context",
    [
        AccessContext((emergency(),), (grant(expires_at=NOW),)),
        AccessContext((emergency(),), (grant(revoked_at=NOW - timedelta(seconds=1)),)),
        AccessContext((emergency(ended=NOW - timedelta(seconds=1)),), (grant(),)),
        AccessContext((emergency("jefferson-es"),), (grant(school_id="jefferson-es"),)),
    ],
    ids=["expired", "revoked", "emergency-ended", "other-school"],
)
def test_a_grant_that_is_not_in_force_opens_nothing(context: AccessContext) -> None:
    assert not can_view(DISPATCHER, camera(RoomKind.HALLWAY), context, NOW)
    assert grant_in_force(context, "lincoln-hs", NOW) is None


def test_district_shareable_flag_cannot_be_bypassed_but_also_restricts() -> None:
    assert not can_view(DISPATCHER, camera(RoomKind.HALLWAY, shareable=False), GRANTED, NOW)


def test_district_safety_officer_has_standing_access_everywhere() -> None:
    decision = can_view(SAFETY, camera(RoomKind.CLASSROOM), AccessContext(), NOW)
    assert decision.allowed and "Standing" in decision.reason


def test_school_admin_and_facilities_scopes() -> None:
    admin = User("u3", "a", "A", "USD", Role.SCHOOL_ADMIN, frozenset({"lincoln-hs"}))
    assert can_view(admin, camera(RoomKind.CLASSROOM), AccessContext(), NOW)
    assert not can_view(admin, camera(RoomKind.HALLWAY, school="jefferson-es"), GRANTED, NOW)
    facilities = User("u4", "f", "F", "USD", Role.FACILITIES)
    assert can_view(facilities, camera(RoomKind.PARKING), AccessContext(), NOW)
    assert not can_view(facilities, camera(RoomKind.HALLWAY), AccessContext(), NOW)


def test_break_glass_and_approvers() -> None:
    assert is_break_glass(EmergencyType.ACTIVE_THREAT)
    assert is_break_glass(EmergencyType.EXPLOSION_OR_FIRE)
    assert not is_break_glass(EmergencyType.LOCKDOWN)
    assert may_approve(SAFETY) and not may_approve(DISPATCHER)


def test_a_grant_opens_a_school_only_to_the_agency_it_names() -> None:
    other_agency = User("u5", "d2", "Dee", "Lakeside Sheriff", Role.POLICE_DISPATCHER)
    # The context holds agency A's grant only; an officer of agency B gains nothing from it,
    # even when the caller forgot to filter the grants by agency.
    decision = can_view(other_agency, camera(RoomKind.HALLWAY), GRANTED, NOW)
    assert not decision.allowed and not decision.permanent
    assert decision.grant is None
    assert "not granted your agency" in decision.reason
    assert grant_in_force(GRANTED, "lincoln-hs", NOW, agency="Lakeside Sheriff") is None
    # The agency the grant names still sees the school.
    assert can_view(DISPATCHER, camera(RoomKind.HALLWAY), GRANTED, NOW).allowed
    assert grant_in_force(GRANTED, "lincoln-hs", NOW, agency="Riverside PD") is not None
