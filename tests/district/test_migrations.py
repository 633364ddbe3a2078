"""Schema migrations: an older district database is upgraded only when IT says so, keeps
its rows, and a database a newer server wrote is never touched."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch_console.district import emergency_store, event_store, migrations
from dispatch_console.district.db import Database
from dispatch_console.district.migrations import LATEST, MIGRATIONS, Migration, SchemaError


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch_console", "district", *args],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def version_2_database(path: Path) -> None:
    """A database as the previous release left it: schema 2, with a grant in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrations.apply(conn, [m for m in MIGRATIONS if m.version <= 2])
    conn.execute(
        "INSERT INTO emergencies VALUES ('em-1', 'lincoln-hs', 'lockdown', 'drill', 'Dana',"
        " '2026-11-20T10:00:00.000Z', NULL)"
    )
    conn.execute(
        "INSERT INTO grants VALUES ('gr-1', 'em-1', 'lincoln-hs', 'Riverside PD',"
        " '2026-11-20T10:01:00.000Z', '2026-11-20T11:01:00.000Z', 'Sam', 0, 0, NULL)"
    )
    conn.close()


def test_a_new_database_gets_the_latest_schema(tmp_path: Path) -> None:
    db = Database(tmp_path / "new.db", migrate=False)  # creating is not migrating
    db.close()
    conn = sqlite3.connect(tmp_path / "new.db")
    assert migrations.schema_version(conn) == LATEST
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"users", "grants", "audit_sessions", "events", "admin_actions"} <= tables
    conn.close()


def test_an_older_database_is_upgraded_only_when_told_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "district.db"
    version_2_database(path)
    with pytest.raises(SchemaError, match=r"schema 2; this server needs .*district migrate"):
        Database(path, migrate=False)
    refused = run("serve", "--db", str(path), "--port", "0")
    assert refused.returncode == 2 and "district migrate" in refused.stderr

    check = run("migrate", "--db", str(path), "--check")
    assert check.returncode == 1 and "would apply 3: live events" in check.stdout
    upgraded = run("migrate", "--db", str(path))
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"schema 2 -> {LATEST}" in upgraded.stdout
    assert "up to date" in run("migrate", "--db", str(path)).stdout

    db = Database(path, migrate=False)
    try:
        grant = emergency_store.grant(db, "gr-1")
        assert grant is not None and grant.agency == "Riverside PD"
        assert grant.whole_school and grant.reviewed_by is None
        assert event_store.id_range(db) == (0, 0)
    finally:
        db.close()


def test_a_database_from_a_newer_server_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    Database(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(SchemaError, match="newer server"):
        Database(path, migrate=True)
    answer = run("migrate", "--db", str(path))
    assert answer.returncode == 2 and "newer server" in answer.stderr


def test_a_failing_step_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "district.db"
    Database(path).close()

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x INTEGER)")
        raise RuntimeError("disk full")

    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(RuntimeError, match="disk full"):
        migrations.apply(conn, [Migration(LATEST + 1, "broken", half_done)])
    assert migrations.schema_version(conn) == LATEST
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half'").fetchone() is None
    conn.close()
