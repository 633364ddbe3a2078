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
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from dispatch_console.domain.audit_chain import (
    GENESIS,
    ChainBreak,
    ChainedRecord,
    Link,
    first_break,
    next_link,
)
from dispatch_console.domain.session import (
    PictureGap,
    ViewingSession,
    heartbeat_record,
    parse_utc,
    recovered_end,
    session_from_start_record,
    utc_ms,
)

from .errors import AuditNotRecorded

T = TypeVar("T")
log = logging.getLogger(__name__)


def outbox_path(data_dir: Path, username: str) -> Path:
    """Where a user's outbox lives. One outbox per user: crash recovery must only ever
    end this user's sessions."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in username)
    return data_dir / f"audit-outbox-{safe}.sqlite3"


def outbox_paths(data_dir: Path) -> list[Path]:
    """Every user's outbox in a data folder (what ``audit verify`` checks by default)."""
    return sorted(data_dir.glob("audit-outbox-*.sqlite3"))


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


_SCHEMA_V2 = """
CREATE TABLE outbox (
    seq          INTEGER PRIMARY KEY,  -- the record's place in this outbox's chain, from 1
    session_id   TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('start', 'end', 'heartbeat')),
    payload      TEXT NOT NULL,        -- the body as hashed and sent, without its link
    created_at   TEXT NOT NULL,
    delivered_at TEXT,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    rejected     INTEGER NOT NULL DEFAULT 0,
    prev         TEXT NOT NULL,        -- the hash of record seq - 1 (GENESIS for 1)
    hash         TEXT NOT NULL         -- audit_chain.link_hash(prev, seq, kind, payload)
);
-- A session starts and ends once, and may beat many times.
CREATE UNIQUE INDEX outbox_once ON outbox (session_id, kind) WHERE kind IN ('start', 'end');
-- The chain's head outlives pruning (a new record must follow the last one written, even
-- when that one is gone), and the anchor says where the kept rows start: the first kept
-- seq and the hash it follows, so what remains after a prune still verifies.
CREATE TABLE chain (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    chain_id    TEXT NOT NULL,
    head_seq    INTEGER NOT NULL,
    head_hash   TEXT NOT NULL,
    anchor_seq  INTEGER NOT NULL,
    anchor_prev TEXT NOT NULL
);
"""

# The outbox file's own version (SQLite's user_version). Version 1 held starts and ends
# without links; a file from before versioning reads as 0 and has that same table.
# Version 2 adds heartbeats and the hash chain. Each step in _MIGRATIONS keeps a
# workstation's pending records across an upgrade; a file from a newer console is
# refused rather than misread.
OUTBOX_VERSION = 2


def _create_v2(db: sqlite3.Connection) -> None:
    for statement in _SCHEMA_V2.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        "INSERT INTO chain (id, chain_id, head_seq, head_hash, anchor_seq, anchor_prev) "
        "VALUES (1, ?, 0, ?, 1, ?)",
        (uuid.uuid4().hex, GENESIS, GENESIS),
    )


def _v1_to_v2(db: sqlite3.Connection) -> None:
    """Chain what a version-1 outbox holds, in its order, as a new chain.

    Nothing was chained before, so the rows get links now, seq 1..n in their old order,
    with their delivery state kept: pending records still go out, recovery still finds
    open sessions.
    """
    db.execute("ALTER TABLE outbox RENAME TO outbox_v1")
    _create_v2(db)
    chain_id = db.execute("SELECT chain_id FROM chain").fetchone()[0]
    previous: Link | None = None
    rows = db.execute(
        "SELECT session_id, kind, payload, created_at, delivered_at, attempts, last_error, "
        "rejected FROM outbox_v1 ORDER BY seq"
    ).fetchall()
    for session_id, kind, payload, created_at, delivered_at, attempts, error, rejected in rows:
        link = next_link(chain_id, previous, kind, json.loads(payload))
        db.execute(
            "INSERT INTO outbox (seq, session_id, kind, payload, created_at, delivered_at, "
            "attempts, last_error, rejected, prev, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (link.seq, session_id, kind, payload, created_at, delivered_at, attempts, error,
             rejected, link.prev, link.hash),
        )  # fmt: skip
        previous = link
    if previous is not None:
        db.execute("UPDATE chain SET head_seq = ?, head_hash = ?", (previous.seq, previous.hash))
    db.execute("DROP TABLE outbox_v1")


