"""Storage for the reference district server: accounts, access decisions and the audit.

SQLite by default: the reference server must start on loopback with no setup for the demo
and the tests. WAL mode lets readers (the gateway's twice-a-second checks) proceed while a
writer commits. A ``postgresql://`` URL instead of a path runs the same SQL on PostgreSQL
(storage.py says how, and why hand-written SQL rather than SQLAlchemy), where several
server processes can share one database. One connection is shared behind a lock: the
server's handlers run in a thread pool, and serialising the (microsecond) statements is
simpler and safer than a connection per thread.

Times are stored as ISO 8601 UTC strings with millisecond precision and a "Z"
(``dispatch_console.domain.session.utc_ms``): the audit trail's one format, and one that
sorts correctly as text.

The audit store runs with ``synchronous=FULL``: the console deletes its copy of an audit
record as soon as this server acknowledges it, so an acknowledged record must survive a
power cut here. WAL with NORMAL could lose the last transactions on power loss.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from dispatch_console.domain.emergency_location import decode_location, encode_location
from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.session import parse_utc, utc_ms

from . import audit_log, migrations, storage
from .remembered import RememberedToken, insert_refresh_token
from .storage import Connection, Row

T = TypeVar("T")


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


@dataclass(frozen=True)
class Ticket:
    """The server's record of a stream link it signed for a viewing session.

    ``token_hash`` names the sign-in that asked for it: when that sign-in ends (sign-out,
    lock, disable, expiry) the server tells the gateways to cut the stream.
    """

    user_id: str
    camera_id: str
    session_id: str
    expires_at: datetime
    token_hash: str | None = None


@dataclass(frozen=True)
class SchoolHold:
    """A school whose grant was revoked: new grants there wait for a district approver."""

    school_id: str
    grant_id: str
    held_at: datetime
    held_by: str


@dataclass(frozen=True)
class StoredEvent:
    id: int
    at: str
    kind: str
    audience: str
    subject: str
    data: dict[str, Any]


class AuditStartRefused(Exception):
    """The start may not be stored now (a rate or quota limit); carries the reason."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def _dt(value: str | None) -> datetime | None:
    return None if value is None else parse_utc(value)


def _ms(value: datetime | None) -> str | None:
    return None if value is None else utc_ms(value)


