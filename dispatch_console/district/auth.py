"""Sign-in for district-provisioned accounts: password, second factor, lockout, session tokens.

CJIS asks for multi-factor authentication and for accounts to lock after repeated failed
attempts; the agreement asks that only provisioned police employees get in. So:

* passwords are hashed with scrypt (memory-hard, in the standard library) and a per-user
  random salt, and compared in constant time;
* a TOTP code (RFC 6238) is required on every sign-in;
* a TOTP code signs in once: the last accepted time step is stored per user, and that step
  or any earlier one is refused afterwards (RFC 6238 section 5.2);
* five failed sign-ins in a row lock the account for fifteen minutes; the count is one
  atomic database update, so parallel guesses lock it as surely as sequential ones. The
  caller is told until when and why, so a dispatcher under stress knows to call the
  district (whose approvers can unlock at once) rather than keep trying;
* a wrong user name, password or code all get the same answer, and a name with no account
  "locks" after five failures exactly like a real one, so the API does not tell an
  attacker which part was right, nor which names exist;
* anyone could lock any account by guessing, so failed sign-ins are also limited per
  client address (``AddressThrottle``): past the limit the address gets 429 and its
  guesses stop counting against accounts;
* session tokens are random and stored only as their SHA-256 hash, so a copy of the
  database does not let anyone sign in; they last 12 hours (one dispatch shift), and end
  at once on sign-out, lockout or when the account is disabled.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch_console.domain.models import User
from dispatch_console.domain.session import utc_ms
from dispatch_console.domain.totp import STEP_SECONDS, time_step, totp

from . import account_store, sign_in_store
from .db import Database
from .remembered import RememberedToken
from .token_hashes import token_hash

MAX_FAILED_SIGN_INS = 5
LOCKOUT = timedelta(minutes=15)
TOKEN_LIFETIME = timedelta(hours=12)
# Failed sign-ins one client address may make in ADDRESS_WINDOW. A dispatch centre's
# workstations may share one address behind NAT, so this is well above what typing errors
# produce, and low enough that one address cannot lock more than a handful of accounts.
ADDRESS_FAILURES = 20
ADDRESS_WINDOW = timedelta(minutes=10)
TOTP_WINDOW = 1  # steps of clock drift accepted each way

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


class SignInFailed(Exception):
    """Wrong user name, password or one-time code (deliberately not saying which)."""

    def __init__(self) -> None:
        super().__init__(SIGN_IN_FAILED)


class AccountLocked(Exception):
    """Too many failed sign-ins; carries the moment the lock lifts.

    The same words for every locked name, existing or not, so they tell nobody which
    accounts exist, and they tell the owner why: the failures may not have been theirs.
    """

    def __init__(self, until: datetime) -> None:
        self.until = until
        super().__init__(
            f"This account is locked after {MAX_FAILED_SIGN_INS} failed sign-ins in a row "
            f"until {utc_ms(until)} (UTC). If those attempts were not yours, someone may be "
            "guessing your password: call the district's safety office, which can unlock "
            "the account at once; otherwise try again after that time."
        )


class TooManyAttempts(Exception):
    """This client address failed too often; carries how many seconds to wait."""

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"Too many failed sign-ins from this address; try again in {retry_after_s} "
            "seconds. If a whole dispatch centre is affected, call the district."
        )


class AddressThrottle:
    """Counts failed sign-ins per client address over a sliding window (in memory).

    ``reserve`` counts an attempt as failed before it is checked, so a burst of parallel
    guesses is limited as surely as a sequence; a successful sign-in gives its place back.
    Kept in memory on purpose: it guards against bursts, and the account lockout (stored)
    is what CJIS asks for.
    """

    def __init__(
        self,
        limit: int = ADDRESS_FAILURES,
        window: timedelta = ADDRESS_WINDOW,
        max_addresses: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def reserve(self, address: str, now: datetime) -> datetime:
        """Count an attempt; raises TooManyAttempts past the limit. Returns its stamp."""
        with self._lock:
            horizon = now - self.window
            stamps = [t for t in self._failures.get(address, []) if t > horizon]
            if len(stamps) >= self.limit:
                self._failures[address] = stamps
                wait = (stamps[0] + self.window - now).total_seconds()
                raise TooManyAttempts(max(1, math.ceil(wait)))
            stamps.append(now)
            self._failures[address] = stamps
            if len(self._failures) > self.max_addresses:
                self._forget_quiet_addresses(horizon)
            return now

    def release(self, address: str, stamp: datetime) -> None:
        """The attempt succeeded: it was not a failure after all."""
        with self._lock:
            stamps = self._failures.get(address)
            if stamps and stamp in stamps:
                stamps.remove(stamp)
                if not stamps:
                    del self._failures[address]

    def _forget_quiet_addresses(self, horizon: datetime) -> None:
        for address in list(self._failures):
            if not any(t > horizon for t in self._failures[address]):
                del self._failures[address]
        while len(self._failures) > self.max_addresses:
            del self._failures[next(iter(self._failures))]


@dataclass(frozen=True)
class SignIn:
    token: str
    expires_at: datetime
    user: User
    # The first refresh token when the user asked to be remembered and the district allows.
    remembered: RememberedToken | None = None


def create_user(db: Database, user: User, password: str, totp_secret: str, now: datetime) -> bool:
    """Provision an account (the district does this, never the police); False if it exists."""
    digest, salt = hash_password(password)
    return account_store.insert_user(
        db, user=user, password_hash=digest, password_salt=salt, totp_secret=totp_secret, now=now
    )


def matched_totp_step(secret_b32: str, code: str, at: float) -> int | None:
    """The time step whose code ``code`` is, within the drift window; None if none.

    Every candidate is computed and compared in constant time, so the answer time does not
    tell which step matched. The step (not just yes or no) is what replay protection needs.
    """
    candidate = code.strip().replace(" ", "")
    if len(candidate) != 6 or not candidate.isascii() or not candidate.isdigit():
        return None
    try:
        step = time_step(at)
        matched: int | None = None
        for offset in range(-TOTP_WINDOW, TOTP_WINDOW + 1):
            if step + offset < 0:
                continue
            expected = totp(secret_b32, (step + offset) * STEP_SECONDS)
            if hmac.compare_digest(expected.encode(), candidate.encode()):
                matched = step + offset
        return matched
    except ValueError:  # a broken stored secret signs nobody in
        return None


def sign_in(
    db: Database,
    username: str,
    password: str,
    otp: str,
    now: datetime,
    *,
    allow_totp_reuse: bool = False,
    remember_for: timedelta | None = None,
) -> SignIn:
    """Check all three factors and hand out a session token, or raise why not.

    ``remember_for``: also start a remembered sign-in lasting that long (remembered.py).

    ``allow_totp_reuse`` exists for the test suite's shared server only, where many tests
    sign the same demo account in within one 30-second step; never in production.
    """
    name = username.strip()
    record = account_store.user_record(db, name)
    if record is None or record.disabled_at is not None:
        # Exactly the path of a real account: same cost, same counting, same lock.
        until = account_store.phantom_locked_until(db, name, now)
        if until is not None:
            raise AccountLocked(until)
        hash_password(password, _DUMMY_SALT)
        until = account_store.record_phantom_failure(db, name, now, MAX_FAILED_SIGN_INS, LOCKOUT)
        if until is not None:
            raise AccountLocked(until)
        raise SignInFailed()
    if record.locked_until is not None and now < record.locked_until:
        raise AccountLocked(record.locked_until)
    password_ok = verify_password(password, record.password_hash, record.password_salt)
    step = matched_totp_step(record.totp_secret, otp, now.timestamp())
    if password_ok and step is not None:
        token = secrets.token_urlsafe(32)
        expires_at = now + TOKEN_LIFETIME
        first_refresh = (
            None if remember_for is None else RememberedToken.new(None, now + remember_for)
        )
        outcome = account_store.accept_sign_in(
            db,
            record.user.id,
            None if allow_totp_reuse else step,
            token_hash(token),
            now,
            expires_at,
            first_refresh,
        )
        if outcome == "ok":
            return SignIn(token, expires_at, record.user, first_refresh)
        # "replayed": a used code is a wrong code, and counts as a failure like one.
    until = account_store.record_failed_sign_in(
        db, record.user.id, now, MAX_FAILED_SIGN_INS, LOCKOUT
    )
    if until is not None:
        raise AccountLocked(until)
    raise SignInFailed()


def user_for_token(db: Database, token: str, now: datetime) -> User | None:
    """The signed-in user a bearer token belongs to, if it is known and not expired."""
    if not token:
        return None
    return sign_in_store.token_user(db, token_hash(token), now)


def sign_out(db: Database, token: str, *, keep_remembered: bool = False) -> None:
    """End this sign-in: the token, its unused tickets, and (via the gateway) its streams.

    The remembered sign-in it belongs to ends too, unless ``keep_remembered`` (a console
    closing at the end of a shift, whose user asked to be remembered).
    """
    if not keep_remembered:
        sign_in_store.forget(db, token_hash(token))
    sign_in_store.delete_token(db, token_hash(token))
