"""The district desk's audit browser: its filters, and how findings, workstations and
silent sessions read.

The rules live here, not in widgets, so the words a district's counsel reads on the desk
(and the severity that colours them) are decided and tested once. Nothing here does I/O:
the rows are the district server's JSON objects, as the client hands them over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .session import parse_utc, utc_ms

# The district flags an open session whose console has been silent this long (its
# heartbeats go every 15 s, so four missed ones).
HEARTBEAT_SILENCE = timedelta(seconds=60)
SILENT_FLAG = f"silent {int(HEARTBEAT_SILENCE.total_seconds())} s+"


class Severity(StrEnum):
    """How loudly a row is shown: counsel must see an alteration before a due review."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class SessionFilter:
    """The browser's filters; None (or an empty text) means "any".

    Times compare the session's time on the district; a session still going at ``since``
    belongs to the window too (the server's rule).
    """

    school_id: str | None = None
    camera_id: str | None = None
    user_id: str | None = None
    agency: str | None = None
    emergency_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                # The server refuses a time without a zone; a local one would be guessed.
                raise ValueError("filter times must carry a zone")
        if self.since is not None and self.until is not None and self.until < self.since:
            raise ValueError("the filter's end is before its start")

    def params(self) -> dict[str, str]:
        """The query parameters of ``GET /audit/sessions`` (and of its CSV): only those set,
        times as UTC milliseconds with a zone."""
        out: dict[str, str] = {}
        for name in ("school_id", "camera_id", "user_id", "agency", "emergency_id"):
            value = getattr(self, name)
            if value is not None and value.strip():
                out[name] = value.strip()
        if self.since is not None:
            out["since"] = utc_ms(self.since)
        if self.until is not None:
            out["until"] = utc_ms(self.until)
        return out

    @property
    def is_empty(self) -> bool:
        return not self.params()


@dataclass(frozen=True)
class Summary:
    """One row as the desk shows it: its words and how loudly."""

    text: str
    severity: Severity


_FINDING_TITLES: dict[str, tuple[str, Severity]] = {
    "chain_altered": ("Record altered", Severity.CRITICAL),
    "chain_fork": ("Chain forked", Severity.CRITICAL),
    "chain_gap": ("Records missing", Severity.CRITICAL),
    "unreported_stream": ("Stream never reported", Severity.CRITICAL),
    "relay_camera_mismatch": ("Streamed another camera", Severity.CRITICAL),
    "streamed_after_end": ("Streamed after the end", Severity.CRITICAL),
    "heartbeat_overdue": ("Heartbeats stopped", Severity.WARNING),
    "chain_new": ("New chain started", Severity.WARNING),
    "review_due": ("Review due", Severity.INFO),
}


def finding_title(kind: str) -> str:
    """A finding's kind as a person reads it; an unknown kind shows as itself."""
    known = _FINDING_TITLES.get(kind)
    return known[0] if known else kind.replace("_", " ").capitalize()


def finding_summary(finding: Mapping[str, Any]) -> Summary:
    """A finding in one line: "Records missing (workstation ws-1): …; still going" for a
    live one. A kind this console does not know yet is shown as critical: the district
    added it for a reason, and hiding it quietly would be worse than being loud."""
    kind = str(finding.get("kind", ""))
    title, severity = _FINDING_TITLES.get(kind, (finding_title(kind), Severity.CRITICAL))
    where = finding.get("workstation_id")
    text = f"{title}{f' (workstation {where})' if where else ''}: {finding.get('detail', '')}"
    if finding.get("live"):
        text += " — still the case now"
    return Summary(text, severity)


def event_finding_summary(data: Mapping[str, Any]) -> Summary:
    """An ``audit.finding`` live event (kind and subject, or only a detail) in one line."""
    if "kind" in data:
        found = finding_summary({**data, "live": False})
        return Summary(f"Audit finding — {found.text}", found.severity)
    return Summary(f"Audit finding — {data.get('detail', 'no detail given')}", Severity.CRITICAL)


def workstation_summary(row: Mapping[str, Any], now: datetime) -> Summary:
    """A workstation's audit state: when it was last heard, and silent sessions first."""
    last = row.get("last_event_at")
    heard = f"last heard {ago_text(parse_utc(str(last)), now)}" if last else "never heard"
    open_sessions = int(row.get("open_sessions") or 0)
    overdue = int(row.get("overdue_sessions") or 0)
    if overdue:
        return Summary(
            f"{overdue} of {open_sessions} open session(s) {SILENT_FLAG}: heartbeats stopped; "
            f"{heard}",
            Severity.WARNING,
        )
    if open_sessions:
        return Summary(
            f"{open_sessions} open session(s), heartbeats arriving; {heard}", Severity.INFO
        )
    return Summary(f"no open session; {heard}", Severity.INFO)


def silent_flag(session: Mapping[str, Any]) -> str | None:
    """The watch board's flag for a live session whose console stopped its heartbeats."""
    if session.get("ended_at") is None and session.get("heartbeat_overdue"):
        return SILENT_FLAG
    return None


def silent_detail(session: Mapping[str, Any]) -> str:
    """Why a session carries the silent flag, for its tooltip."""
    return (
        "Recorded as open, but its workstation has sent no heartbeat for "
        f"{int(HEARTBEAT_SILENCE.total_seconds())} s "
        f"(last: {session.get('last_heartbeat_at') or 'none'})."
    )


def duration_text(milliseconds: int | None) -> str:
    """A session's length: "42 s", "12 min 5 s", "2 h 3 min"; "" when it has none yet."""
    if milliseconds is None:
        return ""
    seconds = max(0, milliseconds) // 1000
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def ago_text(moment: datetime, now: datetime) -> str:
    """How long ago, as a person reads it ("just now", "42 s ago", "5 min ago")."""
    seconds = int((now - moment).total_seconds())
    if seconds < 1:
        return "just now"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


@dataclass(frozen=True)
class Verdict:
    """The district's verification of its trail, as the desk states it."""

    ok: bool
    headline: str
    detail: str


def verify_verdict(report: Mapping[str, Any]) -> Verdict:
    """``GET /audit/verify`` in words: verified (with how much), or broken and where."""
    records = report.get("records")
    head = f"head record {report.get('head_seq')}, hash {report.get('head_hash') or '—'}"
    if report.get("ok"):
        return Verdict(True, f"Audit trail verified: {records} record(s) intact.", head)
    problem = report.get("first_problem") or "no reason given"
    return Verdict(False, f"Audit trail BROKEN: {problem}", head)
