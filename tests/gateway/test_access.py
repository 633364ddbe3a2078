"""The gateway's access decisions: tokens, pushed cuts and the lease, without a database."""

from __future__ import annotations

import time

import pytest

from dispatch_console.domain import stream_tokens
from dispatch_console.domain.stream_tokens import StreamClaims
from dispatch_console.gateway.access import AccessGuard, Refused

SECRET = b"k" * 40


def _token(camera: str = "cam-1", session: str = "s-1", grant: str | None = "g-1") -> str:
    now = time.time()
    claims = StreamClaims("u-1", camera, session, grant, "sub", now + 60, now + 3600)
    return stream_tokens.sign(stream_tokens.signing_key(SECRET), claims)


def _guard() -> AccessGuard:
    guard = AccessGuard(SECRET, lease_s=0.3)
    guard.confirmed()
    return guard


def test_a_valid_token_opens_its_own_camera_only() -> None:
    guard = _guard()
    assert guard.admit(_token(), "cam-1", "sub").session_id == "s-1"
    with pytest.raises(Refused) as refused:
        guard.admit(_token(), "cam-2", "sub")
    assert refused.value.status == 403
    with pytest.raises(Refused):
        guard.admit(_token(), "cam-1", "main")


def test_the_same_link_opens_again_within_its_life() -> None:
    """libVLC retries a failed open with its legacy HTTP module, and a dropped stream is
    reopened within the session: the link must survive both."""
    guard, token = _guard(), _token()
    assert guard.admit(token, "cam-1", "sub") == guard.admit(token, "cam-1", "sub")


def test_a_cut_session_cannot_open_again() -> None:
    guard, token = _guard(), _token()
    guard.cut_session("s-1", "The grant was revoked.")
    with pytest.raises(Refused, match="revoked"):
        guard.admit(token, "cam-1", "sub")


def test_a_cut_grant_stops_every_session_under_it() -> None:
    guard = _guard()
    claims = guard.admit(_token(session="s-2"), "cam-1", "sub")
    guard.cut_grant("g-1", "The emergency has ended.")
    assert guard.denial(claims, time.time()) == "The emergency has ended."


def test_streams_stop_when_the_district_has_been_silent_past_the_lease() -> None:
    guard = _guard()
    claims = guard.admit(_token(), "cam-1", "sub")
    assert guard.denial(claims, time.time()) is None
    time.sleep(0.35)
    assert "lost contact with the district" in (guard.denial(claims, time.time()) or "")
    with pytest.raises(Refused) as refused:
        guard.admit(_token(), "cam-1", "sub")
    assert refused.value.status == 503


def test_a_gateway_that_never_heard_the_district_admits_nobody() -> None:
    with pytest.raises(Refused):
        AccessGuard(SECRET).admit(_token(), "cam-1", "sub")
