"""The player keeps every camera's shape: a 4:3 or 9:16 picture is never stretched.

The clips are made by ffmpeg (a child process, not PyAV) as H.264 in MPEG-TS, the
gateway's container, in the shapes real cameras send.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PySide6.QtGui import QImage
from pytestqt.qtbot import QtBot

from dispatch_console.video.player import VideoPlayer

pytestmark = pytest.mark.timeout(60)


def _clip(folder: Path, width: int, height: int) -> Path:
    path = folder / f"clip-{width}x{height}.ts"
    subprocess.run(
        [
            "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi",
            "-i", f"testsrc2=size={width}x{height}:rate=15", "-t", "3",
            "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "15", "-f", "mpegts", str(path),
        ],
        check=True,
        timeout=30,
    )  # fmt: skip
    return path


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((640, 480), (554, 414)),  # 4:3, within the 640×360 pixel budget
        ((360, 640), (360, 640)),  # a 9:16 corridor camera: as many pixels, upright
        ((1280, 720), (640, 360)),  # 16:9 scaled down, not decoded at full size
    ],
)
def test_the_picture_keeps_the_sources_shape(
    qtbot: QtBot, tmp_path: Path, source: tuple[int, int], expected: tuple[int, int]
) -> None:
    clip = _clip(tmp_path, *source)
    player = VideoPlayer()
    frames: list[QImage] = []
    player.frame_ready.connect(frames.append)
    try:
        with qtbot.waitSignal(player.first_frame, timeout=10000):
            player.play(clip.as_uri())
        assert player.source_size == source
    finally:
        player.stop()
    image = frames[0]
    assert (image.width(), image.height()) == expected
    assert image.width() / image.height() == pytest.approx(source[0] / source[1], rel=0.01)
