"""Audit health on the desk: what the status bar says, and when it becomes an alarm.

The rules live here, not in widgets, so a threshold or a wording is decided (and tested)
once: a dispatcher must be able to tell at a glance whether the district is receiving
the viewing records, and an operator must be alarmed long before the one hour CJIS
allows before an audit failure has to be alerted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# An event waiting longer than this raises the alarm (setting ``audit_alarm_minutes``).
DEFAULT_ALARM_AFTER = timedelta(minutes=5)
# Clock skew against the district shown on the desk beyond this (seconds).
SKEW_SHOWN_ABOVE_S = 2.0
# The status bar shows this much of a failure's reason; the whole of it is in the tooltip
# and in the banner, so the status bar leaves room for the desk's own messages.
REASON_SHOWN_CHARS = 60


class AuditState(StrEnum):
    DELIVERED = "delivered"
    QUEUED = "queued"
    FAILING = "failing"


@dataclass(frozen=True)
class AuditQueue:
    """What the shipper knows: records waiting, the oldest one's time, why it fails."""

    queued: int
    oldest_at: datetime | None
    failing: str | None


@dataclass(frozen=True)
class AuditHealth:
    state: AuditState
    # The status bar's text, e.g. "Audit: 3 queued, oldest 42 s".
    text: str
    # The banner's text while an event has waited too long; None otherwise. It stays as
    # long as that event waits, so it goes away only when delivery resumes.
    alarm: str | None
    # "Clock 3.4 s behind the district" when the skew is worth showing; None otherwise.
    skew: str | None
    # Everything known, for the status text's tooltip.
    detail: str


def age_text(age: timedelta) -> str:
    """A waiting time as a person reads it: seconds, then minutes, then hours."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def skew_text(skew_s: float | None) -> str | None:
    """The district's clock minus this one's, in words, when it exceeds the threshold."""
    if skew_s is None or abs(skew_s) <= SKEW_SHOWN_ABOVE_S:
        return None
    side = "behind" if skew_s > 0 else "ahead of"
    return f"Clock {abs(skew_s):.1f} s {side} the district"


def audit_health(
    queue: AuditQueue,
    now: datetime,
    *,
    alarm_after: timedelta = DEFAULT_ALARM_AFTER,
    skew_s: float | None = None,
) -> AuditHealth:
    """The desk's audit state from the shipper's queue, at ``now``."""
    age = now - queue.oldest_at if queue.oldest_at is not None and queue.queued else None
    waiting = (
        f"{queue.queued} queued, oldest {age_text(age)}"
        if age is not None
        else f"{queue.queued} queued"
    )
    if queue.failing is not None:
        state = AuditState.FAILING
        reason = queue.failing.rstrip(".")
        if len(reason) > REASON_SHOWN_CHARS:
            reason = reason[: REASON_SHOWN_CHARS - 1].rstrip() + "…"
        text = f"Audit: failing — {reason}" + (f" ({waiting})" if queue.queued else "")
    elif queue.queued:
        state, text = AuditState.QUEUED, f"Audit: {waiting}"
    else:
        state, text = AuditState.DELIVERED, "Audit: delivered"
    alarm = None
    if age is not None and age > alarm_after:
        alarm = (
            f"Viewing records have not reached the district for {age_text(age)} "
            f"(alarm after {age_text(alarm_after)}): {queue.queued} waiting"
            + (f" — {queue.failing.rstrip('.')}" if queue.failing else "")
            + ". They are kept on this workstation and sent when the district answers; "
            "tell the district's IT if this lasts."
        )
    detail = text if queue.failing is None else f"Audit delivery is failing: {queue.failing}"
    return AuditHealth(state, text, alarm, skew_text(skew_s), detail)
