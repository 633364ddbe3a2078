"""A full demo run's logs hold no password, one-time code secret, sign-in token, stream
link or gateway secret: the demo is run as a user would run it (declare, three cameras
playing), then every log line it wrote, and everything it printed, is searched."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch_console.district.seed import DEMO_ACCOUNTS

pytestmark = pytest.mark.timeout(180)

# What a leaked sign-in token or stream link would look like in a line.
LEAKS = (
    re.compile(r"[Bb]earer\s+[A-Za-z0-9_\-.~+/]{16,}"),
    re.compile(r"token=[A-Za-z0-9_\-.~%]{8,}"),
    re.compile(r"://[^/\s:@]+:[^/\s@]+@"),  # credentials in a URL
)


def test_a_demo_run_logs_what_happened_and_no_secret(tmp_path: Path) -> None:
    logs, data = tmp_path / "logs", tmp_path / "data"
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": "offscreen",
        "DISPATCH_LOG_DIR": str(logs),
    }
    run = subprocess.run(
        [sys.executable, "-m", "dispatch_console", "demo", "--data-dir", str(data),
         "--autoplay", "--screenshot", str(tmp_path / "demo.png"), "--screenshot-after", "12"],
        env=env, capture_output=True, text=True, timeout=150,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    files = sorted(p for p in logs.rglob("*") if p.is_file())
    assert files, "the demo wrote no log file"
    text = "\n".join(p.read_text(errors="replace") for p in files)
    text += "\n" + run.stdout + "\n" + run.stderr
    # The log says what happened (so this search can find something) ...
    assert "demo" in text and "lhs-cam" in text, text[-2000:]
    # ... and none of the secrets it handled.
    secrets = [a.password for a in DEMO_ACCOUNTS] + [a.totp_secret for a in DEMO_ACCOUNTS]
    secrets.append((data / "gateway.secret").read_text().strip())
    for secret in secrets:
        assert secret not in text, f"{secret[:6]}… reached the demo's logs"
    for pattern in LEAKS:
        found = pattern.search(text)
        assert found is None, f"a log line holds {found.group(0)[:24]}…"
