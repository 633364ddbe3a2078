"""The viewing session: the audit record the district keeps for every look at a camera.

The console writes the start durably before the first frame is shown and the end even
after a crash; both travel to the district with idempotency keys derived from the
session id, so retries never double-count.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from .audit_record import END_FIELDS, START_FIELDS
from .models import Camera, EndReason, School, User

# How often an open session tells the district it is still open. One place: the console's
# timer, crash recovery's precision (a crash-left session ends at most this long after
# its last heartbeat) and the district's "heartbeats stopped" check all follow from it.
HEARTBEAT_INTERVAL_S = 15.0


def uuid7(now_ms: int | None = None) -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7): sorts by start time in any database."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


def utc_ms(moment: datetime) -> str:
    """ISO 8601 UTC with millisecond precision, the audit trail's one time format."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class ViewingSession:
    """One look at a camera, as the console records it.

    The fields are audit_record.START_FIELDS then END_FIELDS, in that order (the
    district's schema test checks it); the records sent are built from those names.
    """

    session_id: str
    user_id: str
    user_name: str
    agency: str
    role: str
    workstation_id: str
    app_version: str
    camera_id: str
    camera_name: str
    school_id: str
    school_name: str
    building_id: str
    building_name: str
    floor_id: str
    floor_name: str
    emergency_id: str | None
    grant_id: str | None
    threat_basis: str
    started_at: str
    ended_at: str | None = None
    duration_ms: int | None = None
    end_reason: EndReason | None = None
    # The monotonic clock's reading (seconds) when the session started on this console,
    # or None for a session rebuilt from a record (crash recovery). Never sent: it only
    # means something inside the process that read it. Durations and later stamps count
    # from it, so a wall clock stepped by NTP or by hand does not bend them.
    started_mono_s: float | None = field(default=None, compare=False, repr=False)

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def start_record(self) -> dict[str, object]:
        """What the district is sent when the session starts: START_FIELDS, in order."""
        return {name: getattr(self, name) for name in START_FIELDS}

    def end_record(self) -> dict[str, object]:
        if self.ended_at is None or self.end_reason is None:
            raise ValueError(f"session {self.session_id} has not ended")
        record: dict[str, object] = {"session_id": self.session_id}
        for name in END_FIELDS:
            value = getattr(self, name)
            record[name] = value.value if isinstance(value, EndReason) else value
        return record


def start_session(
    *,
    user: User,
    camera: Camera,
    school: School,
    workstation_id: str,
    app_version: str,
    emergency_id: str | None,
    grant_id: str | None,
    threat_basis: str,
    now: datetime,
    mono_now_s: float | None = None,
) -> ViewingSession:
    """A new open session started at ``now`` (wall clock) and ``mono_now_s`` (monotonic)."""
    building = school.building(camera.building_id)
    floor = school.floor(camera.floor_id)
    return ViewingSession(
        session_id=str(uuid7(int(now.timestamp() * 1000))),
        user_id=user.id,
        user_name=user.display_name,
        agency=user.agency,
        role=user.role.value,
        workstation_id=workstation_id,
        app_version=app_version,
        camera_id=camera.id,
        camera_name=camera.name,
        school_id=school.id,
        school_name=school.name,
        building_id=building.id,
        building_name=building.name,
        floor_id=floor.id,
        floor_name=floor.name,
        emergency_id=emergency_id,
        grant_id=grant_id,
        threat_basis=threat_basis,
        started_at=utc_ms(now),
        # Anchored on the recorded (millisecond) start, so start + elapsed lands where
        # the wall clock would have, not up to a millisecond early.
        started_mono_s=None if mono_now_s is None else mono_now_s - now.microsecond % 1000 / 1e6,
    )


_REQUIRED_START_FIELDS = ("session_id", "user_id", "camera_id", "started_at")
_OPTIONAL_START_FIELDS = ("emergency_id", "grant_id")


