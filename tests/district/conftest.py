"""Fixtures for the reference district tests: real subprocesses, checked through /proc."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest


def _ffmpeg_children() -> list[int]:
    """PIDs of ffmpeg processes whose parent is this test process, zombies included.

    Reading /proc (rather than asking the simulator) is the point: it sees a child the
    simulator forgot about, and a killed but unreaped child still shows up as a zombie.
    """
    me = os.getpid()
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == me and comm == "ffmpeg":
            found.append(int(entry))
    return found


@pytest.fixture
def ffmpeg_children() -> Callable[[], list[int]]:
    """Return a function listing this process's ffmpeg children (Linux /proc only)."""
    assert Path("/proc/self/stat").exists(), "these checks read /proc (Linux)"
    return _ffmpeg_children
