"""Helpers for driving a console window the way a person does."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from dispatch_console.ui.main_window import MainWindow


def click_pin(window: MainWindow, camera_id: str) -> None:
    point = window.map.pin_position(camera_id).toPoint()
    QTest.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=point)


def distinct_colours(image: QImage, step: int = 16) -> int:
    """How many colours a sparse sample of the image holds: ~1 for a blank tile."""
    return len(
        {
            image.pixel(x, y)
            for x in range(0, image.width(), step)
            for y in range(0, image.height(), step)
        }
    )
