"""What the emergency banner says about one school: a pure function of the access state.

The banner used to work out the school's emergency and grant itself from the wall clock;
now the desk passes the moment in and only renders the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import AccessContext
from .policy import grant_in_force


@dataclass(frozen=True)
class SchoolBanner:
    text: str
    tone: str  # "emergency" or "neutral"


def school_banner(
    school_id: str, school_name: str, context: AccessContext, police: bool, now: datetime
) -> SchoolBanner:
    """The school's active emergency, and whether police may watch (until when), are
    waiting for the district, or are refused (denied, or the grant ended)."""
    emergency = next(
        (e for e in context.emergencies if e.school_id == school_id and e.is_active(now)),
        None,
    )
    if emergency is None:
        text = f"{school_name}: no emergency declared."
        if police:
            text += " Live video is locked."
        return SchoolBanner(text, "neutral")
    text = f"{emergency.type.label.upper()} at {school_name}"
    grant = grant_in_force(context, school_id, now)
    if grant is not None:
        until = grant.expires_at.astimezone().strftime("%H:%M")
        text += f" — police access granted until {until}"
        if grant.break_glass:
            text += " (break-glass, flagged for district review)"
    elif any(r.emergency_id == emergency.id and r.is_pending for r in context.requests):
        text += " — waiting for the district to approve police access"
    else:
        text += " — no police access (denied, or the grant ended)"
    return SchoolBanner(text, "emergency")
