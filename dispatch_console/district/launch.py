"""Start the district server or the camera simulator as a child process and learn its URL.

The demo and the end-to-end tests need real, separate processes (as in production) on
ports nobody has to pick by hand. Each child prints one ``NAME=URL`` line on stdout once
it listens; we wait for that line, with a timeout, and on failure raise with the end of
the child's stderr so the cause is visible instead of a bare "timed out".
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

_STDERR_TAIL_LINES = 40
PARENT_PID_ENV = "DISPATCH_CONSOLE_PARENT_PID"


def _drain(stream: IO[str], sink: collections.deque[str] | None) -> None:
    """Keep reading a pipe so the child never blocks on a full buffer."""
    try:
        for line in stream:
            if sink is not None:
                sink.append(line)
    except (OSError, ValueError):
        pass


def start_process(
    args: list[str], ready_prefix: str, timeout: float = 30
) -> tuple[subprocess.Popen[str], str]:
    """Run ``python -m dispatch_console *args``; return the child and the value it announced.

    Reads stdout until a line starts with ``ready_prefix`` and returns what follows the
    ``=``. If the child exits or the timeout passes first, the child is killed and a
    RuntimeError carries its stderr tail.
    """
    # The child ties its life to ours (see cli.die_with_parent): a test run or demo that
    # crashes must not leave simulators and servers running.
    env = {**os.environ, "PYTHONUNBUFFERED": "1", PARENT_PID_ENV: str(os.getpid())}
    child = subprocess.Popen(
        [sys.executable, "-m", "dispatch_console", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
    )
    assert child.stdout is not None and child.stderr is not None
    stderr_tail: collections.deque[str] = collections.deque(maxlen=_STDERR_TAIL_LINES)
    threading.Thread(
        target=_drain, args=(child.stderr, stderr_tail), name="child-stderr", daemon=True
    ).start()

    lines: collections.deque[str] = collections.deque()
    got_line = threading.Condition()

    def read_stdout() -> None:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                with got_line:
                    lines.append(line)
                    got_line.notify()
        except (OSError, ValueError):
            pass
        with got_line:
            lines.append("")  # end of stream
            got_line.notify()

    threading.Thread(target=read_stdout, name="child-stdout", daemon=True).start()

    deadline = time.monotonic() + timeout
    problem = f"did not report {ready_prefix} within {timeout:g} s"
    while True:
        with got_line:
            remaining = deadline - time.monotonic()
            if not lines and remaining > 0:
                got_line.wait(remaining)
            line = lines.popleft() if lines else None
        if line is None:
            break  # timed out
        if line == "":
            problem = f"exited with code {child.wait()} before reporting {ready_prefix}"
            break
        if line.startswith(ready_prefix):
            _, _, value = line.strip().partition("=")
            return child, value
    _kill(child)
    time.sleep(0.1)  # let the stderr reader catch the last lines
    tail = "".join(stderr_tail).strip() or "(no output on stderr)"
    raise RuntimeError(f"`dispatch_console {' '.join(args)}` {problem}. Its stderr ends:\n{tail}")


def _kill(child: subprocess.Popen[str]) -> None:
    if child.poll() is None:
        child.kill()
    try:
        child.wait(5)
    except subprocess.TimeoutExpired:
        pass


def stop_process(p: subprocess.Popen[str]) -> None:
    """Ask the child to stop (SIGTERM), give it 5 s to shut down cleanly, then kill it."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            _kill(p)
    for stream in (p.stdout, p.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


@dataclass
class DistrictStack:
    """The demo's (and the test suite's) district: simulator, server and gateway processes."""

    camsim_url: str
    camera_source: str  # the base URL the registry's sources use (RTSP when available)
    server_url: str
    gateway_url: str
    secret_file: Path
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def stop(self) -> None:
        for process in reversed(self.processes):
            with contextlib.suppress(Exception):
                stop_process(process)
        self.processes.clear()


def write_secret(path: Path) -> Path:
    """A fresh gateway secret, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(48))
    return path


def camsim_rtsp(camsim_url: str) -> str | None:
    """The simulator's RTSP base URL, if it serves RTSP (None if it does not say so)."""
    try:
        with urllib.request.urlopen(f"{camsim_url}/info", timeout=5) as answer:
            info = json.loads(answer.read())
    except (OSError, ValueError):
        return None
    rtsp = info.get("rtsp") if isinstance(info, dict) else None
    return str(rtsp) if rtsp else None


def start_district_stack(
    data_dir: Path,
    floorplans: Path,
    *,
    camsim_args: Sequence[str] = (),
    server_args: Sequence[str] = (),
    gateway_args: Sequence[str] = (),
    prefer_rtsp: bool = True,
) -> DistrictStack:
    """Start the camera simulator, the district server and one gateway, in that order.

    The cameras are pulled over RTSP, as from real cameras, when the simulator offers it.
    Raises RuntimeError (with the failing child's stderr) if any of them does not start.
    """
    processes: list[subprocess.Popen[str]] = []
    try:
        camsim, camsim_url = start_process(
            ["camsim", "--port", "0", "--floorplans", str(floorplans), *camsim_args], "CAMSIM_URL"
        )
        processes.append(camsim)
        source = (camsim_rtsp(camsim_url) if prefer_rtsp else None) or camsim_url
        secret = write_secret(data_dir / "gateway.secret")
        server, server_url = start_process(
            [
                "district", "serve", "--host", "127.0.0.1", "--port", "0",
                "--db", str(data_dir / "district.sqlite3"), "--floorplans", str(floorplans),
                "--camsim", source, "--gateway-secret-file", str(secret),
                "--seed-demo", "--migrate",
                *server_args,
            ],
            "DISTRICT_SERVER_URL",
        )  # fmt: skip
        processes.append(server)
        gateway, gateway_url = start_process(
            [
                "gateway", "serve", "--district", server_url, "--secret-file", str(secret),
                "--port", "0", *gateway_args,
            ],
            "GATEWAY_URL",
        )  # fmt: skip
        processes.append(gateway)
    except BaseException:
        for process in reversed(processes):
            with contextlib.suppress(Exception):
                stop_process(process)
        raise
    return DistrictStack(camsim_url, source, server_url, gateway_url, secret, processes)
