"""The stream gateway against cameras it did not make: real processes on loopback.

The simulator behaves like an IP camera (one continuous encoder, a fixed keyframe
interval, RTSP from GStreamer's server), so every viewer here joins mid-GOP, as with a
real camera. Pictures are decoded by FFmpeg (PyAV) as the bytes arrive, and the capture
time painted into each picture says how live it is.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from dispatch_console.district.db import Database
from dispatch_console.district.launch import DistrictStack, camsim_rtsp, start_process, stop_process
from dispatch_console.district.seed import seed_demo
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain.stream_tokens import link_key
from dispatch_console.gateway.sources import Credentials
from dispatch_console.services.stream_probe import gateway_refusal
from dispatch_console.video.player import VideoPlayer
from tests.gateway.flow import Viewer
from tests.gateway.harness import TEST_SECRET, ThreadedGateway
from tests.gateway.video import watch
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(120)

GOP4_CAMERAS = ["lhs-cam-02", "lhs-cam-04", "lhs-cam-05"]


@dataclass
class Rig:
    """A camera simulator, a district server and a gateway linked to it."""

    camsim_url: str
    server_url: str
    gateway: ThreadedGateway

    def metrics(self) -> dict[str, object]:
        answer = httpx.get(
            f"{self.gateway.url}/metrics",
            headers={"Authorization": f"Bearer {link_key(TEST_SECRET)}"},
        )
        assert answer.status_code == 200
        metrics: dict[str, object] = answer.json()
        return metrics

    def upstream(self, camera_id: str) -> dict[str, object]:
        for item in self.metrics()["upstreams"]:  # type: ignore[attr-defined]
            if item["camera_id"] == camera_id and item["stream"] == "sub":
                return dict(item)
        raise AssertionError(f"no upstream for {camera_id}")


def _rig(
    tmp: Path,
    camsim_args: list[str],
    source: str = "rtsp",
    gateway_args: tuple[str, ...] = (),
    camera_sources: Callable[[str], dict[str, dict[str, str]]] | None = None,
) -> Iterator[Rig]:
    camsim, camsim_url = start_process(
        ["camsim", "--port", "0", "--floorplans", str(SAMPLE_DISTRICT), *camsim_args],
        "CAMSIM_URL",
    )
    try:
        base = camsim_rtsp(camsim_url) if source == "rtsp" else camsim_url
        assert base, "the simulator serves no RTSP (GStreamer's RTSP server missing?)"
        db = Database(tmp / "district.db")
        seed_demo(db)
        app = create_app(
            db=db,
            floorplans_dir=SAMPLE_DISTRICT,
            camsim_url=base,
            camera_sources=camera_sources(camsim_url) if camera_sources else None,
            gateway_secret=TEST_SECRET,
            allow_totp_reuse=True,
        )
        with (
            ThreadedServer(app) as server,
            ThreadedGateway(server.url, extra_args=gateway_args) as gateway,
        ):
            yield Rig(camsim_url, server.url, gateway)
        db.close()
    finally:
        stop_process(camsim)


@pytest.fixture(scope="module")
def gop4(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    cameras = ",".join(GOP4_CAMERAS)
    yield from _rig(tmp_path_factory.mktemp("gop4"), ["--gop", "4", "--cameras", cameras])


@pytest.fixture(scope="module")
def police(gop4: Rig) -> Iterator[Viewer]:
    viewer = Viewer(gop4.server_url)
    viewer.declare("lincoln-hs")
    yield viewer
    viewer.close()


def _warm(rig: Rig, viewer: Viewer, camera_id: str) -> None:
    """Make sure the upstream is connected (the grant's prewarm has usually done it)."""
    first = watch(viewer.stream_url(camera_id), 0.1)
    assert first.status == 200, first.body


def test_the_gateway_pulls_rtsp_h264(gop4: Rig, police: Viewer) -> None:
    seen = watch(police.stream_url("lhs-cam-02"), 1.0)
    assert seen.status == 200, seen.body
    assert len(seen.pictures) >= 10
    assert gop4.upstream("lhs-cam-02")["state"] == "online"


def test_a_viewer_joining_mid_gop_gets_a_picture_at_once(gop4: Rig, police: Viewer) -> None:
    """With a 4 s GOP, waiting for the next keyframe would take 2 s on average."""
    _warm(gop4, police, "lhs-cam-04")
    rng = random.Random(20261125)
    firsts = []
    for _ in range(5):
        time.sleep(rng.uniform(0.2, 4.0))  # a random point of the GOP
        seen = watch(police.stream_url("lhs-cam-04"), 0.05)
        firsts.append(seen.first_picture_s)
    assert max(firsts) < 0.3, f"first pictures after {firsts} s"


def test_the_first_picture_is_live_not_a_gop_behind(gop4: Rig, police: Viewer) -> None:
    """The cached GOP is re-timed to the live edge: what is shown within a moment of the
    join is the camera's present, read from the capture time painted into it."""
    _warm(gop4, police, "lhs-cam-05")
    time.sleep(2.5)  # well into the GOP: the cache holds over two seconds of pictures
    seen = watch(police.stream_url("lhs-cam-05"), 1.0)
    settled = [p.age_ms for p in seen.pictures if p.at_s > seen.first_picture_s + 0.3]
    assert settled and all(a is not None for a in settled), seen.pictures
    assert max(a for a in settled if a is not None) < 600, settled
    # The burst's last picture is the live edge, not the GOP's first (2.5 s old).
    newest = [p.age_ms for p in seen.pictures if p.age_ms is not None]
    assert min(newest) < 600


def test_two_consoles_on_one_camera_make_one_upstream_session(gop4: Rig, police: Viewer) -> None:
    _warm(gop4, police, "lhs-cam-02")
    before = gop4.upstream("lhs-cam-02")["connections_made"]
    other = Viewer(gop4.server_url, "supervisor")
    try:
        urls = [police.stream_url("lhs-cam-02"), other.stream_url("lhs-cam-02")]
        with (
            httpx.stream("GET", urls[0], timeout=20) as one,
            httpx.stream("GET", urls[1], timeout=20) as two,
        ):
            assert one.status_code == two.status_code == 200
            # Keep the iterators: a dropped httpx iterator closes its response.
            ones, twos = one.iter_raw(), two.iter_raw()
            assert next(ones) and next(twos)
            upstream = gop4.upstream("lhs-cam-02")
            assert upstream["viewers"] == 2
            assert upstream["connections_made"] == before  # no new camera session
    finally:
        other.close()


def test_a_revoked_grant_cuts_the_stream_within_a_second(gop4: Rig) -> None:
    viewer = Viewer(gop4.server_url)
    safety = Viewer(gop4.server_url, "safety")
    try:
        declared = viewer.declare("lincoln-hs")
        url = viewer.stream_url("lhs-cam-02")
        with httpx.stream("GET", url, timeout=20) as response:
            chunks = response.iter_raw()
            assert next(chunks)
            answer = safety.http.post(
                f"/api/v1/grants/{declared['grant']['id']}/revoke", headers=safety.headers
            )
            assert answer.status_code == 200, answer.text
            revoked = time.monotonic()
            for _ in chunks:
                assert time.monotonic() - revoked < 3
            assert time.monotonic() - revoked < 1.0
        refused = httpx.get(url, timeout=5)
        # (The module's other emergency still has a grant, so the reason names this
        # session's grant rather than the school's lack of one.)
        assert refused.status_code == 403 and "grant" in refused.json()["detail"]
    finally:
        clear = safety.http.post("/api/v1/schools/lincoln-hs/clear", headers=safety.headers)
        assert clear.status_code in (200, 409)
        viewer.close()
        safety.close()


def test_a_slow_viewer_skips_ahead_and_never_slows_the_others(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A viewer that stops reading is held to its byte budget (it skips to the next
    keyframe, or is dropped); a viewer of the same camera stays live meanwhile."""
    rig = _rig(
        tmp_path_factory.mktemp("slow"),
        ["--cameras", "lhs-cam-02"],
        gateway_args=("--viewer-budget", "30000"),
    )
    slow = next(rig)
    try:
        police = Viewer(slow.server_url)
        police.declare("lincoln-hs")
        _warm(slow, police, "lhs-cam-02")
        url = httpx.URL(police.stream_url("lhs-cam-02"))
        with socket.socket() as stalled:
            # A small receive window, as on a poor link: the gateway's buffers fill in
            # seconds instead of the megabytes loopback would otherwise absorb.
            stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stalled.connect((url.host, url.port or 80))
            target = url.raw_path.decode()
            stalled.sendall(f"GET {target} HTTP/1.1\r\nHost: {url.host}\r\n\r\n".encode())
            assert stalled.recv(64).startswith(b"HTTP/1.1 200")  # then it never reads again
            other = Viewer(slow.server_url, "supervisor")
            seen = watch(other.stream_url("lhs-cam-02"), 6.0)
            other.close()
            upstream = slow.upstream("lhs-cam-02")
        police.close()
    finally:
        rig.close()
    ages = [p.age_ms for p in seen.pictures if p.age_ms is not None]
    assert len(seen.pictures) >= 60 and max(ages[-30:]) < 600, seen.pictures
    assert upstream["frames_skipped"] > 0, upstream  # the stalled one skipped, not queued


# -- cameras that fail -------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """Cameras pulled over HTTP MPEG-TS, where the simulator can misbehave on request."""
    cameras = "jes-cam-01,jes-cam-02"
    yield from _rig(
        tmp_path_factory.mktemp("http"), ["--no-rtsp", "--gop", "1", "--cameras", cameras], "http"
    )


def _control(rig: Rig, camera_id: str, mode: str) -> None:
    answer = httpx.post(f"{rig.camsim_url}/control/{camera_id}", json={"mode": mode}, timeout=5)
    assert answer.status_code == 204, answer.text


@pytest.fixture(scope="module")
def jes_viewer(http_rig: Rig) -> Iterator[Viewer]:
    viewer = Viewer(http_rig.server_url)
    viewer.declare("jefferson-es")
    yield viewer
    viewer.close()


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("garbage", "not a video stream"),
        ("unauthorized", "refused the district's credentials"),
        ("refuse", "camera"),
        ("silent", "did not answer"),
    ],
)
def test_a_failing_camera_goes_offline_with_its_reason_and_comes_back(
    http_rig: Rig, jes_viewer: Viewer, mode: str, reason: str
) -> None:
    camera = "jes-cam-01"
    assert watch(jes_viewer.stream_url(camera), 0.1, timeout=40).status == 200
    # The camera drops its connections, then misbehaves when the gateway reconnects.
    _control(http_rig, camera, "refuse")
    _control(http_rig, camera, mode)
    try:
        deadline = time.monotonic() + 30
        while True:
            refused = watch(jes_viewer.stream_url(camera), 0.1, timeout=40)
            detail = json.loads(refused.body)["detail"] if refused.status == 503 else ""
            if reason in detail:
                break
            assert time.monotonic() < deadline, (refused.status, refused.body)
            time.sleep(0.3)
        assert refused.status == 503
        # What the console shows when libVLC says only "could not open": the gateway's
        # own reason, fetched with a HEAD on the same link.
        probed = asyncio.run(gateway_refusal(jes_viewer.stream_url(camera)))
        assert probed is not None and reason in probed, probed
    finally:
        _control(http_rig, camera, "normal")
    deadline = time.monotonic() + 40
    while True:
        back = watch(jes_viewer.stream_url(camera), 0.2, timeout=40)
        if back.status == 200 and back.pictures:
            break
        assert time.monotonic() < deadline, f"still offline: {back.body!r}"
        time.sleep(0.5)


# -- MJPEG cameras ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mjpeg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    """A registry whose camera lhs-cam-02 is an MJPEG-over-HTTP camera."""
    yield from _rig(
        tmp_path_factory.mktemp("mjpeg"),
        ["--no-rtsp", "--cameras", "lhs-cam-02"],
        source="http",
        camera_sources=lambda camsim: {"lhs-cam-02": {"sub": f"{camsim}/cameras/lhs-cam-02.mjpg"}},
    )


def test_mjpeg_cameras_reach_consoles_as_multipart_jpeg(mjpeg: Rig) -> None:
    viewer = Viewer(mjpeg.server_url)
    viewer.declare("lincoln-hs")
    try:
        url = viewer.stream_url("lhs-cam-02")
        assert url.split("?")[0].endswith("/streams/lhs-cam-02/sub.mjpg")
        with httpx.stream("GET", url, timeout=30) as answer:
            assert answer.status_code == 200, answer.read()
            assert answer.headers["content-type"].startswith("multipart/x-mixed-replace;boundary=")
        seen = watch(viewer.stream_url("lhs-cam-02"), 1.0, timeout=40)
        assert seen.status == 200, seen.body
        assert len(seen.pictures) >= 8
        assert mjpeg.upstream("lhs-cam-02")["state"] == "online"
        # Every picture is a keyframe: a viewer joining now starts on the cached one.
        again = watch(viewer.stream_url("lhs-cam-02"), 0.05)
        assert again.status == 200 and again.pictures
    finally:
        viewer.close()


def test_a_link_naming_the_wrong_container_is_refused_with_the_right_one(mjpeg: Rig) -> None:
    viewer = Viewer(mjpeg.server_url)
    viewer.declare("lincoln-hs")
    try:
        url = viewer.stream_url("lhs-cam-02").replace("/sub.mjpg?", "/sub.ts?")
        answer = httpx.get(url, timeout=30)
        assert answer.status_code == 409
        assert ".mjpg" in answer.headers["x-refusal-reason"]
    finally:
        viewer.close()


def test_the_console_player_shows_an_mjpeg_camera(qtbot: QtBot, mjpeg: Rig) -> None:
    """libVLC gets the multipart stream with its own demuxer, not the TS one."""
    viewer = Viewer(mjpeg.server_url)
    viewer.declare("lincoln-hs")
    player = VideoPlayer()
    frames: list[QImage] = []
    player.frame_ready.connect(frames.append)
    failures: list[str] = []
    player.failed.connect(failures.append)
    try:
        player.play(viewer.stream_url("lhs-cam-02"))
        qtbot.waitUntil(lambda: len(frames) >= 5 or bool(failures), timeout=15000)
        assert not failures
        assert (frames[-1].width(), frames[-1].height()) == (640, 360)
        assert frames[0] != frames[-1], "the picture did not change"
    finally:
        player.stop()
        viewer.close()


# -- the main stack and its logs ---------------------------------------------------------


def test_h265_cameras_are_relayed_too(tmp_path: Path) -> None:
    rig = _rig(tmp_path, ["--codec", "h265", "--cameras", "lhs-cam-02"])
    stack = next(rig)
    try:
        viewer = Viewer(stack.server_url)
        viewer.declare("lincoln-hs")
        seen = watch(viewer.stream_url("lhs-cam-02"), 1.0, timeout=40)
        assert seen.status == 200, seen.body
        assert len(seen.pictures) >= 5
        viewer.close()
    finally:
        rig.close()


def test_no_credential_or_stream_link_reaches_any_log(tmp_path: Path) -> None:
    """Cameras behind credentials, everything logging at debug: the logs name cameras and
    sessions, never a password or a signed link."""
    password = "Cam-Pass-9c1d"
    logs = {name: tmp_path / f"{name}.log" for name in ("camsim", "district", "gateway")}
    camsim, camsim_url = start_process(
        [
            "camsim", "--port", "0", "--floorplans", str(SAMPLE_DISTRICT),
            "--cameras", "lhs-cam-02", "--rtsp-user", "district", "--rtsp-password", password,
        ],
        "CAMSIM_URL",
    )  # fmt: skip
    processes: list[subprocess.Popen[str]] = []
    try:
        rtsp = camsim_rtsp(camsim_url)
        assert rtsp
        secret = tmp_path / "gateway.secret"
        secret.write_bytes(TEST_SECRET)
        credentials = tmp_path / "credentials.json"
        credentials.write_text(json.dumps({"*": {"username": "district", "password": password}}))

        def run(name: str, args: list[str], ready: str) -> str:
            out = logs[name].open("w")
            child = subprocess.Popen(
                [sys.executable, "-m", "dispatch_console", *args],
                stdout=subprocess.PIPE, stderr=out, text=True,
            )  # fmt: skip
            processes.append(child)
            assert child.stdout is not None
            line = child.stdout.readline()
            assert line.startswith(ready), line
            return line.strip().split("=", 1)[1]

        server = run(
            "district",
            [
                "district", "serve", "--port", "0", "--db", str(tmp_path / "d.db"),
                "--camsim", rtsp, "--gateway-secret-file", str(secret), "--seed-demo",
                "--insecure-allow-totp-reuse", "--log-level", "debug",
            ],
            "DISTRICT_SERVER_URL",
        )  # fmt: skip
        run(
            "gateway",
            [
                "gateway", "serve", "--district", server, "--secret-file", str(secret),
                "--credentials", str(credentials), "--port", "0", "--log-level", "debug",
            ],
            "GATEWAY_URL",
        )  # fmt: skip
        viewer = Viewer(server)
        viewer.declare("lincoln-hs")
        url = viewer.stream_url("lhs-cam-02")
        seen = watch(url, 0.5, timeout=40)
        assert seen.status == 200 and seen.pictures, seen.body
        viewer.close()
    finally:
        for child in processes:
            child.terminate()
            child.wait(10)
        stop_process(camsim)
    token = url.split("token=", 1)[1]
    text = "\n".join(path.read_text() for path in logs.values() if path.exists())
    assert "lhs-cam-02" in text  # the logs do say what happened
    for secret_text in (password, token, token[:40], "token=", TEST_SECRET.decode()):
        assert secret_text not in text, f"{secret_text[:12]}... reached a log"


def test_the_demo_stack_relays_its_cameras_over_rtsp(district_stack: DistrictStack) -> None:
    assert district_stack.camera_source.startswith("rtsp://")
    viewer = Viewer(district_stack.server_url)
    safety = Viewer(district_stack.server_url, "safety")
    declared = viewer.declare("jefferson-es")
    try:
        seen = watch(viewer.stream_url("jes-cam-02"), 0.5, timeout=40)
        assert seen.status == 200 and len(seen.pictures) >= 3, seen.body
    finally:
        # The stack is shared: leave no emergency behind for the console tests.
        viewer.end_emergency(declared["emergency"]["id"], as_user=safety)
        viewer.close()
        safety.close()


def test_credentials_file_entries_are_used_per_camera() -> None:
    from dispatch_console.gateway.sources import SourceBook, redact

    book = SourceBook({"cam-1": Credentials("u", "p@ss:word"), "*": Credentials("any", "x")})
    book.update({"cam-1": {"sub": "rtsp://10.0.0.5:554/s"}, "cam-2": {"sub": "rtsp://h/s"}})
    assert book.url("cam-1", "sub") == "rtsp://u:p%40ss%3Aword@10.0.0.5:554/s"
    assert book.url("cam-2", "sub") == "rtsp://any:x@h/s"
    assert book.url("cam-1", "main") is None
    assert redact("rtsp://u:secret@10.0.0.5:554/s?token=abc") == "rtsp://10.0.0.5:554/s"
