"""The district desk's watch board rows, from session records as the server sends them."""

from __future__ import annotations

from dispatch_console.domain.audit_browser import SILENT_FLAG
from dispatch_console.domain.watch_rows import COLUMNS, watch_rows

ENDED = {
    "user_name": "Dana Reyes",
    "agency": "Riverside Police Department",
    "camera_name": "Main entrance",
    "school_name": "Jefferson Elementary",
    "started_at": "2026-12-06T10:00:00.000Z",
    "ended_at": "2026-12-06T10:05:00.000Z",
    "end_reason": "grant_revoked",
    "threat_basis": "Armed person reported at the front office",
}


def test_cells_follow_the_columns_and_read_as_words() -> None:
    (row,) = watch_rows([ENDED])
    assert len(row.cells) == len(COLUMNS)
    assert row.cells[0] == "Dana Reyes"
    assert row.cells[6] == "grant revoked"  # the end reason as words, not an identifier
    assert row.silent == ""


def test_a_live_session_reads_watching_now_and_missing_fields_are_blank() -> None:
    live = {**ENDED, "ended_at": None, "end_reason": None, "agency": None}
    (row,) = watch_rows([live])
    assert row.cells[5] == "watching now"
    assert row.cells[1] == "" and row.cells[6] == ""
    assert row.silent == ""


def test_a_live_session_whose_heartbeats_stopped_is_flagged_with_why() -> None:
    silent = {
        **ENDED,
        "ended_at": None,
        "heartbeat_overdue": True,
        "last_heartbeat_at": "2026-12-06T10:01:15.000Z",
    }
    (row,) = watch_rows([silent])
    assert row.cells[5] == f"watching now — {SILENT_FLAG}"
    assert "no heartbeat" in row.silent and "2026-12-06T10:01:15.000Z" in row.silent
    # An ended session is never flagged, whatever its heartbeats did.
    (ended,) = watch_rows([{**ENDED, "heartbeat_overdue": True}])
    assert ended.silent == "" and SILENT_FLAG not in ended.cells[5]


def test_rows_keep_the_server_order() -> None:
    rows = watch_rows([{**ENDED, "user_name": n} for n in ("B", "A", "C")])
    assert [r.cells[0] for r in rows] == ["B", "A", "C"]
