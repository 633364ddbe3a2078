"""The desk's busy indicator: an operation has run past 200 ms and is still running.

It sits in the status bar, where it does not move the layout when it appears, says in
words that the console is waiting (a spinner alone means nothing to a screen reader) and
disappears when the last operation ends, whether it succeeded or failed. What happened
is then said by the operation's own message, never by this indicator.
"""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QStatusBar, QWidget

from .operations import OperationRunner

BUSY_TEXT = "Working… waiting for an answer"


class BusyIndicator(QWidget):
    """Shown while ``runner`` reports itself busy."""

    def __init__(self, runner: OperationRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("busyIndicator")
        self.setAccessibleName("Busy")
        self.setAccessibleDescription(
            "Shown while the console waits for an operation that takes longer than usual"
        )
        self.bar = QProgressBar(self)
        self.bar.setRange(0, 0)  # indeterminate: how long the district takes is unknown
        self.bar.setTextVisible(False)
        self.bar.setMaximumWidth(self.fontMetrics().horizontalAdvance("M") * 8)
        self.bar.setAccessibleName("Operation in progress")
        self.label = QLabel(BUSY_TEXT, self)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar)
        layout.addWidget(self.label)
        self.setVisible(runner.shows_busy)
        runner.busy_changed.connect(self.setVisible)

    @classmethod
    def install(cls, runner: OperationRunner, status_bar: QStatusBar) -> BusyIndicator:
        indicator = cls(runner, status_bar)
        status_bar.addPermanentWidget(indicator)
        indicator.setVisible(runner.shows_busy)
        return indicator
