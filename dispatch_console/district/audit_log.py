"""The district's audit log: append-only, hash-chained, and the source of the session table.

Every change to a viewing session (start, heartbeat, grant bound, end), every finding and
every purge is appended here in the same transaction as the change itself, each record
carrying the hash of the one before it (``domain.audit_chain``). ``audit_sessions`` is a
convenient index of the same facts; ``verify`` rebuilds it from the log and names the
first row that differs, so editing either table alone is caught.

The database refuses UPDATE and DELETE on the log (triggers); the only deletion is a
purge past retention, which opens a window for the rows it removes, appends itself to the
chain, and leaves an anchor (the first kept record's place and previous hash) so the rest
still verifies. Triggers stop honest mistakes and casual edits, not someone who can drop
them: that is what the chain and the head hash kept outside the server are for.

The triggers are the one part of the schema written per engine: SQLite's, and PL/pgSQL
functions with the same rules on PostgreSQL (which also refuses TRUNCATE, a statement
that row triggers do not see). "Storage order" is SQLite's rowid; on PostgreSQL it is
``pos``, an always-generated identity column: a row deleted and put back, or renumbered,
gets a new ``pos`` and shows as out of order, as it would under a new rowid. (``ctid``
would not do: a vacuum after a purge reuses the freed space for new rows.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from dispatch_console.domain.audit_chain import (
    GENESIS,
    ChainBreak,
    ChainedRecord,
    canonical,
    first_break,
    link_hash,
)
from dispatch_console.domain.session import utc_ms

from .storage import POSTGRESQL, Connection

# A district keeps its audit trail at least this long; a purge cannot go below it.
MIN_RETENTION_DAYS = 365

TABLES = (
    """CREATE TABLE IF NOT EXISTS audit_log (
        seq     INTEGER PRIMARY KEY,
        at      TEXT NOT NULL,
        kind    TEXT NOT NULL,
        subject TEXT NOT NULL,
        body    TEXT NOT NULL,
        prev    TEXT NOT NULL,
        hash    TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS audit_log_subject ON audit_log(subject, seq)",
    "CREATE TABLE IF NOT EXISTS audit_purge_window (upto INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS audit_anchor (
        id   INTEGER PRIMARY KEY CHECK (id = 1),
        seq  INTEGER NOT NULL,
        prev TEXT NOT NULL
    )""",
    # One row per link a workstation sent: continuity is checked as links arrive.
    """CREATE TABLE IF NOT EXISTS workstation_links (
        chain          TEXT NOT NULL,
        seq            INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        session_id     TEXT NOT NULL,
        workstation_id TEXT NOT NULL,
        prev           TEXT NOT NULL,
        hash           TEXT NOT NULL,
        received_at    TEXT NOT NULL,
        PRIMARY KEY (chain, seq)
    )""",
    """CREATE TABLE IF NOT EXISTS audit_findings (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        at             TEXT NOT NULL,
        kind           TEXT NOT NULL,
        subject        TEXT NOT NULL,
        workstation_id TEXT,
        detail         TEXT NOT NULL,
        UNIQUE (kind, subject, detail)
    )""",
    # What the gateways report relaying, reconciled against the sessions (audit_store).
    """CREATE TABLE IF NOT EXISTS gateway_relays (
        relay_id           TEXT PRIMARY KEY,
        session_id         TEXT NOT NULL,
        camera_id          TEXT NOT NULL,
        stream             TEXT NOT NULL,
        started_at         TEXT NOT NULL,
        ended_at           TEXT,
        bytes              INTEGER NOT NULL,
        first_reported_at  TEXT NOT NULL,
        last_reported_at   TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS gateway_relays_session ON gateway_relays(session_id)",
)

_UPDATE_REFUSED = "audit records are append-only"
_DELETE_REFUSED = "audit records are append-only; only a purge past retention removes them"

SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_append_only
        BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, '{_UPDATE_REFUSED}'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS audit_log_no_delete
        BEFORE DELETE ON audit_log
        WHEN old.seq >= (SELECT COALESCE(MAX(upto), 0) FROM audit_purge_window)
        BEGIN SELECT RAISE(ABORT, '{_DELETE_REFUSED}'); END""",
)

POSTGRES_TRIGGERS = (
    "ALTER TABLE audit_log ADD COLUMN IF NOT EXISTS pos BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE",
    f"""CREATE OR REPLACE FUNCTION audit_log_refuse_update() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{_UPDATE_REFUSED}'; END $$""",
    f"""CREATE OR REPLACE FUNCTION audit_log_refuse_delete() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.seq >= (SELECT COALESCE(MAX(upto), 0) FROM audit_purge_window) THEN
                RAISE EXCEPTION '{_DELETE_REFUSED}';
            END IF;
            RETURN OLD;
        END $$""",
    f"""CREATE OR REPLACE FUNCTION audit_log_refuse_truncate() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION '{_DELETE_REFUSED}'; END $$""",
    """CREATE OR REPLACE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_update()""",
    """CREATE OR REPLACE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_delete()""",
    """CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_truncate()""",
)


def schema(conn: Connection) -> list[str]:
    """The audit tables and their guards, as ``conn``'s engine runs them."""
    tables = [conn.ddl(statement) for statement in TABLES]
    if conn.dialect == POSTGRESQL:
        return [*tables, *POSTGRES_TRIGGERS]
    return [*tables, *SQLITE_TRIGGERS]


# Columns a session row gets from each kind of log record, and how.
_END_FIELDS = ("ended_at", "duration_ms", "end_reason", "end_received_at")
_HEARTBEAT_FIELDS = ("last_heartbeat_at", "heartbeat_received_at")
_BOUND_FIELDS = ("grant_id", "emergency_id", "threat_basis")


def append(conn: Connection, at: datetime, kind: str, subject: str, body: Mapping[str, Any]) -> int:
    """Append one record, chained to the last; the caller holds the write transaction."""
    last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        anchor = conn.execute("SELECT seq, prev FROM audit_anchor").fetchone()
        seq, prev = (int(anchor[0]), str(anchor[1])) if anchor else (1, GENESIS)
    else:
        seq, prev = int(last[0]) + 1, str(last[1])
    plain = json.loads(canonical(dict(body)))  # the form that is stored and re-read
    conn.execute(
        "INSERT INTO audit_log(seq, at, kind, subject, body, prev, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            utc_ms(at),
            kind,
            subject,
            canonical(plain).decode(),
            prev,
            link_hash(prev, seq, kind, plain),
        ),
    )
    return seq


def record_finding(
    conn: Connection,
    at: datetime,
    kind: str,
    subject: str,
    detail: str,
    workstation_id: str | None = None,
) -> bool:
    """Store a finding once (and chain it); False when the same finding was already made."""
    cursor = conn.execute(
        "INSERT INTO audit_findings(at, kind, subject, workstation_id, detail)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (utc_ms(at), kind, subject, workstation_id, detail),
    )
    if cursor.rowcount == 0:
        return False
    append(
        conn,
        at,
        "finding",
        subject,
        {"kind": kind, "detail": detail, "workstation_id": workstation_id},
    )
    return True


# -- verification ------------------------------------------------------------------------


@dataclass
class VerifyReport:
    """What ``verify`` found. ``ok`` only when the chain holds and the index matches it."""

    records: int = 0
    first_seq: int | None = None
    head_seq: int | None = None
    head_hash: str | None = None
    chain_break: ChainBreak | None = None
    session_mismatch: str | None = None
    anchor_problem: str | None = None
    sessions: int = 0
    findings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            self.chain_break is None
            and self.session_mismatch is None
            and self.anchor_problem is None
        )

    @property
    def first_problem(self) -> str | None:
        if self.anchor_problem:
            return self.anchor_problem
        if self.chain_break is not None:
            return f"audit log {self.chain_break}"
        return self.session_mismatch

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "first_seq": self.first_seq,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "sessions": self.sessions,
            "first_problem": self.first_problem,
            "findings": self.findings,
        }


def _records(conn: Connection) -> Iterator[tuple[ChainedRecord, str]]:
    """Every stored record in storage order (rowid, or ``pos``), with its subject.

    Storage order, not seq order: a row moved to another place must show as out of order.
    """
    order = conn.storage_order("audit_log", "pos")
    for row in conn.execute(
        f"SELECT seq, at, kind, subject, body, prev, hash FROM audit_log ORDER BY {order}"
    ):
        try:
            body = json.loads(row[4])
        except ValueError:
            body = {"unreadable": row[4]}
        yield (
            ChainedRecord(
                seq=int(row[0]),
                kind=str(row[2]),
                body=body,
                prev=str(row[5]),
                hash=str(row[6]),
                label=f"{row[2]} {row[3]} at {row[1]}",
            ),
            str(row[3]),
        )


