"""The district's audit queries and checks beyond the session records themselves
(session_store.py writes those).

Overdue heartbeats, the workstations' chains as their links arrive, the gateways' relay
reports and the findings that come out of comparing them. Every write goes through
``audit_log`` in the same transaction, so the chained log stays the whole story.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dispatch_console.domain.audit_chain import Link, arriving_link_problems, missing_seqs
from dispatch_console.domain.audit_record import EXPORT_FIELDS
from dispatch_console.domain.session import parse_utc, utc_ms

from . import account_store, audit_log, emergency_store, session_store
from .db import Database

# An open session not heard from for this long is flagged on the district desk.
HEARTBEAT_OVERDUE = timedelta(seconds=60)
# A missing link is a gap once a later one has been held this long: links arrive out of
# order (a session's start jumps a backlog), but a backlog drains within seconds.
GAP_GRACE = timedelta(minutes=10)
# A relayed stream needs its session's start on record within this time.
RELAY_GRACE = timedelta(seconds=30)
# A stream that went on this long after its session's recorded end is a finding.
RELAY_OVERRUN = timedelta(seconds=30)

# -- heartbeats --------------------------------------------------------------------------


def heartbeat_overdue(row: Mapping[str, Any], now: datetime) -> bool:
    """An open session whose console has not been heard from for HEARTBEAT_OVERDUE."""
    if row.get("ended_at") is not None:
        return False
    heard = row.get("heartbeat_received_at") or row.get("start_received_at")
    return heard is not None and now - parse_utc(str(heard)) > HEARTBEAT_OVERDUE


# -- workstation chains ------------------------------------------------------------------


def accept_link(
    db: Database,
    link: Link,
    kind: str,
    body: Mapping[str, Any],
    *,
    session_id: str,
    workstation_id: str,
    now: datetime,
) -> list[dict[str, str]]:
    """Hold an arriving link and record what is wrong with it; returns the new findings
    (kind, subject, detail), as ``sweep`` does."""
    found: list[dict[str, str]] = []
    with db.transaction() as conn:

        def one(sql: str, *args: Any) -> str | None:
            row = conn.execute(sql, args).fetchone()
            return None if row is None else str(row[0])

        same = one(
            "SELECT hash FROM workstation_links WHERE chain = ? AND seq = ?", link.chain, link.seq
        )
        before = one(
            "SELECT hash FROM workstation_links WHERE chain = ? AND seq = ?",
            link.chain,
            link.seq - 1,
        )
        after_prev = one(
            "SELECT prev FROM workstation_links WHERE chain = ? AND seq = ?",
            link.chain,
            link.seq + 1,
        )
        first_of_chain = one("SELECT 1 FROM workstation_links WHERE chain = ?", link.chain) is None
        problems = arriving_link_problems(
            link, kind, body, same_seq=same, before=before, after_prev=after_prev
        )
        if same is None:
            conn.execute(
                "INSERT INTO workstation_links(chain, seq, kind, session_id, workstation_id,"
                " prev, hash, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    link.chain,
                    link.seq,
                    kind,
                    session_id,
                    workstation_id,
                    link.prev,
                    link.hash,
                    utc_ms(now),
                ),
            )
        for problem in problems:
            detail = (
                f"{problem.detail} ({kind} of session {session_id}, workstation {workstation_id})"
            )
            kind_of = f"chain_{problem.kind}"
            subject = f"{link.chain}:{link.seq}"
            if audit_log.record_finding(conn, now, kind_of, subject, detail, workstation_id):
                found.append({"kind": kind_of, "subject": subject, "detail": detail})
        if first_of_chain:
            other = one(
                "SELECT chain FROM workstation_links WHERE workstation_id = ? AND chain != ?",
                workstation_id,
                link.chain,
            )
            if other is not None:
                detail = (
                    f"workstation {workstation_id} started a new audit chain {link.chain} "
                    f"(it had chain {other}): its local audit store was replaced or reset"
                )
                if audit_log.record_finding(
                    conn, now, "chain_new", link.chain, detail, workstation_id
                ):
                    found.append({"kind": "chain_new", "subject": link.chain, "detail": detail})
    return found


def _gap_findings(db: Database, now: datetime) -> list[tuple[str, str, str, str]]:
    """(kind, subject, detail, workstation) for each link missing past the grace period."""
    out = []
    rows = db.query(
        "SELECT chain, seq, workstation_id, received_at FROM workstation_links ORDER BY chain, seq"
    )
    by_chain: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_chain.setdefault(row["chain"], []).append(row)
    for chain, links in by_chain.items():
        received = {int(r["seq"]): r for r in links}
        for seq in missing_seqs(received):
            later = next(received[s] for s in sorted(received) if s > seq)
            if now - parse_utc(later["received_at"]) < GAP_GRACE:
                continue
            workstation = str(later["workstation_id"])
            out.append(
                (
                    "chain_gap",
                    f"{chain}:{seq}",
                    f"record {seq} of workstation {workstation}'s audit chain {chain} never "
                    f"arrived (record {later['seq']} arrived at {later['received_at']})",
                    workstation,
                )
            )
    return out


# -- gateway relays ----------------------------------------------------------------------


def record_relays(db: Database, relays: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Store a gateway's relay reports; a report again under the same id updates it."""
    stamp = utc_ms(now)
    with db.transaction() as conn:
        for relay in relays:
            conn.execute(
                "INSERT INTO gateway_relays(relay_id, session_id, camera_id, stream, started_at,"
                " ended_at, bytes, first_reported_at, last_reported_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(relay_id) DO UPDATE SET"
                " ended_at = COALESCE(gateway_relays.ended_at, excluded.ended_at),"
                # The larger count (SQLite's two-argument MAX is PostgreSQL's GREATEST).
                " bytes = CASE WHEN excluded.bytes > gateway_relays.bytes"
                " THEN excluded.bytes ELSE gateway_relays.bytes END,"
                " last_reported_at = excluded.last_reported_at",
                (
                    relay["relay_id"],
                    relay["session_id"],
                    relay["camera_id"],
                    relay["stream"],
                    relay["started_at"],
                    relay["ended_at"],
                    int(relay["bytes"]),
                    stamp,
                    stamp,
                ),
            )


