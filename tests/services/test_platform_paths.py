"""Folders come from the platform's conventions (platformdirs), never hard-coded XDG paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dispatch_console.services import platform_paths


def test_linux_folders_follow_xdg(tmp_path: Path) -> None:
    # The autouse fixture points XDG_* into tmp_path.
    assert platform_paths.user_config_path() == (
        tmp_path / "xdg-config" / "dispatch-console" / "settings.toml"
    )
    assert platform_paths.user_data_dir() == tmp_path / "xdg-data" / "dispatch-console"
    assert platform_paths.user_log_dir() == tmp_path / "xdg-state" / "dispatch-console" / "log"


def test_system_file_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPATCH_SYSTEM_CONFIG")
    assert platform_paths.system_config_path() == Path("/etc/dispatch-console/config.toml")
    monkeypatch.setenv("DISPATCH_SYSTEM_CONFIG", "/srv/it/console.toml")
    assert platform_paths.system_config_path() == Path("/srv/it/console.toml")


def test_windows_uses_programdata_and_its_own_folder_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DISPATCH_SYSTEM_CONFIG")
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setenv("PROGRAMDATA", str(tmp_path / "ProgramData"))
    assert platform_paths.system_config_path() == (
        tmp_path / "ProgramData" / "DispatchConsole" / "config.toml"
    )
    assert platform_paths.user_config_path().parent.name == "DispatchConsole"