def _replay(state: dict[str, dict[str, Any]], record: ChainedRecord, subject: str) -> None:
    """Apply one log record to the session index as the server applied it when written."""
    body = record.body
    if record.kind == "session.start":
        state[subject] = dict(body)
        return
    row = state.get(subject)
    if row is None:
        return
    if record.kind == "session.end" and row.get("ended_at") is None:
        row.update({k: body.get(k) for k in _END_FIELDS})
    elif record.kind == "session.heartbeat":
        row.update({k: body.get(k) for k in _HEARTBEAT_FIELDS})
    elif record.kind == "session.bound" and row.get("grant_id") is None:
        row.update({k: body.get(k) for k in _BOUND_FIELDS})


def verify(conn: Connection) -> VerifyReport:
    """Check the whole trail: the chain from its anchor, then the session index against it."""
    report = VerifyReport()
    anchor = conn.execute("SELECT seq, prev FROM audit_anchor").fetchone()
    start_seq, start_prev = (int(anchor[0]), str(anchor[1])) if anchor else (1, GENESIS)
    expected: dict[str, dict[str, Any]] = {}
    last_purge: Mapping[str, Any] | None = None

    def stream() -> Iterator[ChainedRecord]:
        nonlocal last_purge
        for record, subject in _records(conn):
            report.records += 1
            if report.first_seq is None:
                report.first_seq = record.seq
            report.head_seq, report.head_hash = record.seq, record.hash
            _replay(expected, record, subject)
            if record.kind == "audit.purge":
                last_purge = record.body
            yield record

    report.chain_break = first_break(stream(), start_seq=start_seq, start_prev=start_prev)
    if report.chain_break is not None:
        return report
    if anchor is not None and (
        last_purge is None
        or (last_purge.get("first_kept"), last_purge.get("prev")) != (start_seq, start_prev)
    ):
        report.anchor_problem = (
            f"the audit log starts at record {start_seq}, but no purge in the log says so: "
            "records were removed outside a purge"
        )
        return report
    report.session_mismatch = _compare_sessions(conn, expected)
    report.sessions = len(expected)
    return report


def _compare_sessions(conn: Connection, expected: dict[str, dict[str, Any]]) -> str | None:
    seen: set[str] = set()
    order = conn.storage_order("audit_sessions", "start_received_at, session_id")
    for row in conn.execute(f"SELECT * FROM audit_sessions ORDER BY {order}"):
        stored = dict(row)
        session_id = stored["session_id"]
        seen.add(session_id)
        want = expected.get(session_id)
        if want is None:
            return (
                f"audit_sessions row {session_id} has no start in the audit log: "
                "it was added outside the server"
            )
        for column, value in stored.items():
            if want.get(column) != value:
                return (
                    f"audit_sessions row {session_id}: {column} is {value!r}, but the audit "
                    f"log says {want.get(column)!r}: the row was edited"
                )
    missing = [s for s in expected if s not in seen]
    if missing:
        return f"audit_sessions row {missing[0]} is in the audit log but was deleted"
    return None


# -- retention ---------------------------------------------------------------------------


class PurgeRefused(Exception):
    """A purge that would cut the trail shorter than the district must keep it."""


