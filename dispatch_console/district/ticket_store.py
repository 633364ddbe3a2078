"""Stream authorisations (``stream_tickets``): the record of each stream link the server
signed for a viewing session, kept so the server can tell the gateways to cut the stream
when the viewer may no longer watch (context.streams_to_cut).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dispatch_console.domain.session import parse_utc, utc_ms

from .db import Database
from .storage import Row

# Authorisations of sessions that ended this long ago can no longer matter.
KEEP_AFTER_END = timedelta(days=1)


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


def _ticket(row: Row) -> Ticket:
    return Ticket(
        user_id=row["user_id"],
        camera_id=row["camera_id"],
        session_id=row["session_id"],
        expires_at=parse_utc(row["expires_at"]),
        token_hash=row["token_hash"],
    )


def insert(
    db: Database,
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
    with db.transaction() as conn:
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


def authorizations(db: Database, ended_since: datetime) -> list[Ticket]:
    """The latest stream authorisation of every session live or ended since then."""
    rows = db.rows(
        "SELECT t.* FROM stream_tickets t JOIN audit_sessions s"
        " ON s.session_id = t.session_id"
        " WHERE s.ended_at IS NULL OR s.ended_at >= ?",
        (utc_ms(ended_since),),
    )
    return [_ticket(r) for r in rows]


def authorization(db: Database, session_id: str) -> Ticket | None:
    """A session's stream authorisation (the latest), if it ever had one."""
    rows = db.rows(
        "SELECT * FROM stream_tickets WHERE session_id = ? ORDER BY issued_at DESC LIMIT 1",
        (session_id,),
    )
    return _ticket(rows[0]) if rows else None


def purge_ended(db: Database, now: datetime) -> None:
    """Forget the authorisations of sessions that ended more than KEEP_AFTER_END ago."""
    with db.transaction() as conn:
        conn.execute(
            "DELETE FROM stream_tickets WHERE session_id IN (SELECT session_id FROM"
            " audit_sessions WHERE ended_at IS NOT NULL AND ended_at < ?)",
            (utc_ms(now - KEEP_AFTER_END),),
        )
