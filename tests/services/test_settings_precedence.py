"""The configuration precedence IT relies on: locked system > user > system default > built-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatch_console.services.settings import ConfigError, Settings, load_settings


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def system(tmp_path: Path) -> Path:
    return tmp_path / "etc" / "config.toml"  # where the autouse fixture points


@pytest.fixture
def user(tmp_path: Path) -> Path:
    return tmp_path / "xdg-config" / "dispatch-console" / "settings.toml"


def test_built_in_defaults_without_any_file() -> None:
    settings = Settings.from_env()
    assert settings.server_url == "http://127.0.0.1:8750"
    assert settings.idle_lock_minutes == 30
    assert settings.allowed_stream_hosts == ()
    assert settings.origins["district_api_url"] == "built-in default"


def test_system_default_beats_built_in(system: Path) -> None:
    write(system, 'district_api_url = "https://cams.district.example/"\nidle_lock_minutes = 5\n')
    settings = Settings.from_env()
    assert settings.server_url == "https://cams.district.example"
    assert settings.idle_lock_minutes == 5
    assert settings.origins["idle_lock_minutes"] == str(system)


def test_user_beats_unlocked_system_default(system: Path, user: Path) -> None:
    write(system, "idle_lock_minutes = 5\nnetwork_caching_ms = 300\n")
    write(user, "idle_lock_minutes = 15\n")
    settings = Settings.from_env()
    assert settings.idle_lock_minutes == 15
    assert settings.network_caching_ms == 300  # the user did not set it


def test_locked_system_value_beats_user_environment_and_command_line(
    system: Path, user: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        system,
        'district_api_url = "https://cams.district.example"\n'
        'locked = ["district_api_url", "idle_lock_minutes"]\n'
        "idle_lock_minutes = 10\n",
    )
    write(user, 'district_api_url = "https://evil.example"\nidle_lock_minutes = 0\n')
    monkeypatch.setenv("DISPATCH_SERVER_URL", "https://evil.example")
    settings = Settings.from_env(server_url="https://evil.example")
    assert settings.server_url == "https://cams.district.example"
    assert settings.idle_lock_minutes == 10
    assert settings.locked == {"district_api_url", "idle_lock_minutes"}
    assert settings.origins["district_api_url"].endswith("(locked)")


def test_environment_and_arguments_beat_the_user_file(
    user: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(user, 'workstation_id = "from-file"\nnetwork_caching_ms = 200\n')
    monkeypatch.setenv("DISPATCH_WORKSTATION_ID", "from-env")
    settings = Settings.from_env(network_caching_ms=400)
    assert settings.workstation_id == "from-env"
    assert settings.network_caching_ms == 400


def test_list_and_path_values(system: Path, tmp_path: Path) -> None:
    bundle = write(tmp_path / "ca.pem", "-----BEGIN CERTIFICATE-----\n")
    write(
        system,
        f'allowed_stream_hosts = ["GW1.district.example", "10.0.0.7"]\nca_bundle = "{bundle}"\n'
        'certificate_pin = "sha256:' + ":".join(["AB"] * 32) + '"\n',
    )
    settings = Settings.from_env()
    assert settings.allowed_stream_hosts == ("gw1.district.example", "10.0.0.7")
    assert settings.ca_bundle == bundle
    assert settings.certificate_pin == "ab" * 32


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ("idle_lock_minutes = -3\n", "idle_lock_minutes", "from 0 to 1440"),
        ('idle_lock_minutes = "soon"\n', "idle_lock_minutes", "whole number"),
        ('district_api_url = "ftp://x"\n', "district_api_url", "https:// URL"),
        ('colour = "blue"\n', "colour", "unknown setting"),
        ('locked = ["nope"]\n', "locked", "unknown setting(s): nope"),
        ('ca_bundle = "/no/such/file.pem"\n', "ca_bundle", "not a readable file"),
        ('certificate_pin = "abc"\n', "certificate_pin", "SHA-256 fingerprint"),
        ('allowed_stream_hosts = ["https://gw/x"]\n', "allowed_stream_hosts", "not a host"),
        ("[district]\napi_url = 'x'\n", "district", "tables are not used"),
        ("idle_lock_minutes = = 3\n", "(file)", "not valid TOML"),
    ],
)
def test_an_invalid_system_file_names_file_key_and_problem(
    system: Path, text: str, key: str, problem: str
) -> None:
    write(system, text)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env()
    assert caught.value.source == str(system)
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{system}: {key}: ")


def test_only_the_system_file_may_lock(user: Path) -> None:
    write(user, 'locked = ["idle_lock_minutes"]\n')
    with pytest.raises(ConfigError, match="only the system-wide file can lock"):
        Settings.from_env()


def test_a_bad_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_NETWORK_CACHING_MS", "10")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env()
    assert "DISPATCH_NETWORK_CACHING_MS" in caught.value.source
    assert "from 50 to 5000" in caught.value.problem


def test_windows_group_policy_values_are_locked_and_parsed(tmp_path: Path) -> None:
    """The registry's shapes (REG_SZ, REG_DWORD, REG_MULTI_SZ) through the same parsers."""
    user = write(tmp_path / "user.toml", "idle_lock_minutes = 0\n")
    policies = {
        "district_api_url": "https://cams.district.example",
        "idle_lock_minutes": 7,
        "allowed_stream_hosts": ["gw1.district.example", "gw2.district.example"],
    }
    settings = load_settings(
        {"server_url": "https://other.example"},
        system_file=tmp_path / "none.toml",
        user_file=user,
        env={},
        policies=lambda: dict(policies),
    )
    assert settings.server_url == "https://cams.district.example"
    assert settings.idle_lock_minutes == 7
    assert settings.allowed_stream_hosts == ("gw1.district.example", "gw2.district.example")
    assert settings.locked == set(policies)
    bad = {"idle_lock_minutes": 99999}
    with pytest.raises(ConfigError, match=r"Policies\\DispatchConsole: idle_lock_minutes"):
        load_settings(
            system_file=tmp_path / "none.toml", user_file=user, env={}, policies=lambda: bad
        )
