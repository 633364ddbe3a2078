"""The district database: the one connection every store writes through, its lock, and
the schema it opens at.

SQLite by default: the reference server must start on loopback with no setup for the demo
and the tests. WAL mode lets readers (the gateway's twice-a-second checks) proceed while a
writer commits. A ``postgresql://`` URL instead of a path runs the same SQL on PostgreSQL
(storage.py says how, and why hand-written SQL rather than SQLAlchemy), where several
server processes can share one database.

Writes go through one connection behind a lock (``transaction()``): the engine takes one
writer at a time anyway (storage.py), and the code relies on it. Short reads (a token
check, the access list, the gateway's twice-a-second stream checks) do not wait behind
that lock: each borrows one of a few read-only connections of its own (``rows``), so a
write transaction in progress, or one waiting for PostgreSQL's write lock held by another
server process, holds no reader up. Every read is its own read transaction, so it sees
everything committed before it began, and none stays open between reads. A read made
inside a write transaction, on the thread that holds it, runs on the writer's connection
and sees that transaction's own writes. An in-memory SQLite database (``:memory:``,
tests only) cannot be opened twice, so there every read takes the writer's lock.

Writes that belong together nest: a store's ``transaction()`` opened inside another on
the same thread is a savepoint in it, so a route can make several stores' writes one
transaction, and one commit (one fsync under ``synchronous=FULL``): the audit start
stores its record, its chain link, its event and its stream authorisation that way.
A nested part that fails is rolled back alone and its error goes on to the caller, who
either lets it end the whole transaction or (an event that could not be stored, which
never fails the change) carries on without it. What must only happen once the writes
are durable (waking the event streams) waits in ``after_commit``.

What is stored lives in one store per aggregate, each a module of functions taking this
``Database``: account_store (users, lockouts, admin actions), sign_in_store (session and
refresh tokens), emergency_store (emergencies, requests, grants, holds), session_store
(viewing sessions' audit records), ticket_store (stream authorisations), event_store (the
desks' events), and audit_store (chains, relays, findings, the browser). This class only
owns the connection: opening and migrating, ``transaction()`` for writes, ``rows`` and
``query`` for short reads, ``read`` for long ones.

The audit store runs with ``synchronous=FULL``: the console deletes its copy of an audit
record as soon as this server acknowledges it, so an acknowledged record must survive a
power cut here. WAL with NORMAL could lose the last transactions on power loss.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from . import migrations, storage
from .storage import Connection, Row

T = TypeVar("T")
log = logging.getLogger(__name__)

# At most this many short reads run at once per Database, each on its own connection (the
# rest wait for one). Enough for the server's thread pool on SQLite, where a reader costs
# a file handle; few enough that two server processes stay far below PostgreSQL's
# default of 100 connections.
READ_CONNECTIONS = 8


class _Writing(threading.local):
    """This thread's write transaction on one Database: how deeply it is nested (0: none),
    and what waits for its commit."""

    def __init__(self) -> None:
        self.depth = 0
        self.after_commit: list[Callable[[], None]] = []


class Database:
    """One database: one writer behind a lock, a few readers beside it (module docstring)."""

    def __init__(self, path: Path | str, *, migrate: bool = True) -> None:
        """Open (creating if need be) the database at ``path``: a file, or a PostgreSQL URL.

        A new database gets the latest schema. An older one is migrated only with
        ``migrate`` (the test suite's and the demo's default; ``district serve`` asks for
        ``--migrate``); otherwise, and for a database a newer server wrote, SchemaError.
        """
        self.path = str(path)
        self.postgres = storage.is_postgres(self.path)
        if not self.postgres and self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        # The write transaction of the calling thread, if any: its reads use the writer's
        # connection, and a transaction opened inside it is a savepoint.
        self._writing = _Writing()
        self._readers: list[Connection] = []  # idle ones, most recently used last
        self._readers_lock = threading.Lock()
        self._reader_slots = threading.BoundedSemaphore(READ_CONNECTIONS)
        self._closed = False
        self._conn: Connection = storage.connect(self.path)
        if not self.postgres:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        with self._lock:
            try:
                migrations.check(self._conn, storage.describe(self.path), migrate=migrate)
                migrations.apply(self._conn, migrations.pending(self._conn))
            except BaseException:
                self._conn.close()
                raise

    def synchronous(self) -> int:
        """SQLite's synchronous level (2 = FULL): what an acknowledgement is worth.

        PostgreSQL answers in the same terms: 2 when a commit waits for its WAL to reach
        the disk (``fsync`` and ``synchronous_commit`` on), 0 when a crash can lose it.
        """
        with self._lock:
            if self.postgres:
                fsync = self._conn.execute("SHOW fsync").fetchone()[0]
                commit = self._conn.execute("SHOW synchronous_commit").fetchone()[0]
                return 2 if fsync == "on" and commit != "off" else 0
            return int(self._conn.execute("PRAGMA synchronous").fetchone()[0])

    def close(self) -> None:
        """Close the writer and the idle readers (a reader still in use closes on return)."""
        with self._readers_lock:
            self._closed = True
            readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Hold the lock and the engine's single-writer transaction; roll back on any error.

        SQLite's BEGIN IMMEDIATE, or PostgreSQL's advisory write lock (storage.py): no
        other writer, in this process or another, runs beside it. Inside this thread's
        own transaction it is a savepoint instead (see the module's docstring).
        """
        writing = self._writing
        if writing.depth:
            with self._savepoint(writing):
                yield self._conn
            return
        committed: list[Callable[[], None]] = []
        with self._lock:
            self._conn.ensure_open()
            self._conn.begin()
            writing.depth, writing.after_commit = 1, []
            try:
                try:
                    yield self._conn
                except BaseException:
                    self._conn.rollback()
                    raise
                self._conn.commit()
                committed = writing.after_commit
            finally:
                writing.depth, writing.after_commit = 0, []
        for callback in committed:
            try:
                callback()
            except Exception:  # the writes are durable: a failed follow-up must not undo that
                log.exception("a follow-up to a committed write failed")

    @contextmanager
    def _savepoint(self, writing: _Writing) -> Iterator[None]:
        """A nested part of this thread's transaction: rolled back alone if it fails."""
        name = f"nested_{writing.depth}"
        queued = len(writing.after_commit)
        self._conn.execute(f"SAVEPOINT {name}")
        writing.depth += 1
        try:
            yield
        except BaseException:
            del writing.after_commit[queued:]  # what the failed part queued never happened
            self._conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
            self._conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        else:
            self._conn.execute(f"RELEASE SAVEPOINT {name}")
        finally:
            writing.depth -= 1

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this thread's write transaction has committed (at once if
        none is open); never if it rolls back. For what must follow durable writes only."""
        if self._writing.depth:
            self._writing.after_commit.append(callback)
        else:
            callback()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A short read's rows (by name or position): what the stores map to records.

        On a reader of its own, beside any write in progress; inside a write transaction
        (this thread's), on the writer's connection, seeing that transaction's writes.
        """
        if self.path == ":memory:" or self._writing.depth:
            with self._lock:
                self._conn.ensure_open()
                return list(self._conn.execute(sql, params).fetchall())
        with self._reader() as conn:
            # fetchall runs the statement to its end: its read transaction ends with it.
            return list(conn.execute(sql, params).fetchall())

    @contextmanager
    def _reader(self) -> Iterator[Connection]:
        """Lend an idle reader (opening one if none is idle) to this thread for one read."""
        with self._reader_slots:
            with self._readers_lock:
                conn = self._readers.pop() if self._readers else None
            if conn is None:
                conn = storage.open_reader(self.path)
            try:
                conn.ensure_open()
                yield conn
            except BaseException:
                # Not trusted again after a failure (a lost connection, an interrupted read).
                conn.close()
                raise
            with self._readers_lock:
                if not self._closed:
                    self._readers.append(conn)
                    return
            conn.close()

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run a long read (verification, a report) on its own connection and snapshot.

        WAL (or PostgreSQL's MVCC) lets it read while the server goes on writing; holding
        the main connection's lock for the seconds a 100,000-record verification takes
        would stall every desk.
        """
        if self.path == ":memory:":
            with self._lock:
                return work(self._conn)
        conn = storage.open_snapshot(self.path)
        try:
            return work(conn)
        finally:
            conn.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """A short read's rows as dicts (for records passed on as they are stored)."""
        return [dict(r) for r in self.rows(sql, params)]
