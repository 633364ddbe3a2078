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
(``sign_in_store.end_all``); the tokens are stored by sign_in_store.py.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

from dispatch_console.domain.models import User
from dispatch_console.domain.session import parse_utc

from . import sign_in_store
from .token_hashes import token_hash

if TYPE_CHECKING:
    from .db import Database

log = logging.getLogger(__name__)

DEFAULT_REMEMBER_DAYS = 7
MAX_REMEMBER_DAYS = 30


@dataclass(frozen=True)
class RememberedToken:
    """A refresh token as handed out once; the database keeps only ``token_hash``."""

    token: str
    family: str
    expires_at: datetime

    @property
    def token_hash(self) -> str:
        return token_hash(self.token)

    @classmethod
    def new(cls, family: str | None, expires_at: datetime) -> RememberedToken:
        return cls(
            token=secrets.token_urlsafe(32),
            family=family or secrets.token_hex(16),
            expires_at=expires_at,
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
    presented_hash = token_hash(presented)
    with db.transaction() as conn:
        row = sign_in_store.refresh_token(conn, presented_hash)
        if row is None:
            return RefreshRefused.UNKNOWN
        family = str(row["family_id"])
        if row["replaced_at"] is not None:
            sign_in_store.end_family(conn, family)
            log.warning("a retired refresh token was presented again: family ended")
            return RefreshRefused.REUSED
        expires_at = parse_utc(str(row["expires_at"]))
        if expires_at <= now:
            sign_in_store.end_family(conn, family)
            return RefreshRefused.EXPIRED
        user = sign_in_store.live_account(conn, str(row["user_id"]), now)
        if user is None:
            return RefreshRefused.ACCOUNT
        sign_in_store.retire_refresh_token(conn, presented_hash, now)
        successor = RememberedToken.new(family, expires_at)
        sign_in_store.insert_refresh_token(
            conn, successor.token_hash, family, user.id, now, expires_at
        )
        session_token = secrets.token_urlsafe(32)
        # A session never outlives the remembered sign-in that made it.
        session_expires = min(now + session_lifetime, expires_at)
        sign_in_store.insert_session_token(
            conn, token_hash(session_token), user.id, now, session_expires, family
        )
    return Refreshed(user, session_token, session_expires, successor)
