"""The dispatcher desk's wording: each school's state, the request's countdown, the notice.

Pure functions of the access state and a clock, so no test here sleeps: the clock is a
value, and "a minute later" is that value plus a minute.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from dispatch_console.domain.access_board import (
    FERPA_NOTICE,
    EndedEmergency,
    RequestPhase,
    countdown,
    emergency_statuses,
    ended_since,
    expiring_soon,
    request_state,
    school_lines,
)
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Building,
    District,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    School,
    User,
)
from dispatch_console.domain.policy import AccessAction, may_request_extension

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
SAFETY = User("u2", "safety", "Sam Ortiz", "Riverside USD", Role.DISTRICT_SAFETY_OFFICER)
DISTRICT = District(
    "d",
    "Riverside USD",
    tuple(
        School(sid, name, "", (Building(f"{sid}-main", "Main", ()),))
        for sid, name in (
            ("lhs", "Lincoln High"),
            ("jes", "Jefferson Elementary"),
            ("wms", "Washington Middle"),
            ("rms", "Roosevelt Middle"),
        )
    ),
)
LOCKDOWN = Emergency("e1", "jes", EmergencyType.LOCKDOWN, "911", "Dana Reyes", NOW)
THREAT = Emergency("e2", "lhs", EmergencyType.ACTIVE_THREAT, "911", "Dana Reyes", NOW)
GRANT = Grant("g1", "e2", "lhs", "Riverside PD", NOW, NOW + timedelta(minutes=60), "Sam Ortiz")
PENDING = AccessRequest("r1", "e1", "jes", "Riverside PD", "Dana Reyes", NOW, "pending")


def test_countdowns_read_at_a_glance_and_never_go_negative() -> None:
    assert countdown(timedelta(seconds=5)) == "0:05"
    assert countdown(timedelta(minutes=4, seconds=7)) == "4:07"
    assert countdown(timedelta(hours=1, minutes=2, seconds=30)) == "1:02:30"
    assert countdown(timedelta(seconds=-3)) == "0:00"


def test_the_request_counts_up_while_it_waits_and_down_once_granted() -> None:
    context = AccessContext((LOCKDOWN, THREAT), (GRANT,), (PENDING,))
    later = NOW + timedelta(minutes=2, seconds=13)
    waiting, granted = emergency_statuses(context, DISPATCHER, later)
    state = request_state(waiting, later)
    assert state.phase is RequestPhase.WAITING
    assert "Waiting for district approval — 2:13" in state.text
    state = request_state(granted, later)
    assert state.phase is RequestPhase.GRANTED
    until = GRANT.expires_at.astimezone().strftime("%H:%M")
    assert state.text == f"Police access until {until} (57:47 left) — whole school"
    # The same row, redrawn a second later by the desk's timer, with only the clock new.
    assert "(57:46 left)" in request_state(granted, later + timedelta(seconds=1)).text


def test_a_grant_ending_within_five_minutes_is_expiring_and_police_may_ask() -> None:
    context = AccessContext((THREAT,), (GRANT,))
    at = GRANT.expires_at - timedelta(minutes=5, seconds=1)
    assert not expiring_soon(GRANT, at)
    assert expiring_soon(GRANT, at + timedelta(seconds=1))
    (status,) = emergency_statuses(context, DISPATCHER, at + timedelta(seconds=1))
    state = request_state(status, at + timedelta(seconds=1))
    assert state.phase is RequestPhase.EXPIRING
    assert state.text.startswith("Expiring soon: ") and "(5:00 left)" in state.text
    assert AccessAction.REQUEST_EXTENSION in status.actions
    # The district extends; it does not ask. Another agency may not ask either.
    (district_row,) = emergency_statuses(context, SAFETY, at)
    assert AccessAction.REQUEST_EXTENSION not in district_row.actions
    assert AccessAction.EXTEND in district_row.actions
    sheriff = replace(DISPATCHER, agency="County Sheriff")
    assert not may_request_extension(sheriff, GRANT, at)
    assert not may_request_extension(DISPATCHER, GRANT, GRANT.expires_at)


def test_a_scoped_grant_says_what_it_covers() -> None:
    scoped = replace(GRANT, buildings=("lhs-main",), cameras=("c1", "c2"))
    (status,) = emergency_statuses(AccessContext((THREAT,), (scoped,)), DISPATCHER, NOW)
    assert request_state(status, NOW).text.endswith("— building lhs-main and 2 cameras")


def test_a_denial_shows_its_reason_until_something_else_happens() -> None:
    denied = replace(
        PENDING,
        status="denied",
        decided_by="Sam Ortiz",
        decided_at=NOW,
        decision_note="Officers on site",
    )
    (status,) = emergency_statuses(AccessContext((LOCKDOWN,), (), (denied,)), DISPATCHER, NOW)
    state = request_state(status, NOW)
    assert state.phase is RequestPhase.DENIED
    assert state.text == "Denied by Sam Ortiz: Officers on site"
    # Asked again: the new request waits, the old denial no longer speaks.
    again = replace(PENDING, id="r2", requested_at=NOW + timedelta(minutes=1))
    context = AccessContext((LOCKDOWN,), (), (denied, again))
    (status,) = emergency_statuses(context, DISPATCHER, NOW + timedelta(minutes=1))
    assert request_state(status, NOW).phase is RequestPhase.WAITING


def test_every_school_is_listed_with_its_state_and_ended_ones_for_an_hour() -> None:
    context = AccessContext((LOCKDOWN, THREAT), (GRANT,), (PENDING,))
    statuses = emergency_statuses(context, DISPATCHER, NOW)
    ended = {"wms": EndedEmergency("e0", "wms", EmergencyType.MEDICAL, NOW)}
    lines = school_lines(DISTRICT, statuses, ended, NOW + timedelta(minutes=1))
    assert [(line.school_id, line.phase) for line in lines] == [
        ("lhs", RequestPhase.GRANTED),
        ("jes", RequestPhase.WAITING),
        ("wms", RequestPhase.ENDED),
        ("rms", RequestPhase.NONE),
    ]
    until = GRANT.expires_at.astimezone().strftime("%H:%M")
    assert lines[0].text == f"Active threat · until {until} (59:00 left), whole school"
    assert lines[1].text == "Lockdown · waiting for approval 1:00"
    assert lines[2].text.startswith("Medical · ended at ")
    assert lines[3].text == "No emergency"
    later = school_lines(DISTRICT, statuses, ended, NOW + timedelta(minutes=61))
    assert later[2].phase is RequestPhase.NONE


def test_an_emergency_that_left_the_access_state_ended() -> None:
    before = AccessContext((LOCKDOWN, THREAT), (GRANT,), (PENDING,))
    after = AccessContext((THREAT,), (GRANT,))
    gone = ended_since(before, after, NOW)
    assert gone == [EndedEmergency("e1", "jes", EmergencyType.LOCKDOWN, NOW)]
    assert ended_since(after, after, NOW) == []


def test_the_ferpa_notice_names_the_exception_and_forbids_redisclosure() -> None:
    assert "education records" in FERPA_NOTICE
    assert "34 CFR 99.36" in FERPA_NOTICE
    assert "health-or-safety emergency" in FERPA_NOTICE
    assert "redisclosure" in FERPA_NOTICE
