"""A video tile repaints what changed and nothing more: 16 or 36 tiles paint 15 pictures a
second each, and the overlay's clock and picture age must not repaint the picture too
(issue 10, frame path cost). The picture decoded at the tile's size is placed unscaled."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QObject, QRect, QSize
from PySide6.QtGui import QColor, QImage, QPaintEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from dispatch_console.domain.feed_health import FeedHealth, TileState
from dispatch_console.ui.video_grid import FOOTER_HEIGHT, TITLE_HEIGHT, VideoGrid, VideoTile


class PaintSpy(QObject):
    """Records the rectangle of every paint event a tile gets."""

    def __init__(self, tile: VideoTile) -> None:
        super().__init__()
        self.rects: list[QRect] = []
        tile.installEventFilter(self)

    def eventFilter(self, _watched: QObject, event: QEvent) -> bool:
        if isinstance(event, QPaintEvent):
            self.rects.append(QRect(event.rect()))
        return False


def live_health() -> FeedHealth:
    health = FeedHealth()
    now = time.monotonic()
    health.started(now)
    health.frame(now)
    return health


def picture(size: QSize) -> QImage:
    image = QImage(size, QImage.Format.Format_RGB32)
    image.fill(QColor(40, 160, 60))
    return image


@pytest.fixture
def grid(qtbot: QtBot) -> Iterator[VideoGrid]:
    grid = VideoGrid()
    qtbot.addWidget(grid)
    grid.resize(1920, 1080)
    grid.set_layout("4x4")
    grid.show()
    qtbot.waitExposed(grid)
    yield grid
    grid.hide()


def shown_tile(qtbot: QtBot, grid: VideoGrid) -> tuple[VideoTile, FeedHealth]:
    tile = grid.add_tile("s-1", "East Hall", "Lincoln HS · Floor 1", camera_id="c-1")
    health = live_health()
    tile.set_health(health)
    box = grid.decode_box("s-1")
    assert box is not None
    tile.set_frame(picture(QSize(box[0] // 2 * 2, box[1] // 2 * 2)))
    qtbot.waitUntil(lambda: tile.frames_painted > 0)
    QApplication.processEvents()
    return tile, health


def test_the_overlay_clock_never_repaints_the_picture(qtbot: QtBot, grid: VideoGrid) -> None:
    tile, health = shown_tile(qtbot, grid)
    spy = PaintSpy(tile)
    painted = tile.frames_painted
    # The watchdog's four calls a second, for a bit over two seconds of clock.
    deadline = time.monotonic() + 2.2
    while time.monotonic() < deadline:
        health.frame(time.monotonic())  # pictures keep coming: the age stays "< 0.5 s"
        tile.set_health(health)
        QApplication.processEvents()
        time.sleep(0.05)
    assert tile.frames_painted == painted, "the clock repainted the picture"
    footer = QRect(0, tile.height() - FOOTER_HEIGHT, tile.width(), FOOTER_HEIGHT)
    assert spy.rects, "the clock never moved on screen"
    assert all(footer.contains(rect) for rect in spy.rects), spy.rects
    assert len(spy.rects) <= 4  # once a second for the clock, not four times


def test_a_new_picture_repaints_the_picture_area_only(qtbot: QtBot, grid: VideoGrid) -> None:
    tile, _health = shown_tile(qtbot, grid)
    spy = PaintSpy(tile)
    painted = tile.frames_painted
    assert tile.image is not None
    for _ in range(5):
        tile.set_frame(picture(tile.image.size()))
        QApplication.processEvents()
    assert tile.frames_painted == painted + 5
    area = tile.rect().adjusted(0, TITLE_HEIGHT, 0, -FOOTER_HEIGHT)
    assert spy.rects and all(area.contains(rect) for rect in spy.rects), spy.rects


def test_a_stall_repaints_the_whole_tile_dimmed(qtbot: QtBot, grid: VideoGrid) -> None:
    tile, health = shown_tile(qtbot, grid)
    spy = PaintSpy(tile)
    assert health.last_frame_at is not None
    health.last_frame_at -= health.stall_after_s + 0.1
    health.check(time.monotonic())
    assert health.state is TileState.STALLED
    tile.set_health(health)
    QApplication.processEvents()
    assert tile.rect() in spy.rects  # the badge, the words and the dimmed picture
    image = tile.grab().toImage()
    centre = image.pixelColor(tile.video_rect().center())
    assert centre.green() < 120, "a stalled picture must be dimmed, never shown as live"


def test_a_picture_decoded_at_the_tile_size_is_placed_unscaled(
    qtbot: QtBot, grid: VideoGrid
) -> None:
    tile, _health = shown_tile(qtbot, grid)
    assert tile.image is not None
    assert tile.video_rect().size() == tile.image.size()
    area = tile.video_area()
    assert area.contains(tile.video_rect())
    assert tile.video_rect().center().y() in range(area.center().y() - 1, area.center().y() + 2)


def test_a_picture_the_tile_outgrew_is_letterboxed_to_its_shape(
    qtbot: QtBot, grid: VideoGrid
) -> None:
    tile, _health = shown_tile(qtbot, grid)
    tile.set_frame(picture(QSize(320, 240)))  # 4:3, smaller than the tile
    rect = tile.video_rect()
    assert rect.height() == tile.video_area().height()
    assert rect.width() / rect.height() == pytest.approx(4 / 3, rel=0.02)
