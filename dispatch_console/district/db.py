"""The district database: the one connection every store writes through, its lock, and
the schema it opens at.

SQLite by default: the reference server must start on loopback with no setup for the demo
and the tests. WAL mode lets readers (the gateway's twice-a-second checks) proceed while a
writer commits. A ``postgresql://`` URL instead of a path runs the same SQL on PostgreSQL
(storage.py says how, and why hand-written SQL rather than SQLAlchemy), where several
server processes can share one database. One connection is shared behind a lock: the
server's handlers run in a thread pool, and serialising the (microsecond) statements is
simpler and safer than a connection per thread.

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

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from . import migrations, storage
from .storage import Connection, Row

T = TypeVar("T")


class Database:
    """One database, one connection, one lock; the stores' every write is one transaction."""

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
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Hold the lock and the engine's single-writer transaction; roll back on any error.

        SQLite's BEGIN IMMEDIATE, or PostgreSQL's advisory write lock (storage.py): no
        other writer, in this process or another, runs beside it.
        """
        with self._lock:
            self._conn.ensure_open()
            self._conn.begin()
            try:
                yield self._conn
            except BaseException:
                self._conn.rollback()
                raise
            self._conn.commit()

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A short read's rows (by name or position): what the stores map to records."""
        with self._lock:
            self._conn.ensure_open()
            return list(self._conn.execute(sql, params).fetchall())

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
