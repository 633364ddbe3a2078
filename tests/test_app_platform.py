"""The composition root's platform seam: whether there is a display to show windows on."""

from __future__ import annotations

import pytest

from dispatch_console.app import has_display


@pytest.mark.parametrize("system", ["win32", "darwin"])
def test_windows_and_macos_desktops_always_have_a_display(system: str) -> None:
    assert has_display(system, env={}) is True


def test_linux_needs_an_x11_or_wayland_session() -> None:
    assert has_display("linux", env={}) is False
    assert has_display("linux", env={"DISPLAY": ":0"}) is True
    assert has_display("linux", env={"WAYLAND_DISPLAY": "wayland-0"}) is True
    assert has_display("linux", env={"QT_QPA_PLATFORM": "xcb"}) is False


def test_a_chosen_headless_qt_platform_counts_as_a_display() -> None:
    assert has_display("linux", env={"QT_QPA_PLATFORM": "offscreen"}) is True
