"""The accounts: users and their credentials, failed sign-ins and lockouts, the names
with no account (counted alike, so answers do not tell which names exist), and the
district's log of who provisioned, disabled, unlocked or re-enrolled whom.

auth.py decides sign-ins; this is what it reads and writes. Every function is one
transaction, so a count and the lock it leads to, or a disabling and the end of the
account's sign-ins (sign_in_store.end_all), happen together or not at all.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from dispatch_console.domain.models import User
from dispatch_console.domain.session import utc_ms

from . import audit_log, sign_in_store, store_rows
from .db import Database
from .storage import Row
from .store_rows import stamp_or_none, time_or_none

if TYPE_CHECKING:
    from .remembered import RememberedToken


@dataclass(frozen=True)
class UserRecord:
    """A user as stored, credentials included; only auth.py should look at the secrets."""

    user: User
    password_hash: bytes
    password_salt: bytes
    totp_secret: str
    failed_sign_ins: int
    locked_until: datetime | None
    last_totp_step: int | None = None
    disabled_at: datetime | None = None


def _user_record(row: Row) -> UserRecord:
    return UserRecord(
        user=store_rows.user(row),
        password_hash=bytes(row["password_hash"]),
        password_salt=bytes(row["password_salt"]),
        totp_secret=row["totp_secret"],
        failed_sign_ins=int(row["failed_sign_ins"]),
        locked_until=time_or_none(row["locked_until"]),
        last_totp_step=row["last_totp_step"],
        disabled_at=time_or_none(row["disabled_at"]),
    )


def insert_user(
    db: Database,
    *,
    user: User,
    password_hash: bytes,
    password_salt: bytes,
    totp_secret: str,
    now: datetime,
) -> bool:
    """Add a user unless the id or user name exists; says whether it was added."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO users(id, username, display_name, agency, role, schools,"
            " password_hash, password_salt, totp_secret, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                user.id,
                user.username,
                user.display_name,
                user.agency,
                user.role.value,
                json.dumps(sorted(user.schools)),
                password_hash,
                password_salt,
                totp_secret,
                utc_ms(now),
            ),
        )
        return cursor.rowcount == 1


def user_record(db: Database, username: str) -> UserRecord | None:
    rows = db.rows("SELECT * FROM users WHERE username = ?", (username,))
    return _user_record(rows[0]) if rows else None


def user_record_by_id(db: Database, user_id: str) -> UserRecord | None:
    rows = db.rows("SELECT * FROM users WHERE id = ?", (user_id,))
    return _user_record(rows[0]) if rows else None


def user_records(db: Database) -> list[UserRecord]:
    return [_user_record(r) for r in db.rows("SELECT * FROM users ORDER BY username")]


def user_by_id(db: Database, user_id: str) -> User | None:
    rows = db.rows("SELECT * FROM users WHERE id = ?", (user_id,))
    return store_rows.user(rows[0]) if rows else None


def record_failed_sign_in(
    db: Database, user_id: str, now: datetime, max_failures: int, lockout: timedelta
) -> datetime | None:
    """Count one failed sign-in atomically; the lock's end if the account is locked.

    One ``UPDATE ... RETURNING`` inside one write transaction: parallel failures each
    see their own count, so the fifth one locks however many arrive at once. A
    failure that lands while the account is already locked does not count again.
    Locking ends the user's sign-ins, tickets and (through them) open streams.
    """
    stamp = utc_ms(now)
    with db.transaction() as conn:
        row = conn.execute(
            "UPDATE users SET failed_sign_ins = CASE"
            " WHEN locked_until IS NOT NULL AND locked_until > ? THEN failed_sign_ins"
            " ELSE failed_sign_ins + 1 END"
            " WHERE id = ? RETURNING failed_sign_ins, locked_until",
            (stamp, user_id),
        ).fetchone()
        if row is None:
            return None
        locked_until = time_or_none(row["locked_until"])
        if locked_until is not None and locked_until > now:
            return locked_until
        if int(row["failed_sign_ins"]) < max_failures:
            return None
        until = now + lockout
        # Counting starts afresh once the lock lifts.
        conn.execute(
            "UPDATE users SET failed_sign_ins = 0, locked_until = ? WHERE id = ?",
            (utc_ms(until), user_id),
        )
        sign_in_store.end_all(conn, user_id)
        return until


