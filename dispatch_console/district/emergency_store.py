"""Emergencies and what hangs on them: access requests, grants (with their scope and
break-glass review), and the holds a revoke puts on a school.

The policy module decides who may see what from these records; this stores them.
Writes that belong together (a declaration with its grant or request, an end with its
grants and requests, a revoke with its hold) are one transaction each.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dispatch_console.domain.emergency_location import decode_location, encode_location
from dispatch_console.domain.models import AccessRequest, Emergency, EmergencyType, Grant
from dispatch_console.domain.session import parse_utc, utc_ms

from .db import Database
from .storage import Connection, Row
from .store_rows import stamp_or_none, time_or_none


@dataclass(frozen=True)
class SchoolHold:
    """A school whose grant was revoked: new grants there wait for a district approver."""

    school_id: str
    grant_id: str
    held_at: datetime
    held_by: str


def _emergency(row: Row) -> Emergency:
    return Emergency(
        id=row["id"],
        school_id=row["school_id"],
        type=EmergencyType(row["type"]),
        threat_basis=row["threat_basis"],
        declared_by=row["declared_by"],
        declared_at=parse_utc(row["declared_at"]),
        ended_at=time_or_none(row["ended_at"]),
        location=decode_location(row["location"]),
    )


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
        revoked_at=time_or_none(row["revoked_at"]),
        buildings=tuple(json.loads(row["buildings"] or "[]")),
        cameras=tuple(json.loads(row["cameras"] or "[]")),
        reviewed_by=row["reviewed_by"],
        reviewed_at=time_or_none(row["reviewed_at"]),
        review_note=row["review_note"],
    )


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
        decided_at=time_or_none(row["decided_at"]),
        decision_note=row["decision_note"] or "",
    )


def _hold(row: Row) -> SchoolHold:
    return SchoolHold(
        school_id=row["school_id"],
        grant_id=row["grant_id"],
        held_at=parse_utc(row["held_at"]),
        held_by=row["held_by"],
    )


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
            stamp_or_none(grant.revoked_at),
            json.dumps(list(grant.buildings)),
            json.dumps(list(grant.cameras)),
            grant.reviewed_by,
            stamp_or_none(grant.reviewed_at),
            grant.review_note,
        ),
    )


# -- emergencies -------------------------------------------------------------------------


def insert_emergency(
    db: Database, emergency: Emergency, grant: Grant | None, request: AccessRequest | None
) -> None:
    """Store a declaration together with its grant or request, all or nothing."""
    with db.transaction() as conn:
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
                stamp_or_none(emergency.ended_at),
                encode_location(emergency.location),
            ),
        )
        if grant is not None:
            _write_grant(conn, grant)
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


def emergency(db: Database, emergency_id: str) -> Emergency | None:
    rows = db.rows("SELECT * FROM emergencies WHERE id = ?", (emergency_id,))
    return _emergency(rows[0]) if rows else None


def open_emergencies(db: Database, school_id: str | None = None) -> list[Emergency]:
    """Emergencies not ended (callers still ask ``is_active(now)``, the domain's rule)."""
    sql = "SELECT * FROM emergencies WHERE ended_at IS NULL"
    params: tuple[str, ...] = ()
    if school_id is not None:
        sql += " AND school_id = ?"
        params = (school_id,)
    return [_emergency(r) for r in db.rows(sql + " ORDER BY declared_at", params)]


def end_emergency(db: Database, emergency_id: str, now: datetime) -> Emergency | None:
    """End an emergency, its grants and its pending requests; ending twice keeps the first."""
    with db.transaction() as conn:
        row = conn.execute("SELECT * FROM emergencies WHERE id = ?", (emergency_id,)).fetchone()
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
        return _emergency(row)


# -- grants ------------------------------------------------------------------------------


def grant(db: Database, grant_id: str) -> Grant | None:
    rows = db.rows("SELECT * FROM grants WHERE id = ?", (grant_id,))
    return _grant(rows[0]) if rows else None


def unexpired_grants(db: Database, now: datetime, school_id: str | None = None) -> list[Grant]:
    """Grants neither revoked nor expired by ``now`` (the emergency is checked elsewhere)."""
    sql = "SELECT * FROM grants WHERE revoked_at IS NULL AND expires_at > ?"
    params: list[str] = [utc_ms(now)]
    if school_id is not None:
        sql += " AND school_id = ?"
        params.append(school_id)
    return [_grant(r) for r in db.rows(sql + " ORDER BY granted_at", params)]


def save_grant(db: Database, grant: Grant) -> None:
    """Store a grant, replacing the row of the same id (an extension)."""
    with db.transaction() as conn:
        _write_grant(conn, grant)


def revoke_grant(db: Database, grant_id: str, now: datetime, by: str) -> Grant | None:
    """Revoke a grant (once) and hold its school for a district approver, together."""
    stamp = utc_ms(now)
    with db.transaction() as conn:
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
        return _grant(row)


def review_grant(db: Database, grant_id: str, by: str, at: datetime, note: str) -> Grant | None:
    """Record the district's review of a break-glass grant (the first review stands)."""
    with db.transaction() as conn:
        conn.execute(
            "UPDATE grants SET needs_review = 0, reviewed_by = ?, reviewed_at = ?,"
            " review_note = ? WHERE id = ? AND break_glass = 1 AND reviewed_at IS NULL",
            (by, utc_ms(at), note, grant_id),
        )
        row = conn.execute("SELECT * FROM grants WHERE id = ?", (grant_id,)).fetchone()
    return None if row is None else _grant(row)


def grants_to_review(db: Database) -> list[Grant]:
    rows = db.rows(
        "SELECT * FROM grants WHERE break_glass = 1 AND reviewed_at IS NULL ORDER BY granted_at"
    )
    return [_grant(r) for r in rows]


def grants_expired_between(db: Database, start: datetime, end: datetime) -> list[Grant]:
    """Unrevoked grants whose time ran out in [start, end)."""
    rows = db.rows(
        "SELECT * FROM grants WHERE revoked_at IS NULL AND expires_at >= ? AND expires_at < ?",
        (utc_ms(start), utc_ms(end)),
    )
    return [_grant(r) for r in rows]


# -- school holds ------------------------------------------------------------------------


def school_hold(db: Database, school_id: str) -> SchoolHold | None:
    rows = db.rows(
        "SELECT * FROM school_holds WHERE school_id = ? AND cleared_at IS NULL", (school_id,)
    )
    return _hold(rows[0]) if rows else None


def school_holds(db: Database) -> list[SchoolHold]:
    rows = db.rows("SELECT * FROM school_holds WHERE cleared_at IS NULL ORDER BY held_at")
    return [_hold(r) for r in rows]


def clear_hold(db: Database, school_id: str, now: datetime, by: str) -> bool:
    """The district lets break-glass grants at this school happen again."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "UPDATE school_holds SET cleared_at = ?, cleared_by = ?"
            " WHERE school_id = ? AND cleared_at IS NULL",
            (utc_ms(now), by, school_id),
        )
        return cursor.rowcount == 1


# -- access requests ---------------------------------------------------------------------


def access_request(db: Database, request_id: str) -> AccessRequest | None:
    rows = db.rows("SELECT * FROM access_requests WHERE id = ?", (request_id,))
    return _request(rows[0]) if rows else None


def pending_requests(db: Database) -> list[AccessRequest]:
    rows = db.rows("SELECT * FROM access_requests WHERE status = 'pending' ORDER BY requested_at")
    return [_request(r) for r in rows]


def requests_of_emergencies(db: Database, emergency_ids: Sequence[str]) -> list[AccessRequest]:
    """Every request of these emergencies, pending or decided, oldest first."""
    if not emergency_ids:
        return []
    marks = ",".join("?" * len(emergency_ids))
    rows = db.rows(
        f"SELECT * FROM access_requests WHERE emergency_id IN ({marks}) ORDER BY requested_at",
        tuple(emergency_ids),
    )
    return [_request(r) for r in rows]


def decide_request(
    db: Database,
    request_id: str,
    status: str,
    decided_by: str,
    now: datetime,
    grant: Grant | None,
    note: str = "",
) -> AccessRequest | None:
    """Approve or deny a pending request once; returns None if it was no longer pending."""
    with db.transaction() as conn:
        cursor = conn.execute(
            "UPDATE access_requests SET status = ?, decided_by = ?, decided_at = ?,"
            " decision_note = ? WHERE id = ? AND status = 'pending'",
            (status, decided_by, utc_ms(now), note, request_id),
        )
        if cursor.rowcount != 1:
            return None
        if grant is not None:
            _write_grant(conn, grant)
        row = conn.execute("SELECT * FROM access_requests WHERE id = ?", (request_id,)).fetchone()
        return _request(row)
