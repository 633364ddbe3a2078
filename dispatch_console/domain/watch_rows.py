"""The district desk's watch board as typed rows, from the server's session records.

The board used to render the server's JSON itself; it now gets these rows: the cell
texts in column order, and the silent flag's explanation when a live session's console
stopped its heartbeats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .audit_browser import silent_detail, silent_flag

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


@dataclass(frozen=True)
class WatchRow:
    cells: tuple[str, ...]
    # Why the row is flagged silent ("" when it is not).
    silent: str = ""


def watch_rows(sessions: Sequence[Mapping[str, Any]]) -> tuple[WatchRow, ...]:
    rows = []
    for session in sessions:
        flag = silent_flag(session)
        cells = []
        for _, key in COLUMNS:
            value = session.get(key)
            if key == "ended_at" and value is None:
                value = f"watching now — {flag}" if flag else "watching now"
            cells.append("" if value is None else str(value).replace("_", " "))
        rows.append(WatchRow(tuple(cells), silent_detail(session) if flag else ""))
    return tuple(rows)
