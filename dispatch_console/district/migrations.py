"""Versioned migrations of the district database: one list, applied in order, recorded.

A district keeps its database across upgrades (the audit trail must outlive any server
version), so every change to the schema is a numbered step here, never an edit of the
first one. A new database runs every step; an existing one runs the steps above its
recorded version, each in its own transaction, and records each as it goes.

A server does not upgrade a district's database behind IT's back: it refuses to start on
an older schema unless told to (``district serve --migrate``, or ``dispatch-console
district migrate --db PATH`` first, after a backup), and always refuses a database a
newer server wrote, whose meaning it cannot know.

The steps are written once, in SQLite's dialect, and run on PostgreSQL through
``storage.Connection.ddl`` (column types) and the catalogue queries there; the audit log's
triggers are the one part written per engine (``audit_log.schema``). A step runs inside
the engine's write transaction and re-reads the version first, so two servers started
with ``--migrate`` against one PostgreSQL database apply each step once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from dispatch_console.district import audit_log, storage
from dispatch_console.district.storage import Connection


class SchemaError(Exception):
    """The database's schema is not the one this server works with; says what to do."""


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Connection], None]


_BASE = """
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
    created_at      TEXT NOT NULL,
    last_totp_step  INTEGER,
    disabled_at     TEXT
);
-- Failed sign-ins for user names that do not exist (or are disabled), counted exactly
-- like a real account's so that the answers do not tell which names exist.
CREATE TABLE IF NOT EXISTS sign_in_phantoms (
    username        TEXT PRIMARY KEY,
    failed_sign_ins INTEGER NOT NULL DEFAULT 0,
    locked_until    TEXT,
    last_failed_at  TEXT NOT NULL
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
    room_kind         TEXT,
    client_started_at TEXT,
    late              INTEGER NOT NULL DEFAULT 0,
    client_record     TEXT,
    ended_at          TEXT,
    duration_ms       INTEGER,
    end_reason        TEXT,
    start_received_at TEXT NOT NULL,
    end_received_at   TEXT
);
CREATE INDEX IF NOT EXISTS audit_sessions_started ON audit_sessions(started_at);
CREATE INDEX IF NOT EXISTS audit_sessions_user ON audit_sessions(user_id, started_at);
CREATE INDEX IF NOT EXISTS audit_sessions_open ON audit_sessions(ended_at, started_at);
CREATE TABLE IF NOT EXISTS stream_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL,
    camera_id   TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    token_hash  TEXT
);
-- After a revoke, the school's next grants wait for a district approver (no break-glass)
-- until the district clears the hold.
CREATE TABLE IF NOT EXISTS school_holds (
    school_id  TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    held_at    TEXT NOT NULL,
    held_by    TEXT NOT NULL,
    cleared_at TEXT,
    cleared_by TEXT
);
"""

_EVENTS_AND_ADMIN_LOG = """
-- What desks are told as it happens (see events.py); kept so a desk that
-- reconnects, even to a restarted server, resumes where it left off.
CREATE TABLE IF NOT EXISTS events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT NOT NULL,
    kind     TEXT NOT NULL,
    audience TEXT NOT NULL,
    subject  TEXT NOT NULL,
    data     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_subject ON events(subject, kind);
-- Who provisioned, disabled, unlocked or re-enrolled which account, when: append-only.
CREATE TABLE IF NOT EXISTS admin_actions (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL DEFAULT ''
);
"""

# A refresh token is kept (as its SHA-256 hash) until the family's absolute expiry; a
# rotated one keeps its row with replaced_at set, so presenting it again is recognised as
# a stolen copy and ends the whole family.
_REMEMBERED_SIGN_INS = """
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    replaced_at TEXT
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_user ON refresh_tokens(user_id)
"""


def _statements(script: str) -> list[str]:
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _run(script: str) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for statement in _statements(script):
            conn.execute(conn.ddl(statement))

    return apply


