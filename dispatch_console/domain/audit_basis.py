"""Under what a viewing session is recorded: its grant, its emergency, its threat basis.

The console stamps these on the start it makes durable, and the district stamps them
again from its own truth when the start arrives; both call these functions, so the two
records agree whenever the two sides see the same grants, and differ only where the
server knows better (a grant revoked a moment ago, say).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from .models import Emergency, Grant
from .policy import Decision

# The basis recorded for district roles watching under their standing (audited) access,
# with no emergency at the school.
STANDING_ACCESS_BASIS = "Standing district access (audited)"


def recorded_grant(
    decision: Decision,
    claimed: Grant | None,
    *,
    late: bool,
    client_start: datetime,
    clock_skew: timedelta,
) -> Grant | None:
    """The grant in force now, or, for a start delivered late after an outage that
    outlasted it, the grant the console says it was under if that grant was in force at
    the console's start time (give or take the clock skew)."""
    if decision.grant is not None:
        return decision.grant
    if (
        late
        and claimed is not None
        and claimed.granted_at - clock_skew <= client_start < claimed.expires_at
    ):
        return claimed
    return None


def recorded_emergency(
    grant: Grant | None,
    emergencies: Sequence[Emergency],
    school_id: str,
    *,
    standing: bool,
    now: datetime,
) -> Emergency | None:
    """The grant's emergency; without a grant, for a user with standing access (district
    roles), the school's active emergency if there is one."""
    if grant is not None:
        return next((e for e in emergencies if e.id == grant.emergency_id), None)
    if not standing:
        return None
    return next((e for e in emergencies if e.school_id == school_id and e.is_active(now)), None)


def recorded_threat_basis(emergency: Emergency | None, decision: Decision) -> str:
    if emergency is not None:
        return emergency.threat_basis
    if decision.allowed:
        return STANDING_ACCESS_BASIS
    return f"No access was in force when the session started: {decision.reason}"
