"""The viewing session: the audit record the district keeps for every look at a camera.

The console writes the start durably before the first frame is shown and the end even
after a crash; both travel to the district with idempotency keys derived from the
session id, so retries never double-count.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta

from .models import Camera, EndReason, School, User


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

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def start_record(self) -> dict[str, object]:
        record = asdict(self)
        for key in ("ended_at", "duration_ms", "end_reason"):
            record.pop(key)
        return record

    def end_record(self) -> dict[str, object]:
        if self.ended_at is None or self.end_reason is None:
            raise ValueError(f"session {self.session_id} has not ended")
        return {
            "session_id": self.session_id,
            "ended_at": self.ended_at,
            "duration_ms": self.duration_ms,
            "end_reason": self.end_reason.value,
        }


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
) -> ViewingSession:
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
    for spec in fields(ViewingSession):
        if spec.name in ("ended_at", "duration_ms", "end_reason"):
            continue
        value = record.get(spec.name)
        if value is None and spec.name not in _OPTIONAL_START_FIELDS:
            value = ""
        values[spec.name] = None if value is None else str(value)
    return ViewingSession(**values)  # type: ignore[arg-type]


def milliseconds_between(start: datetime, end: datetime) -> int:
    """Whole milliseconds from start to end, in integers: the record's times are
    millisecond-exact, and float seconds times 1000 can land a hair below (4091.9999)."""
    return (end - start) // timedelta(milliseconds=1)


def end_session(session: ViewingSession, reason: EndReason, now: datetime) -> ViewingSession:
    """Close a session once; ending an ended session keeps the first end (idempotent)."""
    if not session.is_open:
        return session
    started = parse_utc(session.started_at)
    # Round to the record's own precision first, so duration == end - start exactly.
    ended = max(parse_utc(utc_ms(now)), started)
    return replace(
        session,
        ended_at=utc_ms(ended),
        duration_ms=milliseconds_between(started, ended),
        end_reason=reason,
    )
