"""The district's storage, the same tests on SQLite and on PostgreSQL.

Each test gets an empty (or demo-seeded) database on each engine and goes through
``Database`` and the audit stores exactly as the server does; the raw connections below
only play the part of someone editing the database behind the server's back.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from dispatch_console.district import (
    account_store,
    audit_log,
    audit_store,
    emergency_store,
    event_store,
    migrations,
    session_store,
    sign_in_store,
    storage,
)
from dispatch_console.district.auth import create_user
from dispatch_console.district.db import Database
from dispatch_console.district.serve import READY_PREFIX
from dispatch_console.district.session_store import AuditStartRefused
from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.session import utc_ms
from tests.paths import SAMPLE_DISTRICT

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch_console", "district", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def refused() -> tuple[type[BaseException], ...]:
    """The errors either driver raises when a trigger refuses a statement."""
    import sqlite3

    import psycopg

    return (sqlite3.DatabaseError, psycopg.Error)


def raw(target: str) -> storage.Connection:
    """The database as its owner sees it with a SQL shell, the server's guards included."""
    return storage.connect(target)


def unguarded(target: str) -> storage.Connection:
    """The same, after dropping or disabling the audit log's triggers (anyone who owns it)."""
    conn = raw(target)
    if conn.dialect == storage.POSTGRESQL:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
    else:
        conn.execute("DROP TRIGGER audit_log_append_only")
        conn.execute("DROP TRIGGER audit_log_no_delete")
    return conn


def session_record(user_id: str = "u-1", at: datetime = NOW, **over: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "session_id": str(uuid.uuid4()),
        "user_id": user_id,
        "user_name": "Pat",
        "agency": "Riverside PD",
        "role": "police_dispatcher",
        "workstation_id": "ws-1",
        "app_version": "0.1.0",
        "camera_id": "lhs-cam-02",
        "camera_name": "Main hall",
        "school_id": "lincoln-hs",
        "school_name": "Lincoln High",
        "building_id": "main",
        "building_name": "Main",
        "floor_id": "f1",
        "floor_name": "First floor",
        "emergency_id": None,
        "grant_id": None,
        "threat_basis": "Caller reports a man with a gun",
        "started_at": utc_ms(at),
        "client_started_at": utc_ms(at),
        "late": False,
        "client_record": '{"v": 1}',
    }
    record.update(over)
    return record


def start(db: Database, record: dict[str, Any], now: datetime = NOW) -> str:
    outcome, _ = session_store.record_start(db, record, now, per_minute=100, max_open=100)
    return outcome


# -- users and sign-ins ------------------------------------------------------------------


def test_users_sign_in_lock_and_phantoms(engine: str) -> None:
    db = Database(engine)
    user = User("u-1", "pat", "Pat", "Riverside PD", Role.POLICE_DISPATCHER, frozenset({"x"}))
    assert create_user(db, user, "correct horse battery", "JBSWY3DPEHPK3PXP", NOW)
    assert not create_user(db, user, "another password!!", "JBSWY3DPEHPK3PXP", NOW)
    twin = User("u-2", "pat", "Pat 2", "Riverside PD", Role.POLICE_DISPATCHER)
    assert not create_user(db, twin, "correct horse battery", "JBSWY3DPEHPK3PXP", NOW)
    record = account_store.user_record(db, "pat")
    assert record is not None and record.user == user
    assert isinstance(record.password_hash, bytes) and len(record.password_hash) >= 32

    def sign_in(step: int, token: str) -> str:
        return account_store.accept_sign_in(db, "u-1", step, token, NOW, NOW + timedelta(hours=8))

    assert sign_in(100, "tok-1") == "ok"
    assert sign_in(100, "tok-2") == "replayed"
    assert sign_in_store.token_user(db, "tok-1", NOW) == user
    assert sign_in_store.token_user(db, "tok-1", NOW + timedelta(hours=9)) is None

    lockout = timedelta(minutes=15)
    fails = [account_store.record_failed_sign_in(db, "u-1", NOW, 3, lockout) for _ in range(3)]
    assert fails == [None, None, NOW + lockout]
    assert sign_in_store.token_user(db, "tok-1", NOW) is None  # locking ended the sign-in
    assert sign_in(101, "tok-3") == "locked"
    assert account_store.unlock_user(db, "u-1")
    assert sign_in(101, "tok-3") == "ok"
    assert account_store.set_disabled(db, "u-1", NOW)
    assert sign_in_store.token_user(db, "tok-3", NOW) is None

    # A name that does not exist counts and locks like a real one; only the newest are kept.
    def phantom(name: str, at: datetime = NOW) -> datetime | None:
        return account_store.record_phantom_failure(db, name, at, 3, lockout, keep=2)

    for _ in range(3):
        locked = phantom("ghost")
    assert locked == NOW + lockout
    assert account_store.phantom_locked_until(db, "ghost", NOW) == NOW + lockout
    phantom("b", NOW + timedelta(seconds=1))
    phantom("c", NOW + timedelta(seconds=2))
    # Forgotten: two newer names.
    assert account_store.phantom_locked_until(db, "ghost", NOW) is None
    db.close()


