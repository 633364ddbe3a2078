"""The district desk reads plan coordinates off the map (to place rooms and cameras on a
calibrated drawing): the pointer's place, in metres, in the status bar."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from dispatch_console.ui.main_window import MainWindow
from tests.ui.test_plan_tiles import AREAS, FLOOR, PINS


def test_the_pointer_position_on_the_plan_shows_in_metres(qtbot: QtBot) -> None:
    window = MainWindow("District desk", with_watch_board=True)
    qtbot.addWidget(window)
    window.resize(1400, 850)
    window.map.show_floor(FLOOR, dict(PINS), {c.id: AREAS.outline(c.id) for c in FLOOR.cameras})
    window.show()
    qtbot.waitExposed(window)
    viewport = window.map.viewport()
    spot = QPoint(viewport.width() // 2, viewport.height() // 2)
    with qtbot.waitSignal(window.map.pointer_moved) as moved:
        # A hover with no button held (offscreen, QTest.mouseMove moves no real pointer).
        event = QMouseEvent(
            QEvent.Type.MouseMove,
            QPointF(spot),
            QPointF(viewport.mapToGlobal(spot)),
            Qt.MouseButton.NoButton,
            Qt.MouseButton.NoButton,
            Qt.KeyboardModifier.NoModifier,
        )
        QApplication.sendEvent(viewport, event)
    x, y = window.map.to_plan(spot)
    assert moved.args == [x, y]
    assert window.plan_position is not None
    assert window.plan_position.text() == f"x {x:.1f} m · y {y:.1f} m"
    window.allow_close()
    window.close()


def test_the_police_desk_has_no_coordinates(qtbot: QtBot) -> None:
    window = MainWindow("Police desk", with_watch_board=False)
    qtbot.addWidget(window)
    assert window.plan_position is None
