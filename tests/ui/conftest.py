"""UI tests must close what they open: a window left showing fails the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QApplication


@pytest.fixture(autouse=True)
def no_leaked_windows(qapp: QApplication) -> Iterator[None]:
    before = {id(w) for w in qapp.topLevelWidgets() if w.isVisible()}
    yield
    leaked = [
        f"{type(w).__name__} {w.windowTitle()!r}"
        for w in qapp.topLevelWidgets()
        if w.isVisible() and id(w) not in before
    ]
    for widget in qapp.topLevelWidgets():
        if widget.isVisible() and id(widget) not in before:
            widget.hide()
    assert not leaked, f"windows left open by the test: {leaked}"
