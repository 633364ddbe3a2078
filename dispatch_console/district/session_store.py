"""The viewing sessions' audit records (``audit_sessions``): start, grant binding,
heartbeats and end, each written with its entry in the chained audit log (audit_log.py)
in the same transaction, so the log stays the whole story.

The record is the server's (server.py says why); the console's copy is judged on what it
sent (``client_record``), so a retried start is harmless and a different one is refused.
audit_store.py holds the audit's other queries: chains, relays, findings, the browser.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from dispatch_console.domain.audit_record import STORED_FIELDS
from dispatch_console.domain.session import parse_utc, utc_ms

from . import audit_log
from .db import Database
from .storage import Row

# Every stored column, named from the one list of the record's fields (domain.audit_record),
# so a column a migration adds without naming it there is never read (and the schema test
# fails until it is named).
COLUMNS = ", ".join(STORED_FIELDS)
SELECT = f"SELECT {COLUMNS} FROM audit_sessions"

# A heartbeat closer than this to the last recorded one (client time) is acknowledged
# but not recorded: a console beats every 15 s, and a flood must not bloat the log.
MIN_HEARTBEAT_SPACING = timedelta(seconds=5)


class AuditStartRefused(Exception):
    """The start may not be stored now (a rate or quota limit); carries the reason."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def get(db: Database, session_id: str) -> dict[str, Any] | None:
    """The stored session, every column, or None before its start arrived."""
    rows = db.rows(SELECT + " WHERE session_id = ?", (session_id,))
    return dict(rows[0]) if rows else None


def record_start(
    db: Database,
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
    with db.transaction() as conn:
        row = conn.execute(SELECT + " WHERE session_id = ?", (record["session_id"],)).fetchone()
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
            conn.execute(SELECT + " WHERE session_id = ?", (record["session_id"],)).fetchone()
        )
        audit_log.append(conn, now, "session.start", stored["session_id"], stored)
        return "created", stored


def bind_grant(
    db: Database,
    session_id: str,
    grant_id: str,
    emergency_id: str,
    threat_basis: str,
    now: datetime,
) -> None:
    """Name the grant a session's video comes under, if the start named none yet."""
    with db.transaction() as conn:
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
                {"grant_id": grant_id, "emergency_id": emergency_id, "threat_basis": threat_basis},
            )


def record_heartbeat(
    db: Database,
    session_id: str,
    at: datetime,
    now: datetime,
    gaps: list[dict[str, str]] | None = None,
) -> dict[str, Any] | None:
    """Note that the console still shows this session; None when the start is unknown.

    An ended session keeps its end; a heartbeat older than the last one changes nothing.
    One that reports picture gaps is always recorded, however close to the last.
    """
    with db.transaction() as conn:
        row = conn.execute(SELECT + " WHERE session_id = ?", (session_id,)).fetchone()
        if row is None:
            return None
        last = row["last_heartbeat_at"]
        due = last is None or at >= parse_utc(last) + MIN_HEARTBEAT_SPACING or bool(gaps)
        later = last is None or at >= parse_utc(last)
        if row["ended_at"] is None and due and later:
            body: dict[str, Any] = {
                "last_heartbeat_at": utc_ms(at),
                "heartbeat_received_at": utc_ms(now),
            }
            if gaps:
                body["gaps"] = gaps
            conn.execute(
                "UPDATE audit_sessions SET last_heartbeat_at = ?, heartbeat_received_at = ?"
                " WHERE session_id = ?",
                (body["last_heartbeat_at"], body["heartbeat_received_at"], session_id),
            )
            audit_log.append(conn, now, "session.heartbeat", session_id, body)
        stored = conn.execute(SELECT + " WHERE session_id = ?", (session_id,)).fetchone()
        return dict(stored)


def record_end(
    db: Database,
    session_id: str,
    ended_at: str,
    duration_ms: int,
    end_reason: str,
    now: datetime,
) -> dict[str, Any] | None:
    """Store a session's end; the first end wins. None when the start is not known yet."""
    with db.transaction() as conn:
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
        row = conn.execute(SELECT + " WHERE session_id = ?", (session_id,)).fetchone()
        return dict(row) if row is not None else None


def listed(
    db: Database, *, user_id: str | None, active: bool | None, limit: int
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
        live = db.rows(f"{SELECT} WHERE {clause} AND ended_at IS NULL{order}", params)
    ended: list[Row] = []
    if active is not True:
        ended = db.rows(
            f"{SELECT} WHERE {clause} AND ended_at IS NOT NULL{order} LIMIT ?",
            [*params, limit],
        )
    return [dict(r) for r in (*live, *ended)]
