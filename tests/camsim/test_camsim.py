"""The camera simulator keeps a real camera's promises, checked against real processes.

Each simulator runs as a child process on loopback, started exactly as the demo starts
it, and is examined with software we did not write: PyAV (FFmpeg's demuxers, decoders
and RTSP client) and httpx.
"""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console.camsim import timestrip
from dispatch_console.district.launch import start_process, stop_process
from tests.avproc import av_call
from tests.paths import SAMPLE_DISTRICT

CAMERAS = ("lhs-cam-01", "lhs-cam-02")
GOP_S = 1.0
TS_CLOCK = 90_000


def _start(*extra: str) -> Iterator[str]:
    proc, url = start_process(
        [
            "camsim",
            "--port",
            "0",
            "--gop",
            str(GOP_S),
            "--floorplans",
            str(SAMPLE_DISTRICT),
            *extra,
        ],
        "CAMSIM_URL",
    )
    children = _children(proc.pid)
    assert children, "the encoders (and the RTSP front) run as children"
    try:
        yield url
    finally:
        stop_process(proc)
    assert proc.returncode == 0, "stopped cleanly on SIGTERM, not killed"
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()], "children reaped"


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.fixture(scope="module")
def sim() -> Iterator[str]:
    yield from _start("--cameras", ",".join(CAMERAS))


@pytest.fixture(scope="module")
def info(sim: str) -> dict[str, object]:
    data: dict[str, object] = httpx.get(f"{sim}/info", timeout=5).json()
    return data


def _gst_rtsp_server_installed() -> bool:
    probe = "import gi; gi.require_version('GstRtspServer', '1.0')"
    if not os.access("/usr/bin/python3", os.X_OK):
        return False
    return subprocess.run(["/usr/bin/python3", "-c", probe], check=False).returncode == 0


def _rtsp_base(info: dict[str, object]) -> str:
    rtsp = info["rtsp"]
    if rtsp is None:
        # No skip: the test command installs GStreamer's RTSP server, and the gateway's
        # RTSP ingest is tested against it; its absence must fail loudly.
        assert _gst_rtsp_server_installed(), (
            "no GStreamer RTSP server for /usr/bin/python3: install python3-gi, "
            "python3-gst-1.0 and gir1.2-gst-rtsp-server-1.0 (bash scripts/dev.sh test does)"
        )
        pytest.fail("GStreamer's RTSP server is installed but the simulator reports no RTSP")
    assert isinstance(rtsp, str)
    return rtsp


def _read_ts(url: str, seconds: float) -> bytes:
    data = bytearray()
    deadline = time.monotonic() + seconds
    with httpx.stream("GET", url, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp2t"
        for chunk in response.iter_raw():
            data += chunk
            if time.monotonic() >= deadline:
                break
    return bytes(data)


def _video_packets(ts: bytes) -> list[tuple[int, bool]]:
    """(pts, keyframe) of every video packet in a TS capture, in order."""
    with tempfile.NamedTemporaryFile(suffix=".ts") as capture:
        capture.write(ts)
        capture.flush()
        return [(pts, key) for pts, key in av_call("video_packets", path=capture.name)]


def _rtsp_answer(url: str, count: int) -> dict[str, Any]:
    answer: dict[str, Any] = av_call("rtsp_packets", url=url, count=count)
    return answer


def _rtsp_packets(url: str, count: int) -> tuple[str, int, int]:
    """Codec name, width and height of an RTSP stream after demuxing ``count`` packets."""
    answer = _rtsp_answer(url, count)
    assert "error" not in answer, answer
    assert answer["packets"] >= count
    return answer["codec"], answer["width"], answer["height"]


def test_viewers_join_the_running_encoder_mid_gop(sim: str) -> None:
    joins = []
    for pause in (0.0, 0.37, 0.23):
        time.sleep(pause)
        joins.append(_video_packets(_read_ts(f"{sim}/cameras/{CAMERAS[0]}.ts", 2.3)))
    assert all(joins), "every join received video"
    assert any(not packets[0][1] for packets in joins), "some join started between keyframes"
    for packets in joins:
        keyframes = [pts for pts, key in packets if key]
        assert len(keyframes) >= 2
        for earlier, later in itertools.pairwise(keyframes):
            assert abs((later - earlier) - GOP_S * TS_CLOCK) <= TS_CLOCK / 15


def test_the_encoder_runs_without_viewers(sim: str, info: dict[str, object]) -> None:
    assert info["cameras"] == list(CAMERAS)
    assert info["gop_s"] == GOP_S
    assert info["codec"] == "h264"
    first = _video_packets(_read_ts(f"{sim}/cameras/{CAMERAS[1]}/sub.ts", 0.6))[0][0]
    time.sleep(1.5)
    second = _video_packets(_read_ts(f"{sim}/cameras/{CAMERAS[1]}.ts", 0.6))[0][0]
    # One encoder for everybody: the second viewer sees the clock 1.5 s further on, not
    # a fresh encoder starting from zero again.
    assert second - first >= 1.4 * TS_CLOCK


def test_each_frame_carries_its_capture_time(sim: str) -> None:
    answer = av_call("capture_times", url=f"{sim}/cameras/{CAMERAS[0]}.ts", count=30)
    values: list[int] = answer["values"]
    now: int = answer["now_ms"]
    assert all(v is not None for v in values), values
    assert all(a < b for a, b in itertools.pairwise(values)), values
    assert 0 <= timestrip.age_ms(values[-1], now) < 1000


def test_fault_modes(sim: str) -> None:
    camera = CAMERAS[1]
    url = f"{sim}/cameras/{camera}.ts"
    control = f"{sim}/control/{camera}"

    def switch(mode: str) -> None:
        assert httpx.post(control, json={"mode": mode}, timeout=5).status_code == 204

    try:
        with httpx.stream("GET", url, timeout=5) as viewer:
            viewer_chunks = viewer.iter_raw()
            assert next(viewer_chunks)[0] == 0x47
            switch("refuse")
            cut_at = time.monotonic()
            with pytest.raises(httpx.TransportError):  # the existing viewer is cut
                for _ in viewer_chunks:
                    assert time.monotonic() - cut_at < 2
        with pytest.raises(httpx.TransportError):
            httpx.get(url, timeout=2)

        switch("garbage")
        with httpx.stream("GET", url, timeout=5) as response:
            assert response.status_code == 200
            garbage = next(response.iter_raw())
            assert 0x47 not in garbage

        switch("silent")
        with httpx.stream("GET", url, timeout=httpx.Timeout(5, read=0.8)) as response:
            assert response.status_code == 200
            with pytest.raises(httpx.ReadTimeout):
                next(response.iter_raw())

        switch("unauthorized")
        response = httpx.get(url, timeout=5)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="camsim"'

        assert httpx.post(control, json={"mode": "bogus"}, timeout=5).status_code == 400
    finally:
        switch("normal")
    with httpx.stream("GET", url, timeout=5) as response:
        assert response.status_code == 200
        assert next(response.iter_raw())[0] == 0x47


def test_requests_are_answered_like_http(sim: str) -> None:
    host, port = sim.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"NONSENSE\r\n\r\n")
        assert raw.recv(100).startswith(b"HTTP/1.1 400 ")
    assert httpx.get(f"{sim}/cameras/no-such-cam.ts", timeout=5).status_code == 404
    main = httpx.get(f"{sim}/cameras/{CAMERAS[0]}/main.ts", timeout=5)
    assert main.status_code == 404 and "--main" in main.text
    assert httpx.delete(f"{sim}/cameras/{CAMERAS[0]}.ts", timeout=5).status_code == 405
    head = httpx.head(f"{sim}/cameras/{CAMERAS[0]}.ts", timeout=5)
    assert head.status_code == 200 and head.headers["cache-control"] == "no-store"


