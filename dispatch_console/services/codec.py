"""JSON from the district API into domain values, failing loudly on a garbled answer."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyLocation,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.domain.session import parse_utc

from .errors import BadServerAnswer


class _Fields:
    def __init__(self, raw: Any, what: str) -> None:
        if not isinstance(raw, Mapping):
            raise BadServerAnswer(f"{what} is not a JSON object.")
        self.raw = raw
        self.what = what

    def text(self, key: str) -> str:
        value = self.raw.get(key)
        if not isinstance(value, str):
            raise BadServerAnswer(f'{self.what} has no text field "{key}".')
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.raw.get(key)
        return value if isinstance(value, str) else None

    def time(self, key: str) -> datetime:
        try:
            return parse_utc(self.text(key))
        except ValueError:
            raise BadServerAnswer(f'{self.what} has a bad time in "{key}".') from None

    def optional_time(self, key: str) -> datetime | None:
        return self.time(key) if self.raw.get(key) is not None else None

    def flag(self, key: str) -> bool:
        return bool(self.raw.get(key, False))

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of ids; missing means empty (servers before the field existed)."""
        value = self.raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadServerAnswer(f'{self.what} has a "{key}" that is not a list of ids.')
        return tuple(value)


def user_from_json(raw: Any) -> User:
    f = _Fields(raw, "The user record")
    try:
        role = Role(f.text("role"))
    except ValueError:
        raise BadServerAnswer(f"Unknown role {raw.get('role')!r} in the user record.") from None
    schools = raw.get("schools") or []
    return User(
        id=f.text("id"),
        username=f.text("username"),
        display_name=f.text("display_name"),
        agency=f.text("agency"),
        role=role,
        schools=frozenset(str(s) for s in schools),
    )


def emergency_from_json(raw: Any) -> Emergency:
    f = _Fields(raw, "An emergency record")
    try:
        kind = EmergencyType(f.text("type"))
    except ValueError:
        raise BadServerAnswer(f"Unknown emergency type {raw.get('type')!r}.") from None
    return Emergency(
        id=f.text("id"),
        school_id=f.text("school_id"),
        type=kind,
        threat_basis=f.text("threat_basis"),
        declared_by=f.text("declared_by"),
        declared_at=f.time("declared_at"),
        ended_at=f.optional_time("ended_at"),
        location=_location(raw.get("location")),
    )


def _location(raw: Any) -> EmergencyLocation | None:
    """An emergency's location; absent or null (older servers, none given) is None."""
    if raw is None:
        return None
    f = _Fields(raw, "An emergency's location")
    x, y = raw.get("x"), raw.get("y")
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y)):
        raise BadServerAnswer("An emergency's location has no numeric x and y.")
    return EmergencyLocation(f.text("floor_id"), float(x), float(y))


def grant_from_json(raw: Any) -> Grant:
    f = _Fields(raw, "A grant record")
    return Grant(
        id=f.text("id"),
        emergency_id=f.text("emergency_id"),
        school_id=f.text("school_id"),
        agency=f.text("agency"),
        granted_at=f.time("granted_at"),
        expires_at=f.time("expires_at"),
        approved_by=f.text("approved_by"),
        break_glass=f.flag("break_glass"),
        needs_review=f.flag("needs_review"),
        revoked_at=f.optional_time("revoked_at"),
        buildings=f.texts("buildings"),
        cameras=f.texts("cameras"),
        reviewed_by=f.optional_text("reviewed_by"),
        reviewed_at=f.optional_time("reviewed_at"),
        review_note=f.optional_text("review_note"),
    )


def access_request_from_json(raw: Any) -> AccessRequest:
    f = _Fields(raw, "An access request record")
    return AccessRequest(
        id=f.text("id"),
        emergency_id=f.text("emergency_id"),
        school_id=f.text("school_id"),
        agency=f.text("agency"),
        requested_by=f.text("requested_by"),
        requested_at=f.time("requested_at"),
        status=f.text("status"),
        decided_by=f.optional_text("decided_by"),
        decided_at=f.optional_time("decided_at"),
        decision_note=f.optional_text("decision_note") or "",
    )
