"""Exports are written whole or not at all, and a failure names the path and why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dispatch_console.services.exports import ExportFailed, save_text


def test_an_export_replaces_an_earlier_one_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "sessions.csv"
    target.write_text("old export\n", encoding="utf-8")
    text = "session_id\r\n" + "".join(f"s{i}\r\n" for i in range(10_000))
    assert asyncio.run(save_text(target, text)) == target
    assert target.read_bytes() == text.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions.csv"]


def test_a_missing_folder_is_named_with_its_reason(tmp_path: Path) -> None:
    target = tmp_path / "gone" / "sessions.csv"
    with pytest.raises(ExportFailed) as raised:
        asyncio.run(save_text(target, "x"))
    assert str(target) in raised.value.detail
    assert "that folder does not exist" in raised.value.detail
    assert not target.parent.exists()


def test_a_folder_in_the_way_keeps_what_was_there_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "report.html"
    target.mkdir()
    (target / "kept.txt").write_text("kept", encoding="utf-8")
    with pytest.raises(ExportFailed) as raised:
        asyncio.run(save_text(target, "<html></html>"))
    assert str(target) in raised.value.detail and "folder" in raised.value.detail
    assert (target / "kept.txt").read_text(encoding="utf-8") == "kept"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]
