"""Fixtures for the video tests: a real camera simulator on its own asyncio loop.

pytest-qt drives the Qt event loop and has no asyncio support, so the simulator runs on
a private loop in a background thread, exactly as an external gateway would.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from dispatch_console.district.camsim import CameraSimulator, SimCamera
from dispatch_console.video.player import wait_for_releases

T = TypeVar("T")

CAMERAS = [
    SimCamera("mh-e1", "Main Hall East — 1st floor"),
    SimCamera("caf-1", "Cafeteria — west doors"),
]


class ThreadedSimulator:
    """A CameraSimulator running on an asyncio loop in a daemon thread."""

    def __init__(self, cameras: list[SimCamera]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="camsim", daemon=True)
        self.sim = CameraSimulator(cameras)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Run a coroutine on the simulator's loop and wait for it, with a hard timeout."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> None:
        self.thread.start()
        self.call(self.sim.start())

    def stop(self) -> None:
        """Stop the simulator (kills its ffmpeg children) and end the loop's thread."""
        try:
            self.call(self.sim.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            if not self.thread.is_alive():
                self.loop.close()

    def url_for(self, camera_id: str) -> str:
        return self.sim.url_for(camera_id)

    @property
    def active_streams(self) -> int:
        return self.sim.active_streams


@pytest.fixture
def start_simulator() -> Iterator[Callable[[list[SimCamera]], ThreadedSimulator]]:
    """Start a simulator of the test's own (e.g. to stop it mid-stream); stopped after."""
    started: list[ThreadedSimulator] = []

    def start(cameras: list[SimCamera]) -> ThreadedSimulator:
        server = ThreadedSimulator(cameras)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        if server.thread.is_alive():
            server.stop()


@pytest.fixture(scope="module")
def camsim() -> Iterator[ThreadedSimulator]:
    """One running camera simulator shared by the module's tests."""
    # No skip: the test command installs ffmpeg, and a missing encoder must fail loudly.
    assert shutil.which("ffmpeg"), "ffmpeg is missing (Debian package 'ffmpeg')"
    server = ThreadedSimulator(CAMERAS)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dead_url() -> str:
    """A stream URL on a loopback port where nothing listens (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/cameras/mh-e1.ts?ticket=SECRET-TICKET"


@pytest.fixture(autouse=True)
def _libvlc_players_released() -> Iterator[None]:
    """Every libVLC player a test stopped must be fully released before the next test."""
    yield
    assert wait_for_releases(10.0), "a libVLC player was still being released after 10 s"
