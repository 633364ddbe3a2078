"""SQLite storage for the reference district server: accounts, access decisions and the audit.

Why SQLite: the reference server must start on loopback with no setup for the demo and the
tests, and a district that outgrows it can move the same schema to PostgreSQL. WAL mode lets
readers (the gateway's twice-a-second checks) proceed while a writer commits. One connection
is shared behind a lock: the server's handlers run in a thread pool, and serialising the
(microsecond) statements is simpler and safer than a connection per thread.

Times are stored as ISO 8601 UTC strings with millisecond precision and a "Z"
(``dispatch_console.domain.session.utc_ms``): the audit trail's one format, and one that
sorts correctly as text.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.session import parse_utc, utc_ms

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id              TEXT PRIMARY KEY,
    username        TEXT NOT NULL UNIQUE,
    display_name    TEXT NOT NULL,
    agency          TEXT NOT NULL,
    role            TEXT NOT NULL,
    schools         TEXT NOT NULL DEFAULT '[]',
    password_hash   BLOB NOT NULL,
    password_salt   BLOB NOT NULL,
    totp_secret     TEXT NOT NULL,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    created_at      TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS emergencies (
    id           TEXT PRIMARY KEY,
    school_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    threat_basis TEXT NOT NULL,
    declared_by  TEXT NOT NULL,
    declared_at  TEXT NOT NULL,
    ended_at     TEXT
);
CREATE TABLE IF NOT EXISTS access_requests (
    id           TEXT PRIMARY KEY,
    emergency_id TEXT NOT NULL REFERENCES emergencies(id),
    school_id    TEXT NOT NULL,
    agency       TEXT NOT NULL,
    requested_by TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    status       TEXT NOT NULL,
    decided_by   TEXT,
    decided_at   TEXT
);
CREATE TABLE IF NOT EXISTS grants (
    id           TEXT PRIMARY KEY,
    emergency_id TEXT NOT NULL REFERENCES emergencies(id),
    school_id    TEXT NOT NULL,
    agency       TEXT NOT NULL,
    granted_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    approved_by  TEXT NOT NULL,
    break_glass  INTEGER NOT NULL,
    needs_review INTEGER NOT NULL,
    revoked_at   TEXT
);
CREATE TABLE IF NOT EXISTS audit_sessions (
    session_id        TEXT PRIMARY KEY,
    user_id           TEXT NOT NULL,
    user_name         TEXT NOT NULL,
    agency            TEXT NOT NULL,
    role              TEXT NOT NULL,
    workstation_id    TEXT NOT NULL,
    app_version       TEXT NOT NULL,
    camera_id         TEXT NOT NULL,
    camera_name       TEXT NOT NULL,
    school_id         TEXT NOT NULL,
    school_name       TEXT NOT NULL,
    building_id       TEXT NOT NULL,
    building_name     TEXT NOT NULL,
    floor_id          TEXT NOT NULL,
    floor_name        TEXT NOT NULL,
    emergency_id      TEXT,
    grant_id          TEXT,
    threat_basis      TEXT NOT NULL,
    started_at        TEXT NOT NULL,
    ended_at          TEXT,
    duration_ms       INTEGER,
    end_reason        TEXT,
    start_received_at TEXT NOT NULL,
    end_received_at   TEXT
);
CREATE INDEX IF NOT EXISTS audit_sessions_started ON audit_sessions(started_at);
CREATE INDEX IF NOT EXISTS audit_sessions_user ON audit_sessions(user_id, started_at);
CREATE TABLE IF NOT EXISTS stream_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    camera_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT
);
"""

# The fields of a viewing session's start record, in the order of ViewingSession.
AUDIT_START_FIELDS: tuple[str, ...] = (
    "session_id",
    "user_id",
    "user_name",
    "agency",
    "role",
    "workstation_id",
    "app_version",
    "camera_id",
    "camera_name",
    "school_id",
    "school_name",
    "building_id",
    "building_name",
    "floor_id",
    "floor_name",
    "emergency_id",
    "grant_id",
    "threat_basis",
    "started_at",
)
AUDIT_END_FIELDS: tuple[str, ...] = ("ended_at", "duration_ms", "end_reason")


