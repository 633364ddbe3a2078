"""Stream and grant promises: one viewing session is one stream at a time, and a revoke
sticks until the district clears the school."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from tests.security.conftest import API, Stack

pytestmark = pytest.mark.timeout(60)


def _session(district: Stack, who: dict[str, str], camera_id: str = "lhs-cam-02") -> str:
    answer = district.start_session(who, camera_id)
    assert answer.status_code == 201, answer.text
    session_id: str = answer.json()["session_id"]
    return session_id


def _ticket(district: Stack, who: dict[str, str], session_id: str) -> str:
    answer = district.ticket(who, "lhs-cam-02", session_id)
    assert answer.status_code == 200, answer.text
    url: str = answer.json()["url"]
    return url


def test_a_new_ticket_replaces_the_sessions_unused_one(district: Stack) -> None:
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    session_id = _session(district, police)
    tickets = [_ticket(district, police, session_id) for _ in range(3)]
    # Only the newest of three tickets for one session opens anything.
    for stale in tickets[:2]:
        assert httpx.get(stale, timeout=5).status_code == 403
    with httpx.stream("GET", tickets[2], timeout=5) as response:
        assert response.status_code == 200


def test_one_viewing_session_is_one_stream_at_a_time(district: Stack) -> None:
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    session_id = _session(district, police)
    first_url = _ticket(district, police, session_id)
    first_ended = threading.Event()
    first_bytes = threading.Event()

    def watch_first() -> None:
        try:
            with httpx.stream("GET", first_url, timeout=5) as response:
                for _ in response.iter_bytes():
                    first_bytes.set()
        except httpx.HTTPError:
            pass
        first_ended.set()

    watcher = threading.Thread(target=watch_first, daemon=True)
    watcher.start()
    assert first_bytes.wait(5), "the first stream never started"
    # The viewer reconnects (a frozen player): the newer stream wins, the older is cut.
    second_url = _ticket(district, police, session_id)
    with httpx.stream("GET", second_url, timeout=5) as second:
        assert second.status_code == 200
        opened = time.monotonic()
        chunks = second.iter_bytes()
        assert next(chunks)
        assert first_ended.wait(2.5), "two streams of one viewing session ran side by side"
        assert time.monotonic() - opened < 2.5
        assert next(chunks)  # the newer one still plays
    watcher.join(5)


def test_after_a_revoke_new_grants_at_that_school_wait_for_an_approver(district: Stack) -> None:
    police = district.login("dispatcher")
    safety = district.login("safety")
    grant = district.declare(police, "active_threat")["grant"]
    assert grant["break_glass"] is True
    revoked = district.http.post(f"{API}/grants/{grant['id']}/revoke", headers=safety)
    assert revoked.status_code == 200

    # The police may ask again at once, but it is a request now, not a grant.
    again = district.declare(police, "active_threat")
    assert again["grant"] is None
    assert again["request"]["status"] == "pending"
    access = district.http.get(f"{API}/access", headers=police).json()
    assert access["grants"] == []
    assert [h["school_id"] for h in access["holds"]] == ["lincoln-hs"]
    # Another school is not affected.
    elsewhere = district.declare(police, "active_threat", school="jefferson-es")
    assert elsewhere["grant"] is not None and elsewhere["grant"]["break_glass"] is True

    # A district approver can still grant it.
    approved = district.http.post(
        f"{API}/requests/{again['request']['id']}/approve", headers=safety
    )
    assert approved.status_code == 200 and approved.json()["grant"]["approved_by"] == "Sam Ortiz"


def test_a_district_approver_can_clear_the_hold(district: Stack) -> None:
    police = district.login("dispatcher")
    safety = district.login("safety")
    grant = district.declare(police, "active_threat")["grant"]
    district.http.post(f"{API}/grants/{grant['id']}/revoke", headers=safety)

    assert district.http.post(f"{API}/schools/lincoln-hs/clear", headers=police).status_code == 403
    cleared = district.http.post(f"{API}/schools/lincoln-hs/clear", headers=safety)
    assert cleared.status_code == 200 and cleared.json()["holds"] == []
    assert district.http.post(f"{API}/schools/lincoln-hs/clear", headers=safety).status_code == 409
    # Break-glass works again at that school.
    assert district.declare(police, "active_threat")["grant"]["break_glass"] is True
