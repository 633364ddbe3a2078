"""The command line: version, and a clear way out when there is no display."""

from __future__ import annotations

import os
import subprocess
import sys

from dispatch_console import __version__


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch_console", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_version() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"dispatch-console {__version__}"


def test_demo_without_a_display_explains_xvfb_and_fails() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    result = run_cli("demo", env=env)
    assert result.returncode == 2
    assert "no display found" in result.stderr
    assert "xvfb-run" in result.stderr


def test_district_without_serve_shows_usage() -> None:
    result = run_cli("district")
    assert result.returncode == 2
    assert "district serve" in result.stderr