@dataclass(frozen=True)
class UserRecord:
    """A user as stored, credentials included; only auth.py should look at the secrets."""

    user: User
    password_hash: bytes
    password_salt: bytes
    totp_secret: str
    failed_sign_ins: int
    locked_until: datetime | None


@dataclass(frozen=True)
class Ticket:
    """A single-use permission to open one camera's stream through the gateway."""

    user_id: str
    camera_id: str
    session_id: str
    expires_at: datetime


def _dt(value: str | None) -> datetime | None:
    return None if value is None else parse_utc(value)


def _ms(value: datetime | None) -> str | None:
    return None if value is None else utc_ms(value)


class Database:
    """One SQLite file, one connection, one lock; every public method is one transaction."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, check_same_thread=False, isolation_level=None, timeout=10
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            # Every statement is IF NOT EXISTS, so a second start changes nothing.
            self._conn.executescript(_SCHEMA)
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and an immediate write transaction; roll back on any error."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    # -- users --------------------------------------------------------------------------

    @staticmethod
    def _user(row: sqlite3.Row) -> User:
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
                "INSERT OR IGNORE INTO users(id, username, display_name, agency, role, schools,"
                " password_hash, password_salt, totp_secret, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

    def user_record(self, username: str) -> UserRecord | None:
        rows = self._query("SELECT * FROM users WHERE username = ?", (username,))
        if not rows:
            return None
        row = rows[0]
        return UserRecord(
            user=self._user(row),
            password_hash=bytes(row["password_hash"]),
            password_salt=bytes(row["password_salt"]),
            totp_secret=row["totp_secret"],
            failed_sign_ins=int(row["failed_sign_ins"]),
            locked_until=_dt(row["locked_until"]),
        )

    def user_by_id(self, user_id: str) -> User | None:
        rows = self._query("SELECT * FROM users WHERE id = ?", (user_id,))
        return self._user(rows[0]) if rows else None

    def set_sign_in_state(
        self, user_id: str, failed_sign_ins: int, locked_until: datetime | None
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE users SET failed_sign_ins = ?, locked_until = ? WHERE id = ?",
                (failed_sign_ins, _ms(locked_until), user_id),
            )

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
        rows = self._query(
            "SELECT users.* FROM auth_tokens JOIN users ON users.id = auth_tokens.user_id"
            " WHERE auth_tokens.token_hash = ? AND auth_tokens.expires_at > ?",
            (token_hash, utc_ms(now)),
        )
        return self._user(rows[0]) if rows else None

    def delete_token(self, token_hash: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM auth_tokens WHERE token_hash = ?", (token_hash,))

    def purge_expired_tokens(self, now: datetime) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM auth_tokens WHERE expires_at <= ?", (utc_ms(now),))
            conn.execute("DELETE FROM stream_tickets WHERE expires_at <= ?", (utc_ms(now),))

    # -- emergencies, requests, grants --------------------------------------------------

    @staticmethod
    def _emergency(row: sqlite3.Row) -> Emergency:
        return Emergency(
            id=row["id"],
            school_id=row["school_id"],
            type=EmergencyType(row["type"]),
            threat_basis=row["threat_basis"],
            declared_by=row["declared_by"],
            declared_at=parse_utc(row["declared_at"]),
            ended_at=_dt(row["ended_at"]),
        )

    @staticmethod
    def _grant(row: sqlite3.Row) -> Grant:
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
        )

    @staticmethod
    def _request(row: sqlite3.Row) -> AccessRequest:
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
        )

    @staticmethod
    def _write_grant(conn: sqlite3.Connection, grant: Grant) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO grants(id, emergency_id, school_id, agency, granted_at,"
            " expires_at, approved_by, break_glass, needs_review, revoked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
            ),
        )

    def insert_emergency(
        self, emergency: Emergency, grant: Grant | None, request: AccessRequest | None
    ) -> None:
        """Store a declaration together with its grant or request, all or nothing."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO emergencies(id, school_id, type, threat_basis, declared_by,"
                " declared_at, ended_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    emergency.id,
                    emergency.school_id,
                    emergency.type.value,
                    emergency.threat_basis,
                    emergency.declared_by,
                    utc_ms(emergency.declared_at),
                    _ms(emergency.ended_at),
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

    def access_request(self, request_id: str) -> AccessRequest | None:
        rows = self._query("SELECT * FROM access_requests WHERE id = ?", (request_id,))
        return self._request(rows[0]) if rows else None

    def pending_requests(self) -> list[AccessRequest]:
        rows = self._query(
            "SELECT * FROM access_requests WHERE status = 'pending' ORDER BY requested_at"
        )
        return [self._request(r) for r in rows]

    def decide_request(
        self, request_id: str, status: str, decided_by: str, now: datetime, grant: Grant | None
    ) -> AccessRequest | None:
        """Approve or deny a pending request once; returns None if it was no longer pending."""
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?"
                " WHERE id = ? AND status = 'pending'",
                (status, decided_by, utc_ms(now), request_id),
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
        self, record: Mapping[str, Any], now: datetime
    ) -> tuple[str, dict[str, Any]]:
        """Store a session start idempotently.

        Returns ("created" | "replayed" | "conflict", stored row): a replay with the very
        same content is harmless (at-least-once delivery); different content under the
        same id is a client bug or tampering and must not overwrite the record.
        """
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM audit_sessions WHERE session_id = ?", (record["session_id"],)
            ).fetchone()
            if row is not None:
                stored = dict(row)
                same = all(stored[k] == record[k] for k in AUDIT_START_FIELDS)
                return ("replayed" if same else "conflict"), stored
            columns = [*AUDIT_START_FIELDS, "start_received_at"]
            values = [record[k] for k in AUDIT_START_FIELDS] + [utc_ms(now)]
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
            return "created", stored

    def record_audit_end(
        self,
        session_id: str,
        ended_at: str,
        duration_ms: int | None,
        end_reason: str,
        now: datetime,
    ) -> dict[str, Any] | None:
        """Store a session's end; the first end wins. None when the start is not known yet."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE audit_sessions SET ended_at = ?, duration_ms = ?, end_reason = ?,"
                " end_received_at = ? WHERE session_id = ? AND ended_at IS NULL",
                (ended_at, duration_ms, end_reason, utc_ms(now), session_id),
            )
            row = conn.execute(
                "SELECT * FROM audit_sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            return dict(row) if row is not None else None

    def audit_sessions(
        self, *, user_id: str | None, active: bool | None, limit: int
    ) -> list[dict[str, Any]]:
        """Sessions newest first, optionally only one user's and only open or closed ones."""
        clauses: list[str] = []
        params: list[Any] = []
        if user_id is not None:
            clauses.append("user_id = ?")
            params.append(user_id)
        if active is True:
            clauses.append("ended_at IS NULL")
        elif active is False:
            clauses.append("ended_at IS NOT NULL")
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self._query(
            f"SELECT * FROM audit_sessions{where} ORDER BY started_at DESC, session_id DESC"
            " LIMIT ?",
            [*params, limit],
        )
        return [dict(r) for r in rows]

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
    ) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO stream_tickets(ticket_hash, user_id, camera_id, session_id,"
                " issued_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    ticket_hash,
                    user_id,
                    camera_id,
                    session_id,
                    utc_ms(issued_at),
                    utc_ms(expires_at),
                ),
            )

    def consume_ticket(self, ticket_hash: str, camera_id: str, now: datetime) -> Ticket | None:
        """Use a ticket once: unknown, used, expired or other-camera tickets give None."""
        stamp = utc_ms(now)
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE stream_tickets SET used_at = ? WHERE ticket_hash = ? AND used_at IS NULL"
                " AND camera_id = ? AND expires_at > ?",
                (stamp, ticket_hash, camera_id, stamp),
            )
            if cursor.rowcount != 1:
                return None
            row = conn.execute(
                "SELECT * FROM stream_tickets WHERE ticket_hash = ?", (ticket_hash,)
            ).fetchone()
            return Ticket(
                user_id=row["user_id"],
                camera_id=row["camera_id"],
                session_id=row["session_id"],
                expires_at=parse_utc(row["expires_at"]),
            )