class Database:
    """One database, one connection, one lock; every public method is one transaction."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        """Open (creating if need be) the database at ``path``: a file, or a PostgreSQL URL.

        A new database gets the latest schema. An older one is migrated only with
        ``migrate`` (the test suite's and the demo's default; ``district serve`` asks for
        ``--migrate``); otherwise, and for a database a newer server wrote, SchemaError.
        """
        self.path = str(path)
        self.postgres = storage.is_postgres(self.path)
        if not self.postgres and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn: Connection = storage.connect(self.path)
        if not self.postgres:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            try:
                migrations.check(self._conn, storage.describe(self.path), migrate=migrate)
                migrations.apply(self._conn, migrations.pending(self._conn))
            except BaseException:
                self._conn.close()
                raise

    def synchronous(self) -> int:
        """SQLite's synchronous level (2 = FULL): what an acknowledgement is worth.

        PostgreSQL answers in the same terms: 2 when a commit waits for its WAL to reach
        the disk (``fsync`` and ``synchronous_commit`` on), 0 when a crash can lose it.
        """
        with self._lock:
            if self.postgres:
                fsync = self._conn.execute("SHOW fsync").fetchone()[0]
                commit = self._conn.execute("SHOW synchronous_commit").fetchone()[0]
                return 2 if fsync == "on" and commit != "off" else 0
            return int(self._conn.execute("PRAGMA synchronous").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Hold the lock and the engine's single-writer transaction; roll back on any error.

        SQLite's BEGIN IMMEDIATE, or PostgreSQL's advisory write lock (storage.py): no
        other writer, in this process or another, runs beside it.
        """
        with self._lock:
            self._conn.ensure_open()
            self._conn.begin()
            try:
                yield self._conn
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            self._conn.ensure_open()
            return list(self._conn.execute(sql, params).fetchall())

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run a long read (verification, a report) on its own connection and snapshot.

        WAL (or PostgreSQL's MVCC) lets it read while the server goes on writing; holding
        the main connection's lock for the seconds a 100,000-record verification takes
        would stall every desk.
        """
        if self.path == ":memory:":
            with self._lock:
                return work(self._conn)
        conn = storage.open_snapshot(self.path)
        try:
            return work(conn)
        finally:
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows as dicts, for the stores that live beside this one (audit_store)."""
        return [dict(r) for r in self._query(sql, params)]

    # -- users --------------------------------------------------------------------------

    @staticmethod
    def _user(row: Row) -> User:
        return User(
            id=row["id"],
            username=row["username"],
            display_name=row["display_name"],
            agency=row["agency"],
            role=Role(row["role"]),
            schools=frozenset(json.loads(row["schools"])),
        )

    def insert_user(
        self,
        *,
        user: User,
        password_hash: bytes,
        password_salt: bytes,
        totp_secret: str,
        now: datetime,
    ) -> bool:
        """Add a user unless the id or user name exists; says whether it was added."""
        with self.transaction() as conn:
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

    @staticmethod
    def _user_record(row: Row) -> UserRecord:
        return UserRecord(
            user=Database._user(row),
            password_hash=bytes(row["password_hash"]),
            password_salt=bytes(row["password_salt"]),
            totp_secret=row["totp_secret"],
            failed_sign_ins=int(row["failed_sign_ins"]),
            locked_until=_dt(row["locked_until"]),
            last_totp_step=row["last_totp_step"],
            disabled_at=_dt(row["disabled_at"]),
        )

    def user_record(self, username: str) -> UserRecord | None:
        rows = self._query("SELECT * FROM users WHERE username = ?", (username,))
        return self._user_record(rows[0]) if rows else None

    def user_record_by_id(self, user_id: str) -> UserRecord | None:
        rows = self._query("SELECT * FROM users WHERE id = ?", (user_id,))
        return self._user_record(rows[0]) if rows else None

    def user_records(self) -> list[UserRecord]:
        return [self._user_record(r) for r in self._query("SELECT * FROM users ORDER BY username")]

    def user_by_id(self, user_id: str) -> User | None:
        rows = self._query("SELECT * FROM users WHERE id = ?", (user_id,))
        return self._user(rows[0]) if rows else None

    @staticmethod
    def _end_sign_ins(conn: Connection, user_id: str) -> None:
        """Delete a user's tokens: their stream authorisations are then denied and cut.

        The authorisations stay: they are how the server finds the streams to cut.
        """
        conn.execute("DELETE FROM auth_tokens WHERE user_id = ?", (user_id,))
        # A remembered sign-in ends too: it must not outlive a lockout or a disabling.
        conn.execute("DELETE FROM refresh_tokens WHERE user_id = ?", (user_id,))

    def record_failed_sign_in(
        self, user_id: str, now: datetime, max_failures: int, lockout: timedelta
    ) -> datetime | None:
        """Count one failed sign-in atomically; the lock's end if the account is locked.

        One ``UPDATE ... RETURNING`` inside one write transaction: parallel failures each
        see their own count, so the fifth one locks however many arrive at once. A
        failure that lands while the account is already locked does not count again.
        Locking ends the user's sign-ins, tickets and (through them) open streams.
        """
        stamp = utc_ms(now)
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE users SET failed_sign_ins = CASE"
                " WHEN locked_until IS NOT NULL AND locked_until > ? THEN failed_sign_ins"
                " ELSE failed_sign_ins + 1 END"
                " WHERE id = ? RETURNING failed_sign_ins, locked_until",
                (stamp, user_id),
            ).fetchone()
            if row is None:
                return None
            locked_until = _dt(row["locked_until"])
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
            self._end_sign_ins(conn, user_id)
            return until

    def accept_sign_in(
        self,
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
        stamp = utc_ms(now)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT locked_until, last_totp_step, disabled_at FROM users WHERE id = ?",
                (user_id,),
            ).fetchone()
            if row is None or row["disabled_at"] is not None:
                return "refused"
            locked_until = _dt(row["locked_until"])
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
            conn.execute(
                "INSERT INTO auth_tokens(token_hash, user_id, created_at, expires_at,"
                " refresh_family) VALUES (?, ?, ?, ?, ?)",
                (token_hash, user_id, stamp, utc_ms(expires_at), remember and remember.family),
            )
            if remember is not None:
                insert_refresh_token(conn, remember, user_id, now)
            return "ok"

    def phantom_locked_until(self, username: str, now: datetime) -> datetime | None:
        rows = self._query(
            "SELECT locked_until FROM sign_in_phantoms WHERE username = ? AND locked_until > ?",
            (username, utc_ms(now)),
        )
        return _dt(rows[0]["locked_until"]) if rows else None

    def record_phantom_failure(
        self,
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
        with self.transaction() as conn:
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
            locked_until = _dt(row["locked_until"])
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

    def unlock_user(self, user_id: str) -> bool:
        """Lift a lockout now (a district approver's decision); False if no such user."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE users SET failed_sign_ins = 0, locked_until = NULL WHERE id = ?",
                (user_id,),
            )
            return cursor.rowcount == 1

    def set_disabled(self, user_id: str, disabled_at: datetime | None) -> bool:
        """Disable (ending every sign-in) or enable an account; False if no such user."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE users SET disabled_at = ? WHERE id = ?", (_ms(disabled_at), user_id)
            )
            if cursor.rowcount != 1:
                return False
            if disabled_at is not None:
                self._end_sign_ins(conn, user_id)
            return True

    def set_totp_secret(self, user_id: str, secret_b32: str) -> bool:
        """Re-enrol the second factor; ends every sign-in made with the old one."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE users SET totp_secret = ?, last_totp_step = NULL WHERE id = ?",
                (secret_b32, user_id),
            )
            if cursor.rowcount != 1:
                return False
            self._end_sign_ins(conn, user_id)
            return True

    def record_admin_action(
        self, at: datetime, actor: str, action: str, subject: str, detail: str = ""
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO admin_actions(at, actor, action, subject, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                (utc_ms(at), actor, action, subject, detail),
            )
            audit_log.append(
                conn, at, f"admin.{action}", subject, {"actor": actor, "detail": detail}
            )

    def admin_actions(self, limit: int = 200) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT at, actor, action, subject, detail FROM admin_actions ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [dict(r) for r in rows]

    # -- sign-in tokens -----------------------------------------------------------------

    def insert_token(
        self, token_hash: str, user_id: str, created_at: datetime, expires_at: datetime
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO auth_tokens(token_hash, user_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_hash, user_id, utc_ms(created_at), utc_ms(expires_at)),
            )

    def token_user(self, token_hash: str, now: datetime) -> User | None:
        """The user of a live token: not expired, account neither locked nor disabled."""
        stamp = utc_ms(now)
        rows = self._query(
            "SELECT users.* FROM auth_tokens JOIN users ON users.id = auth_tokens.user_id"
            " WHERE auth_tokens.token_hash = ? AND auth_tokens.expires_at > ?"
            " AND users.disabled_at IS NULL"
            " AND (users.locked_until IS NULL OR users.locked_until <= ?)",
            (token_hash, stamp, stamp),
        )
        return self._user(rows[0]) if rows else None

    def token_live(self, token_hash: str | None, now: datetime) -> bool:
        """Whether the sign-in behind a ticket still stands (the gateway asks, twice a second)."""
        if token_hash is None:
            return False
        return self.token_user(token_hash, now) is not None

    def delete_token(self, token_hash: str) -> None:
        """Sign out: the token ends, and with it every stream it authorised."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (token_hash,))

    def purge_expired_tokens(self, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM auth_tokens WHERE expires_at <= ?", (utc_ms(now),))
            conn.execute("DELETE FROM refresh_tokens WHERE expires_at <= ?", (utc_ms(now),))
            # Authorisations of sessions that ended a day ago can no longer matter.
            conn.execute(
                "DELETE FROM stream_tickets WHERE session_id IN (SELECT session_id FROM"
                " audit_sessions WHERE ended_at IS NOT NULL AND ended_at < ?)",
                (utc_ms(now - timedelta(days=1)),),
            )

    # -- emergencies, requests, grants --------------------------------------------------

    @staticmethod
    def _emergency(row: Row) -> Emergency:
        return Emergency(
            id=row["id"],
            school_id=row["school_id"],
            type=EmergencyType(row["type"]),
            threat_basis=row["threat_basis"],
            declared_by=row["declared_by"],
            declared_at=parse_utc(row["declared_at"]),
            ended_at=_dt(row["ended_at"]),
            location=decode_location(row["location"]),
        )

    @staticmethod
    def _grant(row: Row) -> Grant:
        return Grant(
            id=row["id"],
            emergency_id=row["emergency_id"],
            school_id=row["school_id"],
            agency=row["agency"],
            granted_at=parse_utc(row["granted_at"]),
            expires_at=parse_utc(row["expires_at"]),
            approved_by=row["approved_by"],
            break_glass=bool(row["break_glass"]),
            needs_review=bool(row["needs_review"]),
            revoked_at=_dt(row["revoked_at"]),
            buildings=tuple(json.loads(row["buildings"] or "[]")),
            cameras=tuple(json.loads(row["cameras"] or "[]")),
            reviewed_by=row["reviewed_by"],
            reviewed_at=_dt(row["reviewed_at"]),
            review_note=row["review_note"],
        )

    @staticmethod
    def _request(row: Row) -> AccessRequest:
        return AccessRequest(
            id=row["id"],
            emergency_id=row["emergency_id"],
            school_id=row["school_id"],
            agency=row["agency"],
            requested_by=row["requested_by"],
            requested_at=parse_utc(row["requested_at"]),
            status=row["status"],
            decided_by=row["decided_by"],
            decided_at=_dt(row["decided_at"]),
            decision_note=row["decision_note"] or "",
        )

    @staticmethod
    def _write_grant(conn: Connection, grant: Grant) -> None:
        conn.execute(
            "INSERT INTO grants(id, emergency_id, school_id, agency, granted_at,"
            " expires_at, approved_by, break_glass, needs_review, revoked_at, buildings,"
            " cameras, reviewed_by, reviewed_at, review_note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET emergency_id = excluded.emergency_id,"
            " school_id = excluded.school_id, agency = excluded.agency,"
            " granted_at = excluded.granted_at, expires_at = excluded.expires_at,"
            " approved_by = excluded.approved_by, break_glass = excluded.break_glass,"
            " needs_review = excluded.needs_review, revoked_at = excluded.revoked_at,"
            " buildings = excluded.buildings, cameras = excluded.cameras,"
            " reviewed_by = excluded.reviewed_by, reviewed_at = excluded.reviewed_at,"
            " review_note = excluded.review_note",
            (
                grant.id,
                grant.emergency_id,
                grant.school_id,
                grant.agency,
                utc_ms(grant.granted_at),
                utc_ms(grant.expires_at),
                grant.approved_by,
                int(grant.break_glass),
                int(grant.needs_review),
                _ms(grant.revoked_at),
                json.dumps(list(grant.buildings)),
                json.dumps(list(grant.cameras)),
                grant.reviewed_by,
                _ms(grant.reviewed_at),
                grant.review_note,
            ),
        )

    def insert_emergency(
        self, emergency: Emergency, grant: Grant | None, request: AccessRequest | None
    ) -> None:
        """Store a declaration together with its grant or request, all or nothing."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO emergencies(id, school_id, type, threat_basis, declared_by,"
                " declared_at, ended_at, location) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    emergency.id,
                    emergency.school_id,
                    emergency.type.value,
                    emergency.threat_basis,
                    emergency.declared_by,
                    utc_ms(emergency.declared_at),
                    _ms(emergency.ended_at),
                    encode_location(emergency.location),
                ),
            )
            if grant is not None:
                self._write_grant(conn, grant)
            if request is not None:
                conn.execute(
                    "INSERT INTO access_requests(id, emergency_id, school_id, agency,"
                    " requested_by, requested_at, status) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        request.id,
                        request.emergency_id,
                        request.school_id,
                        request.agency,
                        request.requested_by,
                        utc_ms(request.requested_at),
                        request.status,
                    ),
                )

    def emergency(self, emergency_id: str) -> Emergency | None:
        rows = self._query("SELECT * FROM emergencies WHERE id = ?", (emergency_id,))
        return self._emergency(rows[0]) if rows else None

    def open_emergencies(self, school_id: str | None = None) -> list[Emergency]:
        """Emergencies not ended (callers still ask ``is_active(now)``, the domain's rule)."""
        sql = "SELECT * FROM emergencies WHERE ended_at IS NULL"
        params: tuple[str, ...] = ()
        if school_id is not None:
            sql += " AND school_id = ?"
            params = (school_id,)
        return [self._emergency(r) for r in self._query(sql + " ORDER BY declared_at", params)]

    def end_emergency(self, emergency_id: str, now: datetime) -> Emergency | None:
        """End an emergency, its grants and its pending requests; ending twice keeps the first."""
        with self.transaction() as conn:
            rows = conn.execute("SELECT * FROM emergencies WHERE id = ?", (emergency_id,))
            row = rows.fetchone()
            if row is None:
                return None
            if row["ended_at"] is None:
                stamp = utc_ms(now)
                conn.execute("UPDATE emergencies SET ended_at = ? WHERE id = ?", (stamp, row["id"]))
                conn.execute(
                    "UPDATE grants SET revoked_at = ?"
                    " WHERE emergency_id = ? AND revoked_at IS NULL AND expires_at > ?",
                    (stamp, row["id"], stamp),
                )
                conn.execute(
                    "UPDATE access_requests SET status = 'cancelled', decided_at = ?"
                    " WHERE emergency_id = ? AND status = 'pending'",
                    (stamp, row["id"]),
                )
            row = conn.execute("SELECT * FROM emergencies WHERE id = ?", (emergency_id,)).fetchone()
            return self._emergency(row)

    def grant(self, grant_id: str) -> Grant | None:
        rows = self._query("SELECT * FROM grants WHERE id = ?", (grant_id,))
        return self._grant(rows[0]) if rows else None

    def unexpired_grants(self, now: datetime, school_id: str | None = None) -> list[Grant]:
        """Grants neither revoked nor expired by ``now`` (the emergency is checked elsewhere)."""
        sql = "SELECT * FROM grants WHERE revoked_at IS NULL AND expires_at > ?"
        params: list[str] = [utc_ms(now)]
        if school_id is not None:
            sql += " AND school_id = ?"
            params.append(school_id)
        return [self._grant(r) for r in self._query(sql + " ORDER BY granted_at", params)]

    def save_grant(self, grant: Grant) -> None:
        with self.transaction() as conn:
            self._write_grant(conn, grant)

    def revoke_grant(self, grant_id: str, now: datetime, by: str) -> Grant | None:
        """Revoke a grant (once) and hold its school for a district approver, together."""
        stamp = utc_ms(now)
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
            if row is None:
                return None
            if row["revoked_at"] is None:
                conn.execute("UPDATE grants SET revoked_at = ? WHERE id = ?", (stamp, grant_id))
                conn.execute(
                    "INSERT INTO school_holds(school_id, grant_id, held_at, held_by)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(school_id) DO UPDATE SET"
                    " grant_id = excluded.grant_id, held_at = excluded.held_at,"
                    " held_by = excluded.held_by, cleared_at = NULL, cleared_by = NULL",
                    (row["school_id"], grant_id, stamp, by),
                )
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
            return self._grant(row)

    @staticmethod
    def _hold(row: Row) -> SchoolHold:
        return SchoolHold(
            school_id=row["school_id"],
            grant_id=row["grant_id"],
            held_at=parse_utc(row["held_at"]),
            held_by=row["held_by"],
        )

    def school_hold(self, school_id: str) -> SchoolHold | None:
        rows = self._query(
            "SELECT * FROM school_holds WHERE school_id = ? AND cleared_at IS NULL", (school_id,)
        )
        return self._hold(rows[0]) if rows else None

    def school_holds(self) -> list[SchoolHold]:
        rows = self._query("SELECT * FROM school_holds WHERE cleared_at IS NULL ORDER BY held_at")
        return [self._hold(r) for r in rows]

    def clear_hold(self, school_id: str, now: datetime, by: str) -> bool:
        """The district lets break-glass grants at this school happen again."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE school_holds SET cleared_at = ?, cleared_by = ?"
                " WHERE school_id = ? AND cleared_at IS NULL",
                (utc_ms(now), by, school_id),
            )
            return cursor.rowcount == 1

    def access_request(self, request_id: str) -> AccessRequest | None:
        rows = self._query("SELECT * FROM access_requests WHERE id = ?", (request_id,))
        return self._request(rows[0]) if rows else None

    def pending_requests(self) -> list[AccessRequest]:
        rows = self._query(
            "SELECT * FROM access_requests WHERE status = 'pending' ORDER BY requested_at"
        )
        return [self._request(r) for r in rows]

    def requests_of_emergencies(self, emergency_ids: Sequence[str]) -> list[AccessRequest]:
        """Every request of these emergencies, pending or decided, oldest first."""
        if not emergency_ids:
            return []
        marks = ",".join("?" * len(emergency_ids))
        rows = self._query(
            f"SELECT * FROM access_requests WHERE emergency_id IN ({marks}) ORDER BY requested_at",
            tuple(emergency_ids),
        )
        return [self._request(r) for r in rows]

    def decide_request(
        self,
        request_id: str,
        status: str,
        decided_by: str,
        now: datetime,
        grant: Grant | None,
        note: str = "",
    ) -> AccessRequest | None:
        """Approve or deny a pending request once; returns None if it was no longer pending."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?,"
                " decision_note = ? WHERE id = ? AND status = 'pending'",
                (status, decided_by, utc_ms(now), note, request_id),
            )
            if cursor.rowcount != 1:
                return None
            if grant is not None:
                self._write_grant(conn, grant)
            row = conn.execute(
                "SELECT * FROM access_requests WHERE id = ?", (request_id,)
            ).fetchone()
            return self._request(row)

    # -- audit ----------------------------------------------------------------------------

    def audit_session(self, session_id: str) -> dict[str, Any] | None:
        rows = self._query("SELECT * FROM audit_sessions WHERE session_id = ?", (session_id,))
        return dict(rows[0]) if rows else None

    def record_audit_start(
        self,
        record: Mapping[str, Any],
        now: datetime,
        *,
        per_minute: int,
        max_open: int,
    ) -> tuple[str, dict[str, Any]]:
        """Store a session start idempotently, under the user's rate and open-session limits.

        ``record`` holds every stored column but the receive time, including
        ``client_record``: the client's start exactly as sent. Returns ("created" |
        "replayed" | "conflict", stored row): a replay with the very same client content is
        harmless (at-least-once delivery) even though the server's own fields would differ
        now; different content under the same id is a client bug or tampering and must not
        overwrite the record. Raises AuditStartRefused when a limit is reached.
        """
        stamp = utc_ms(now)
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM audit_sessions WHERE session_id = ?", (record["session_id"],)
            ).fetchone()
            if row is not None:
                stored = dict(row)
                same = stored["client_record"] == record["client_record"]
                return ("replayed" if same else "conflict"), stored
            since = utc_ms(now - timedelta(minutes=1))
            recent = conn.execute(
                "SELECT COUNT(*), MIN(start_received_at) FROM audit_sessions"
                " WHERE user_id = ? AND start_received_at > ?",
                (record["user_id"], since),
            ).fetchone()
            if int(recent[0]) >= per_minute:
                oldest = parse_utc(recent[1])
                wait = oldest + timedelta(minutes=1) - now
                raise AuditStartRefused(
                    f"More than {per_minute} viewing sessions started in one minute; "
                    "wait a moment before opening more cameras.",
                    max(1, int(wait.total_seconds()) + 1),
                )
            (open_now,) = conn.execute(
                "SELECT COUNT(*) FROM audit_sessions WHERE user_id = ? AND ended_at IS NULL",
                (record["user_id"],),
            ).fetchone()
            if int(open_now) >= max_open:
                raise AuditStartRefused(
                    f"{max_open} viewing sessions are already open for this user; "
                    "close some views (their ends must reach the district) first.",
                    30,
                )
            columns = [*record.keys(), "start_received_at"]
            values = [*record.values(), stamp]
            conn.execute(
                f"INSERT INTO audit_sessions({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                values,
            )
            stored = dict(
                conn.execute(
                    "SELECT * FROM audit_sessions WHERE session_id = ?", (record["session_id"],)
                ).fetchone()
            )
            audit_log.append(conn, now, "session.start", stored["session_id"], stored)
            return "created", stored

    def bind_session_grant(
        self,
        session_id: str,
        grant_id: str,
        emergency_id: str,
        threat_basis: str,
        now: datetime,
    ) -> None:
        """Name the grant a session's video comes under, if the start named none yet."""
        with self.transaction() as conn:
            bound = conn.execute(
                "UPDATE audit_sessions SET grant_id = ?, emergency_id = ?, threat_basis = ?"
                " WHERE session_id = ? AND grant_id IS NULL",
                (grant_id, emergency_id, threat_basis, session_id),
            ).rowcount
            if bound:
                audit_log.append(
                    conn,
                    now,
                    "session.bound",
                    session_id,
                    {
                        "grant_id": grant_id,
                        "emergency_id": emergency_id,
                        "threat_basis": threat_basis,
                    },
                )

    def record_audit_end(
        self,
        session_id: str,
        ended_at: str,
        duration_ms: int,
        end_reason: str,
        now: datetime,
    ) -> dict[str, Any] | None:
        """Store a session's end; the first end wins. None when the start is not known yet."""
        with self.transaction() as conn:
            ended = conn.execute(
                "UPDATE audit_sessions SET ended_at = ?, duration_ms = ?, end_reason = ?,"
                " end_received_at = ? WHERE session_id = ? AND ended_at IS NULL",
                (ended_at, duration_ms, end_reason, utc_ms(now), session_id),
            ).rowcount
            if ended:
                audit_log.append(
                    conn,
                    now,
                    "session.end",
                    session_id,
                    {
                        "ended_at": ended_at,
                        "duration_ms": duration_ms,
                        "end_reason": end_reason,
                        "end_received_at": utc_ms(now),
                    },
                )
            row = conn.execute(
                "SELECT * FROM audit_sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            return dict(row) if row is not None else None

    def audit_sessions(
        self, *, user_id: str | None, active: bool | None, limit: int
    ) -> list[dict[str, Any]]:
        """Sessions by the server's start time, newest first; open ones always all listed.

        Sorting by the server's time means a client cannot push real sessions off the
        list by sending starts dated in the future. Sessions still open come first and are
        not counted against ``limit``: the safety desk must always see who is watching.
        """
        where = ["1 = 1"]
        params: list[Any] = []
        if user_id is not None:
            where.append("user_id = ?")
            params.append(user_id)
        clause = " AND ".join(where)
        order = " ORDER BY started_at DESC, session_id DESC"
        live: list[Row] = []
        if active is not False:
            live = self._query(
                f"SELECT * FROM audit_sessions WHERE {clause} AND ended_at IS NULL{order}",
                params,
            )
        ended: list[Row] = []
        if active is not True:
            ended = self._query(
                f"SELECT * FROM audit_sessions WHERE {clause} AND ended_at IS NOT NULL"
                f"{order} LIMIT ?",
                [*params, limit],
            )
        return [dict(r) for r in (*live, *ended)]

    # -- stream tickets -------------------------------------------------------------------

    def insert_ticket(
        self,
        ticket_hash: str,
        *,
        user_id: str,
        camera_id: str,
        session_id: str,
        issued_at: datetime,
        expires_at: datetime,
        token_hash: str,
    ) -> None:
        """Store a stream authorisation; it replaces the session's earlier one.

        One viewing session is one stream at a time, so it holds at most one.
        """
        with self.transaction() as conn:
            conn.execute("DELETE FROM stream_tickets WHERE session_id = ?", (session_id,))
            conn.execute(
                "INSERT INTO stream_tickets(ticket_hash, user_id, camera_id, session_id,"
                " issued_at, expires_at, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    ticket_hash,
                    user_id,
                    camera_id,
                    session_id,
                    utc_ms(issued_at),
                    utc_ms(expires_at),
                    token_hash,
                ),
            )

    @staticmethod
    def _ticket(row: Row) -> Ticket:
        return Ticket(
            user_id=row["user_id"],
            camera_id=row["camera_id"],
            session_id=row["session_id"],
            expires_at=parse_utc(row["expires_at"]),
            token_hash=row["token_hash"],
        )

    def stream_authorizations(self, ended_since: datetime) -> list[Ticket]:
        """The latest stream authorisation of every session live or ended since then."""
        rows = self._query(
            "SELECT t.* FROM stream_tickets t JOIN audit_sessions s"
            " ON s.session_id = t.session_id"
            " WHERE s.ended_at IS NULL OR s.ended_at >= ?",
            (utc_ms(ended_since),),
        )
        return [self._ticket(r) for r in rows]

    def stream_authorization(self, session_id: str) -> Ticket | None:
        rows = self._query(
            "SELECT * FROM stream_tickets WHERE session_id = ? ORDER BY issued_at DESC LIMIT 1",
            (session_id,),
        )
        return self._ticket(rows[0]) if rows else None

    # -- events --------------------------------------------------------------------------

    def append_event(
        self, at: datetime, kind: str, audience: str, subject: str, data: Mapping[str, Any]
    ) -> int:
        """Store an event; its id (ever increasing) is what a desk resumes from."""
        with self.transaction() as conn:
            row = conn.execute(
                "INSERT INTO events(at, kind, audience, subject, data) VALUES (?, ?, ?, ?, ?)"
                " RETURNING id",
                (utc_ms(at), kind, audience, subject, json.dumps(dict(data), sort_keys=True)),
            ).fetchone()
        return int(row[0])

    def events_after(self, event_id: int, limit: int) -> list[StoredEvent]:
        rows = self._query(
            "SELECT id, at, kind, audience, subject, data FROM events WHERE id > ? "
            "ORDER BY id LIMIT ?",
            (event_id, limit),
        )
        return [
            StoredEvent(
                r["id"], r["at"], r["kind"], r["audience"], r["subject"], json.loads(r["data"])
            )
            for r in rows
        ]

    def event_id_range(self) -> tuple[int, int]:
        """The first and last event ids kept (0, 0 when there are none)."""
        row = self._query("SELECT MIN(id) AS first, MAX(id) AS last FROM events")[0]
        return int(row["first"] or 0), int(row["last"] or 0)

    def has_event(self, kind: str, subject: str) -> bool:
        rows = self._query(
            "SELECT 1 FROM events WHERE subject = ? AND kind = ? LIMIT 1", (subject, kind)
        )
        return bool(rows)

    def trim_events(self, keep: int) -> None:
        """Forget all but the last ``keep`` events (a desk further behind resyncs)."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (keep,))

    def review_grant(self, grant_id: str, by: str, at: datetime, note: str) -> Grant | None:
        """Record the district's review of a break-glass grant (the first review stands)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE grants SET needs_review = 0, reviewed_by = ?, reviewed_at = ?,"
                " review_note = ? WHERE id = ? AND break_glass = 1 AND reviewed_at IS NULL",
                (by, utc_ms(at), note, grant_id),
            )
            row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
        return None if row is None else self._grant(row)

    def grants_to_review(self) -> list[Grant]:
        rows = self._query(
            "SELECT * FROM grants WHERE break_glass = 1 AND reviewed_at IS NULL ORDER BY granted_at"
        )
        return [self._grant(r) for r in rows]

    def grants_expired_between(self, start: datetime, end: datetime) -> list[Grant]:
        """Unrevoked grants whose time ran out in [start, end)."""
        rows = self._query(
            "SELECT * FROM grants WHERE revoked_at IS NULL AND expires_at >= ? AND expires_at < ?",
            (utc_ms(start), utc_ms(end)),
        )
        return [self._grant(r) for r in rows]
