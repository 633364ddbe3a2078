"""Logs and the support bundle never carry tokens, passwords or stream credentials."""

from __future__ import annotations

import logging
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch_console.support.bundle import write_bundle
from dispatch_console.support.checks import passed
from dispatch_console.support.logs import LOG_FILE, setup_logging
from dispatch_console.support.redaction import redact_text

TOKEN = "tok_9f8e7d6c5b4a"
TICKET = "t1ck3t-abcdef"
PASSWORD = "correct-horse-battery"


@pytest.mark.parametrize(
    "text",
    [
        f"GET https://gw.district.example:8760/v1/streams/cam-1.ts?ticket={TICKET} failed",
        f"pulling rtsp://admin:{PASSWORD}@10.1.2.3:554/h264",
        f"Authorization: Bearer {TOKEN}",
        f"sign-in with password={PASSWORD} token: {TOKEN}",
        f'{{"token": "{TOKEN}", "password": "{PASSWORD}"}}',
    ],
)
def test_redaction_removes_each_shape_of_secret(text: str) -> None:
    shown = redact_text(text)
    assert TOKEN not in shown and TICKET not in shown and PASSWORD not in shown
    assert "***" in shown


def test_redaction_keeps_harmless_text() -> None:
    text = "opened lhs-cam-02 from https://gw.district.example/v1/streams in 42 ms"
    assert redact_text(text) == text


@pytest.fixture
def logging_to(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    path = setup_logging(logging.DEBUG, tmp_path / "log")
    yield path
    for handler in root.handlers[:]:
        if handler not in before:
            handler.close()
            root.removeHandler(handler)
    root.setLevel(level)


def test_log_file_rotates_in_place_and_holds_no_secrets(logging_to: Path) -> None:
    log = logging.getLogger("dispatch_console.test")
    log.info("playing %s", f"http://127.0.0.1:8760/s/cam.ts?ticket={TICKET}")
    log.debug("headers %r", {"Authorization": f"Bearer {TOKEN}"})
    try:
        raise RuntimeError(f"login failed for password={PASSWORD}")
    except RuntimeError:
        log.exception("sign-in")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = logging_to.read_text()
    assert logging_to.name == LOG_FILE
    assert "playing http://127.0.0.1:8760/s/cam.ts" in text and "Traceback" in text
    assert TOKEN not in text and TICKET not in text and PASSWORD not in text
    if os.name == "posix":
        assert stat.S_IMODE(logging_to.stat().st_mode) == 0o600


def test_bundle_holds_logs_config_and_selftest_with_secrets_masked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    (log_dir / "console.log").write_text(f"old line Bearer {TOKEN}\n")
    monkeypatch.setenv("DISPATCH_LOG_DIR", str(log_dir))
    system = tmp_path / "etc" / "config.toml"  # where the autouse fixture points
    system.parent.mkdir()
    system.write_text(
        'district_api_url = "https://cams.district.example"\n'
        f'# proxy password = "{PASSWORD}"\nlocked = ["district_api_url"]\n'
    )
    out = write_bundle(tmp_path / "bundle.zip", [passed("libvlc", "ok")])
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        everything = "".join(archive.read(n).decode() for n in names)
    assert {"about.txt", "selftest.json", "settings-effective.json"} <= names
    assert {"config/system-config.toml", "logs/console.log"} <= names
    assert "https://cams.district.example" in everything
    assert TOKEN not in everything and PASSWORD not in everything
