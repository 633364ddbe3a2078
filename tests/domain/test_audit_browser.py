"""The audit browser's rules: filters as the server reads them, and the words on the desk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dispatch_console.domain.audit_browser import (
    SILENT_FLAG,
    SessionFilter,
    Severity,
    Summary,
    ago_text,
    duration_text,
    event_finding_summary,
    finding_summary,
    finding_title,
    silent_detail,
    silent_flag,
    verify_verdict,
    workstation_summary,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_only_the_filters_set_become_parameters_with_utc_times() -> None:
    local = timezone(timedelta(hours=-5))
    where = SessionFilter(
        school_id="lincoln",
        camera_id=" ",
        agency="Metro PD",
        since=datetime(2026, 11, 25, 7, 30, tzinfo=local),
    )
    assert where.params() == {
        "school_id": "lincoln",
        "agency": "Metro PD",
        "since": "2026-11-25T12:30:00.000Z",
    }
    assert SessionFilter().params() == {}
    assert SessionFilter().is_empty and not where.is_empty


def test_a_time_without_a_zone_or_a_window_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="zone"):
        SessionFilter(since=datetime(2026, 11, 25, 7, 30))
    with pytest.raises(ValueError, match="before"):
        SessionFilter(since=NOW, until=NOW - timedelta(seconds=1))


def test_a_finding_reads_with_its_workstation_and_whether_it_still_holds() -> None:
    gap = finding_summary(
        {"kind": "chain_gap", "workstation_id": "ws-7", "detail": "records 4 to 6", "live": False}
    )
    assert gap == Summary("Records missing (workstation ws-7): records 4 to 6", Severity.CRITICAL)
    due = finding_summary(
        {"kind": "review_due", "workstation_id": None, "detail": "grant g1", "live": True}
    )
    assert due.text == "Review due: grant g1 — still the case now"
    assert due.severity is Severity.INFO
    silent = finding_summary({"kind": "heartbeat_overdue", "detail": "x", "live": True})
    assert silent.severity is Severity.WARNING


def test_an_unknown_finding_kind_is_shown_loudly_not_hidden() -> None:
    odd = finding_summary({"kind": "clock_jumped", "detail": "by 3 h", "live": False})
    assert odd.text == "Clock jumped: by 3 h"
    assert odd.severity is Severity.CRITICAL
    assert finding_title("unreported_stream") == "Stream never reported"


def test_a_live_finding_event_reads_whether_it_carries_a_kind_or_only_a_detail() -> None:
    assert event_finding_summary({"kind": "chain_fork", "subject": "s", "detail": "d"}).text == (
        "Audit finding — Chain forked: d"
    )
    only = event_finding_summary({"detail": "chain of ws-1 skipped 3"})
    assert only.text == "Audit finding — chain of ws-1 skipped 3"
    assert only.severity is Severity.CRITICAL


def test_a_workstation_with_silent_sessions_is_flagged_first() -> None:
    row = {
        "workstation_id": "ws-1",
        "last_event_at": "2026-11-25T11:58:30.000Z",
        "open_sessions": 3,
        "overdue_sessions": 1,
    }
    flagged = workstation_summary(row, NOW)
    assert flagged.severity is Severity.WARNING
    assert flagged.text == (
        f"1 of 3 open session(s) {SILENT_FLAG}: heartbeats stopped; last heard 90 s ago"
    )
    calm = workstation_summary({**row, "overdue_sessions": 0}, NOW)
    assert calm.severity is Severity.INFO and "heartbeats arriving" in calm.text
    idle = workstation_summary({**row, "open_sessions": 0, "overdue_sessions": 0}, NOW)
    assert idle.text == "no open session; last heard 90 s ago"
    never = workstation_summary({**row, "last_event_at": None}, NOW)
    assert never.text.endswith("never heard")


def test_only_an_open_overdue_session_gets_the_silent_flag() -> None:
    assert SILENT_FLAG == "silent 60 s+"
    assert silent_flag({"ended_at": None, "heartbeat_overdue": True}) == SILENT_FLAG
    assert silent_flag({"ended_at": None, "heartbeat_overdue": False}) is None
    assert silent_detail({"last_heartbeat_at": "T"}).endswith("no heartbeat for 60 s (last: T).")
    assert silent_flag({"ended_at": "2026-11-25T11:00:00.000Z", "heartbeat_overdue": True}) is None


@pytest.mark.parametrize(
    ("ms", "text"),
    [(None, ""), (0, "0 s"), (59_999, "59 s"), (60_000, "1 min 0 s"), (7_380_000, "2 h 3 min")],
)
def test_durations_read_as_a_person_says_them(ms: int | None, text: str) -> None:
    assert duration_text(ms) == text


def test_ago() -> None:
    assert ago_text(NOW, NOW) == "just now"
    assert ago_text(NOW - timedelta(seconds=42), NOW) == "42 s ago"
    assert ago_text(NOW - timedelta(minutes=5), NOW) == "5 min ago"
    assert ago_text(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert ago_text(NOW - timedelta(days=3), NOW) == "3 days ago"


def test_the_verdict_names_the_first_problem_or_how_much_was_verified() -> None:
    good = verify_verdict({"ok": True, "records": 12, "head_seq": 12, "head_hash": "ab12"})
    assert good.ok and good.headline == "Audit trail verified: 12 record(s) intact."
    assert good.detail == "head record 12, hash ab12"
    bad = verify_verdict(
        {
            "ok": False,
            "records": 12,
            "head_seq": 12,
            "head_hash": "ab12",
            "first_problem": "record 5: hash does not match",
        }
    )
    assert not bad.ok and bad.headline == "Audit trail BROKEN: record 5: hash does not match"