def purge(
    conn: Connection,
    *,
    now: datetime,
    retention_days: int,
    actor: str,
) -> dict[str, Any]:
    """Remove records older than the retention period, keeping the rest verifiable.

    A session is kept or removed whole: if any of its records falls inside the period,
    its start stays too, so the index can still be rebuilt from the log. The purge is
    itself appended to the chain, naming the first kept record and its previous hash:
    the anchor ``verify`` starts from. The caller holds the write transaction.
    """
    if retention_days < MIN_RETENTION_DAYS:
        raise PurgeRefused(
            f"Retention of {retention_days} days is below the district's minimum of "
            f"{MIN_RETENTION_DAYS} days (one year); nothing was purged."
        )
    cutoff = utc_ms(now - timedelta(days=retention_days))
    head = conn.execute("SELECT MAX(seq) FROM audit_log").fetchone()[0]
    if head is None:
        return {"purged_records": 0, "purged_sessions": 0, "cutoff": cutoff}
    first_recent = conn.execute(
        "SELECT MIN(seq) FROM audit_log WHERE at >= ?", (cutoff,)
    ).fetchone()[0]
    first_kept = int(first_recent) if first_recent is not None else int(head) + 1
    # Sessions with a record at or after the cut keep their start (and everything after).
    straddling = conn.execute(
        "SELECT MIN(s.seq) FROM audit_log s WHERE s.kind = 'session.start' AND s.seq < ?"
        " AND EXISTS (SELECT 1 FROM audit_log e WHERE e.subject = s.subject AND e.seq >= ?)",
        (first_kept, first_kept),
    ).fetchone()[0]
    if straddling is not None:
        first_kept = min(first_kept, int(straddling))
    # Open sessions are never purged, however old.
    open_start = conn.execute(
        "SELECT MIN(l.seq) FROM audit_log l JOIN audit_sessions s ON s.session_id = l.subject"
        " WHERE l.kind = 'session.start' AND s.ended_at IS NULL"
    ).fetchone()[0]
    if open_start is not None:
        first_kept = min(first_kept, int(open_start))
    lowest = conn.execute("SELECT MIN(seq) FROM audit_log").fetchone()[0]
    if first_kept <= int(lowest):
        return {"purged_records": 0, "purged_sessions": 0, "cutoff": cutoff}
    prev_row = conn.execute(
        "SELECT hash FROM audit_log WHERE seq = ?", (first_kept - 1,)
    ).fetchone()
    prev = str(prev_row[0])
    purged_sessions = [
        str(r[0])
        for r in conn.execute(
            "SELECT subject FROM audit_log WHERE kind = 'session.start' AND seq < ?",
            (first_kept,),
        )
    ]
    purged_records = first_kept - int(lowest)
    append(
        conn,
        now,
        "audit.purge",
        "retention",
        {
            "actor": actor,
            "retention_days": retention_days,
            "cutoff": cutoff,
            "first_kept": first_kept,
            "prev": prev,
            "purged_records": purged_records,
            "purged_sessions": len(purged_sessions),
        },
    )
    conn.execute("INSERT INTO audit_purge_window(upto) VALUES (?)", (first_kept,))
    conn.execute("DELETE FROM audit_log WHERE seq < ?", (first_kept,))
    conn.execute("DELETE FROM audit_purge_window")
    conn.executemany(
        "DELETE FROM audit_sessions WHERE session_id = ?", [(s,) for s in purged_sessions]
    )
    conn.execute(
        "INSERT INTO audit_anchor(id, seq, prev) VALUES (1, ?, ?)"
        " ON CONFLICT(id) DO UPDATE SET seq = excluded.seq, prev = excluded.prev",
        (first_kept, prev),
    )
    return {
        "purged_records": purged_records,
        "purged_sessions": len(purged_sessions),
        "cutoff": cutoff,
        "first_kept": first_kept,
    }


def backfill(conn: Connection, now: datetime) -> None:
    """Chain the sessions a database held before the log existed (migration 4).

    Their records are as the index holds them; the chain proves nothing about the time
    before it, and says so in the first record.
    """
    if conn.execute("SELECT 1 FROM audit_log LIMIT 1").fetchone() is not None:
        return
    order = conn.storage_order("audit_sessions", "start_received_at, session_id")
    rows = [dict(r) for r in conn.execute(f"SELECT * FROM audit_sessions ORDER BY {order}")]
    if not rows:
        return
    append(
        conn,
        now,
        "audit.backfill",
        "migration",
        {"sessions": len(rows), "note": "sessions recorded before the chained log existed"},
    )
    for row in rows:
        start = {k: v for k, v in row.items() if k not in (*_END_FIELDS, *_HEARTBEAT_FIELDS)}
        start.update({k: None for k in (*_END_FIELDS, *_HEARTBEAT_FIELDS)})
        append(conn, now, "session.start", row["session_id"], start)
        if row.get("ended_at") is not None:
            append(
                conn,
                now,
                "session.end",
                row["session_id"],
                {k: row[k] for k in _END_FIELDS},
            )