# -- emergencies, requests, grants -------------------------------------------------------


def test_emergencies_requests_and_grants(engine: str) -> None:
    db = Database(engine)
    emergency = Emergency("em-1", "lincoln-hs", EmergencyType.LOCKDOWN, "drill", "Dana", NOW)
    request = AccessRequest(
        "rq-1", "em-1", "lincoln-hs", "Riverside PD", "Dana", NOW, status="pending"
    )
    emergency_store.insert_emergency(db, emergency, None, request)
    assert emergency_store.emergency(db, "em-1") == emergency
    assert [r.id for r in emergency_store.pending_requests(db)] == ["rq-1"]
    grant = Grant(
        "gr-1", "em-1", "lincoln-hs", "Riverside PD", NOW, NOW + timedelta(hours=1), "Sam",
        buildings=("main",), cameras=("lhs-cam-02",),
    )  # fmt: skip
    decided = emergency_store.decide_request(db, "rq-1", "approved", "Sam", NOW, grant, note="ok")
    assert decided is not None and decided.status == "approved"
    # Decided once.
    assert emergency_store.decide_request(db, "rq-1", "denied", "Sam", NOW, None) is None
    assert emergency_store.grant(db, "gr-1") == grant
    longer = Grant(**{**grant.__dict__, "expires_at": NOW + timedelta(hours=2)})
    emergency_store.save_grant(db, longer)  # the same id again replaces the row
    assert emergency_store.grant(db, "gr-1") == longer
    assert [g.id for g in emergency_store.unexpired_grants(db, NOW, "lincoln-hs")] == ["gr-1"]

    revoked = emergency_store.revoke_grant(db, "gr-1", NOW + timedelta(minutes=5), "Sam")
    assert revoked is not None and revoked.revoked_at == NOW + timedelta(minutes=5)
    hold = emergency_store.school_hold(db, "lincoln-hs")
    assert hold is not None and hold.grant_id == "gr-1"
    assert (
        emergency_store.clear_hold(db, "lincoln-hs", NOW, "Dana")
        and emergency_store.school_hold(db, "lincoln-hs") is None
    )

    second = Emergency("em-2", "lincoln-hs", EmergencyType.ACTIVE_THREAT, "gun", "Dana", NOW)
    glass = Grant(
        "gr-2", "em-2", "lincoln-hs", "Riverside PD", NOW, NOW + timedelta(hours=1), "Dana",
        break_glass=True, needs_review=True,
    )  # fmt: skip
    pending = AccessRequest("rq-2", "em-2", "lincoln-hs", "County SO", "Lee", NOW, "pending")
    emergency_store.insert_emergency(db, second, glass, pending)
    assert [g.id for g in emergency_store.grants_to_review(db)] == ["gr-2"]
    reviewed = emergency_store.review_grant(db, "gr-2", "Dana", NOW, "justified")
    assert reviewed is not None and reviewed.review_note == "justified"
    assert emergency_store.grants_to_review(db) == []
    ended = emergency_store.end_emergency(db, "em-2", NOW + timedelta(minutes=1))
    assert ended is not None and ended.ended_at == NOW + timedelta(minutes=1)
    assert emergency_store.access_request(db, "rq-2").status == "cancelled"  # type: ignore[union-attr]
    assert emergency_store.grant(db, "gr-2").revoked_at is not None  # type: ignore[union-attr]
    assert [e.id for e in emergency_store.open_emergencies(db)] == ["em-1"]
    db.close()