def test_mjpeg_parts_are_jpegs(sim: str) -> None:
    with httpx.stream("GET", f"{sim}/cameras/{CAMERAS[0]}.mjpg", timeout=10) as response:
        assert response.status_code == 200
        kind, _, boundary = response.headers["content-type"].partition(";boundary=")
        assert kind == "multipart/x-mixed-replace"
        buffer = b""
        jpegs: list[bytes] = []
        for chunk in response.iter_raw():
            buffer += chunk
            while b"\r\n\r\n" in buffer:
                head, _, rest = buffer.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                assert lines[0] == f"--{boundary}"
                fields = dict(line.lower().split(": ", 1) for line in lines[1:])
                assert fields["content-type"] == "image/jpeg"
                length = int(fields["content-length"])
                if len(rest) < length + 2:
                    break
                jpegs.append(rest[:length])
                buffer = rest[length + 2 :]
            if len(jpegs) >= 2:
                break
    assert len(jpegs) >= 2
    assert all(jpeg.startswith(b"\xff\xd8") and jpeg.endswith(b"\xff\xd9") for jpeg in jpegs)


def test_rtsp_serves_h264_over_tcp(info: dict[str, object]) -> None:
    base = _rtsp_base(info)
    assert _rtsp_packets(f"{base}/cameras/{CAMERAS[0]}", 10) == ("h264", 640, 360)


@pytest.fixture(scope="module")
def secured_sim() -> Iterator[str]:
    yield from _start("--cameras", CAMERAS[0], "--rtsp-user", "viewer", "--rtsp-password", "s3cret")


def test_rtsp_requires_credentials_when_configured(secured_sim: str) -> None:
    info: dict[str, object] = httpx.get(f"{secured_sim}/info", timeout=5).json()
    base = _rtsp_base(info)
    host = base.removeprefix("rtsp://")
    for credentials in ("", "viewer:wrong@"):
        refused = _rtsp_answer(f"rtsp://{credentials}{host}/cameras/{CAMERAS[0]}", 1)
        assert "401" in refused.get("message", "") or refused.get("error") == (
            "HTTPUnauthorizedError"
        ), refused
    url = f"rtsp://viewer:s3cret@{host}/cameras/{CAMERAS[0]}"
    assert _rtsp_packets(url, 5) == ("h264", 640, 360)


@pytest.fixture(scope="module")
def h265_sim() -> Iterator[str]:
    yield from _start("--cameras", CAMERAS[1], "--codec", "h265")


def test_rtsp_serves_h265(h265_sim: str) -> None:
    info: dict[str, object] = httpx.get(f"{h265_sim}/info", timeout=5).json()
    assert info["codec"] == "h265"
    base = _rtsp_base(info)
    assert _rtsp_packets(f"{base}/cameras/{CAMERAS[1]}", 5) == ("hevc", 640, 360)
