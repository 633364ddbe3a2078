"""RFC 6238 time-based one-time passwords: the second factor CJIS requires for police sign-in.

Kept pure (no I/O, no clock of its own) so the district server and tests pass the moment
explicitly, and so the same code could verify codes anywhere. SHA-1, 6 digits and a 30 s
step are what every authenticator app defaults to; anything else would break enrolment.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
from urllib.parse import quote

DIGITS = 6
STEP_SECONDS = 30


def _decode_secret(secret_b32: str) -> bytes:
    """Decode a base32 secret as authenticator apps show it: any case, spaces, no padding."""
    cleaned = secret_b32.replace(" ", "").replace("-", "").upper()
    if not cleaned:
        raise ValueError("the TOTP secret is empty")
    cleaned += "=" * (-len(cleaned) % 8)
    try:
        return base64.b32decode(cleaned, casefold=True)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"the TOTP secret is not valid base32: {exc}") from None


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226 HOTP with SHA-1 and dynamic truncation; TOTP is HOTP over time steps."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    (value,) = struct.unpack(">I", mac[offset : offset + 4])
    return str((value & 0x7FFFFFFF) % (10**digits)).zfill(digits)


def time_step(at: float) -> int:
    """The 30-second step a Unix time falls in (RFC 6238's T)."""
    return int(at // STEP_SECONDS)


def totp(secret_b32: str, at: float) -> str:
    """The 6-digit code for this base32 secret at Unix time ``at``."""
    return hotp(_decode_secret(secret_b32), time_step(at))


def verify_totp(secret_b32: str, code: str, at: float, window: int = 1) -> bool:
    """Whether ``code`` is valid at ``at``, allowing ``window`` steps of clock drift each way.

    Every candidate is compared in constant time and all are compared, so the response
    time does not tell an attacker which step (if any) matched.
    """
    candidate = code.strip().replace(" ", "")
    if len(candidate) != DIGITS or not candidate.isascii() or not candidate.isdigit():
        return False
    try:
        key = _decode_secret(secret_b32)
    except ValueError:
        return False
    step = time_step(at)
    matched = False
    for offset in range(-window, window + 1):
        if step + offset < 0:
            continue
        expected = hotp(key, step + offset)
        if hmac.compare_digest(expected.encode(), candidate.encode()):
            matched = True
    return matched


def new_secret(random_bytes: bytes) -> str:
    """A base32 secret (no padding) from 20 random bytes the caller drew (160 bits, as
    RFC 4226 recommends); kept here so the format has one definition."""
    if len(random_bytes) < 20:
        raise ValueError("a TOTP secret needs at least 20 random bytes")
    return base64.b32encode(random_bytes).decode("ascii").rstrip("=")


def provisioning_uri(secret_b32: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI authenticator apps enrol from (typed in, or as a QR code)."""
    label = quote(f"{issuer}:{account}", safe=":@")
    return (
        f"otpauth://totp/{label}?secret={secret_b32}&issuer={quote(issuer, safe='')}"
        f"&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}"
    )
