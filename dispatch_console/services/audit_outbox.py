"""The audit outbox: viewing-session records made durable on this workstation first.

"No audit record, no video": a session's start is committed here (fsync'd by SQLite's
FULL synchronous mode) before the console asks for a stream, and its end is committed
before the tile is gone. The shipper then delivers them at least once; the server's
idempotency keys (session id + kind) make replays harmless. A session whose start is
here but whose end is not was cut short by a crash or a kill; the next start of the
console ends it with ``recovered_after_crash``.

sqlite3 blocks, so every call runs on a worker thread: the GUI thread never waits on disk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import (
    ViewingSession,
    end_session,
    session_from_start_record,
    utc_ms,
)

from .errors import AuditNotRecorded

T = TypeVar("T")
log = logging.getLogger(__name__)


def _reading(what: str, path: Path, work: Callable[[], T]) -> T:
    """Run a read or bookkeeping step, turning SQLite's errors into AuditNotRecorded.

    A raw ``sqlite3.Error`` (a transient "disk is full", a locked file) once escaped the
    shipper's handlers and ended audit delivery for the rest of the session.
    """
    try:
        return work()
    except sqlite3.Error as exc:
        raise AuditNotRecorded(
            f"The local audit store {path} failed while {what}: {exc}."
        ) from None


_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('start', 'end')),
    payload      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    delivered_at TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    rejected     INTEGER NOT NULL DEFAULT 0,
    UNIQUE (session_id, kind)
);
"""


# The outbox file's own version (SQLite's user_version). Version 1 is the first table
# above; a file from before versioning reads as 0 and has that same table. A later
# version adds its step to _MIGRATIONS, so a workstation's pending records survive an
# upgrade; a file from a newer console is refused rather than misread.
OUTBOX_VERSION = 1
_MIGRATIONS: dict[int, str] = {0: ""}


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    session_id: str
    kind: str
    payload: dict[str, object]
    attempts: int


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > OUTBOX_VERSION:
        raise sqlite3.DatabaseError(
            f"it was written by a newer console (outbox version {version}, this console "
            f"reads up to {OUTBOX_VERSION}); install that version again to deliver it"
        )
    while version < OUTBOX_VERSION:
        db.executescript(_MIGRATIONS[version])
        version += 1
        db.execute(f"PRAGMA user_version = {version}")


class AuditOutbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=FULL")
                    db.executescript(_SCHEMA)
                    _migrate(db, self.path)
                except sqlite3.Error:
                    db.close()
                    raise
            except (OSError, sqlite3.Error) as exc:
                raise AuditNotRecorded(
                    f"The local audit store {self.path} cannot be opened: {exc}.",
                    "Video stays closed until it can: check the disk and its permissions.",
                ) from None
            self._db = db
        return self._db

    def _write(self, session_id: str, kind: str, payload: dict[str, object], now: str) -> None:
        with self._lock:
            db = self._conn()
            try:
                db.execute(
                    "INSERT OR IGNORE INTO outbox (session_id, kind, payload, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    (session_id, kind, json.dumps(payload, sort_keys=True), now),
                )
            except sqlite3.Error as exc:
                full = "full" in str(exc).lower()
                raise AuditNotRecorded(
                    f"Could not write the viewing session to {self.path}: "
                    + ("the disk is full." if full else f"{exc}."),
                    "Video stays closed: free disk space and try again."
                    if kind == "start"
                    else "The session end will be retried.",
                ) from None

    async def record_start(self, session: ViewingSession) -> None:
        """Durably store a session start. Raises AuditNotRecorded: then show no video."""
        await asyncio.to_thread(
            self._write, session.session_id, "start", session.start_record(), session.started_at
        )

    async def record_end(self, session: ViewingSession) -> None:
        if session.ended_at is None:
            raise ValueError("record_end needs an ended session")
        await asyncio.to_thread(
            self._write, session.session_id, "end", session.end_record(), session.ended_at
        )

    def _select(self, where: str, args: tuple[object, ...]) -> list[OutboxItem]:
        def run() -> list[OutboxItem]:
            with self._lock:
                rows = (
                    self._conn()
                    .execute(
                        "SELECT seq, session_id, kind, payload, attempts FROM outbox " + where,
                        args,
                    )
                    .fetchall()
                )
            return [OutboxItem(r[0], r[1], r[2], json.loads(r[3]), r[4]) for r in rows]

        return _reading("reading pending records", self.path, run)

    async def pending(self, limit: int = 100) -> list[OutboxItem]:
        return await asyncio.to_thread(
            self._select,
            "WHERE delivered_at IS NULL AND rejected = 0 ORDER BY seq LIMIT ?",
            (limit,),
        )

    async def undelivered(self, session_id: str, kind: str) -> OutboxItem | None:
        """This session's record of ``kind`` if it still waits for delivery."""
        found = await asyncio.to_thread(
            self._select,
            "WHERE session_id = ? AND kind = ? AND delivered_at IS NULL AND rejected = 0",
            (session_id, kind),
        )
        return found[0] if found else None

    async def requeue(self, session_id: str, kind: str) -> None:
        """Deliver this record again: the server says it does not have it after all."""

        def run() -> None:
            with self._lock:
                self._conn().execute(
                    "UPDATE outbox SET delivered_at = NULL WHERE session_id = ? AND kind = ?",
                    (session_id, kind),
                )

        await asyncio.to_thread(_reading, "re-queueing a record", self.path, run)

    def _mark(self, seq: int, *, delivered_at: str | None, error: str | None, reject: bool) -> None:
        def run() -> None:
            with self._lock:
                self._conn().execute(
                    "UPDATE outbox SET delivered_at = ?, last_error = ?, attempts = attempts + 1, "
                    "rejected = ? WHERE seq = ?",
                    (delivered_at, error, int(reject), seq),
                )

        _reading("noting a delivery", self.path, run)

    async def mark_delivered(self, seq: int, now: datetime) -> None:
        await asyncio.to_thread(self._mark, seq, delivered_at=utc_ms(now), error=None, reject=False)

    async def mark_failed(self, seq: int, error: str, *, reject: bool = False) -> None:
        await asyncio.to_thread(self._mark, seq, delivered_at=None, error=error, reject=reject)

    def _is_rejected(self, session_id: str, kind: str) -> bool:
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT rejected FROM outbox WHERE session_id = ? AND kind = ?",
                    (session_id, kind),
                )
                .fetchone()
            )
        return bool(row and row[0])

    async def is_rejected(self, session_id: str, kind: str) -> bool:
        return await asyncio.to_thread(self._is_rejected, session_id, kind)

    def _unfinished(self) -> list[dict[str, object]]:
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT payload FROM outbox s WHERE kind = 'start' AND NOT EXISTS "
                    "(SELECT 1 FROM outbox e WHERE e.kind = 'end' "
                    "AND e.session_id = s.session_id) ORDER BY seq"
                )
                .fetchall()
            )
        return [json.loads(r[0]) for r in rows]

    async def recover_unfinished(self, now: datetime) -> list[ViewingSession]:
        """End every session a crash left open, so the district sees no open-ended gap."""
        recovered = []
        for start in await asyncio.to_thread(self._unfinished):
            try:
                session = session_from_start_record(start)
            except ValueError as exc:
                # Unreadable even across versions: keep it for the district to reconcile.
                log.error("outbox start record cannot be recovered: %s", exc)
                continue
            ended = end_session(session, EndReason.RECOVERED_AFTER_CRASH, now)
            await self.record_end(ended)
            recovered.append(ended)
        return recovered

    async def prune_delivered(self, delivered_before: datetime) -> int:
        """Forget sessions whose start and end the server acknowledged before a moment.

        Both rows go together, and only once both are delivered: a start alone must stay,
        since crash recovery finds open sessions by a start without an end.
        """
        cutoff = utc_ms(delivered_before)

        def run() -> int:
            with self._lock:
                cursor = self._conn().execute(
                    "DELETE FROM outbox WHERE session_id IN ("
                    " SELECT s.session_id FROM outbox s JOIN outbox e"
                    " ON e.session_id = s.session_id AND e.kind = 'end'"
                    " WHERE s.kind = 'start' AND s.delivered_at IS NOT NULL"
                    " AND e.delivered_at IS NOT NULL AND s.delivered_at < ?"
                    " AND e.delivered_at < ?)",
                    (cutoff, cutoff),
                )
                return cursor.rowcount

        return await asyncio.to_thread(_reading, "pruning delivered records", self.path, run)

    def _counts(self) -> dict[str, int]:
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT SUM(delivered_at IS NULL AND rejected = 0), SUM(rejected) FROM outbox"
                )
                .fetchone()
            )
        return {"pending": int(row[0] or 0), "rejected": int(row[1] or 0)}

    async def counts(self) -> dict[str, int]:
        return await asyncio.to_thread(self._counts)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