# Step from version N to N + 1; version 0 (unversioned) is the same table as version 1.
_MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    0: lambda db: None,
    1: _v1_to_v2,
}


@dataclass(frozen=True)
class OutboxItem:
    seq: int
    session_id: str
    kind: str
    payload: dict[str, object]
    attempts: int
    link: Link

    def wire_body(self) -> dict[str, object]:
        """The JSON body sent to the district: the payload with its chain link."""
        return {**self.payload, "chain": self.link.wire()}


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the file to OUTBOX_VERSION in one transaction (all steps or none)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > OUTBOX_VERSION:
            raise sqlite3.DatabaseError(
                f"it was written by a newer console (outbox version {version}, this console "
                f"reads up to {OUTBOX_VERSION}); install that version again to deliver it"
            )
        has_table = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'"
        ).fetchone()
        if version == 0 and not has_table:
            _create_v2(db)  # a new file: a new chain
        else:
            while version < OUTBOX_VERSION:
                _MIGRATIONS[version](db)
                version += 1
        db.execute(f"PRAGMA user_version = {OUTBOX_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _why(exc: BaseException) -> str:
    """SQLite's complaint in words a dispatcher (and IT) can act on."""
    text = str(exc).lower()
    if "full" in text:
        return "the disk is full."
    if "readonly" in text or "read-only" in text:
        return "the file or its folder is read-only."
    if "not a database" in text or "malformed" in text:
        return f"the file is damaged ({exc})."
    return f"{exc}."


@dataclass(frozen=True)
class _Write:
    session_id: str
    kind: str
    payload: dict[str, object]
    created_at: str


def _read_head(db: sqlite3.Connection) -> tuple[str, Link | None]:
    chain_id, head_seq, head_hash = db.execute(
        "SELECT chain_id, head_seq, head_hash FROM chain"
    ).fetchone()
    if head_seq == 0:
        return chain_id, None
    return chain_id, Link(chain_id, head_seq, "", head_hash)


class AuditOutbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # Group commit: writes that arrive while a commit is on disk wait for the next one
        # and share its fsync. Per event loop, since tests and tools run several in turn.
        self._queue: list[tuple[_Write, asyncio.Future[None]]] = []
        self._queue_loop: asyncio.AbstractEventLoop | None = None
        self._committer: asyncio.Task[None] | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                try:
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=FULL")
                    _migrate(db)
                except sqlite3.Error:
                    db.close()
                    raise
            except (OSError, sqlite3.Error) as exc:
                raise AuditNotRecorded(
                    f"The local audit store {self.path} cannot be opened: {_why(exc)}",
                    "Video stays closed until it can: check the disk and its permissions.",
                ) from None
            self._db = db
        return self._db

    def _not_recorded(self, kind: str, exc: sqlite3.Error) -> AuditNotRecorded:
        return AuditNotRecorded(
            f"Could not write the viewing session to {self.path}: {_why(exc)}",
            "Video stays closed: free disk space or fix the file's permissions and try again."
            if kind == "start"
            else (
                "The feed is closed; its end will be retried."
                if kind == "heartbeat"
                else "The session end will be retried."
            ),
        )

    def _insert(self, db: sqlite3.Connection, writes: list[_Write]) -> None:
        """Chain and insert ``writes`` in one transaction: one fsync for them all.

        The link is computed inside the same transaction as the insert, from the head
        read there, so two writers can never both follow the same record.
        """
        db.execute("BEGIN IMMEDIATE")
        chain_id, head = _read_head(db)
        before = head
        for write in writes:
            if (
                write.kind != "heartbeat"
                and db.execute(
                    "SELECT 1 FROM outbox WHERE session_id = ? AND kind = ?",
                    (write.session_id, write.kind),
                ).fetchone()
            ):
                continue  # a replayed start or a second end: the first one stands
            link = next_link(chain_id, head, write.kind, write.payload)
            db.execute(
                "INSERT INTO outbox (seq, session_id, kind, payload, created_at, prev, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (link.seq, write.session_id, write.kind,
                 json.dumps(write.payload, sort_keys=True), write.created_at, link.prev,
                 link.hash),
            )  # fmt: skip
            head = link
        if head is not None and head != before:
            db.execute("UPDATE chain SET head_seq = ?, head_hash = ?", (head.seq, head.hash))
        db.execute("COMMIT")

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            try:
                db.execute("ROLLBACK")
            except sqlite3.Error:
                log.exception("outbox rollback failed")

    def _commit(self, writes: list[_Write]) -> list[AuditNotRecorded | None]:
        """Commit a batch; each write's outcome (None: durable). One bad write (say, one
        that no longer fits on the disk) must not fail the others, so a failed batch is
        retried one write at a time."""
        with self._lock:
            try:
                db = self._conn()
            except AuditNotRecorded as exc:
                return [exc for _ in writes]
            try:
                self._insert(db, writes)
                return [None for _ in writes]
            except sqlite3.Error as exc:
                self._rollback(db)
                if len(writes) == 1:
                    return [self._not_recorded(writes[0].kind, exc)]
            results: list[AuditNotRecorded | None] = []
            for write in writes:
                try:
                    self._insert(db, [write])
                    results.append(None)
                except sqlite3.Error as exc:
                    self._rollback(db)
                    results.append(self._not_recorded(write.kind, exc))
            return results

    async def _write(self, write: _Write) -> None:
        """Return once ``write`` is durable (committed with synchronous=FULL), or raise
        AuditNotRecorded. Concurrent writers share commits (group commit)."""
        loop = asyncio.get_running_loop()
        if self._queue_loop is not loop:
            self._queue, self._queue_loop, self._committer = [], loop, None
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((write, done))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_queued(), name="audit-outbox-commit")
        await done

    async def _commit_queued(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                results = await asyncio.to_thread(self._commit, [w for w, _ in batch])
            except BaseException as exc:  # the thread itself failed: nobody is durable
                for _, done in batch:
                    if not done.done():
                        done.set_exception(
                            AuditNotRecorded(f"The local audit store {self.path} failed: {exc}")
                        )
                raise
            for (_, done), error in zip(batch, results, strict=True):
                if done.done():
                    continue
                if error is None:
                    done.set_result(None)
                else:
                    done.set_exception(error)

    async def record_start(self, session: ViewingSession) -> None:
        """Durably store a session start. Raises AuditNotRecorded: then show no video."""
        await self._write(
            _Write(session.session_id, "start", session.start_record(), session.started_at)
        )

    async def record_heartbeat(
        self, session: ViewingSession, at: str, gaps: tuple[PictureGap, ...] = ()
    ) -> None:
        """Durably note that ``session`` was still open at ``at`` (with the picture gaps
        it had, if any). Raises AuditNotRecorded."""
        await self._write(
            _Write(session.session_id, "heartbeat", heartbeat_record(session, at, gaps), at)
        )

    async def record_end(self, session: ViewingSession) -> None:
        if session.ended_at is None:
            raise ValueError("record_end needs an ended session")
        await self._write(_Write(session.session_id, "end", session.end_record(), session.ended_at))

    def _select(self, where: str, args: tuple[object, ...]) -> list[OutboxItem]:
        def run() -> list[OutboxItem]:
            with self._lock:
                rows = (
                    self._conn()
                    .execute(
                        "SELECT o.seq, o.session_id, o.kind, o.payload, o.attempts, c.chain_id, "
                        "o.prev, o.hash FROM outbox o, chain c " + where,
                        args,
                    )
                    .fetchall()
                )
            return [
                OutboxItem(r[0], r[1], r[2], json.loads(r[3]), r[4], Link(r[5], r[0], r[6], r[7]))
                for r in rows
            ]

        return _reading("reading pending records", self.path, run)

    async def pending(self, limit: int = 100) -> list[OutboxItem]:
        return await asyncio.to_thread(
            self._select,
            "WHERE o.delivered_at IS NULL AND o.rejected = 0 ORDER BY o.seq LIMIT ?",
            (limit,),
        )

    async def undelivered(self, session_id: str, kind: str) -> OutboxItem | None:
        """This session's record of ``kind`` if it still waits for delivery."""
        found = await asyncio.to_thread(
            self._select,
            "WHERE o.session_id = ? AND o.kind = ? AND o.delivered_at IS NULL AND o.rejected = 0",
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

    def _unfinished(self) -> list[tuple[dict[str, object], list[str]]]:
        """Each start without an end, with the times that prove it was still open.

        A session stays open on this console until its end is durable, so every record
        written after its start (its heartbeats, other sessions' records) was written
        while it was open. The latest of their times is when it was last known open.
        """
        with self._lock:
            db = self._conn()
            starts = db.execute(
                "SELECT seq, payload FROM outbox s WHERE kind = 'start' AND NOT EXISTS "
                "(SELECT 1 FROM outbox e WHERE e.kind = 'end' "
                "AND e.session_id = s.session_id) ORDER BY seq"
            ).fetchall()
            found = []
            for seq, payload in starts:
                (last,) = db.execute(
                    "SELECT MAX(created_at) FROM outbox WHERE seq >= ?", (seq,)
                ).fetchone()
                found.append((json.loads(payload), [last] if last else []))
        return found

    async def recover_unfinished(self) -> list[ViewingSession]:
        """End every session a crash left open, so the district sees no open-ended gap.

        Each ends at its last durable mark (its last heartbeat, or a later record this
        workstation wrote while it was open), not at the restart: the console may have
        been down for hours, and the district must not read that as hours of viewing.
        """
        recovered = []
        for start, marks in await asyncio.to_thread(
            _reading, "looking for sessions left open", self.path, self._unfinished
        ):
            try:
                session = session_from_start_record(start)
                parse_utc(session.started_at)
            except ValueError as exc:
                # Unreadable even across versions: keep it for the district to reconcile.
                log.error("outbox start record cannot be recovered: %s", exc)
                continue
            ended = recovered_end(session, marks)
            await self.record_end(ended)
            recovered.append(ended)
        return recovered

    def _prune(self, cutoff: str) -> int:
        """Delete the longest prefix of the chain made only of whole, finished sessions
        the district acknowledged before ``cutoff``; record the anchor of what is kept."""
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(
                    "SELECT seq, session_id, kind, delivered_at, rejected FROM outbox ORDER BY seq"
                ).fetchall()
                (head_seq, head_hash) = db.execute(
                    "SELECT head_seq, head_hash FROM chain"
                ).fetchone()
                ended = {sid for _seq, sid, kind, _d, _r in rows if kind == "end"}
                done: dict[str, bool] = {}
                first: dict[str, int] = {}
                last: dict[str, int] = {}
                for seq, sid, _kind, delivered_at, rejected in rows:
                    ok = delivered_at is not None and not rejected and delivered_at < cutoff
                    done[sid] = done.get(sid, True) and ok and sid in ended
                    first.setdefault(sid, seq)
                    last[sid] = seq
                # The first kept record: the first of a session that must stay; then no
                # session may be cut in two, so step back to the start of any straddler.
                keep_from = min((first[sid] for sid in done if not done[sid]), default=None)
                if keep_from is None:
                    keep_from = head_seq + 1
                while True:
                    straddlers = [first[s] for s in first if first[s] < keep_from <= last[s]]
                    if not straddlers:
                        break
                    keep_from = min(straddlers)
                deleted = db.execute("DELETE FROM outbox WHERE seq < ?", (keep_from,)).rowcount
                if deleted:
                    kept = db.execute(
                        "SELECT prev FROM outbox WHERE seq = ?", (keep_from,)
                    ).fetchone()
                    anchor_prev = kept[0] if kept else head_hash
                    db.execute(
                        "UPDATE chain SET anchor_seq = ?, anchor_prev = ?",
                        (keep_from, anchor_prev),
                    )
                db.execute("COMMIT")
                return int(deleted)
            except BaseException:
                self._rollback(db)
                raise

    async def prune_delivered(self, delivered_before: datetime) -> int:
        """Forget the oldest whole sessions the server acknowledged before a moment.

        Only a prefix of the chain goes, so what stays verifies from its anchor; a
        session goes whole, once its start, heartbeats and end are all delivered; a start
        alone stays (crash recovery finds open sessions by a start without an end), and
        so does everything after it. A record the district refused for good stays too,
        and with it everything after it, until someone reconciles it by hand.
        """
        cutoff = utc_ms(delivered_before)
        return await asyncio.to_thread(
            _reading, "pruning delivered records", self.path, lambda: self._prune(cutoff)
        )

    def _oldest_pending(self) -> str | None:
        with self._lock:
            row = (
                self._conn()
                .execute(
                    "SELECT created_at FROM outbox WHERE delivered_at IS NULL AND rejected = 0 "
                    "ORDER BY seq LIMIT 1"
                )
                .fetchone()
            )
        return None if row is None else str(row[0])

    async def oldest_pending(self) -> datetime | None:
        """When the oldest record still waiting for delivery was written (None: none)."""
        found = await asyncio.to_thread(
            _reading, "reading the oldest pending record", self.path, self._oldest_pending
        )
        return None if found is None else parse_utc(found)

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
        return await asyncio.to_thread(_reading, "counting records", self.path, self._counts)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None


@dataclass(frozen=True)
class OutboxVerification:
    """What ``verify_outbox`` found: the chain's identity, its kept span and head, and
    the first record where it breaks (None: it holds from its anchor to its head)."""

    path: Path
    chain_id: str
    records: int
    anchor_seq: int
    head_seq: int
    head_hash: str
    problem: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "chain": self.chain_id,
            "records": self.records,
            "first_kept_seq": self.anchor_seq,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_record": None
            if self.problem is None
            else {
                "seq": self.problem.seq,
                "label": self.problem.label,
                "problem": self.problem.problem,
            },
        }

    def text(self) -> str:
        span = f"records {self.anchor_seq}..{self.head_seq}" if self.records else "no records kept"
        if self.problem is None:
            return (
                f"{self.path}: chain {self.chain_id} holds ({span}); "
                f"head {self.head_seq} {self.head_hash}"
            )
        return f"{self.path}: chain {self.chain_id} is BROKEN at {self.problem}"


def _verify(path: Path) -> OutboxVerification:
    if not path.is_file():
        raise AuditNotRecorded(f"There is no audit outbox at {path}.")
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version != OUTBOX_VERSION:
            raise AuditNotRecorded(
                f"The audit outbox {path} is version {version}; this console verifies "
                f"version {OUTBOX_VERSION} (open it with the console once to upgrade it)."
            )
        chain_id, head_seq, head_hash, anchor_seq, anchor_prev = db.execute(
            "SELECT chain_id, head_seq, head_hash, anchor_seq, anchor_prev FROM chain"
        ).fetchone()
        rows = db.execute(
            "SELECT seq, session_id, kind, payload, prev, hash FROM outbox ORDER BY rowid"
        ).fetchall()
    finally:
        db.close()
    records = []
    problem: ChainBreak | None = None
    for seq, session_id, kind, payload, prev, hash_ in rows:
        label = f"{kind} of session {session_id}"
        try:
            body = json.loads(payload)
        except ValueError:
            problem = ChainBreak(seq, label, "its content is not readable JSON")
            break
        records.append(ChainedRecord(seq, kind, body, prev, hash_, label))
    checked = first_break(records, start_seq=anchor_seq, start_prev=anchor_prev)
    if checked is not None and (problem is None or checked.seq <= problem.seq):
        problem = checked
    if problem is None:
        last = records[-1] if records else None
        if last is None and (anchor_seq, anchor_prev) != (head_seq + 1, head_hash):
            if head_seq >= anchor_seq:
                problem = ChainBreak(
                    anchor_seq, "", f"records {anchor_seq}..{head_seq} are missing"
                )
        elif last is not None and (last.seq, last.hash) != (head_seq, head_hash):
            problem = ChainBreak(
                last.seq + 1 if last.seq < head_seq else last.seq,
                "",
                f"the chain's head is record {head_seq}, but the last stored record is "
                f"{last.seq}: records after it were removed, or the head was changed",
            )
    return OutboxVerification(path, chain_id, len(rows), anchor_seq, head_seq, head_hash, problem)


def verify_outbox(path: Path) -> OutboxVerification:
    """Check an outbox file's chain from its anchor to its head, without changing it.

    Names the first record that was altered, moved or removed (by seq, kind and
    session). Raises AuditNotRecorded when the file is missing, unreadable or of another
    version.
    """
    try:
        return _verify(path)
    except sqlite3.Error as exc:
        raise AuditNotRecorded(f"The audit outbox {path} cannot be read: {exc}.") from None
