"""The desk's audit health: delivered, queued or failing, an alarm that stays, clock skew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch_console.domain.audit_health import (
    AuditQueue,
    AuditState,
    age_text,
    audit_health,
    skew_text,
)

NOW = datetime(2026, 11, 23, 12, 0, 0, tzinfo=UTC)


def test_nothing_waiting_reads_delivered_without_alarm() -> None:
    health = audit_health(AuditQueue(0, None, None), NOW)
    assert health.state is AuditState.DELIVERED
    assert health.text == "Audit: delivered"
    assert health.alarm is None and health.skew is None


def test_waiting_records_read_queued_with_count_and_oldest_age() -> None:
    health = audit_health(AuditQueue(3, NOW - timedelta(seconds=42), None), NOW)
    assert health.state is AuditState.QUEUED
    assert health.text == "Audit: 3 queued, oldest 42 s"
    assert health.alarm is None


def test_failing_delivery_says_why() -> None:
    queue = AuditQueue(2, NOW - timedelta(seconds=10), "Cannot reach the district server.")
    health = audit_health(queue, NOW)
    assert health.state is AuditState.FAILING
    assert health.text == (
        "Audit: failing — Cannot reach the district server (2 queued, oldest 10 s)"
    )


def test_a_long_reason_is_shortened_in_the_status_bar_and_whole_in_the_detail() -> None:
    reason = "The district server failed on PUT /audit/sessions/0123456789abcdef/start (HTTP 503)"
    health = audit_health(AuditQueue(1, NOW, reason), NOW)
    assert health.text.startswith("Audit: failing — The district server failed on PUT /audit/")
    assert "…" in health.text and "HTTP 503" not in health.text
    assert reason in health.detail


def test_an_event_older_than_the_threshold_alarms_until_it_is_delivered() -> None:
    oldest = NOW - timedelta(minutes=5)
    at_limit = audit_health(AuditQueue(1, oldest, None), NOW)
    assert at_limit.alarm is None  # exactly five minutes: not yet
    late = audit_health(AuditQueue(1, oldest, "HTTP 503"), NOW + timedelta(seconds=1))
    assert late.alarm is not None
    assert "5 min" in late.alarm and "HTTP 503" in late.alarm
    # Still waiting an hour later: still alarmed (it does not time out by itself).
    assert audit_health(AuditQueue(1, oldest, None), NOW + timedelta(hours=1)).alarm
    # Delivered: the alarm is gone.
    assert audit_health(AuditQueue(0, None, None), NOW + timedelta(hours=1)).alarm is None
    # The threshold is a setting.
    two = timedelta(minutes=2)
    assert audit_health(AuditQueue(1, NOW - timedelta(minutes=3), None), NOW, alarm_after=two).alarm


def test_clock_skew_is_shown_only_beyond_two_seconds() -> None:
    assert skew_text(None) is None
    assert skew_text(2.0) is None and skew_text(-1.9) is None
    assert skew_text(3.44) == "Clock 3.4 s behind the district"
    assert skew_text(-12.0) == "Clock 12.0 s ahead of the district"
    assert audit_health(AuditQueue(0, None, None), NOW, skew_s=-5).skew == (
        "Clock 5.0 s ahead of the district"
    )


def test_ages_read_in_seconds_then_minutes_then_hours() -> None:
    assert age_text(timedelta(seconds=119)) == "119 s"
    assert age_text(timedelta(minutes=7, seconds=30)) == "7 min"
    assert age_text(timedelta(hours=3, minutes=5)) == "3 h 5 min"
