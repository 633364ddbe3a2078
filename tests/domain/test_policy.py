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
    GrantTermsError,
    can_view,
    grant_covers,
    grant_duration,
    grant_in_force,
    grant_scope,
    is_break_glass,
    may_approve,
    scope_cameras,
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


# -- scoped grants ------------------------------------------------------------------------


def _at(building: str, camera_id: str) -> Camera:
    return replace(camera(RoomKind.HALLWAY), id=camera_id, building_id=building)


def test_a_scoped_grant_opens_only_its_buildings_and_cameras() -> None:
    scoped = grant(buildings=("gym",), cameras=("hall-2",))
    context = AccessContext((emergency(),), (scoped,))
    assert can_view(DISPATCHER, _at("gym", "gym-1"), context, NOW)
    assert can_view(DISPATCHER, _at("main", "hall-2"), context, NOW)
    refused = can_view(DISPATCHER, _at("main", "hall-1"), context, NOW)
    assert not refused
    assert "does not include" in refused.reason and not refused.permanent
    # The whole-school grant next to it opens the rest.
    both = AccessContext((emergency(),), (scoped, grant(id="g2")))
    assert can_view(DISPATCHER, _at("main", "hall-1"), both, NOW)


def test_grant_covers_checks_the_school_first() -> None:
    assert grant_covers(grant(), _at("b", "x"))
    assert not grant_covers(grant(school_id="jefferson-es"), _at("b", "x"))
    assert not grant_covers(grant(cameras=("y",)), _at("b", "x"))


def test_a_scope_naming_what_the_school_lacks_or_may_not_share_is_refused() -> None:
    from dispatch_console.domain.models import Building, Floor, School

    hall, classroom = _at("main", "hall-1"), replace(camera(RoomKind.CLASSROOM), id="room-1")
    floor = Floor("f", "Ground", 0, (), (hall, classroom), 10.0, 10.0)
    school = School("lincoln-hs", "Lincoln High", "", (Building("main", "Main", (floor,)),))
    assert grant_scope(school, ["main", "main"], ["hall-1"]) == (("main",), ("hall-1",))
    with pytest.raises(GrantTermsError, match="no building annex"):
        grant_scope(school, ["annex"], [])
    with pytest.raises(GrantTermsError, match="no camera cam-9"):
        grant_scope(school, [], ["cam-9"])
    with pytest.raises(GrantTermsError, match="never shared with police"):
        grant_scope(school, [], ["room-1"])
    assert [c.id for c in scope_cameras(school, grant(cameras=("hall-1", "room-1")))] == ["hall-1"]


def test_grant_durations_are_bounded() -> None:
    assert grant_duration(None) == timedelta(minutes=60)
    assert grant_duration(30) == timedelta(minutes=30)
    for minutes in (0, 4, 721, -5):
        with pytest.raises(GrantTermsError, match="between 5 minutes and 12 hours"):
            grant_duration(minutes)


def test_the_idle_lock_is_due_after_its_time_unless_watching_an_emergency() -> None:
    from dispatch_console.domain.policy import idle_lock_due

    limit = timedelta(minutes=30)
    assert not idle_lock_due(timedelta(minutes=29), limit, False)
    assert idle_lock_due(timedelta(minutes=30), limit, False)
    assert not idle_lock_due(timedelta(hours=5), None, False)  # no limit: never
    assert not idle_lock_due(timedelta(hours=1), limit, True)  # the district's choice
