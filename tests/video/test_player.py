"""VideoPlayer plays real streams through libVLC into QImages on the offscreen platform."""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from dispatch_console.video import player as player_module
from dispatch_console.video.player import (
    VideoPlayer,
    VideoUnavailableError,
    redact_url,
    wait_for_releases,
)
from tests.video.conftest import Simulator

pytestmark = pytest.mark.timeout(30)


EAST, CAFETERIA = "lhs-cam-02", "lhs-cam-05"


def distinct_colours(image: QImage, step: int = 16) -> int:
    """How many different colours a sparse grid of pixels holds (1 = uniform picture)."""
    return len(
        {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
    )


def test_plays_a_live_stream_with_changing_pixels(qtbot: QtBot, camsim: Simulator) -> None:
    player = VideoPlayer()
    frames: list[QImage] = []
    player.frame_ready.connect(frames.append)
    try:
        started = time.perf_counter()
        with qtbot.waitSignal(player.first_frame, timeout=5000):
            player.play(camsim.url_for(EAST))
        first_frame_s = time.perf_counter() - started
        qtbot.waitUntil(lambda: len(frames) >= 8, timeout=5000)
    finally:
        player.stop()
    assert first_frame_s < 3.0
    first, last = frames[0], frames[-1]
    assert (first.width(), first.height()) == (640, 360)  # the sub-stream, unstretched
    assert first.format() == QImage.Format.Format_RGB32
    assert distinct_colours(first) > 10, "picture is uniform: nothing was decoded"
    assert first != last, "the live picture did not change"
    # libVLC repeats the first picture while buffering; those repeats are not frames.
    assert all(a != b for a, b in itertools.pairwise(frames))
    assert player.frames_shown == len(frames)
    assert player.last_image == frames[-1]
    assert not player.is_playing


def test_cameras_differ_in_colour(qtbot: QtBot, camsim: Simulator) -> None:
    players = {cam: VideoPlayer() for cam in (EAST, CAFETERIA)}
    try:
        for cam, player in players.items():
            with qtbot.waitSignal(player.first_frame, timeout=5000):
                player.play(camsim.url_for(cam))
    finally:
        for player in players.values():
            player.stop()
    east, cafeteria = (p.last_image for p in players.values())
    assert east is not None and cafeteria is not None
    # Middle of the picture: the test pattern, tinted per camera, away from captions.
    assert east.pixel(320, 180) != cafeteria.pixel(320, 180)


def test_stop_does_not_block_and_player_can_play_again(qtbot: QtBot, camsim: Simulator) -> None:
    player = VideoPlayer()
    frames: list[QImage] = []
    player.frame_ready.connect(frames.append)
    url = camsim.url_for(CAFETERIA)
    for _round in range(2):
        with qtbot.waitSignal(player.first_frame, timeout=5000):
            player.play(url)
        qtbot.waitUntil(lambda: player.frames_shown >= 3, timeout=5000)
        with qtbot.waitSignal(player.stopped, timeout=1000):
            started = time.perf_counter()
            player.stop()
            blocked_s = time.perf_counter() - started
        assert blocked_s < 0.05, f"stop() blocked the GUI thread for {blocked_s * 1000:.0f} ms"
        shown = len(frames)
        qtbot.wait(300)  # frames libVLC decoded before the stop must not trickle in
        assert len(frames) == shown
    # The simulator notices both hang-ups and reaps both encoders.
    qtbot.waitUntil(lambda: camsim.active_streams == 0, timeout=5000)


def test_play_replaces_the_current_stream(qtbot: QtBot, camsim: Simulator) -> None:
    player = VideoPlayer()
    stops: list[None] = []
    player.stopped.connect(lambda: stops.append(None))
    with qtbot.waitSignal(player.first_frame, timeout=5000):
        player.play(camsim.url_for(EAST))
    with qtbot.waitSignal(player.first_frame, timeout=5000):
        player.play(camsim.url_for(CAFETERIA))
    assert len(stops) == 1  # the first session ended when the second began
    player.stop()
    assert len(stops) == 2


def test_dead_url_fails_with_a_clear_message(
    qtbot: QtBot, dead_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="dispatch_console")
    player = VideoPlayer()
    with (
        qtbot.waitSignal(player.failed, timeout=10000) as failure,
        qtbot.waitSignal(player.stopped, timeout=10000),
    ):
        player.play(dead_url)
    message = failure.args[0]
    assert message.startswith("Stream failed: could not open the stream")
    assert "127.0.0.1:" in message
    assert "SECRET-TICKET" not in message
    assert "SECRET-TICKET" not in caplog.text
    assert not player.is_playing
    assert player.frames_shown == 0


def test_gateway_hangup_is_reported(
    qtbot: QtBot, start_simulator: Callable[[tuple[str, ...]], Simulator]
) -> None:
    server = start_simulator((EAST,))
    player = VideoPlayer()
    with qtbot.waitSignal(player.first_frame, timeout=5000):
        player.play(server.url_for(EAST) + "?ticket=SECRET-TICKET")
    server.hang_up(EAST)  # the gateway hangs up mid-stream
    with qtbot.waitSignal(player.failed, timeout=10000) as failure:
        pass
    assert failure.args == ["Stream failed: camera gateway closed the connection"]
    assert not player.is_playing


def test_urls_are_logged_without_their_query() -> None:
    url = "http://user:pw@gw.example:8443/cameras/x.ts?ticket=SECRET#frag"
    assert redact_url(url) == "http://gw.example:8443/cameras/x.ts"


def test_play_never_waits_for_libvlc_to_create_the_player(
    qtbot: QtBot, camsim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """libVLC's player creation runs on the starter thread: a slow one (here 1 s) does not
    hold play(), and a stop right after play() releases the player once it exists."""
    vlc = pytest.importorskip("vlc")
    created = vlc.Instance.media_player_new

    def slow_player(instance: object) -> object:
        time.sleep(1.0)
        return created(instance)

    monkeypatch.setattr(vlc.Instance, "media_player_new", slow_player)
    player = VideoPlayer()
    frames: list[QImage] = []
    player.frame_ready.connect(frames.append)
    began = time.perf_counter()
    player.play(camsim.url_for(EAST))
    assert time.perf_counter() - began < 0.5
    player.stop()  # while the starter is still inside media_player_new
    began = time.perf_counter()
    player.play(camsim.url_for(EAST))
    player.stop()
    assert time.perf_counter() - began < 0.5
    assert wait_for_releases(10.0)
    qtbot.wait(300)
    assert frames == [] and not player.is_playing


def test_a_player_that_cannot_start_fails_with_the_reason(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_libvlc(*_args: object) -> object:
        raise VideoUnavailableError("Video unavailable: libVLC could not be loaded (test)")

    monkeypatch.setattr(player_module, "shared_instance", no_libvlc)
    player = VideoPlayer()
    with qtbot.waitSignal(player.failed, timeout=5000) as failed:
        player.play("http://127.0.0.1:9/x.ts")
    assert failed.args == ["Video unavailable: libVLC could not be loaded (test)"]
    assert not player.is_playing
