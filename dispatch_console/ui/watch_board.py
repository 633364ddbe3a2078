"""The district desk's board: who is watching which camera, and the recent audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from dispatch_console.domain.audit_browser import silent_detail, silent_flag

# Amber: the session is recorded as open, but its console has gone quiet.
SILENT_BACKGROUND = "#fef0c7"

COLUMNS = (
    ("Viewer", "user_name"),
    ("Agency", "agency"),
    ("Camera", "camera_name"),
    ("School", "school_name"),
    ("Started (UTC)", "started_at"),
    ("Ended (UTC)", "ended_at"),
    ("How it ended", "end_reason"),
    ("Why (threat basis)", "threat_basis"),
)


class WatchBoard(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels([title for title, _ in COLUMNS])
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.verticalHeader().hide()

    def show_sessions(self, sessions: Sequence[Mapping[str, Any]]) -> None:
        self.setRowCount(len(sessions))
        for row, session in enumerate(sessions):
            flag = silent_flag(session)
            for column, (_, key) in enumerate(COLUMNS):
                value = session.get(key)
                if key == "ended_at" and value is None:
                    value = f"watching now — {flag}" if flag else "watching now"
                text = "" if value is None else str(value).replace("_", " ")
                item = QTableWidgetItem(text)
                if flag:
                    item.setBackground(QBrush(QColor(SILENT_BACKGROUND)))
                    item.setToolTip(silent_detail(session))
                self.setItem(row, column, item)