def _relay_findings(db: Database, now: datetime) -> list[tuple[str, str, str, str | None]]:
    out: list[tuple[str, str, str, str | None]] = []
    rows = db.query(
        "SELECT r.*, s.camera_id AS session_camera, s.ended_at AS session_ended,"
        " s.workstation_id AS workstation, s.session_id AS known"
        " FROM gateway_relays r LEFT JOIN audit_sessions s ON s.session_id = r.session_id"
    )
    for r in rows:
        if r["known"] is None:
            if now - parse_utc(r["first_reported_at"]) >= RELAY_GRACE:
                out.append(
                    (
                        "unreported_stream",
                        r["relay_id"],
                        f"the gateway relayed camera {r['camera_id']} ({r['stream']}) from "
                        f"{r['started_at']} for session {r['session_id']}, which no console "
                        "reported to the audit trail",
                        None,
                    )
                )
            continue
        if r["camera_id"] != r["session_camera"]:
            out.append(
                (
                    "relay_camera_mismatch",
                    r["relay_id"],
                    f"the gateway relayed camera {r['camera_id']} for session "
                    f"{r['session_id']}, which was recorded for camera {r['session_camera']}",
                    r["workstation"],
                )
            )
        if r["session_ended"] is not None:
            relay_end = r["ended_at"] or r["last_reported_at"]
            overrun = parse_utc(relay_end) - parse_utc(r["session_ended"])
            if overrun > RELAY_OVERRUN:
                out.append(
                    (
                        "streamed_after_end",
                        r["relay_id"],
                        f"the gateway relayed camera {r['camera_id']} for session "
                        f"{r['session_id']} until {relay_end}, "
                        f"{int(overrun.total_seconds())} s after the session's recorded end",
                        r["workstation"],
                    )
                )
    return out


