"""When a sign-in ends (sign-out, lockout, disabled account), everything it stood for
ends with it: the token, the stream tickets it asked for, and the streams it opened."""

from __future__ import annotations

import pytest

from tests.security.conftest import API, Stack, read_stream_until_closed

pytestmark = pytest.mark.timeout(60)


def _police(district: Stack) -> dict[str, str]:
    response = district.fresh_login("dispatcher")
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _ticket_url(district: Stack, who: dict[str, str], camera_id: str) -> str:
    session = district.start_session(who, camera_id)
    assert session.status_code == 201, session.text
    ticket = district.ticket(who, camera_id, session.json()["session_id"])
    assert ticket.status_code == 200, ticket.text
    url: str = ticket.json()["url"]
    return url


def _stream_ends_when(district: Stack, who: dict[str, str], action: object) -> None:
    """Open a stream, do ``action`` while it plays, and require the stream to end soon."""
    url = _ticket_url(district, who, "lhs-cam-04")
    lasted = read_stream_until_closed(url, action, limit_s=5)  # type: ignore[arg-type]
    assert lasted < 2.5, f"the stream went on for {lasted:.1f} s after the sign-in ended"


def test_sign_out_ends_unused_tickets_and_open_streams(district: Stack) -> None:
    police = _police(district)
    district.declare(police, "active_threat")
    unused = _ticket_url(district, police, "lhs-cam-02")

    def sign_out() -> None:
        assert district.http.post(f"{API}/auth/logout", headers=police).status_code == 204

    _stream_ends_when(district, police, sign_out)
    refused = district.http.get(unused)
    assert refused.status_code == 403
    assert district.http.get(f"{API}/access", headers=police).status_code == 401


def test_a_lockout_ends_the_accounts_tokens_tickets_and_streams(district: Stack) -> None:
    police = _police(district)
    district.declare(police, "active_threat")
    unused = _ticket_url(district, police, "lhs-cam-02")

    def lock_by_guessing() -> None:
        for _ in range(5):
            district.fresh_login("dispatcher", password="someone-else-guessing")

    _stream_ends_when(district, police, lock_by_guessing)
    assert district.http.get(unused).status_code == 403
    assert district.http.get(f"{API}/access", headers=police).status_code == 401


def test_disabling_an_account_ends_its_sign_ins_and_streams(district: Stack) -> None:
    police = _police(district)
    safety = district.login("safety")
    district.declare(police, "active_threat")
    unused = _ticket_url(district, police, "lhs-cam-02")

    def disable() -> None:
        answer = district.http.post(f"{API}/users/user-dispatcher/disable", headers=safety)
        assert answer.status_code == 200 and answer.json()["disabled"] is True

    _stream_ends_when(district, police, disable)
    assert district.http.get(unused).status_code == 403
    assert district.http.get(f"{API}/access", headers=police).status_code == 401
    # A disabled account cannot sign in, and is answered like a name with no account.
    district.clock.advance(seconds=30)
    refused = district.fresh_login("dispatcher")
    assert refused.status_code == 401
    assert "wrong user name, password or one-time code" in refused.json()["detail"]
    # Enabled again, it signs in as before.
    assert district.http.post(f"{API}/users/user-dispatcher/enable", headers=safety).is_success
    district.clock.advance(seconds=30)
    assert district.fresh_login("dispatcher").status_code == 200
