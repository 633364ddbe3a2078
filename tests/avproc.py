"""Run a ``tests.av_child`` command in a child process and return its JSON answer."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.paths import ROOT


def av_call(command: str, process_timeout: float = 90, **arguments: Any) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "tests.av_child", command, json.dumps(arguments)],
        capture_output=True,
        text=True,
        timeout=process_timeout,
        cwd=ROOT,
    )
    assert done.returncode == 0, f"tests.av_child {command} failed:\n{done.stderr[-3000:]}"
    return json.loads(done.stdout.splitlines()[-1])
