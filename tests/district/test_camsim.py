"""The camera simulator serves real MPEG-TS from real ffmpeg children and cleans up."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import pytest

from dispatch_console.district import camsim
from dispatch_console.district.camsim import CameraSimulator, FfmpegNotFoundError, SimCamera

pytestmark = pytest.mark.timeout(30)

CAMERAS = [
    SimCamera("mh-e1", "Main Hall East — 1st floor"),
    # Quotes, colons, percent and backslash must reach the picture without escaping.
    SimCamera("gym.north", 'Gym: "north" doors 100% \\ exit'),
]
TS_PACKET = 188
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run one scenario on a fresh loop with a hard timeout, so a hang fails fast."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@asynccontextmanager
async def simulator() -> AsyncIterator[CameraSimulator]:
    sim = CameraSimulator(CAMERAS)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def wait_until(predicate: Callable[[], bool]) -> None:
    """Poll until ``predicate`` holds; fails after 5 s.

    Polling on purpose: process exit as seen in /proc has no event to await.
    """
    async with asyncio.timeout(5.0):
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def raw_request(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await reader.read()
    writer.close()
    await writer.wait_closed()
    return data


def test_stream_is_mpeg_ts_from_the_first_byte(
    ffmpeg_children: Callable[[], list[int]],
) -> None:
    async def scenario() -> None:
        async with simulator() as sim, httpx.AsyncClient(timeout=10) as client:
            url = sim.url_for("gym.north")
            async with client.stream("GET", url) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "video/mp2t"
                assert response.headers["cache-control"] == "no-store"
                assert response.headers["connection"] == "close"
                data = b""
                async for chunk in response.aiter_raw():
                    data += chunk
                    if len(data) >= 50 * TS_PACKET:
                        break
                assert sim.active_streams == 1
                assert len(ffmpeg_children()) == 1
            packets = len(data) // TS_PACKET
            assert all(data[i * TS_PACKET] == 0x47 for i in range(packets)), "TS sync lost"
            await wait_until(lambda: sim.active_streams == 0)
            await wait_until(lambda: not ffmpeg_children())

    run(scenario())


def test_unknown_camera_is_404_and_garbage_is_400() -> None:
    async def scenario() -> None:
        async with simulator() as sim:
            async with httpx.AsyncClient(timeout=5) as client:
                base = f"http://127.0.0.1:{sim.port}"
                assert (await client.get(f"{base}/cameras/nope.ts")).status_code == 404
                assert (await client.get(f"{base}/cameras/../etc/passwd")).status_code == 404
                assert (await client.get(f"{base}/")).status_code == 404
                assert (await client.post(f"{base}/cameras/mh-e1.ts")).status_code == 405
            reply = await raw_request(sim.port, b"garbage\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 400 ")
            reply = await raw_request(sim.port, b"GET /cameras/mh-e1.ts SPDY/9\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 400 ")
            assert sim.active_streams == 0
            with pytest.raises(KeyError):
                sim.url_for("nope")

    run(scenario())


def test_client_disconnect_kills_and_reaps_ffmpeg(
    ffmpeg_children: Callable[[], list[int]],
) -> None:
    async def scenario() -> None:
        tasks_before = asyncio.all_tasks()
        async with simulator() as sim:
            readers = []
            for camera_id in ("mh-e1", "gym.north"):
                reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
                writer.write(f"GET /cameras/{camera_id}.ts HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                await writer.drain()
                await reader.readuntil(b"\r\n\r\n")
                await reader.readexactly(TS_PACKET)  # ffmpeg is running and encoding
                readers.append(writer)
            assert sim.active_streams == 2
            assert len(ffmpeg_children()) == 2
            first = readers.pop(0)
            first.close()
            await first.wait_closed()
            await wait_until(lambda: sim.active_streams == 1)
            await wait_until(lambda: len(ffmpeg_children()) == 1)
            # The other viewer is still connected: stop() must end it too.
        assert sim.active_streams == 0
        assert ffmpeg_children() == []
        for writer in readers:
            writer.close()
        # No task of the simulator outlives stop().
        assert asyncio.all_tasks() - tasks_before == set()

    run(scenario())


def test_missing_ffmpeg_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)
    sim = CameraSimulator(CAMERAS)
    with pytest.raises(FfmpegNotFoundError, match="Debian package 'ffmpeg'"):
        run(sim.start())


def test_camera_ids_are_validated() -> None:
    with pytest.raises(ValueError, match="camera id"):
        SimCamera("../x", "bad")
    with pytest.raises(ValueError, match="unique"):
        CameraSimulator([SimCamera("a", "A"), SimCamera("a", "B")])


def test_cli_rejects_a_camera_without_label() -> None:
    with pytest.raises(SystemExit) as excinfo:
        camsim.main(["--camera", "just-an-id"])
    assert excinfo.value.code == 2
