"""Stream and grant promises: one viewing session is one stream at a time, and a revoke
sticks until the district clears the school."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest

from dispatch_console.domain.session import utc_ms
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


def test_a_stream_link_dies_with_its_viewing_session(district: Stack) -> None:
    """The link may be opened again within its minute (libVLC retries, reconnects), so it
    must not outlive the session it was signed for: a bearer token it is not."""
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    started = district.clock()  # the fake clock stands still: the session's start
    session_id = _session(district, police)
    url = _ticket(district, police, session_id)
    with httpx.stream("GET", url, timeout=20) as response:
        assert response.status_code == 200
    district.clock.advance(seconds=2)
    ended = district.http.put(
        f"{API}/audit/sessions/{session_id}/end",
        headers=police,
        json={
            "session_id": session_id,
            "ended_at": utc_ms(started + timedelta(seconds=2)),
            "duration_ms": 2000,
            "end_reason": "closed_by_user",
        },
    )
    assert ended.status_code in (200, 201), ended.text
    deadline = time.monotonic() + 2
    while httpx.get(url, timeout=20).status_code != 403:
        assert time.monotonic() < deadline, "the ended session's link still opens"
        time.sleep(0.05)
    # A fresh link for an ended session is refused by the district itself.
    assert district.ticket(police, "lhs-cam-02", session_id).status_code == 409


def test_one_viewing_session_is_one_stream_at_a_time(district: Stack) -> None:
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    session_id = _session(district, police)
    first_url = _ticket(district, police, session_id)
    first_ended = threading.Event()
    first_bytes = threading.Event()

    def watch_first() -> None:
        try:
            with httpx.stream("GET", first_url, timeout=20) as response:
                for _ in response.iter_bytes():
                    first_bytes.set()
        except httpx.HTTPError:
            pass
        first_ended.set()

    watcher = threading.Thread(target=watch_first, daemon=True)
    watcher.start()
    assert first_bytes.wait(20), "the first stream never started"
    # The viewer reconnects (a frozen player): the newer stream wins, the older is cut.
    second_url = _ticket(district, police, session_id)
    with httpx.stream("GET", second_url, timeout=20) as second:
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
