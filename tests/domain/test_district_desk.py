"""The district desk's words and rules: request notices, watchers, agencies, declare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch_console.domain.district_desk import (
    MAX_BASIS_CHARS,
    agencies_with_grants,
    declare_offer,
    notified_of_requests,
    police_agencies,
    request_notice,
    review_item,
    waiting_for,
    watched_text,
    watchers_by_camera,
)
from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.policy import may_declare

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
SAFETY = User("u2", "safety", "Sam Ortiz", "Riverside USD", Role.DISTRICT_SAFETY_OFFICER)
ADMIN = User("u3", "admin", "Priya Shah", "Riverside USD", Role.SCHOOL_ADMIN, frozenset({"lhs"}))
FACILITIES = User("u4", "facilities", "Chris Novak", "Riverside USD", Role.FACILITIES)
SHERIFF = User("u5", "deputy", "Dee", "Lakeside Sheriff", Role.POLICE_SUPERVISOR)

EMERGENCY = Emergency(
    "em-1", "lhs", EmergencyType.LOCKDOWN, "911 call: a man with a knife by the gym", "Dana",
    NOW - timedelta(minutes=7),
)  # fmt: skip
REQUEST = AccessRequest(
    "rq-1", "em-1", "lhs", "Riverside PD", "Dana Reyes", NOW - timedelta(minutes=4), "pending"
)


def grant(agency: str, *, minutes_left: float = 30, revoked: bool = False) -> Grant:
    return Grant(
        f"gr-{agency}-{minutes_left}",
        "em-1",
        "lhs",
        agency,
        NOW - timedelta(minutes=40),
        NOW + timedelta(minutes=minutes_left),
        "break-glass policy",
        break_glass=True,
        needs_review=True,
        revoked_at=NOW - timedelta(minutes=1) if revoked else None,
    )


def test_a_request_notice_says_who_what_why_and_how_long() -> None:
    notice = request_notice(REQUEST, EMERGENCY, "Lincoln High", NOW, "14:26")
    assert notice.title == "Police ask for the cameras at Lincoln High"
    assert notice.who == "Dana Reyes, Riverside PD"
    assert notice.what == "Lockdown at Lincoln High"
    assert notice.why == "Threat basis: 911 call: a man with a knife by the gym"
    assert notice.waiting == "Waiting 4 min (since 14:26)"
    assert notice.body.splitlines() == [notice.who, notice.what, notice.why, notice.waiting]
    assert (notice.request_id, notice.emergency_id) == ("rq-1", "em-1")
    # Time moves on: the same request an hour later.
    later = request_notice(REQUEST, EMERGENCY, "Lincoln High", NOW + timedelta(hours=1), "14:26")
    assert later.waiting == "Waiting 1 h 04 min (since 14:26)"


def test_a_long_or_missing_threat_basis_is_cut_or_said_missing() -> None:
    long = Emergency(**{**EMERGENCY.__dict__, "threat_basis": "x" * 500})
    notice = request_notice(REQUEST, long, "Lincoln High", NOW, "14:26")
    assert len(notice.why) == len("Threat basis: ") + MAX_BASIS_CHARS
    assert notice.why.endswith("…")
    unknown = request_notice(REQUEST, None, "Lincoln High", NOW, "14:26")
    assert unknown.why == "Threat basis: not stated" and unknown.what == "Emergency at Lincoln High"


def test_waiting_times_read_at_a_glance() -> None:
    assert waiting_for(timedelta(seconds=59)) == "under a minute"
    assert waiting_for(timedelta(seconds=-5)) == "under a minute"  # clocks disagree
    assert waiting_for(timedelta(minutes=59, seconds=59)) == "59 min"
    assert waiting_for(timedelta(minutes=65)) == "1 h 05 min"


def test_only_approvers_are_alerted_to_requests() -> None:
    assert notified_of_requests(SAFETY)
    assert not any(notified_of_requests(u) for u in (DISPATCHER, ADMIN, FACILITIES))


def test_watchers_are_the_open_sessions_by_camera_earliest_first() -> None:
    sessions = [
        {"camera_id": "c1", "user_name": "Morgan Lee", "agency": "Riverside PD",
         "started_at": "2026-03-04T14:20:00.000Z", "ended_at": None},
        {"camera_id": "c1", "user_name": "Dana Reyes", "agency": "Riverside PD",
         "started_at": "2026-03-04T14:10:00.000Z", "ended_at": None},
        {"camera_id": "c2", "user_name": "Dana Reyes", "agency": "Riverside PD",
         "started_at": "2026-03-04T14:00:00.000Z", "ended_at": "2026-03-04T14:05:00.000Z"},
        {"camera_id": "c3", "user_name": "Sam Ortiz", "agency": "Riverside USD",
         "started_at": "garbled", "ended_at": None},
    ]  # fmt: skip
    found = watchers_by_camera(sessions)
    assert set(found) == {"c1", "c3"}  # the ended session marks nothing
    assert [w.name for w in found["c1"]] == ["Dana Reyes", "Morgan Lee"]
    assert watched_text(found["c1"], NOW) == (
        "Watched now by Dana Reyes (Riverside PD), for 20 min; "
        "Morgan Lee (Riverside PD), for 10 min"
    )
    assert watched_text(found["c3"], NOW) == "Watched now by Sam Ortiz (Riverside USD)"


def test_agencies_with_grants_count_only_grants_in_force() -> None:
    grants = [
        grant("Riverside PD"),
        grant("Riverside PD", minutes_left=10),
        grant("Lakeside Sheriff", revoked=True),
        grant("Hillcrest PD", minutes_left=-1),
        grant("Apex PD"),
    ]
    assert agencies_with_grants(grants, NOW) == {"Apex PD": 1, "Riverside PD": 2}
    assert list(agencies_with_grants(grants, NOW)) == ["Apex PD", "Riverside PD"]


def test_police_agencies_come_from_police_accounts_grants_and_requests() -> None:
    found = police_agencies([DISPATCHER, SAFETY, SHERIFF], [grant("Apex PD")], [REQUEST])
    assert found == ("Apex PD", "Lakeside Sheriff", "Riverside PD")
    assert police_agencies([SAFETY, FACILITIES], [], []) == ()


def test_declare_follows_the_policy_and_says_on_whose_behalf() -> None:
    police = declare_offer(DISPATCHER, "lhs", None)
    assert police.shown and police.label == "Declare emergency" and police.on_behalf_of is None
    district = declare_offer(SAFETY, "lhs", "Riverside PD")
    assert district.shown and district.label == "Declare for Riverside PD"
    assert district.on_behalf_of == "Riverside PD" and not district.blocked
    nobody = declare_offer(SAFETY, "lhs", None)
    assert nobody.shown and nobody.blocked  # shown, but there is no agency to declare for
    assert declare_offer(ADMIN, "lhs", "Riverside PD").shown
    assert not declare_offer(ADMIN, "jes", "Riverside PD").shown  # not one of theirs
    assert not declare_offer(FACILITIES, "lhs", "Riverside PD").shown
    # The offer is the policy's answer, for every role.
    for user in (DISPATCHER, SAFETY, ADMIN, FACILITIES, SHERIFF):
        for school in ("lhs", "jes"):
            assert declare_offer(user, school, "Riverside PD").shown == may_declare(user, school)


def test_a_review_item_says_whose_grant_where_and_its_state() -> None:
    item = review_item(grant("Riverside PD"), "Lincoln High", NOW, "13:50")
    assert item.headline == "Riverside PD at Lincoln High"
    assert item.detail == (
        "Break-glass access opened at 13:50, 40 min ago · in force · not reviewed yet"
    )
    assert "· revoked ·" in review_item(grant("X", revoked=True), "L", NOW, "13:50").detail
    assert "· ended ·" in review_item(grant("X", minutes_left=-5), "L", NOW, "13:50").detail
