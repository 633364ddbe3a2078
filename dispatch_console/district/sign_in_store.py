"""The sign-in tokens: session tokens (``auth_tokens``) and the refresh tokens of
remembered sign-ins (``refresh_tokens``), kept as hashes only (token_hashes.py).

Every row that lets someone in is written and ended here: a sign-in (account_store's
``accept_sign_in``) and a refresh (remembered.py) insert through the same functions, and
lockout, disabling and a new second factor end them all at once (``end_all``). The
gateway's twice-a-second question, whether the sign-in behind a stream still stands,
is ``token_live``.
"""

from __future__ import annotations

from datetime import datetime

from dispatch_console.domain.models import User
from dispatch_console.domain.session import utc_ms

from . import store_rows
from .db import Database
from .storage import Connection, Row

# The account conditions a sign-in needs, every time it is used: enabled and not locked.
_ACCOUNT_USABLE = (
    "users.disabled_at IS NULL AND (users.locked_until IS NULL OR users.locked_until <= ?)"
)


def insert_session_token(
    conn: Connection,
    token_hash: str,
    user_id: str,
    created_at: datetime,
    expires_at: datetime,
    refresh_family: str | None = None,
) -> None:
    """Store a session token (in the caller's transaction); ``refresh_family`` names the
    remembered sign-in that made it or was made with it, so they end together."""
    conn.execute(
        "INSERT INTO auth_tokens(token_hash, user_id, created_at, expires_at,"
        " refresh_family) VALUES (?, ?, ?, ?, ?)",
        (token_hash, user_id, utc_ms(created_at), utc_ms(expires_at), refresh_family),
    )


def token_user(db: Database, token_hash: str, now: datetime) -> User | None:
    """The user of a live token: not expired, account neither locked nor disabled."""
    stamp = utc_ms(now)
    rows = db.rows(
        "SELECT users.* FROM auth_tokens JOIN users ON users.id = auth_tokens.user_id"
        f" WHERE auth_tokens.token_hash = ? AND auth_tokens.expires_at > ? AND {_ACCOUNT_USABLE}",
        (token_hash, stamp, stamp),
    )
    return store_rows.user(rows[0]) if rows else None


def token_live(db: Database, token_hash: str | None, now: datetime) -> bool:
    """Whether the sign-in behind a ticket still stands (the gateway asks, twice a second)."""
    if token_hash is None:
        return False
    return token_user(db, token_hash, now) is not None


def delete_token(db: Database, token_hash: str) -> None:
    """Sign out: the token ends, and with it every stream it authorised."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (token_hash,))


def end_all(conn: Connection, user_id: str) -> None:
    """Delete a user's tokens (in the caller's transaction): their stream authorisations
    are then denied and cut.

    The authorisations stay: they are how the server finds the streams to cut.
    """
    conn.execute("DELETE FROM auth_tokens WHERE user_id = ?", (user_id,))
    # A remembered sign-in ends too: it must not outlive a lockout or a disabling.
    conn.execute("DELETE FROM refresh_tokens WHERE user_id = ?", (user_id,))


def purge_expired(db: Database, now: datetime) -> None:
    """Forget session and refresh tokens past their expiry."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM auth_tokens WHERE expires_at <= ?", (utc_ms(now),))
        conn.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (utc_ms(now),))


# -- remembered sign-ins (remembered.py says what they are) ------------------------------


def live_account(conn: Connection, user_id: str, now: datetime) -> User | None:
    """The user, if their account may be signed in now (in the caller's transaction)."""
    row = conn.execute(
        f"SELECT * FROM users WHERE id = ? AND {_ACCOUNT_USABLE}", (user_id, utc_ms(now))
    ).fetchone()
    return None if row is None else store_rows.user(row)


def insert_refresh_token(
    conn: Connection,
    token_hash: str,
    family: str,
    user_id: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    conn.execute(
        "INSERT INTO refresh_tokens(token_hash, family_id, user_id, created_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (token_hash, family, user_id, utc_ms(now), utc_ms(expires_at)),
    )


def refresh_token(conn: Connection, token_hash: str) -> Row | None:
    """A refresh token's family, user, expiry and retirement (None: not known)."""
    row: Row | None = conn.execute(
        "SELECT family_id, user_id, expires_at, replaced_at FROM refresh_tokens"
        " WHERE token_hash = ?",
        (token_hash,),
    ).fetchone()
    return row


def retire_refresh_token(conn: Connection, token_hash: str, now: datetime) -> None:
    """Mark a refresh token used: presented again, it ends its whole family."""
    conn.execute(
        "UPDATE refresh_tokens SET replaced_at = ? WHERE token_hash = ?",
        (utc_ms(now), token_hash),
    )


def end_family(conn: Connection, family: str) -> None:
    """End a remembered sign-in: its refresh tokens and the sign-ins it made."""
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
