"""Signed stream links: the gateway accepts what the district signed, nothing else."""

from __future__ import annotations

import dataclasses

import pytest

from dispatch_console.domain import stream_tokens
from dispatch_console.domain.stream_tokens import StreamClaims, StreamTokenInvalid

SECRET = b"s" * 48
KEY = stream_tokens.signing_key(SECRET)
NOW = 1_800_000_000.0
CLAIMS = StreamClaims(
    user_id="user-dispatcher",
    camera_id="lhs-cam-02",
    session_id="01a21165-359e-7c58-b3dc-ab0e2d91f142",
    grant_id="gr-1",
    stream="sub",
    expires_at=NOW + 60,
    grant_until=NOW + 3600,
)


def test_a_signed_token_gives_back_its_claims() -> None:
    assert stream_tokens.verify(KEY, stream_tokens.sign(KEY, CLAIMS), NOW) == CLAIMS


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = stream_tokens.signing_key(b"x" * 48)
    with pytest.raises(StreamTokenInvalid, match="not signed by the district"):
        stream_tokens.verify(KEY, stream_tokens.sign(other, CLAIMS), NOW)


def test_the_link_key_cannot_sign_tokens() -> None:
    link = stream_tokens.link_key(SECRET).encode()
    with pytest.raises(StreamTokenInvalid):
        stream_tokens.verify(KEY, stream_tokens.sign(link, CLAIMS), NOW)


@pytest.mark.parametrize("field", ["camera_id", "session_id", "user_id", "stream"])
def test_changing_any_claim_breaks_the_signature(field: str) -> None:
    token = stream_tokens.sign(KEY, CLAIMS)
    forged = stream_tokens.sign(KEY, dataclasses.replace(CLAIMS, **{field: "other"}))
    # Splice the forged payload onto the genuine signature.
    spliced = forged.split(".")[0] + "." + token.split(".")[1]
    with pytest.raises(StreamTokenInvalid):
        stream_tokens.verify(KEY, spliced, NOW)


def test_an_expired_token_is_refused() -> None:
    token = stream_tokens.sign(KEY, CLAIMS)
    with pytest.raises(StreamTokenInvalid, match="expired"):
        stream_tokens.verify(KEY, token, CLAIMS.expires_at)


def test_a_token_past_its_grant_is_refused() -> None:
    token = stream_tokens.sign(KEY, dataclasses.replace(CLAIMS, grant_until=NOW - 1))
    with pytest.raises(StreamTokenInvalid, match="grant"):
        stream_tokens.verify(KEY, token, NOW)


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "!!!.???", "x" * 5000, "\udcff.\udcff", "e30.AAAA"]
)
def test_garbage_is_refused_with_a_reason(token: str) -> None:
    with pytest.raises(StreamTokenInvalid):
        stream_tokens.verify(KEY, token, NOW)


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="shorter than 32 bytes"):
        stream_tokens.parse_secret(b"  short  \n", "gateway.secret")
    assert stream_tokens.parse_secret(SECRET + b"\n", "f") == SECRET
