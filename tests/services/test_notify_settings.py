"""notify_sound and notify_desktop: true/false in files, words in variables, locked by IT."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch_console.services.settings import ConfigError, Settings


def test_alerts_are_on_by_default() -> None:
    settings = Settings.from_env()
    assert settings.notify_sound is True and settings.notify_desktop is True


def test_a_user_turns_the_sound_off_and_a_variable_the_desktop_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "xdg-config" / "dispatch-console" / "settings.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("notify_sound = false\n", encoding="utf-8")
    monkeypatch.setenv("DISPATCH_NOTIFY_DESKTOP", "off")
    settings = Settings.from_env()
    assert settings.notify_sound is False and settings.notify_desktop is False
    assert settings.origins["notify_sound"] == str(user)


def test_it_may_lock_the_sound_on(tmp_path: Path) -> None:
    system = tmp_path / "etc" / "config.toml"
    system.parent.mkdir(parents=True, exist_ok=True)
    system.write_text('notify_sound = true\nlocked = ["notify_sound"]\n', encoding="utf-8")
    user = tmp_path / "xdg-config" / "dispatch-console" / "settings.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text("notify_sound = false\n", encoding="utf-8")
    assert Settings.from_env().notify_sound is True


def test_a_value_that_is_not_true_or_false_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_NOTIFY_SOUND", "loud")
    with pytest.raises(ConfigError, match=r"DISPATCH_NOTIFY_SOUND.*true or false"):
        Settings.from_env()
