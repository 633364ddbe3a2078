"""Revoke every grant of one police agency at once, over raw HTTP.

``POST /api/v1/agencies/{agency}/revoke`` revokes each of the agency's grants in force the
way a single revoke does (the school is held, the desks are told ``grant.revoked`` and
``school.held`` for each), leaves other agencies' grants alone, is for approvers only, and
answers 404 for an agency no account or grant names (a typo must not read as "nothing to
revoke"), but 200 with an empty list for a known agency without grants in force.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from dispatch_console.district.seed import POLICE_AGENCY
from tests.district.test_events import (  # noqa: F401  (fixtures)
    db_path,
    events_district,
    listen,
)
from tests.district.test_server import API, District

pytestmark = pytest.mark.timeout(60)

OTHER_AGENCY = "Hillcrest County Sheriff"


def _revoke_all(d: District, who: str, agency: str) -> tuple[int, object]:
    answer = d.http.post(f"{API}/agencies/{quote(agency, safe='')}/revoke", headers=d.login(who))
    return answer.status_code, answer.json()


def test_an_approver_revokes_every_grant_of_one_agency(events_district: District) -> None:  # noqa: F811
    d = events_district
    # The safety office declares on behalf of another agency: its grant must survive.
    other = d.http.post(
        f"{API}/emergencies",
        headers=d.login("safety"),
        json={
            "school_id": "lincoln-hs",
            "type": "active_threat",
            "threat_basis": "Sheriff's deputies respond to a report of shots",
            "agency": OTHER_AGENCY,
        },
    )
    assert other.status_code == 201, other.text
    other_grant = other.json()["grant"]
    assert other_grant["agency"] == OTHER_AGENCY
    police = d.login("dispatcher")
    first = d.declare(police, "active_threat", "lincoln-hs")["grant"]
    second = d.declare(police, "explosion_or_fire", "jefferson-es")["grant"]
    desk = listen(d, "safety")
    try:
        status, body = _revoke_all(d, "safety", POLICE_AGENCY)
        assert status == 200, body
        assert isinstance(body, list)
        assert sorted(g["id"] for g in body) == sorted([first["id"], second["id"]])
        assert all(g["revoked_at"] for g in body)
        # Announced as the single revoke announces it: each grant, each school held.
        heard = [desk.next(kind) for kind in ("grant.revoked", "school.held") * 2]
        assert {e.data["school_id"] for e in heard[::2]} == {"lincoln-hs", "jefferson-es"}
        held = sorted(e.data["grant_id"] for e in heard[1::2])
        assert held == sorted([first["id"], second["id"]])
    finally:
        desk.close()

    access = d.http.get(f"{API}/access", headers=d.login("safety")).json()
    assert [g["id"] for g in access["grants"]] == [other_grant["id"]]
    assert {h["school_id"] for h in access["holds"]} == {"lincoln-hs", "jefferson-es"}
    # Nothing left in force: a second call revokes nothing, and says so with an empty list.
    assert _revoke_all(d, "safety", POLICE_AGENCY) == (200, [])


def test_police_may_not_revoke_and_an_unknown_agency_is_not_found(
    events_district: District,  # noqa: F811
) -> None:
    d = events_district
    grant = d.declare(d.login("dispatcher"), "active_threat")["grant"]
    status, body = _revoke_all(d, "dispatcher", POLICE_AGENCY)
    assert status == 403, body
    status, body = _revoke_all(d, "supervisor", POLICE_AGENCY)
    assert status == 403, body
    status, body = _revoke_all(d, "safety", "Riverside Police Departmnet")
    assert status == 404
    assert isinstance(body, dict) and "Riverside Police Departmnet" in body["detail"]
    # Refusals revoked nothing.
    grants = d.http.get(f"{API}/access", headers=d.login("safety")).json()["grants"]
    assert grant["id"] in [g["id"] for g in grants]
