"""Remembered sign-ins: rotating refresh tokens, so a workstation need not ask for the
password and one-time code at every start.

A district may allow it (``serve --remember-days``; 0 turns it off). A remembered sign-in
is a *family* of refresh tokens with one absolute expiry, set at the full sign-in: a
refresh never extends it, so the password and second factor are asked again at least
every so many days. Each refresh hands out a new session token and a new refresh token
and retires the one presented. A retired token presented again means two holders (a
copied keyring, a stolen backup): the whole family ends, with the sign-ins it made, and
the real user is asked for a full sign-in. Tokens are kept as SHA-256 hashes only, like
session tokens. Sign-out, lockout, disabling and a reset second factor end the family
(``Database._end_sign_ins``).
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from dispatch_console.domain.models import User
from dispatch_console.domain.session import parse_utc, utc_ms

from .storage import Connection

if TYPE_CHECKING:
    from .db import Database

log = logging.getLogger(__name__)

DEFAULT_REMEMBER_DAYS = 7
MAX_REMEMBER_DAYS = 30


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RememberedToken:
    """A refresh token as handed out once; the database keeps only ``token_hash``."""

    token: str
    family: str
    expires_at: datetime

    @property
    def token_hash(self) -> str:
        return _hash(self.token)

    @classmethod
    def new(cls, family: str | None, expires_at: datetime) -> RememberedToken:
        return cls(
            token=secrets.token_urlsafe(32),
            family=family or secrets.token_hex(16),
            expires_at=expires_at,
        )


def insert_refresh_token(
    conn: Connection, remembered: RememberedToken, user_id: str, now: datetime
) -> None:
    conn.execute(
        "INSERT INTO refresh_tokens(token_hash, family_id, user_id, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (
            remembered.token_hash,
            remembered.family,
            user_id,
            utc_ms(now),
            utc_ms(remembered.expires_at),
        ),
    )


class RefreshRefused(Enum):
    """Why a refresh token signed nobody in (the client tells the user which)."""

    UNKNOWN = "This remembered sign-in is not known to the district (it ended or was never made)."
    EXPIRED = "This remembered sign-in has expired."
    REUSED = (
        "This remembered sign-in was used from two places, so the district ended it: "
        "if you did not copy it, tell IT."
    )
    ACCOUNT = "This account is locked or disabled."


@dataclass(frozen=True)
class Refreshed:
    user: User
    session_token: str
    session_expires_at: datetime
    remembered: RememberedToken


def refresh(
    db: Database, presented: str, now: datetime, session_lifetime: timedelta
) -> Refreshed | RefreshRefused:
    """Trade a refresh token for a new session and a new refresh token, all or nothing."""
    stamp = utc_ms(now)
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT family_id, user_id, expires_at, replaced_at FROM refresh_tokens"
            " WHERE token_hash = ?",
            (_hash(presented),),
        ).fetchone()
        if row is None:
            return RefreshRefused.UNKNOWN
        family = str(row["family_id"])
        if row["replaced_at"] is not None:
            _end_family(conn, family)
            log.warning("a retired refresh token was presented again: family ended")
            return RefreshRefused.REUSED
        expires_at = parse_utc(str(row["expires_at"]))
        if expires_at <= now:
            _end_family(conn, family)
            return RefreshRefused.EXPIRED
        user_row = conn.execute(
            "SELECT * FROM users WHERE id = ? AND disabled_at IS NULL"
            " AND (locked_until IS NULL OR locked_until <= ?)",
            (row["user_id"], stamp),
        ).fetchone()
        if user_row is None:
            return RefreshRefused.ACCOUNT
        conn.execute(
            "UPDATE refresh_tokens SET replaced_at = ? WHERE token_hash = ?",
            (stamp, _hash(presented)),
        )
        successor = RememberedToken.new(family, expires_at)
        insert_refresh_token(conn, successor, str(row["user_id"]), now)
        session_token = secrets.token_urlsafe(32)
        # A session never outlives the remembered sign-in that made it.
        session_expires = min(now + session_lifetime, expires_at)
        conn.execute(
            "INSERT INTO auth_tokens(token_hash, user_id, created_at, expires_at,"
            " refresh_family) VALUES (?, ?, ?, ?, ?)",
            (_hash(session_token), row["user_id"], stamp, utc_ms(session_expires), family),
        )
    user = db.user_by_id(str(row["user_id"]))
    assert user is not None  # read inside the transaction above; users are never deleted
    return Refreshed(user, session_token, session_expires, successor)


def _end_family(conn: Connection, family: str) -> None:
    conn.execute("DELETE FROM auth_tokens WHERE refresh_family = ?", (family,))
    conn.execute("DELETE FROM refresh_tokens WHERE family_id = ?", (family,))


def forget(db: Database, session_token_hash: str) -> bool:
    """End the remembered sign-in that made (or was made with) this session; True if any."""
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT refresh_family FROM auth_tokens WHERE token_hash = ?", (session_token_hash,)
        ).fetchone()
        if row is None or row["refresh_family"] is None:
            return False
        conn.execute(
            "DELETE FROM refresh_tokens WHERE family_id = ?", (str(row["refresh_family"]),)
        )
        return True


def live_families(db: Database, user_id: str, now: datetime) -> int:
    """How many remembered sign-ins this account has (the district's account list)."""
    rows = db.query(
        "SELECT COUNT(DISTINCT family_id) AS n FROM refresh_tokens"
        " WHERE user_id = ? AND replaced_at IS NULL AND expires_at > ?",
        (user_id, utc_ms(now)),
    )
    return int(rows[0]["n"]) if rows else 0