# -- audit sessions ----------------------------------------------------------------------


def test_audit_start_and_end_are_idempotent_and_limited(engine: str) -> None:
    db = Database(engine)
    record = session_record()
    assert start(db, record) == "created"
    assert start(db, dict(record)) == "replayed"
    assert start(db, {**record, "client_record": '{"v": 2}'}) == "conflict"
    with pytest.raises(AuditStartRefused, match="already open"):
        session_store.record_start(db, session_record(), NOW, per_minute=100, max_open=1)
    with pytest.raises(AuditStartRefused, match="in one minute") as refusal:
        session_store.record_start(db, session_record(), NOW, per_minute=1, max_open=100)
    assert refusal.value.retry_after_s >= 1

    end = session_store.record_end(db, record["session_id"], utc_ms(NOW), 60_000, "closed", NOW)
    assert end is not None and end["duration_ms"] == 60_000
    again = session_store.record_end(db, record["session_id"], utc_ms(NOW), 5, "other", NOW)
    assert again is not None and again["end_reason"] == "closed"  # the first end wins
    # Longer than 2**31 ms (24.8 days): the columns are 64-bit on both engines.
    long = session_record()
    start(db, long)
    assert session_store.record_end(db, long["session_id"], utc_ms(NOW), 2**33, "closed", NOW)
    assert session_store.get(db, long["session_id"])["duration_ms"] == 2**33  # type: ignore[index]
    assert session_store.get(db, record["session_id"])["late"] == 0  # type: ignore[index]
    assert session_store.record_end(db, "no-such", utc_ms(NOW), 1, "closed", NOW) is None

    session_store.record_heartbeat(db, long["session_id"], NOW, NOW)  # ended: no change
    audit_store.record_relays(
        db,
        [{"relay_id": "r1", "session_id": long["session_id"], "camera_id": "lhs-cam-02",
          "stream": "sub", "started_at": utc_ms(NOW), "ended_at": None, "bytes": 3_000_000_000}],
        NOW,
    )  # fmt: skip
    audit_store.record_relays(
        db,
        [{"relay_id": "r1", "session_id": long["session_id"], "camera_id": "lhs-cam-02",
          "stream": "sub", "started_at": utc_ms(NOW), "ended_at": utc_ms(NOW), "bytes": 10}],
        NOW,
    )  # fmt: skip
    (relay,) = db.query("SELECT bytes, ended_at FROM gateway_relays")
    assert relay == {"bytes": 3_000_000_000, "ended_at": utc_ms(NOW)}  # the larger count kept
    listed = session_store.listed(db, user_id="u-1", active=None, limit=10)
    assert {s["session_id"] for s in listed} == {record["session_id"], long["session_id"]}
    assert db.read(audit_log.verify).ok
    db.close()


# -- the chained audit log ---------------------------------------------------------------


def _a_trail(db: Database, at: datetime = NOW, sessions: int = 2) -> list[str]:
    ids = []
    for _ in range(sessions):
        record = session_record(at=at)
        start(db, record, at)
        session_store.record_heartbeat(db, record["session_id"], at + timedelta(seconds=10), at)
        session_store.record_end(db, record["session_id"], utc_ms(at), 20_000, "closed", at)
        ids.append(record["session_id"])
    return ids


