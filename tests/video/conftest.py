"""Fixtures for the video tests: the camera simulator as a real child process.

It behaves like a camera (one continuous encoder per camera, keyframe every second
here), so the player joins mid-GOP, as it would a real one.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from dispatch_console.district.launch import start_process, stop_process
from dispatch_console.video.player import wait_for_releases
from tests.paths import SAMPLE_DISTRICT

CAMERAS = ("lhs-cam-02", "lhs-cam-05")  # Main Hall East, and the Cafeteria


@dataclass
class Simulator:
    url: str
    process: subprocess.Popen[str]

    def url_for(self, camera_id: str, stream: str = "sub") -> str:
        """The camera's sub stream, or its 1080p main stream (simulator run with --main)."""
        if stream == "main":
            return f"{self.url}/cameras/{camera_id}/main.ts"
        return f"{self.url}/cameras/{camera_id}.ts"

    @property
    def active_streams(self) -> int:
        count: int = httpx.get(f"{self.url}/info", timeout=5).json()["http_viewers"]
        return count

    def hang_up(self, camera_id: str) -> None:
        """Cut the camera's viewers, as a gateway that hangs up mid-stream."""
        answer = httpx.post(f"{self.url}/control/{camera_id}", json={"mode": "refuse"}, timeout=5)
        assert answer.status_code == 204

    def stop(self) -> None:
        stop_process(self.process)


def _start(cameras: tuple[str, ...], *extra: str) -> Simulator:
    process, url = start_process(
        [
            "camsim", "--port", "0", "--floorplans", str(SAMPLE_DISTRICT),
            "--cameras", ",".join(cameras), "--gop", "1", "--no-rtsp", *extra,
        ],
        "CAMSIM_URL",
    )  # fmt: skip
    return Simulator(url, process)


@pytest.fixture
def start_simulator() -> Iterator[Callable[..., Simulator]]:
    """Start a simulator of the test's own (e.g. to make it hang up, or with ``--main``);
    stopped after."""
    started: list[Simulator] = []

    def start(cameras: tuple[str, ...], *extra: str) -> Simulator:
        simulator = _start(cameras, *extra)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        simulator.stop()


@pytest.fixture(scope="module")
def camsim() -> Iterator[Simulator]:
    """One running camera simulator shared by the module's tests."""
    simulator = _start(CAMERAS)
    try:
        yield simulator
    finally:
        simulator.stop()


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
