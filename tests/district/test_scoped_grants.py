"""Scoped grants and break-glass review, enforced by the server over raw HTTP.

The approver grants some buildings or cameras of a school for a chosen time; a stream
link for a camera outside the scope is refused by the server, whatever the client shows.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from dispatch_console.domain.session import parse_utc
from tests.district.test_server import API, District, district  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(90)

IN_SCOPE = "lhs-cam-02"  # Main Hall East
OUT_OF_SCOPE = "lhs-cam-03"  # Cafeteria: shareable, but not in the grant


def _pending_lockdown(d: District) -> str:
    declared = d.declare(d.login("dispatcher"), "lockdown")
    request_id: str = declared["request"]["id"]
    return request_id


def test_a_camera_scope_limits_stream_links_server_side(district: District) -> None:  # noqa: F811
    d = district
    request_id = _pending_lockdown(d)
    answer = d.http.post(
        f"{API}/requests/{request_id}/approve",
        headers=d.login("safety"),
        json={"cameras": [IN_SCOPE], "minutes": 30},
    )
    assert answer.status_code == 200, answer.text
    grant = answer.json()["grant"]
    assert grant["cameras"] == [IN_SCOPE] and grant["buildings"] == []
    lasts = parse_utc(grant["expires_at"]) - parse_utc(grant["granted_at"])
    assert lasts == timedelta(minutes=30)

    police = d.login("dispatcher")
    inside = d.start_session(police, IN_SCOPE)
    assert inside.status_code == 201, inside.text
    assert d.ticket(police, IN_SCOPE, inside.json()["session_id"]).status_code == 200
    outside = d.start_session(police, OUT_OF_SCOPE)
    assert outside.status_code == 201  # the start is recorded (and audited) ...
    refused = d.ticket(police, OUT_OF_SCOPE, outside.json()["session_id"])
    assert refused.status_code == 403  # ... but no video outside the scope
    assert "does not include" in refused.json()["detail"]


def test_a_building_scope_covers_the_buildings_cameras(district: District) -> None:  # noqa: F811
    d = district
    request_id = _pending_lockdown(d)
    answer = d.http.post(
        f"{API}/requests/{request_id}/approve",
        headers=d.login("safety"),
        json={"buildings": ["lhs-main"]},
    )
    assert answer.status_code == 200, answer.text
    police = d.login("dispatcher")
    started = d.start_session(police, OUT_OF_SCOPE)
    assert d.ticket(police, OUT_OF_SCOPE, started.json()["session_id"]).status_code == 200


@pytest.mark.parametrize(
    ("terms", "says"),
    [
        ({"buildings": ["lhs-annex"]}, "no building lhs-annex"),
        ({"cameras": ["jes-cam-02"]}, "no camera jes-cam-02"),  # another school's camera
        ({"cameras": ["lhs-cam-07"]}, "never shared with police"),  # a classroom
        ({"minutes": 2}, "between 5 minutes and 12 hours"),
        ({"minutes": 100000}, "between 5 minutes and 12 hours"),
    ],
)
def test_unacceptable_terms_are_refused_with_the_reason(
    district: District,  # noqa: F811
    terms: dict[str, object],
    says: str,
) -> None:
    d = district
    request_id = _pending_lockdown(d)
    answer = d.http.post(
        f"{API}/requests/{request_id}/approve", headers=d.login("safety"), json=terms
    )
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"]
    still = d.http.get(f"{API}/access", headers=d.login("safety")).json()
    assert any(r["id"] == request_id for r in still["requests"])  # nothing was granted


def test_break_glass_grants_wait_for_a_recorded_review(district: District) -> None:  # noqa: F811
    d = district
    declared = d.declare(d.login("dispatcher"), "active_threat")
    grant_id = declared["grant"]["id"]
    safety = d.login("safety")
    waiting = d.http.get(f"{API}/grants/to-review", headers=safety)
    assert grant_id in [g["id"] for g in waiting.json()]
    assert d.http.get(f"{API}/grants/to-review", headers=d.login("dispatcher")).status_code == 403
    blank = d.http.post(f"{API}/grants/{grant_id}/review", headers=safety, json={"note": "  "})
    assert blank.status_code == 422

    note = "Reviewed the 911 call log: the declaration was justified."
    answer = d.http.post(f"{API}/grants/{grant_id}/review", headers=safety, json={"note": note})
    assert answer.status_code == 200, answer.text
    reviewed = answer.json()
    assert reviewed["needs_review"] is False and reviewed["review_note"] == note
    assert reviewed["reviewed_by"] and reviewed["reviewed_at"]
    again = d.http.post(f"{API}/grants/{grant_id}/review", headers=safety, json={"note": "x"})
    assert again.status_code == 409 and "stands" in again.json()["detail"]
    waiting = d.http.get(f"{API}/grants/to-review", headers=safety)
    assert grant_id not in [g["id"] for g in waiting.json()]


def test_an_approved_grant_is_not_a_break_glass_review_item(district: District) -> None:  # noqa: F811
    d = district
    request_id = _pending_lockdown(d)
    grant = d.http.post(f"{API}/requests/{request_id}/approve", headers=d.login("safety")).json()[
        "grant"
    ]
    answer = d.http.post(
        f"{API}/grants/{grant['id']}/review", headers=d.login("safety"), json={"note": "ok"}
    )
    assert answer.status_code == 409
