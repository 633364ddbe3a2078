"""Signed stream URLs: the district decides, a gateway checks, with no database between.

A gateway must let a viewer in within milliseconds and must keep working when it cannot
reach the district's database, yet it may relay video only to someone the district has
authorised. So the district signs a short statement ("user U may pull camera C for
viewing session S under grant G until T") with a key it shares with its gateways, and
the gateway checks the signature, the expiry and its own list of cut sessions.

The token is bound to one viewing session, not to whoever holds it: a gateway keeps one
stream per session (a second open replaces the first), so a leaked URL cannot be watched
beside its owner, and it dies with the session. Within its short life the same URL may be
opened again, which libVLC does by itself after a failed first attempt, and which a
reconnect within the session needs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import asdict, dataclass

TOKEN_VERSION = 1
MAX_TOKEN_LENGTH = 1024
_SIGNING_LABEL = b"dispatch-console stream token v1"
_LINK_LABEL = b"dispatch-console gateway link v1"


class StreamTokenInvalid(ValueError):
    """The token cannot be used; the message says why, in words a viewer can act on."""


@dataclass(frozen=True)
class StreamClaims:
    """What a stream token lets its viewing session do."""

    user_id: str
    camera_id: str
    session_id: str
    grant_id: str | None
    stream: str  # "sub" or "main"
    expires_at: float  # seconds since the epoch: the token cannot open a stream after it
    grant_until: float | None  # the grant's end: a stream may not outlive it


MIN_SECRET_BYTES = 32


def parse_secret(data: bytes, origin: str) -> bytes:
    """The shared secret from a secret file's bytes; ValueError when too short to be one."""
    secret = data.strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the gateway secret in {origin} is shorter than {MIN_SECRET_BYTES} bytes")
    return secret


def signing_key(secret: bytes) -> bytes:
    """The key that signs stream tokens, derived so the link key cannot forge them."""
    return hmac.new(secret, _SIGNING_LABEL, hashlib.sha256).digest()


def link_key(secret: bytes) -> str:
    """The bearer key a gateway shows the district server on its event link."""
    return hmac.new(secret, _LINK_LABEL, hashlib.sha256).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, claims: StreamClaims) -> str:
    """A URL-safe token carrying ``claims``, signed with HMAC-SHA-256."""
    payload = json.dumps(
        {"v": TOKEN_VERSION, **asdict(claims)}, separators=(",", ":"), sort_keys=True
    ).encode("utf-8")
    mac = hmac.new(key, payload, hashlib.sha256).digest()
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(key: bytes, token: str, now: float) -> StreamClaims:
    """The claims of a genuine, unexpired token; StreamTokenInvalid otherwise."""
    if not token or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 1:
        raise StreamTokenInvalid("This stream link is malformed; ask the district for a new one.")
    payload_text, mac_text = token.split(".")
    try:
        payload, mac = _unb64(payload_text), _unb64(mac_text)
    except (ValueError, UnicodeEncodeError):
        raise StreamTokenInvalid(
            "This stream link is malformed; ask the district for a new one."
        ) from None
    expected = hmac.new(key, payload, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise StreamTokenInvalid("This stream link was not signed by the district.")
    try:
        fields = json.loads(payload)
        if not isinstance(fields, dict) or fields.pop("v", None) != TOKEN_VERSION:
            raise ValueError("unknown token version")
        claims = StreamClaims(**fields)
    except (ValueError, TypeError):
        raise StreamTokenInvalid(
            "This stream link is of a kind this gateway does not know."
        ) from None
    if claims.expires_at <= now:
        raise StreamTokenInvalid(
            "This stream link has expired; open the camera again for a new one."
        )
    if claims.grant_until is not None and claims.grant_until <= now:
        raise StreamTokenInvalid("The grant behind this stream link has ended.")
    return claims
