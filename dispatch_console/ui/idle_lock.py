"""Notice a desk left alone, so it can lock itself (CJIS: a session lock after inactivity).

Qt tells the application of every key and mouse event; an event filter on the
application notes the time of the last one, and a timer asks the policy whether the
desk must lock now. The filter only looks: it never consumes an event.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

_USER_INPUT = {
    QEvent.Type.KeyPress,
    QEvent.Type.MouseButtonPress,
    QEvent.Type.MouseMove,
    QEvent.Type.Wheel,
    QEvent.Type.TouchBegin,
}


class IdleWatcher(QObject):
    """Emits ``idle`` once the policy says the desk must lock; ``reset()`` after unlock."""

    idle = Signal()

    def __init__(
        self,
        must_lock: Callable[[timedelta], bool],
        parent: QObject | None = None,
        *,
        check_every_ms: int = 1000,
    ) -> None:
        super().__init__(parent)
        self._must_lock = must_lock
        self._last_input = time.monotonic()
        self._fired = False
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._timer = QTimer(self)
        self._timer.setInterval(check_every_ms)
        self._timer.timeout.connect(self._check)
        self._timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _USER_INPUT:
            self._last_input = time.monotonic()
        return False

    @property
    def idle_for(self) -> timedelta:
        return timedelta(seconds=time.monotonic() - self._last_input)

    def reset(self) -> None:
        self._last_input = time.monotonic()
        self._fired = False

    def stop(self) -> None:
        self._timer.stop()
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)

    def _check(self) -> None:
        if not self._fired and self._must_lock(self.idle_for):
            self._fired = True
            self.idle.emit()
