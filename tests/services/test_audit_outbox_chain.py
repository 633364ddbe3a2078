"""Outbox version 2 on real SQLite files: every record chained in its insert, heartbeats,
a v1 file migrated with its pending records, pruning that keeps the chain verifiable,
``verify_outbox`` naming the first bad record, and failing closed on a bad disk."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from dispatch_console.domain.audit_chain import GENESIS, link_hash
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import end_session, utc_ms
from dispatch_console.services.audit_outbox import (
    OUTBOX_VERSION,
    AuditOutbox,
    verify_outbox,
)
from dispatch_console.services.errors import AuditNotRecorded
from tests.services.test_audit_outbox import T0, session
from tests.services.test_outbox_versions import UNVERSIONED


def stored(path: Path) -> list[tuple[int, str, str, str, str, str]]:
    """(seq, session_id, kind, payload, prev, hash) as the file holds them."""
    with sqlite3.connect(path) as db:
        return db.execute(
            "SELECT seq, session_id, kind, payload, prev, hash FROM outbox ORDER BY seq"
        ).fetchall()


def chain_row(path: Path) -> tuple[str, int, str, int, str]:
    with sqlite3.connect(path) as db:
        row: tuple[str, int, str, int, str] = db.execute(
            "SELECT chain_id, head_seq, head_hash, anchor_seq, anchor_prev FROM chain"
        ).fetchone()
        return row


def write_sessions(path: Path, count: int, *, beats: int = 1, end: bool = True) -> list[str]:
    """``count`` sessions one after another: start, heartbeats, end. Their ids."""
    outbox = AuditOutbox(path)
    ids = []

    async def scenario() -> None:
        for n in range(count):
            started = session(T0 + timedelta(seconds=100 * n), camera_id="jes-cam-02")
            ids.append(started.session_id)
            await outbox.record_start(started)
            for b in range(beats):
                at = utc_ms(T0 + timedelta(seconds=100 * n + 15 * (b + 1)))
                await outbox.record_heartbeat(started, at)
            if end:
                ended = end_session(
                    started, EndReason.CLOSED_BY_USER, T0 + timedelta(seconds=100 * n + 50)
                )
                await outbox.record_end(ended)

    try:
        asyncio.run(scenario())
    finally:
        outbox.close()
    return ids


def test_every_record_is_chained_to_the_one_before_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    write_sessions(path, 2, beats=2)
    rows = stored(path)
    assert [r[2] for r in rows] == ["start", "heartbeat", "heartbeat", "end"] * 2
    assert [r[0] for r in rows] == list(range(1, 9))
    prev = GENESIS
    for seq, _sid, kind, payload, row_prev, row_hash in rows:
        assert row_prev == prev
        assert row_hash == link_hash(prev, seq, kind, json.loads(payload))
        prev = row_hash
    chain_id, head_seq, head_hash, anchor_seq, anchor_prev = chain_row(path)
    assert len(chain_id) == 32
    assert (head_seq, head_hash, anchor_seq, anchor_prev) == (8, prev, 1, GENESIS)
    report = verify_outbox(path)
    assert report.ok and report.records == 8 and report.head_hash == prev

    # Each item carries its link, and the wire body is the payload plus it.
    outbox = AuditOutbox(path)
    try:
        items = asyncio.run(outbox.pending())
    finally:
        outbox.close()
    assert items[1].kind == "heartbeat"
    assert set(items[1].payload) == {"session_id", "at"}
    body = items[1].wire_body()
    assert body["chain"] == {"chain": chain_id, "seq": 2, "prev": rows[0][5], "hash": rows[1][5]}
    assert {k: v for k, v in body.items() if k != "chain"} == items[1].payload


def test_a_new_outbox_file_is_a_new_chain(tmp_path: Path) -> None:
    write_sessions(tmp_path / "a.sqlite3", 1)
    write_sessions(tmp_path / "b.sqlite3", 1)
    assert chain_row(tmp_path / "a.sqlite3")[0] != chain_row(tmp_path / "b.sqlite3")[0]


def test_concurrent_writers_share_commits_and_form_one_unbroken_chain(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = AuditOutbox(path)
    tiles = [session(T0 + timedelta(milliseconds=n)) for n in range(36)]

    async def scenario() -> None:
        await asyncio.gather(*(outbox.record_start(s) for s in tiles))
        await asyncio.gather(
            *(outbox.record_heartbeat(s, utc_ms(T0 + timedelta(seconds=15))) for s in tiles)
        )
        # A replayed start inside a batch is still ignored.
        await asyncio.gather(*(outbox.record_start(s) for s in tiles[:5]))

    try:
        asyncio.run(scenario())
    finally:
        outbox.close()
    rows = stored(path)
    assert len(rows) == 72
    assert [r[0] for r in rows] == list(range(1, 73))
    assert verify_outbox(path).ok


def test_a_version_1_outbox_is_migrated_with_its_pending_records_chained_in_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite3"
    first, second = session(T0), session(T0 + timedelta(seconds=5), camera_id="jes-cam-03")
    first_end = end_session(first, EndReason.CLOSED_BY_USER, T0 + timedelta(seconds=9))
    v1_rows = [
        (first.session_id, "start", first.start_record(), first.started_at, "2026-03-02T15:00Z"),
        (second.session_id, "start", second.start_record(), second.started_at, None),
        (first.session_id, "end", first_end.end_record(), first_end.ended_at, None),
    ]
    with sqlite3.connect(path) as db:
        db.executescript(UNVERSIONED)
        # A row pruned before them: the old seqs start at 2, the chain must start at 1.
        db.execute(
            "INSERT INTO outbox (session_id, kind, payload, created_at) "
            "VALUES ('pruned', 'start', '{}', '')"
        )
        for sid, kind, payload, created, delivered in v1_rows:
            db.execute(
                "INSERT INTO outbox (session_id, kind, payload, created_at, delivered_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (sid, kind, json.dumps(payload, sort_keys=True), created, delivered),
            )
        db.execute("DELETE FROM outbox WHERE session_id = 'pruned'")
        db.execute("PRAGMA user_version = 1")

    outbox = AuditOutbox(path)
    try:
        pending = asyncio.run(outbox.pending())
        recovered = asyncio.run(outbox.recover_unfinished())
    finally:
        outbox.close()
    assert [(i.seq, i.session_id, i.kind) for i in pending] == [
        (2, second.session_id, "start"),
        (3, first.session_id, "end"),
    ]
    assert pending[0].payload == second.start_record()
    assert [s.session_id for s in recovered] == [second.session_id]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == OUTBOX_VERSION == 2
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        delivered = db.execute("SELECT delivered_at FROM outbox WHERE seq = 1").fetchone()[0]
    assert "outbox_v1" not in tables
    assert delivered == "2026-03-02T15:00Z"
    report = verify_outbox(path)
    assert report.ok, report.text()
    assert report.records == 4  # three migrated, then the recovered end chained after them


def mark_all_delivered(path: Path, at: str = "2026-03-02T15:00:00.000Z") -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE outbox SET delivered_at = ?", (at,))


def test_pruning_removes_only_a_prefix_of_whole_sessions_and_stays_verifiable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite3"
    done = session(T0)
    still_open = session(T0 + timedelta(seconds=1), camera_id="jes-cam-03")
    later = session(T0 + timedelta(seconds=2), camera_id="jes-cam-04")
    outbox = AuditOutbox(path)
    after = T0 + timedelta(days=30)

    async def scenario() -> None:
        await outbox.record_start(done)  # 1
        await outbox.record_start(still_open)  # 2
        await outbox.record_heartbeat(done, utc_ms(T0 + timedelta(seconds=15)))  # 3
        await outbox.record_end(end_session(done, EndReason.CLOSED_BY_USER, T0))  # 4
        await outbox.record_heartbeat(still_open, utc_ms(T0 + timedelta(seconds=16)))  # 5
        await outbox.record_start(later)  # 6
        await outbox.record_end(end_session(later, EndReason.CLOSED_BY_USER, T0))  # 7
        mark_all_delivered(path)
        # The done session straddles the open one's start: cutting at 2 would split it.
        assert await outbox.prune_delivered(after) == 0
        assert verify_outbox(path).ok
        # The open one ends (crash recovery, say) and is delivered: now all can go
        # except what was written after the cut point.
        await outbox.recover_unfinished()  # 8
        mark_all_delivered(path)
        assert await outbox.prune_delivered(T0) == 0  # delivered after the cutoff: kept
        assert await outbox.prune_delivered(after) == 8
        await outbox.record_start(session(T0 + timedelta(seconds=3)))  # 9

    try:
        asyncio.run(scenario())
    finally:
        outbox.close()
    rows = stored(path)
    assert [r[0] for r in rows] == [9]  # the head survived the prune: no seq reused
    _chain, head_seq, _head_hash, anchor_seq, anchor_prev = chain_row(path)
    assert (head_seq, anchor_seq) == (9, 9)
    assert anchor_prev == rows[0][4] != GENESIS
    report = verify_outbox(path)
    assert report.ok, report.text()


def test_an_open_session_stops_pruning_at_its_start(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    write_sessions(path, 2)  # rows 1-3 and 4-6
    write_sessions(path, 1, end=False)  # rows 7-8: open
    write_sessions(path, 1)  # rows 9-11
    mark_all_delivered(path)
    outbox = AuditOutbox(path)
    try:
        assert asyncio.run(outbox.prune_delivered(T0 + timedelta(days=30))) == 6
    finally:
        outbox.close()
    assert [r[0] for r in stored(path)] == [7, 8, 9, 10, 11]
    assert chain_row(path)[3] == 7
    assert verify_outbox(path).ok


# -- verify names the first bad record ------------------------------------------------


@pytest.fixture
def written(tmp_path: Path) -> Path:
    path = tmp_path / "outbox.sqlite3"
    write_sessions(path, 3)  # 9 records: start, heartbeat, end three times
    return path


def test_verify_passes_a_clean_outbox(written: Path) -> None:
    report = verify_outbox(written)
    assert report.ok
    assert report.as_json()["first_bad_record"] is None
    assert "holds (records 1..9)" in report.text()


def test_verify_names_a_tampered_record(written: Path) -> None:
    with sqlite3.connect(written) as db:
        payload = json.loads(db.execute("SELECT payload FROM outbox WHERE seq = 6").fetchone()[0])
        payload["end_reason"] = "grant_expired"  # was closed_by_user
        db.execute("UPDATE outbox SET payload = ? WHERE seq = 6", (json.dumps(payload),))
    report = verify_outbox(written)
    assert report.problem is not None
    assert report.problem.seq == 6
    assert "altered" in report.problem.problem
    assert report.problem.label.startswith("end of session ")
    assert "BROKEN at record 6" in report.text()


def test_verify_names_reordered_records(written: Path) -> None:
    with sqlite3.connect(written) as db:  # swap records 4 and 5 wholesale, keeping seqs
        four = db.execute("SELECT session_id, kind, payload, prev, hash FROM outbox WHERE seq=4")
        a = four.fetchone()
        b = db.execute(
            "SELECT session_id, kind, payload, prev, hash FROM outbox WHERE seq=5"
        ).fetchone()
        for seq, row in ((4, b), (5, a)):
            db.execute(
                "UPDATE outbox SET session_id=?, kind=?, payload=?, prev=?, hash=? WHERE seq=?",
                (*row, seq),
            )
    report = verify_outbox(written)
    assert report.problem is not None and report.problem.seq == 4


def test_verify_names_a_deleted_record(written: Path) -> None:
    with sqlite3.connect(written) as db:
        db.execute("DELETE FROM outbox WHERE seq = 5")
    report = verify_outbox(written)
    assert report.problem is not None
    assert report.problem.seq == 6
    assert "record 5 is missing" in report.problem.problem


def test_verify_notices_records_cut_off_the_end(written: Path) -> None:
    with sqlite3.connect(written) as db:
        db.execute("DELETE FROM outbox WHERE seq >= 8")
    report = verify_outbox(written)
    assert report.problem is not None and report.problem.seq == 8
    assert "head is record 9" in report.problem.problem


def test_verify_refuses_a_missing_or_unversioned_file(tmp_path: Path) -> None:
    with pytest.raises(AuditNotRecorded, match="no audit outbox"):
        verify_outbox(tmp_path / "nothing.sqlite3")
    with sqlite3.connect(tmp_path / "v1.sqlite3") as db:
        db.executescript(UNVERSIONED)
    with pytest.raises(AuditNotRecorded, match="version 0"):
        verify_outbox(tmp_path / "v1.sqlite3")


# -- fail closed --------------------------------------------------------------------


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` really read-only, also for root (CI runs as root, and root ignores
    permission bits): the immutable attribute, which root must lift first."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make {path} read-only for root here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_read_only_folder_refuses_the_start_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "audit"
    folder.mkdir()
    outbox = AuditOutbox(folder / "outbox.sqlite3")
    try:
        with read_only(folder), pytest.raises(AuditNotRecorded) as caught:
            asyncio.run(outbox.record_start(session()))
    finally:
        outbox.close()
    assert str(folder / "outbox.sqlite3") in str(caught.value)
    assert "Video stays closed" in str(caught.value)
    assert not (folder / "outbox.sqlite3").exists()


def test_a_read_only_outbox_file_refuses_the_start_and_says_it_is_read_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "outbox.sqlite3"
    write_sessions(path, 1)  # closed cleanly: no WAL file is left beside it
    before = stored(path)
    outbox = AuditOutbox(path)
    try:
        with read_only(path), pytest.raises(AuditNotRecorded) as caught:
            asyncio.run(outbox.record_start(session(T0 + timedelta(hours=1))))
    finally:
        outbox.close()
    assert "read-only" in str(caught.value)
    assert str(path) in str(caught.value)
    assert stored(path) == before


def test_a_corrupt_outbox_file_refuses_the_start_and_says_it_is_damaged(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not an SQLite database, it was overwritten" * 100)
    outbox = AuditOutbox(path)
    try:
        with pytest.raises(AuditNotRecorded) as caught:
            asyncio.run(outbox.record_start(session()))
    finally:
        outbox.close()
    assert "damaged" in str(caught.value)
    assert "Video stays closed" in str(caught.value)
    with pytest.raises(AuditNotRecorded, match="cannot be read"):
        verify_outbox(path)
