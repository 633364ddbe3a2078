"""``dispatch-console audit verify`` on real outbox files: clean, tampered, default path."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from dispatch_console.audit_cli import main
from dispatch_console.services.audit_outbox import outbox_path
from tests.services.test_audit_outbox_chain import write_sessions


def test_a_clean_outbox_verifies_with_exit_status_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.sqlite3"
    write_sessions(path, 2)
    assert main(["verify", "--outbox", str(path)]) == 0
    out = capsys.readouterr().out
    assert "holds (records 1..6)" in out


def test_a_tampered_outbox_names_the_first_bad_record_in_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "outbox.sqlite3"
    write_sessions(path, 2)
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM outbox WHERE seq = 2")
    assert main(["verify", "--outbox", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    bad = report["outboxes"][0]["first_bad_record"]
    assert bad["seq"] == 3
    assert "record 2 is missing" in bad["problem"]


def test_by_default_every_outbox_in_the_data_folder_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DISPATCH_DATA_DIR", str(tmp_path / "data"))
    assert main(["verify"]) == 2  # nothing there yet: say so, do not claim it holds
    assert "no audit outbox" in capsys.readouterr().err
    for user in ("dispatcher", "safety"):
        write_sessions(outbox_path(tmp_path / "data", user), 1)
    assert main(["verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [Path(o["path"]).name for o in report["outboxes"]] == [
        "audit-outbox-dispatcher.sqlite3",
        "audit-outbox-safety.sqlite3",
    ]


def test_an_unreadable_outbox_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"not a database" * 100)
    assert main(["verify", "--outbox", str(path)]) == 2
    assert "cannot be read" in capsys.readouterr().err
