"""The stored events (``events``) that desks follow and resume from (events.py).

Ids are ever increasing and, because every write transaction is serial (storage.py),
in commit order: a desk resuming after ``Last-Event-ID`` misses nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dispatch_console.domain.session import utc_ms

from .db import Database


@dataclass(frozen=True)
class StoredEvent:
    id: int
    at: str
    kind: str
    audience: str
    subject: str
    data: dict[str, Any]


def append(
    db: Database, at: datetime, kind: str, audience: str, subject: str, data: Mapping[str, Any]
) -> int:
    """Store an event; its id (ever increasing) is what a desk resumes from."""
    with db.transaction() as conn:
        row = conn.execute(
            "INSERT INTO events(at, kind, audience, subject, data) VALUES (?, ?, ?, ?, ?)"
            " RETURNING id",
            (utc_ms(at), kind, audience, subject, json.dumps(dict(data), sort_keys=True)),
        ).fetchone()
    return int(row[0])


def after(db: Database, event_id: int, limit: int) -> list[StoredEvent]:
    """The events stored after ``event_id``, oldest first, at most ``limit``."""
    rows = db.rows(
        "SELECT id, at, kind, audience, subject, data FROM events WHERE id > ? ORDER BY id LIMIT ?",
        (event_id, limit),
    )
    return [
        StoredEvent(r["id"], r["at"], r["kind"], r["audience"], r["subject"], json.loads(r["data"]))
        for r in rows
    ]


def id_range(db: Database) -> tuple[int, int]:
    """The first and last event ids kept (0, 0 when there are none)."""
    row = db.rows("SELECT MIN(id) AS first, MAX(id) AS last FROM events")[0]
    return int(row["first"] or 0), int(row["last"] or 0)


def has(db: Database, kind: str, subject: str) -> bool:
    """Whether an event of this kind about this subject was ever stored (and kept)."""
    rows = db.rows("SELECT 1 FROM events WHERE subject = ? AND kind = ? LIMIT 1", (subject, kind))
    return bool(rows)


def trim(db: Database, keep: int) -> None:
    """Forget all but the last ``keep`` events (a desk further behind resyncs)."""
    with db.transaction() as conn:
        conn.execute("DELETE FROM events WHERE id <= (SELECT MAX(id) FROM events) - ?", (keep,))
