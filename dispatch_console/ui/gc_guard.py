"""Python's cyclic garbage collector, run only where Qt cannot be inside the object.

The collector runs whenever allocations cross a threshold, which can be in the middle
of a Qt event handler. If the cycle it frees holds the very QObject whose handler is
running (a qasync timer inside its own ``timerEvent`` was seen), the process crashes.
So automatic collection is off while Qt runs, and a timer of our own, which nothing
ever frees, collects at its own quiet moment, as often as the thresholds would have.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

CHECK_INTERVAL_MS = 500


class GarbageCollectionGuard(QObject):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        gc.disable()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_if_due)
        self._timer.start(CHECK_INTERVAL_MS)

    def collect_if_due(self) -> None:
        """Collect the generations whose counts passed their thresholds."""
        counts = gc.get_count()
        if counts[0] <= self._thresholds[0]:
            return
        generation = 0
        if counts[1] > self._thresholds[1]:
            generation = 2 if counts[2] > self._thresholds[2] else 1
        gc.collect(generation)

    def stop(self) -> None:
        """Automatic collection again (Qt is about to stop running)."""
        self._timer.stop()
        gc.enable()
