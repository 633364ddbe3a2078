"""The access store's transitions: a snapshot in, the state after it and a typed change
set out (which schools, grants, requests and cameras changed), without Qt."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from dispatch_console.domain.access_store import (
    AccessChanges,
    AccessState,
    AccessStore,
    RequestDecision,
    denial_heard,
    transition,
)
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.school_banner import school_banner

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)

LINCOLN = Emergency(
    "e1", "lincoln-hs", EmergencyType.LOCKDOWN, "911 call", "Dana Reyes", NOW - timedelta(minutes=5)
)
OAK = Emergency(
    "e2", "oak-ms", EmergencyType.MEDICAL, "alarm", "Dana Reyes", NOW - timedelta(minutes=3)
)
WAITING = AccessRequest(
    "r1", "e1", "lincoln-hs", "Riverside PD", "Dana Reyes", NOW - timedelta(minutes=4), "pending"
)
GRANT = Grant(
    "g1",
    "e1",
    "lincoln-hs",
    "Riverside PD",
    NOW - timedelta(minutes=1),
    NOW + timedelta(minutes=60),
    "Sam Ortiz",
)


def step(state: AccessState, snapshot: AccessContext) -> tuple[AccessState, AccessChanges]:
    return transition(state, snapshot, DISPATCHER, NOW)


def test_the_same_snapshot_again_changes_nothing() -> None:
    state, first = step(AccessState(), AccessContext(emergencies=(LINCOLN,)))
    assert first.emergency_schools == {"lincoln-hs"} and first.statuses_changed
    _, again = step(state, AccessContext(emergencies=(LINCOLN,)))
    assert not again
    assert again == AccessChanges()


def test_an_emergency_at_one_school_touches_that_school_only() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,)))
    _, changes = step(state, AccessContext(emergencies=(LINCOLN, OAK)))
    assert changes.emergency_schools == {"oak-ms"}
    assert changes.pins_stale("oak-ms")
    assert not changes.pins_stale("lincoln-hs", ("lincoln-cam-1",))
    assert not changes.banner_stale("lincoln-hs")


def test_an_ended_emergency_is_a_change_of_its_school() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN, OAK)))
    ended = replace(OAK, ended_at=NOW - timedelta(seconds=5))
    _, changes = step(state, AccessContext(emergencies=(LINCOLN, ended)))
    assert changes.emergency_schools == {"oak-ms"}
    assert changes.statuses_changed  # its row leaves the board


def test_an_approval_starts_a_grant_and_is_announced_as_decided() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), requests=(WAITING,)))
    approved = replace(WAITING, status="approved", decided_by="Sam Ortiz", decided_at=NOW)
    _, changes = step(
        state, AccessContext(emergencies=(LINCOLN,), grants=(GRANT,), requests=(approved,))
    )
    assert changes.grants_started == (GRANT,)
    assert changes.grants_ended == ()
    assert changes.grant_schools == {"lincoln-hs"} == changes.request_schools
    assert changes.decided == (RequestDecision("e1", "lincoln-hs", True, GRANT, ""),)
    assert changes.pins_stale("lincoln-hs")
    assert not changes.pins_stale("oak-ms", ("oak-cam-1",))


def test_a_denial_carries_the_reason_the_live_event_gave() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), requests=(WAITING,)))
    state = denial_heard(state, "e1", "Officers on site already")
    denied = replace(WAITING, status="denied", decided_at=NOW)
    state, changes = step(state, AccessContext(emergencies=(LINCOLN,), requests=(denied,)))
    assert changes.decided == (
        RequestDecision("e1", "lincoln-hs", False, None, "Officers on site already"),
    )
    assert not changes.grant_schools
    assert state.denial_reasons == {}  # used once


def test_a_denial_without_an_event_falls_back_to_the_decision_note() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), requests=(WAITING,)))
    denied = replace(WAITING, status="denied", decided_at=NOW, decision_note="Not needed")
    _, changes = step(state, AccessContext(emergencies=(LINCOLN,), requests=(denied,)))
    assert [d.reason for d in changes.decided] == ["Not needed"]


def test_a_request_that_left_with_its_emergency_was_not_decided() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), requests=(WAITING,)))
    _, changes = step(state, AccessContext())
    assert changes.decided == ()
    assert changes.emergency_schools == {"lincoln-hs"}


@pytest.mark.parametrize(
    "after",
    [
        AccessContext(emergencies=(LINCOLN,)),
        AccessContext(emergencies=(LINCOLN,), grants=(replace(GRANT, revoked_at=NOW),)),
    ],
    ids=["gone", "revoked"],
)
def test_a_grant_that_left_or_was_revoked_ended(after: AccessContext) -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), grants=(GRANT,)))
    _, changes = step(state, after)
    assert [g.id for g in changes.grants_ended] == ["g1"]
    assert changes.grant_schools == {"lincoln-hs"}


def test_an_extension_is_a_grant_change_but_neither_start_nor_end() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), grants=(GRANT,)))
    longer = replace(GRANT, expires_at=GRANT.expires_at + timedelta(minutes=30))
    _, changes = step(state, AccessContext(emergencies=(LINCOLN,), grants=(longer,)))
    assert changes.grants_started == changes.grants_ended == ()
    assert changes.grant_schools == {"lincoln-hs"}


def test_an_offline_camera_stales_only_the_floors_showing_it() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,)))
    after = AccessContext(emergencies=(LINCOLN,), camera_problems=(("oak-cam-1", "no route"),))
    state, changes = step(state, after)
    assert changes.camera_problems == {"oak-cam-1"}
    assert changes.pins_stale("oak-ms", ("oak-cam-1", "oak-cam-2"))
    assert not changes.pins_stale("lincoln-hs", ("lincoln-cam-1",))
    assert not changes.schools  # no school's access changed
    _, cleared = step(state, AccessContext(emergencies=(LINCOLN,)))
    assert cleared.camera_problems == {"oak-cam-1"}


def test_time_moving_on_changes_the_rows_not_the_snapshot() -> None:
    state, _ = step(AccessState(), AccessContext(emergencies=(LINCOLN,), requests=(WAITING,)))
    _, later = transition(state, state.snapshot, DISPATCHER, NOW + timedelta(minutes=1))
    assert later.statuses_changed  # the waiting time moved on
    assert not later.snapshot_changed and not later.decided


def test_the_store_tells_subscribers_only_of_real_changes() -> None:
    store = AccessStore()
    heard: list[AccessChanges] = []
    store.subscribe(heard.append)
    store.apply(AccessContext(emergencies=(LINCOLN,)), DISPATCHER, NOW)
    store.apply(AccessContext(emergencies=(LINCOLN,)), DISPATCHER, NOW)
    assert [c.emergency_schools for c in heard] == [{"lincoln-hs"}]
    assert store.snapshot.emergencies == (LINCOLN,)
    assert [s.emergency.id for s in store.statuses] == ["e1"]


def test_the_banner_names_the_emergency_and_the_grant_or_its_absence() -> None:
    quiet = school_banner("lincoln-hs", "Lincoln HS", AccessContext(), True, NOW)
    assert (quiet.text, quiet.tone) == (
        "Lincoln HS: no emergency declared. Live video is locked.",
        "neutral",
    )
    assert school_banner("lincoln-hs", "Lincoln HS", AccessContext(), False, NOW).text == (
        "Lincoln HS: no emergency declared."
    )
    waiting = school_banner(
        "lincoln-hs", "Lincoln HS", AccessContext((LINCOLN,), (), (WAITING,)), True, NOW
    )
    assert waiting.text == (
        "LOCKDOWN at Lincoln HS — waiting for the district to approve police access"
    )
    assert waiting.tone == "emergency"
    granted = school_banner(
        "lincoln-hs",
        "Lincoln HS",
        AccessContext((LINCOLN,), (replace(GRANT, break_glass=True),)),
        True,
        NOW,
    )
    until = GRANT.expires_at.astimezone().strftime("%H:%M")
    assert granted.text == (
        f"LOCKDOWN at Lincoln HS — police access granted until {until}"
        " (break-glass, flagged for district review)"
    )
    refused = school_banner("lincoln-hs", "Lincoln HS", AccessContext((LINCOLN,)), True, NOW)
    assert refused.text.endswith("no police access (denied, or the grant ended)")