# -- findings ----------------------------------------------------------------------------


def sweep(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Record the findings that only time reveals (gaps, unreported streams); the new ones."""
    new: list[dict[str, Any]] = []
    candidates = [*_gap_findings(db, now), *_relay_findings(db, now)]
    if not candidates:
        return new
    with db.transaction() as conn:
        for kind, subject, detail, workstation in candidates:
            if audit_log.record_finding(conn, now, kind, subject, detail, workstation):
                new.append({"kind": kind, "subject": subject, "detail": detail})
    return new


def findings(db: Database, now: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """Recorded findings (newest first) and the live ones: overdue heartbeats, reviews due."""
    sweep(db, now)
    listed = [
        {**row, "live": False}
        for row in db.query(
            "SELECT id, at, kind, subject, workstation_id, detail FROM audit_findings"
            " ORDER BY id DESC LIMIT ?",
            (limit,),
        )
    ]
    live: list[dict[str, Any]] = []
    for row in db.query(f"{session_store.SELECT} WHERE ended_at IS NULL"):
        if heartbeat_overdue(row, now):
            heard = row["heartbeat_received_at"] or row["start_received_at"]
            live.append(
                {
                    "id": None,
                    "at": utc_ms(now),
                    "kind": "heartbeat_overdue",
                    "subject": row["session_id"],
                    "workstation_id": row["workstation_id"],
                    "detail": f"{row['user_name']} ({row['agency']}) is recorded as watching "
                    f"{row['camera_name']}, but workstation {row['workstation_id']} has not "
                    f"been heard from since {heard}",
                    "live": True,
                }
            )
    for grant in emergency_store.grants_to_review(db):
        live.append(
            {
                "id": None,
                "at": utc_ms(grant.granted_at),
                "kind": "review_due",
                "subject": grant.id,
                "workstation_id": None,
                "detail": f"break-glass grant {grant.id} for {grant.agency} at "
                f"{grant.school_id} (by {grant.approved_by}) waits for a district review",
                "live": True,
            }
        )
    return [*live, *listed]


def workstations(db: Database, now: datetime) -> list[dict[str, Any]]:
    """Per workstation: the last record heard, open and overdue sessions, missing links."""
    out: dict[str, dict[str, Any]] = {}
    for row in db.query(
        "SELECT workstation_id, MAX(received_at) AS last_heard, COUNT(*) AS links,"
        " COUNT(DISTINCT chain) AS chains FROM workstation_links GROUP BY workstation_id"
    ):
        out[row["workstation_id"]] = {
            "workstation_id": row["workstation_id"],
            "last_event_at": row["last_heard"],
            "links": row["links"],
            "chains": row["chains"],
            "open_sessions": 0,
            "overdue_sessions": 0,
        }
    for row in db.query(
        f"{session_store.SELECT} WHERE ended_at IS NULL OR end_received_at >= ?",
        (utc_ms(now - timedelta(days=1)),),
    ):
        entry = out.setdefault(
            row["workstation_id"],
            {
                "workstation_id": row["workstation_id"],
                "last_event_at": None,
                "links": 0,
                "chains": 0,
                "open_sessions": 0,
                "overdue_sessions": 0,
            },
        )
        heard = max(
            (
                str(v)
                for v in (
                    row["start_received_at"],
                    row["heartbeat_received_at"],
                    row["end_received_at"],
                )
                if v
            ),
            default=None,
        )
        if heard and (entry["last_event_at"] is None or heard > entry["last_event_at"]):
            entry["last_event_at"] = heard
        if row["ended_at"] is None:
            entry["open_sessions"] += 1
            entry["overdue_sessions"] += int(heartbeat_overdue(row, now))
    return sorted(out.values(), key=lambda e: str(e["workstation_id"]))


# -- the browser -------------------------------------------------------------------------


@dataclass(frozen=True)
class SessionQuery:
    """The audit browser's filters; every one optional. Times compare the server's start."""

    school_id: str | None = None
    camera_id: str | None = None
    user_id: str | None = None
    agency: str | None = None
    emergency_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 1000


def search_sessions(db: Database, q: SessionQuery) -> list[dict[str, Any]]:
    where, params = ["1 = 1"], []
    for column, value in (
        ("school_id", q.school_id),
        ("camera_id", q.camera_id),
        ("user_id", q.user_id),
        ("agency", q.agency),
        ("emergency_id", q.emergency_id),
    ):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if q.since is not None:
        # A session that was still going at ``since`` belongs to the window too.
        where.append("(ended_at IS NULL OR ended_at >= ?)")
        params.append(utc_ms(q.since))
    if q.until is not None:
        where.append("started_at <= ?")
        params.append(utc_ms(q.until))
    return db.query(
        f"{session_store.SELECT} WHERE {' AND '.join(where)}"
        " ORDER BY started_at DESC, session_id DESC LIMIT ?",
        (*params, q.limit),
    )


def timeline(db: Database, session_id: str) -> list[dict[str, Any]]:
    """Everything the district holds about one session, in the order it learned it."""
    entries = [
        {"at": r["at"], "kind": r["kind"], "seq": r["seq"], "detail": r["body"]}
        for r in db.query(
            "SELECT seq, at, kind, body FROM audit_log WHERE subject = ? ORDER BY seq",
            (session_id,),
        )
    ]
    for r in db.query(
        "SELECT * FROM gateway_relays WHERE session_id = ? ORDER BY started_at", (session_id,)
    ):
        entries.append(
            {
                "at": r["started_at"],
                "kind": "relay",
                "seq": None,
                "detail": f"gateway relayed {r['camera_id']} ({r['stream']}) from "
                f"{r['started_at']} to {r['ended_at'] or 'still open'}, {r['bytes']} bytes",
            }
        )
    return sorted(entries, key=lambda e: str(e["at"]))


# The export's columns: the record's own list of them (domain.audit_record).
CSV_COLUMNS = EXPORT_FIELDS


def sessions_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """The sessions as CSV, with cells a spreadsheet would run as formulas neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in CSV_COLUMNS])
    return buffer.getvalue()


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A name like "=HYPERLINK(...)" from a client must not become a live formula.
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def purge_past_retention(
    db: Database, *, retention_days: int, now: datetime, actor: str
) -> dict[str, Any]:
    """Purge the trail past retention and log who did it (raises audit_log.PurgeRefused).

    The CLI and the server's daily purge both come here: one rule for what a purge does.
    """
    # One transaction: a purge is never stored without the record of who did it.
    with db.transaction() as conn:
        result = audit_log.purge(conn, now=now, retention_days=retention_days, actor=actor)
        if result["purged_records"]:
            account_store.record_admin_action(
                db,
                now,
                actor,
                "audit.purge",
                "retention",
                f"kept {retention_days} days; removed {result['purged_records']} records "
                f"({result['purged_sessions']} sessions) before {result['cutoff']}",
            )
    return result


def picture_gaps(db: Database, session_ids: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """The picture gaps each session's console reported, in order (from the chained log)."""
    found: dict[str, list[dict[str, str]]] = {}
    wanted = set(session_ids)
    for row in db.query(
        "SELECT subject, body FROM audit_log WHERE kind = 'session.heartbeat'"
        " AND body LIKE '%\"gaps\"%' ORDER BY seq"
    ):
        if row["subject"] in wanted:
            found.setdefault(row["subject"], []).extend(json.loads(row["body"])["gaps"])
    return found


def gaps_summary(gaps: Sequence[Mapping[str, str]]) -> str:
    """ "2 gaps, 14 s in all (longest: the gateway hung up)" for a report's cell."""
    if not gaps:
        return "none"
    spans = [(parse_utc(g["to"]) - parse_utc(g["from"])).total_seconds() for g in gaps]
    longest = gaps[spans.index(max(spans))]
    return (
        f"{len(gaps)} gap{'s' if len(gaps) != 1 else ''}, {sum(spans):.0f} s in all "
        f"(longest {max(spans):.0f} s: {longest['reason']})"
    )