def accept_sign_in(
    db: Database,
    user_id: str,
    totp_step: int | None,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
    remember: RememberedToken | None = None,
) -> str:
    """Record a good sign-in and its token, all or nothing.

    ``remember``: the first refresh token of a remembered sign-in, stored with it.

    Returns "ok", "replayed" (this TOTP step or a later one was already used: RFC 6238
    section 5.2), "locked" (a parallel failure locked the account meanwhile) or
    "refused" (the account was disabled meanwhile).
    ``totp_step`` None skips the replay check (the test suite's shared server only).
    """
    with db.transaction() as conn:
        row = conn.execute(
            "SELECT locked_until, last_totp_step, disabled_at FROM users WHERE id = ?",
            (user_id,),
        ).fetchone()
        if row is None or row["disabled_at"] is not None:
            return "refused"
        locked_until = time_or_none(row["locked_until"])
        if locked_until is not None and locked_until > now:
            return "locked"
        last = row["last_totp_step"]
        if totp_step is not None and last is not None and totp_step <= int(last):
            return "replayed"
        step = totp_step if totp_step is not None else last
        conn.execute(
            "UPDATE users SET failed_sign_ins = 0, locked_until = NULL, last_totp_step = ?"
            " WHERE id = ?",
            (step, user_id),
        )
        family = remember.family if remember is not None else None
        sign_in_store.insert_session_token(conn, token_hash, user_id, now, expires_at, family)
        if remember is not None:
            sign_in_store.insert_refresh_token(
                conn, remember.token_hash, remember.family, user_id, now, remember.expires_at
            )
        return "ok"


def phantom_locked_until(db: Database, username: str, now: datetime) -> datetime | None:
    rows = db.rows(
        "SELECT locked_until FROM sign_in_phantoms WHERE username = ? AND locked_until > ?",
        (username, utc_ms(now)),
    )
    return time_or_none(rows[0]["locked_until"]) if rows else None


def record_phantom_failure(
    db: Database,
    username: str,
    now: datetime,
    max_failures: int,
    lockout: timedelta,
    keep: int = 10_000,
) -> datetime | None:
    """Count a failed sign-in for a name with no (enabled) account, like a real one.

    At most ``keep`` names are remembered (the least recently failed go first), so a
    flood of invented names cannot fill the disk.
    """
    stamp = utc_ms(now)
    with db.transaction() as conn:
        row = conn.execute(
            "INSERT INTO sign_in_phantoms(username, failed_sign_ins, last_failed_at)"
            " VALUES (?, 1, ?) ON CONFLICT(username) DO UPDATE SET"
            # Qualified: PostgreSQL finds a bare name ambiguous beside ``excluded``.
            " failed_sign_ins = CASE WHEN sign_in_phantoms.locked_until IS NOT NULL"
            " AND sign_in_phantoms.locked_until > ?"
            " THEN sign_in_phantoms.failed_sign_ins"
            " ELSE sign_in_phantoms.failed_sign_ins + 1 END,"
            " last_failed_at = excluded.last_failed_at"
            " RETURNING failed_sign_ins, locked_until",
            (username, stamp, stamp),
        ).fetchone()
        locked_until = time_or_none(row["locked_until"])
        result: datetime | None = None
        if locked_until is not None and locked_until > now:
            result = locked_until
        elif int(row["failed_sign_ins"]) >= max_failures:
            result = now + lockout
            conn.execute(
                "UPDATE sign_in_phantoms SET failed_sign_ins = 0, locked_until = ?"
                " WHERE username = ?",
                (utc_ms(result), username),
            )
        conn.execute(
            "DELETE FROM sign_in_phantoms WHERE username NOT IN (SELECT username FROM"
            " sign_in_phantoms ORDER BY last_failed_at DESC LIMIT ?)",
            (keep,),
        )
        return result


def unlock_user(db: Database, user_id: str) -> bool:
    """Lift a lockout now (a district approver's decision); False if no such user."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = ?",
            (user_id,),
        )
        return cursor.rowcount == 1


def set_disabled(db: Database, user_id: str, disabled_at: datetime | None) -> bool:
    """Disable (ending every sign-in) or enable an account; False if no such user."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "UPDATE users SET disabled_at = ? WHERE id = ?",
            (stamp_or_none(disabled_at), user_id),
        )
        if cursor.rowcount != 1:
            return False
        if disabled_at is not None:
            sign_in_store.end_all(conn, user_id)
        return True


def set_totp_secret(db: Database, user_id: str, secret_b32: str) -> bool:
    """Re-enrol the second factor; ends every sign-in made with the old one."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "UPDATE users SET totp_secret = ?, last_totp_step = NULL WHERE id = ?",
            (secret_b32, user_id),
        )
        if cursor.rowcount != 1:
            return False
        sign_in_store.end_all(conn, user_id)
        return True


def record_admin_action(
    db: Database, at: datetime, actor: str, action: str, subject: str, detail: str = ""
) -> None:
    """Log a district action on accounts or grants, in the admin log and the audit chain."""
    with db.transaction() as conn:
        conn.execute(
            "INSERT INTO admin_actions(at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
            (utc_ms(at), actor, action, subject, detail),
        )
        audit_log.append(conn, at, f"admin.{action}", subject, {"actor": actor, "detail": detail})


def admin_actions(db: Database, limit: int = 200) -> list[dict[str, Any]]:
    return db.query(
        "SELECT at, actor, action, subject, detail FROM admin_actions ORDER BY id DESC LIMIT ?",
        (limit,),
    )
