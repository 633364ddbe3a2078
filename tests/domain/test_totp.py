"""RFC 6238 test vectors (SHA-1 column, truncated to the 6 digits authenticator apps show)."""

from __future__ import annotations

import base64

import pytest

from dispatch_console.domain.totp import hotp, totp, verify_totp

# RFC 6238 appendix B uses the ASCII key "12345678901234567890" for SHA-1.
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()

# (Unix time, 8-digit SHA-1 code from RFC 6238 appendix B)
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("at", "code8"), RFC_VECTORS)
def test_rfc6238_vectors(at: int, code8: str) -> None:
    assert totp(RFC_SECRET, at) == code8[-6:]
    assert hotp(b"12345678901234567890", at // 30, digits=8) == code8


def test_rfc4226_hotp_vectors() -> None:
    expected = ["755224", "287082", "359152", "969429", "338314"]
    assert [hotp(b"12345678901234567890", i) for i in range(5)] == expected


def test_secret_accepts_lowercase_spaces_and_no_padding() -> None:
    spaced = " ".join(RFC_SECRET.lower()[i : i + 4] for i in range(0, 32, 4))
    assert totp(spaced, 59) == "287082"


def test_verify_accepts_one_step_of_drift_only() -> None:
    at = 1234567890.0
    assert verify_totp(RFC_SECRET, totp(RFC_SECRET, at), at)
    assert verify_totp(RFC_SECRET, totp(RFC_SECRET, at - 30), at)
    assert verify_totp(RFC_SECRET, totp(RFC_SECRET, at + 30), at)
    assert not verify_totp(RFC_SECRET, totp(RFC_SECRET, at - 90), at)
    assert not verify_totp(RFC_SECRET, totp(RFC_SECRET, at - 30), at, window=0)


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "２８７０８２"])
def test_verify_rejects_malformed_codes(bad: str) -> None:
    assert not verify_totp(RFC_SECRET, bad, 59)


def test_verify_rejects_bad_secret() -> None:
    assert not verify_totp("not base32!!", "287082", 59)


def test_new_secrets_and_enrolment_uris_work_with_the_code_generator() -> None:
    from dispatch_console.domain.totp import new_secret, provisioning_uri

    secret = new_secret(bytes(range(20)))
    assert len(secret) == 32 and "=" not in secret
    assert len(totp(secret, 0)) == 6
    uri = provisioning_uri(secret, "dana reyes", "Dispatch Console")
    assert uri.startswith("otpauth://totp/Dispatch%20Console:dana%20reyes?secret=")
    assert "&issuer=Dispatch%20Console&" in uri
    with pytest.raises(ValueError, match="20 random bytes"):
        new_secret(b"short")
