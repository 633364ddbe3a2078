"""Police ask for more time; the district decides. Raw HTTP against a server of its own.

``POST /grants/{id}/extension-request`` is for police of the grant's agency while the
grant is in force: it changes nothing about the grant, tells the district desks (event
``grant.extension_requested``) and is kept in the admin log. Only an approver extends.
The police view of ``/access`` also carries the agency's decided requests of emergencies
still under way, so a denial's reason survives a restart of the dispatcher's desk.
"""

from __future__ import annotations

import pytest

from dispatch_console.district import account_store
from dispatch_console.district.server import app_context
from tests.district.test_events import db_path, events_district, listen  # noqa: F401  (fixtures)
from tests.district.test_server import API, District

pytestmark = pytest.mark.timeout(60)


def _break_glass_grant(d: District) -> dict[str, str]:
    declared = d.declare(d.login("dispatcher"), "active_threat")
    grant: dict[str, str] = declared["grant"]
    return grant


def test_police_ask_and_the_district_hears_it(events_district: District) -> None:  # noqa: F811
    d = events_district
    grant = _break_glass_grant(d)
    safety = listen(d, "safety")
    try:
        answer = d.http.post(
            f"{API}/grants/{grant['id']}/extension-request", headers=d.login("dispatcher")
        )
        assert answer.status_code == 202, answer.text
        # Asking is not extending: the grant ends when it ended before.
        assert answer.json()["expires_at"] == grant["expires_at"]
        heard = safety.next("grant.extension_requested")
        assert heard.data["subject"] == grant["id"]
        assert heard.data["school_id"] == "lincoln-hs"
        assert heard.data["requested_by"] == "Dana Reyes"
        assert heard.data["expires_at"] == grant["expires_at"]
    finally:
        safety.close()
    # The admin log (in the audit chain) keeps who asked, when, for which grant.
    logged = account_store.admin_actions(app_context(d.app).db)
    asked = [a for a in logged if a["action"] == "grant.extension_requested"]
    assert [(a["actor"], a["subject"]) for a in asked] == [("Dana Reyes", grant["id"])]


def test_only_police_of_the_agency_may_ask_while_the_grant_lasts(
    events_district: District,  # noqa: F811
) -> None:
    d = events_district
    grant = _break_glass_grant(d)
    url = f"{API}/grants/{grant['id']}/extension-request"
    # Approvers extend; they do not ask themselves.
    assert d.http.post(url, headers=d.login("safety")).status_code == 403
    assert d.http.post(url).status_code == 401
    nope = d.http.post(f"{API}/grants/gr-nope/extension-request", headers=d.login("dispatcher"))
    assert nope.status_code == 404
    # Another agency's grant does not exist for this dispatcher.
    other = d.http.post(
        f"{API}/emergencies",
        headers=d.login("safety"),
        json={
            "school_id": "jefferson-es",
            "type": "active_threat",
            "threat_basis": "Sheriff's deputies on scene",
            "agency": "County Sheriff",
        },
    )
    assert other.status_code == 201, other.text
    foreign = other.json()["grant"]["id"]
    answer = d.http.post(f"{API}/grants/{foreign}/extension-request", headers=d.login("dispatcher"))
    assert answer.status_code == 404
    # Once the grant is over there is nothing to extend.
    d.clock.advance(hours=2)
    late = d.http.post(url, headers=d.login("dispatcher"))
    assert late.status_code == 409
    assert "no longer in force" in late.json()["detail"]


def test_the_police_view_keeps_the_denial_and_its_reason(
    events_district: District,  # noqa: F811
) -> None:
    d = events_district
    declared = d.declare(d.login("dispatcher"), "lockdown", school="jefferson-es")
    request_id = declared["request"]["id"]
    denied = d.http.post(
        f"{API}/requests/{request_id}/deny",
        headers=d.login("safety"),
        json={"reason": "Officers on site already; no cameras needed"},
    )
    assert denied.status_code == 200, denied.text
    police = d.http.get(f"{API}/access", headers=d.login("dispatcher")).json()
    mine = [r for r in police["requests"] if r["id"] == request_id]
    assert len(mine) == 1
    assert mine[0]["status"] == "denied"
    assert mine[0]["decision_note"] == "Officers on site already; no cameras needed"
    # The district desk's list stays what it was: requests waiting for an approver.
    district = d.http.get(f"{API}/access", headers=d.login("safety")).json()
    assert all(r["status"] == "pending" for r in district["requests"])
    # Once the emergency ends, the denial leaves the police view with it.
    ended = d.http.post(
        f"{API}/emergencies/{declared['emergency']['id']}/end", headers=d.login("safety")
    )
    assert ended.status_code == 200
    police = d.http.get(f"{API}/access", headers=d.login("dispatcher")).json()
    assert not [r for r in police["requests"] if r["id"] == request_id]