def _add_columns(
    columns: tuple[tuple[str, str, str], ...],
) -> Callable[[Connection], None]:
    """Add each column unless the table has it (tables created by later base schemas do)."""

    def apply(conn: Connection) -> None:
        for table, column, declaration in columns:
            if column in conn.columns(table):
                continue
            conn.execute(conn.ddl(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}"))
            if (table, column) == ("audit_sessions", "client_started_at"):
                # Older rows stored the client's time as started_at.
                conn.execute("UPDATE audit_sessions SET client_started_at = started_at")

    return apply


def _both(*steps: Callable[[Connection], None]) -> Callable[[Connection], None]:
    def apply(conn: Connection) -> None:
        for step in steps:
            step(conn)

    return apply


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "accounts, emergencies, requests, grants, audit sessions, stream links", _run(_BASE)
    ),
    Migration(
        2,
        "one-time code replay guard, disabled accounts, audit record fields, link tokens",
        _add_columns(
            (
                ("users", "last_totp_step", "INTEGER"),
                ("users", "disabled_at", "TEXT"),
                ("audit_sessions", "room_kind", "TEXT"),
                ("audit_sessions", "client_started_at", "TEXT"),
                ("audit_sessions", "late", "INTEGER NOT NULL DEFAULT 0"),
                ("audit_sessions", "client_record", "TEXT"),
                ("stream_tickets", "token_hash", "TEXT"),
            )
        ),
    ),
    Migration(
        3,
        "live events, scoped grants and break-glass reviews, provisioning log",
        _both(
            _run(_EVENTS_AND_ADMIN_LOG),
            _add_columns(
                (
                    ("grants", "buildings", "TEXT NOT NULL DEFAULT '[]'"),
                    ("grants", "cameras", "TEXT NOT NULL DEFAULT '[]'"),
                    ("grants", "reviewed_by", "TEXT"),
                    ("grants", "reviewed_at", "TEXT"),
                    ("grants", "review_note", "TEXT"),
                )
            ),
        ),
    ),
)


def _audit_log(conn: Connection) -> None:
    for statement in audit_log.schema(conn):
        conn.execute(statement)
    audit_log.backfill(conn, datetime.now(UTC))


MIGRATIONS = (
    *MIGRATIONS,
    Migration(
        4,
        "append-only hash-chained audit log, workstation chains, findings, heartbeats",
        _both(
            _add_columns(
                (
                    ("audit_sessions", "last_heartbeat_at", "TEXT"),
                    ("audit_sessions", "heartbeat_received_at", "TEXT"),
                    ("access_requests", "decision_note", "TEXT NOT NULL DEFAULT ''"),
                )
            ),
            _audit_log,
        ),
    ),
    Migration(
        5,
        "an emergency's location (floor and point, JSON)",
        _add_columns((("emergencies", "location", "TEXT"),)),
    ),
    Migration(
        6,
        "remembered sign-ins: rotating refresh tokens in families, sign-ins linked to them",
        _both(
            _run(_REMEMBERED_SIGN_INS),
            _add_columns((("auth_tokens", "refresh_family", "TEXT"),)),
        ),
    ),
)
LATEST = MIGRATIONS[-1].version


def schema_version(conn: sqlite3.Connection | Connection) -> int:
    """The version recorded in the database; 0 for a new, empty one."""
    conn = storage.wrap(conn)
    if not conn.table_exists("meta"):
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def pending(conn: sqlite3.Connection | Connection) -> list[Migration]:
    version = schema_version(conn)
    return [m for m in MIGRATIONS if m.version > version]


def check(conn: sqlite3.Connection | Connection, where: str, *, migrate: bool) -> None:
    """Raise SchemaError unless the database can be used as it is or as allowed."""
    version = schema_version(conn)
    if version > LATEST:
        raise SchemaError(
            f"The database {where} was written by a newer server (schema {version}; this "
            f"server knows up to {LATEST}). Run the newer server; an older one must not "
            "touch it."
        )
    if 0 < version < LATEST and not migrate:
        raise SchemaError(
            f"The database {where} is at schema {version}; this server needs {LATEST}. "
            f"Back it up, then run `dispatch-console district migrate --db {where}` (or "
            "start the server with --migrate)."
        )


def apply(conn: sqlite3.Connection | Connection, migrations: list[Migration]) -> None:
    """Apply each step in its own transaction, recording the version it reached.

    A step another process applied meanwhile (it held the write lock first) is skipped.
    """
    conn = storage.wrap(conn)
    for migration in migrations:
        conn.begin()
        try:
            if schema_version(conn) >= migration.version:
                conn.rollback()
                continue
            migration.apply(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            conn.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(migration.version),),
            )
        except BaseException:
            conn.rollback()
            raise
        conn.commit()
