"""The district desk's board: who is watching which camera, and the recent audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from dispatch_console.domain.watch_rows import COLUMNS, WatchRow, watch_rows

# Amber: the session is recorded as open, but its console has gone quiet.
SILENT_BACKGROUND = "#fef0c7"


class WatchBoard(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([title for title, _ in COLUMNS])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.verticalHeader().hide()

    def show_rows(self, rows: Sequence[WatchRow]) -> None:
        self.setRowCount(len(rows))
        for row, watch in enumerate(rows):
            for column, text in enumerate(watch.cells):
                item = QTableWidgetItem(text)
                if watch.silent:
                    item.setBackground(QBrush(QColor(SILENT_BACKGROUND)))
                    item.setToolTip(watch.silent)
                self.setItem(row, column, item)

    def show_sessions(self, sessions: Sequence[Mapping[str, Any]]) -> None:
        """The server's session records, as rows (``domain.watch_rows``)."""
        self.show_rows(watch_rows(sessions))
