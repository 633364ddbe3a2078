"""Helpers for driving a console window the way a person does."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from dispatch_console.app import ConsoleWindow, close_console, open_console
from dispatch_console.demo import demo_sign_in
from dispatch_console.services.settings import Settings
from dispatch_console.ui.main_window import MainWindow
from tests.conftest import eventually


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


def desk_settings(server_url: str, data_dir: Path) -> Settings:
    """Workstation settings for a test desk: reconnects live updates within a second."""
    return Settings.from_env(
        server_url=server_url, data_dir=data_dir, live_updates_max_backoff_s=1.0
    )


async def open_desk(settings: Settings, username: str) -> ConsoleWindow:
    """Sign in with a demo account and show its window at a realistic size."""
    desk = await open_console(settings, demo_sign_in(username))
    desk.window.resize(1400, 850)
    desk.window.show()
    return desk


async def close_desk(desk: ConsoleWindow) -> None:
    """Close the window the way a user does (ending its sessions), then release it."""
    desk.window.close()
    # Closing ends the feeds, delivers their ends (up to 3 s) and signs out (up to 2 s).
    await eventually(lambda: not desk.window.isVisible(), 15, "the window to close")
    await close_console(desk)