def session_from_start_record(record: Mapping[str, object]) -> ViewingSession:
    """Rebuild an open session from a stored start record, whichever version wrote it.

    Crash recovery reads records an earlier (or later) console wrote. Keys this version
    does not know are dropped; text fields added since a record was written read as
    empty. Only a record missing what identifies the session is refused.
    """
    missing = [key for key in _REQUIRED_START_FIELDS if not record.get(key)]
    if missing:
        raise ValueError(f"the start record lacks {', '.join(missing)}")
    values: dict[str, object] = {}
    for name in START_FIELDS:
        value = record.get(name)
        if value is None and name not in _OPTIONAL_START_FIELDS:
            value = ""
        values[name] = None if value is None else str(value)
    return ViewingSession(**values)  # type: ignore[arg-type]


def milliseconds_between(start: datetime, end: datetime) -> int:
    """Whole milliseconds from start to end, in integers: the record's times are
    millisecond-exact, and float seconds times 1000 can land a hair below (4091.9999)."""
    return (end - start) // timedelta(milliseconds=1)


def elapsed_ms(session: ViewingSession, mono_now_s: float) -> int:
    """Whole milliseconds since the session started, by the monotonic clock (never < 0)."""
    if session.started_mono_s is None:
        raise ValueError(f"session {session.session_id} has no monotonic start")
    return max(0, int((mono_now_s - session.started_mono_s) * 1000))


def stamp_after_start(session: ViewingSession, elapsed: int) -> str:
    """The UTC time ``elapsed`` ms after the session's recorded start.

    Every later stamp of a session (heartbeats, its end) is its start plus monotonic
    elapsed time: a wall clock stepped mid-session then changes neither the duration nor
    the district's check that the end is ``duration_ms`` after the start.
    """
    return utc_ms(parse_utc(session.started_at) + timedelta(milliseconds=elapsed))


@dataclass(frozen=True)
class PictureGap:
    """A stretch of an open session with no new picture: from the last picture shown
    before the stream was lost to the first one after it came back (same session)."""

    started_at: str
    ended_at: str
    reason: str

    def wire(self) -> dict[str, str]:
        return {"from": self.started_at, "to": self.ended_at, "reason": self.reason}


def heartbeat_record(
    session: ViewingSession, at: str, gaps: tuple[PictureGap, ...] = ()
) -> dict[str, object]:
    """What a heartbeat says: this session was still open (and shown) at ``at``, and
    the picture gaps it had since the last one, if any (the record stays as it was
    without them)."""
    record: dict[str, object] = {"session_id": session.session_id, "at": at}
    if gaps:
        record["gaps"] = [gap.wire() for gap in gaps]
    return record


def end_session_at(session: ViewingSession, reason: EndReason, ended_at: str) -> ViewingSession:
    """Close a session at a given recorded time (never before its start); once only."""
    if not session.is_open:
        return session
    started = parse_utc(session.started_at)
    ended = max(parse_utc(ended_at), started)
    return replace(
        session,
        ended_at=utc_ms(ended),
        duration_ms=milliseconds_between(started, ended),
        end_reason=reason,
    )


def end_session(
    session: ViewingSession, reason: EndReason, now: datetime, mono_now_s: float | None = None
) -> ViewingSession:
    """Close a session once; ending an ended session keeps the first end (idempotent).

    With a monotonic reading (and a session that has a monotonic start) the end is the
    start plus the monotonic elapsed time, and ``now`` is not used; without, ``now``.
    """
    if not session.is_open:
        return session
    if mono_now_s is not None and session.started_mono_s is not None:
        elapsed = elapsed_ms(session, mono_now_s)
        return end_session_at(session, reason, stamp_after_start(session, elapsed))
    # Round to the record's own precision first, so duration == end - start exactly.
    return end_session_at(session, reason, utc_ms(now))


def recovered_end(session: ViewingSession, marks: Iterable[str]) -> ViewingSession:
    """End a session a crash left open at the last moment it is known to have been open.

    ``marks`` are the times of durable local records that prove it was still open then:
    its own heartbeats and any later record this workstation wrote while it had no end.
    The latest one wins (never before the start). Ending at the restart time instead
    would bill the district for all the time the console was down.
    """
    latest = max((parse_utc(mark) for mark in marks), default=parse_utc(session.started_at))
    return end_session_at(session, EndReason.RECOVERED_AFTER_CRASH, utc_ms(latest))