def test_the_log_refuses_edits_and_deletes(engine: str) -> None:
    db = Database(engine)
    _a_trail(db)
    conn = raw(engine)
    with pytest.raises(refused(), match="append-only"):
        conn.execute("UPDATE audit_log SET body = '{}' WHERE seq = 2")
    with pytest.raises(refused(), match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    if conn.dialect == storage.POSTGRESQL:
        with pytest.raises(refused(), match="append-only"):
            conn.execute("TRUNCATE audit_log")
    conn.close()
    report = db.read(audit_log.verify)
    assert report.ok and report.records == 6, report.first_problem
    db.close()


@pytest.mark.parametrize("tampering", ["altered", "deleted", "swapped"])
def test_verify_names_the_first_tampered_record(engine: str, tampering: str) -> None:
    db = Database(engine)
    _a_trail(db)
    victim = 2
    conn = unguarded(engine)
    if tampering == "altered":
        conn.execute("UPDATE audit_log SET body = ? WHERE seq = ?", ('{"x":1}', victim))
    elif tampering == "deleted":
        conn.execute("DELETE FROM audit_log WHERE seq = ?", (victim,))
    else:
        columns = "at, kind, subject, body, prev, hash"
        first = conn.execute(f"SELECT {columns} FROM audit_log WHERE seq = ?", (victim,))
        first_row = tuple(first.fetchone())
        second = conn.execute(f"SELECT {columns} FROM audit_log WHERE seq = ?", (victim + 1,))
        second_row = tuple(second.fetchone())
        update = "UPDATE audit_log SET at=?, kind=?, subject=?, body=?, prev=?, hash=? WHERE seq=?"
        conn.execute(update, (*second_row, victim))
        conn.execute(update, (*first_row, victim + 1))
    conn.close()
    report = db.read(audit_log.verify)
    assert not report.ok
    named = victim + 1 if tampering == "deleted" else victim
    assert f"record {named} " in str(report.first_problem), report.first_problem
    if tampering == "altered":  # the command says the same (one run is enough)
        result = cli("audit", "verify", "--db", engine)
        assert result.returncode == 1 and "BROKEN" in result.stdout, result.stdout + result.stderr
        assert f"record {named} " in result.stdout
    db.close()


def test_a_row_put_back_elsewhere_shows_on_postgresql(engine: str) -> None:
    """PostgreSQL has no rowid: storage order is the identity column ``pos``, so a record
    deleted and inserted again, word for word, is out of place (as a new rowid would be)."""
    if not storage.is_postgres(engine):
        pytest.skip("SQLite's rowid is the record's seq: there is no other place to put it")
    db = Database(engine)
    _a_trail(db)
    conn = unguarded(engine)
    columns = "seq, at, kind, subject, body, prev, hash"
    row = tuple(conn.execute(f"SELECT {columns} FROM audit_log WHERE seq = 3").fetchone())
    conn.execute("DELETE FROM audit_log WHERE seq = 3")
    conn.execute(f"INSERT INTO audit_log({columns}) VALUES (?, ?, ?, ?, ?, ?, ?)", row)
    conn.close()
    report = db.read(audit_log.verify)
    assert not report.ok and "record 4 " in str(report.first_problem), report.first_problem
    db.close()


def test_an_edited_session_row_is_caught(engine: str) -> None:
    db = Database(engine)
    victim, _ = _a_trail(db)
    conn = raw(engine)
    conn.execute("UPDATE audit_sessions SET camera_name = 'Gym' WHERE session_id = ?", (victim,))
    conn.close()
    report = db.read(audit_log.verify)
    assert f"audit_sessions row {victim}: camera_name" in str(report.first_problem)
    db.close()


def test_a_purge_is_never_stored_without_the_record_of_who_did_it(
    engine: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = Database(engine)
    _a_trail(db, NOW - timedelta(days=800))
    _a_trail(db, NOW, sessions=1)
    kept = db.rows("SELECT COUNT(*) AS n FROM audit_log")[0]["n"]

    def boom(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("disk I/O error (injected)")

    with monkeypatch.context() as patched:
        patched.setattr(account_store, "record_admin_action", boom)
        with pytest.raises(OSError):
            audit_store.purge_past_retention(db, retention_days=365, now=NOW, actor="it-ops")
    assert db.rows("SELECT COUNT(*) AS n FROM audit_log")[0]["n"] == kept  # nothing purged
    result = audit_store.purge_past_retention(db, retention_days=365, now=NOW, actor="it-ops")
    assert result["purged_records"] == 6
    (action,) = [a for a in account_store.admin_actions(db) if a["action"] == "audit.purge"]
    assert action["actor"] == "it-ops"
    assert db.read(audit_log.verify).ok
    db.close()


def test_purge_past_retention_keeps_the_rest_verifiable(engine: str) -> None:
    db = Database(engine)
    old = _a_trail(db, NOW - timedelta(days=800))
    recent = _a_trail(db, NOW, sessions=1)
    with pytest.raises(audit_log.PurgeRefused):
        audit_store.purge_past_retention(db, retention_days=30, now=NOW, actor="test")
    result = audit_store.purge_past_retention(db, retention_days=365, now=NOW, actor="test")
    assert result["purged_sessions"] == len(old) and result["purged_records"] == 6
    report = db.read(audit_log.verify)
    assert report.ok, report.first_problem
    assert report.first_seq == 7 and report.sessions == len(recent)
    # The purge opened its window only for itself: the kept records are guarded again.
    conn = raw(engine)
    with pytest.raises(refused(), match="append-only"):
        conn.execute("DELETE FROM audit_log WHERE seq = 7")
    conn.close()
    # Removing the anchor's records outside a purge is caught.
    conn = unguarded(engine)
    conn.execute("DELETE FROM audit_log WHERE seq = 7")
    conn.close()
    assert not db.read(audit_log.verify).ok
    db.close()


def test_two_servers_appending_at_once_never_fork_the_chain(engine: str) -> None:
    """Each append reads the head then writes after it: two processes' writers must queue."""
    first, second = Database(engine), Database(engine)
    errors: list[BaseException] = []

    def work(db: Database, user: str) -> None:
        try:
            for _ in range(15):
                start(db, session_record(user_id=user))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=work, args=(db, user))
        for db, user in ((first, "u-a"), (second, "u-b"), (first, "u-c"), (second, "u-d"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    report = first.read(audit_log.verify)
    assert report.ok and report.records == 60 and report.head_seq == 60, report.first_problem
    first.close()
    second.close()


# -- reads beside writes -----------------------------------------------------------------


def _pat(db: Database) -> User:
    user = User("u-1", "pat", "Pat", "Riverside PD", Role.POLICE_DISPATCHER)
    assert create_user(db, user, "correct horse battery", "JBSWY3DPEHPK3PXP", NOW)
    return user


def test_a_read_is_not_held_behind_a_long_write(engine: str) -> None:
    """A token check or an access list answers while another thread's write transaction
    is open (it used to wait for the writer's lock); it sees what was committed before
    it began, and a read after the commit sees the write."""
    db = Database(engine)
    _pat(db)
    writing, finish = threading.Event(), threading.Event()

    def long_write() -> None:
        with db.transaction() as conn:
            conn.execute("UPDATE users SET display_name = 'Pat Changed' WHERE id = 'u-1'")
            writing.set()
            finish.wait(30)

    writer = threading.Thread(target=long_write)
    writer.start()
    try:
        assert writing.wait(10)
        seen: list[User | None] = []
        reader = threading.Thread(target=lambda: seen.append(account_store.user_by_id(db, "u-1")))
        reader.start()
        reader.join(5)
        assert not reader.is_alive(), "the read waited for the write transaction"
        assert seen and seen[0] is not None and seen[0].display_name == "Pat"
    finally:
        finish.set()
        writer.join(10)
    after = account_store.user_by_id(db, "u-1")
    assert after is not None and after.display_name == "Pat Changed"
    db.close()


def test_a_read_inside_a_write_sees_that_write(engine: str) -> None:
    """On the thread holding a write transaction, a store's read runs on the writer's
    connection: it sees the transaction's own uncommitted change (a reader would not)."""
    db = Database(engine)
    _pat(db)
    with db.transaction() as conn:
        conn.execute("UPDATE users SET display_name = 'Pat Changed' WHERE id = 'u-1'")
        inside = account_store.user_by_id(db, "u-1")
        assert inside is not None and inside.display_name == "Pat Changed"
    db.close()


def test_readers_refuse_writes_and_hold_no_transaction_open(engine: str) -> None:
    """A reader is for reading (a write through one is a bug, refused), and no read
    leaves a transaction open on it: a reader idle after a read sees the next commit."""
    db = Database(engine)
    _pat(db)
    with pytest.raises(refused()):
        db.rows("UPDATE users SET display_name = 'x'")
    assert account_store.user_by_id(db, "u-1") is not None  # a reader of its own
    account_store.set_disabled(db, "u-1", NOW)
    record = account_store.user_record(db, "pat")  # the same reader, a new read
    assert record is not None and record.disabled_at == NOW
    db.close()


def test_a_write_inside_a_write_is_part_of_it_and_follow_ups_wait_for_the_commit(
    engine: str,
) -> None:
    """A store's transaction inside another is a savepoint: it commits with the outer one,
    a failed one is undone alone (a failed statement included: PostgreSQL would otherwise
    refuse the rest), and what waits for the commit runs after it, never after a rollback."""
    db = Database(engine)
    ran: list[str] = []
    with db.transaction():
        event_store.append(db, NOW, "k", "all", "kept", {})
        db.after_commit(lambda: ran.append("kept"))
        with pytest.raises(RuntimeError), db.transaction():
            event_store.append(db, NOW, "k", "all", "undone", {})  # a savepoint in a savepoint
            db.after_commit(lambda: ran.append("undone"))
            raise RuntimeError("this part fails")
        with pytest.raises(refused()), db.transaction() as conn:
            conn.execute("INSERT INTO meta(key, value) VALUES ('schema_version', 'again')")
        event_store.append(db, NOW, "k", "all", "after a failed statement", {})
        assert ran == []  # nothing before the commit
        assert event_store.has(db, "k", "kept") and not event_store.has(db, "k", "undone")
    assert ran == ["kept"]
    assert [e.subject for e in event_store.after(db, 0, 10)] == [
        "kept",
        "after a failed statement",
    ]

    with pytest.raises(RuntimeError), db.transaction():
        event_store.append(db, NOW, "k", "all", "rolled back", {})
        db.after_commit(lambda: ran.append("rolled back"))
        raise RuntimeError("the whole transaction fails")
    assert ran == ["kept"] and not event_store.has(db, "k", "rolled back")
    db.after_commit(lambda: ran.append("no transaction"))  # none open: at once
    assert ran == ["kept", "no transaction"]
    db.close()


# -- events ------------------------------------------------------------------------------


def test_events_resume_across_two_database_instances(engine: str) -> None:
    writer, reader = Database(engine), Database(engine)
    assert event_store.id_range(reader) == (0, 0)
    ids = [
        event_store.append(writer, NOW, "emergency.declared", "all", f"em-{i}", {"i": i})
        for i in range(5)
    ]
    assert ids == sorted(ids) and len(set(ids)) == 5
    seen = event_store.after(reader, ids[1], 10)
    assert [(e.id, e.subject, e.data["i"]) for e in seen] == [
        (i, f"em-{n}", n) for n, i in enumerate(ids) if n > 1
    ]
    assert event_store.has(reader, "emergency.declared", "em-3")
    event_store.trim(writer, 2)
    assert event_store.id_range(reader) == (ids[3], ids[4])
    db3 = Database(engine)  # a restarted server goes on from the last id
    assert event_store.append(db3, NOW, "k", "all", "s", {}) > ids[-1]
    for db in (writer, reader, db3):
        db.close()


# -- migrations and the command line -----------------------------------------------------


def test_a_new_database_is_at_the_latest_schema_and_migrate_says_so(engine: str) -> None:
    Database(engine).close()
    conn = raw(engine)
    assert migrations.schema_version(conn) == migrations.LATEST
    conn.close()
    result = cli("migrate", "--db", engine, "--check")
    assert result.returncode == 0 and "up to date" in result.stdout, result.stderr


def test_an_older_schema_is_migrated_only_when_asked(engine: str) -> None:
    conn = raw(engine)
    migrations.apply(conn, [m for m in migrations.MIGRATIONS if m.version <= 3])
    conn.execute(
        "INSERT INTO emergencies(id, school_id, type, threat_basis, declared_by, declared_at)"
        " VALUES ('em-1', 'lincoln-hs', 'lockdown', 'drill', 'Dana', ?)",
        (utc_ms(NOW),),
    )
    conn.close()
    with pytest.raises(migrations.SchemaError, match="district migrate"):
        Database(engine, migrate=False)
    check = cli("migrate", "--db", engine, "--check")
    assert check.returncode == 1 and "would apply 4" in check.stdout, check.stdout + check.stderr
    done = cli("migrate", "--db", engine)
    assert done.returncode == 0 and f"-> {migrations.LATEST}" in done.stdout, done.stderr
    db = Database(engine, migrate=False)
    assert emergency_store.emergency(db, "em-1") is not None and db.read(audit_log.verify).ok
    db.close()


def test_the_district_commands_take_a_database_url(seeded_engine: str) -> None:
    listed = cli("user", "--db", seeded_engine, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert "dispatcher" in listed.stdout
    verified = cli("audit", "verify", "--db", seeded_engine)
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stderr


def test_a_lost_postgresql_connection_is_opened_again(engine: str) -> None:
    """A database restart or failover ends the server's connection: the next call (a read,
    or a write transaction not yet begun) goes on over a new one instead of failing."""
    if not storage.is_postgres(engine):
        pytest.skip("a SQLite file cannot drop its connection")
    db = Database(engine)
    event_store.append(db, NOW, "k", "all", "before", {})
    admin = raw(engine)

    def cut() -> int:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        return len(rows)

    assert cut() == 1
    assert [e.subject for e in event_store.after(db, 0, 10)] == ["before"]
    assert cut() == 1
    event_store.append(db, NOW, "k", "all", "after", {})
    assert event_store.has(db, "k", "after")
    admin.close()
    db.close()


def test_serve_runs_on_either_engine(seeded_engine: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatch_console", "district", "serve", "--port", "0",
         "--db", seeded_engine, "--floorplans", str(SAMPLE_DISTRICT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith(f"{READY_PREFIX}="), line + (
            process.stderr.read() if process.stderr else ""
        )
        url = line.strip().split("=", 1)[1]
        answer = httpx.post(
            f"{url}/api/v1/auth/login",
            json={"username": "dispatcher", "password": "wrong", "otp": "000000"},
        )
        assert answer.status_code == 401  # the accounts are read from the database
    finally:
        process.terminate()
        process.wait(20)


def test_the_server_says_what_an_acknowledged_write_is_worth(engine: str) -> None:
    """2 (durable before the answer) on SQLite's FULL and on a PostgreSQL that fsyncs; a
    PostgreSQL told not to wait for the disk is reported as 0, not dressed up as durable."""
    db = Database(engine)
    assert db.synchronous() == 2
    if storage.is_postgres(engine):
        admin = raw(engine)
        admin.execute(
            "ALTER DATABASE " + engine.rsplit("/", 1)[1] + " SET synchronous_commit = off"
        )
        admin.close()
        db.close()
        db = Database(engine)
        assert db.synchronous() == 0
    db.close()
