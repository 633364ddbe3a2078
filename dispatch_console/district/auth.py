"""Sign-in for district-provisioned accounts: password, second factor, lockout, session tokens.

CJIS asks for multi-factor authentication and for accounts to lock after repeated failed
attempts; the agreement asks that only provisioned police employees get in. So:

* passwords are hashed with scrypt (memory-hard, in the standard library) and a per-user
  random salt, and compared in constant time;
* a TOTP code (RFC 6238) is required on every sign-in;
* five failed sign-ins lock the account for fifteen minutes; the caller is told until when,
  so a dispatcher under stress knows to call the district rather than keep trying;
* a wrong user name, password or code all get the same answer, so the API does not tell an
  attacker which part was right;
* session tokens are random and stored only as their SHA-256 hash, so a copy of the
  database does not let anyone sign in; they last 12 hours (one dispatch shift).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch_console.domain.models import User
from dispatch_console.domain.session import utc_ms
from dispatch_console.domain.totp import verify_totp

from .db import Database

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_LIFETIME = timedelta(hours=12)

SIGN_IN_FAILED = "Sign-in failed: wrong user name, password or one-time code."

# scrypt cost: 2**14 x 8 x 1 uses 16 MiB and ~50 ms per check; slow for guessing, fine
# for a person signing in.
_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1
_SCRYPT_LEN = 32
_SALT_LEN = 16

# Hashed once so that unknown user names cost the same time as known ones.
_DUMMY_SALT = b"\x00" * _SALT_LEN


def hash_password(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    """Return (hash, salt) for a password; a fresh random salt unless one is given."""
    salt = secrets.token_bytes(_SALT_LEN) if salt is None else salt
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=_SCRYPT_N,
        r=_SCRYPT_R,
        p=_SCRYPT_P,
        dklen=_SCRYPT_LEN,
    )
    return digest, salt


def verify_password(password: str, password_hash: bytes, salt: bytes) -> bool:
    """Constant-time comparison of a password against its stored scrypt hash."""
    candidate, _ = hash_password(password, salt)
    return hmac.compare_digest(candidate, password_hash)


def token_hash(token: str) -> str:
    """What the database keeps instead of the token itself."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SignInFailed(Exception):
    """Wrong user name, password or one-time code (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__(SIGN_IN_FAILED)


class AccountLocked(Exception):
    """Too many failed sign-ins; carries the moment the lock lifts."""

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(
            f"This account is locked after {MAX_FAILED_SIGN_INS} failed sign-ins "
            f"until {utc_ms(until)} (UTC). Try again then, or ask the district to unlock it."
        )


@dataclass(frozen=True)
class SignIn:
    token: str
    expires_at: datetime
    user: User


def create_user(db: Database, user: User, password: str, totp_secret: str, now: datetime) -> bool:
    """Provision an account (the district does this, never the police); False if it exists."""
    digest, salt = hash_password(password)
    return db.insert_user(
        user=user, password_hash=digest, password_salt=salt, totp_secret=totp_secret, now=now
    )


def sign_in(db: Database, username: str, password: str, otp: str, now: datetime) -> SignIn:
    """Check all three factors and hand out a session token, or raise why not."""
    record = db.user_record(username.strip())
    if record is None:
        hash_password(password, _DUMMY_SALT)  # same cost as a real check
        raise SignInFailed()
    if record.locked_until is not None and now < record.locked_until:
        raise AccountLocked(record.locked_until)
    password_ok = verify_password(password, record.password_hash, record.password_salt)
    otp_ok = verify_totp(record.totp_secret, otp, now.timestamp())
    if not (password_ok and otp_ok):
        failures = record.failed_sign_ins + 1
        if failures >= MAX_FAILED_SIGN_INS:
            until = now + LOCKOUT
            # Counting starts afresh once the lock lifts.
            db.set_sign_in_state(record.user.id, 0, until)
            raise AccountLocked(until)
        db.set_sign_in_state(record.user.id, failures, None)
        raise SignInFailed()
    if record.failed_sign_ins or record.locked_until is not None:
        db.set_sign_in_state(record.user.id, 0, None)
    token = secrets.token_urlsafe(32)
    expires_at = now + TOKEN_LIFETIME
    db.insert_token(token_hash(token), record.user.id, now, expires_at)
    return SignIn(token=token, expires_at=expires_at, user=record.user)


def user_for_token(db: Database, token: str, now: datetime) -> User | None:
    """The signed-in user a bearer token belongs to, if it is known and not expired."""
    if not token:
        return None
    return db.token_user(token_hash(token), now)


def sign_out(db: Database, token: str) -> None:
    db.delete_token(token_hash(token))
