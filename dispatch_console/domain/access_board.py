"""The "Emergencies and access" board: one row per active emergency, as both desks see it.

A pure function of the access state, the user and the moment. The panels only render its
rows; which buttons a row offers comes from the policy (``access_actions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import AccessContext, AccessRequest, Emergency, Grant, User
from .policy import AccessAction, access_actions, needs_review


@dataclass(frozen=True)
class EmergencyStatus:
    emergency: Emergency
    # The grant in force for this emergency (the one that lasts longest), if any.
    grant: Grant | None
    # The request still waiting for a district approver, if any.
    request: AccessRequest | None
    actions: frozenset[AccessAction]
    # How long the request has waited so far: the escalation timer both desks show.
    waiting: timedelta | None = None

    @property
    def awaiting_approval(self) -> bool:
        return self.grant is None and self.request is not None


def emergency_statuses(
    context: AccessContext, user: User, now: datetime
) -> tuple[EmergencyStatus, ...]:
    """Every active emergency with its access: requests waiting first, oldest first."""
    statuses = []
    for emergency in context.emergencies:
        if not emergency.is_active(now):
            continue
        grants = [
            g for g in context.grants if g.emergency_id == emergency.id and g.is_in_force(now)
        ]
        grant = max(grants, key=lambda g: g.expires_at, default=None)
        pending = [r for r in context.requests if r.emergency_id == emergency.id and r.is_pending]
        request = min(pending, key=lambda r: r.requested_at, default=None)
        actions = access_actions(
            user,
            emergency_active=True,
            grant_in_force=grant is not None,
            request_pending=request is not None,
            grant_needs_review=grant is not None and needs_review(grant),
        )
        waiting = max(now - request.requested_at, timedelta(0)) if request else None
        statuses.append(EmergencyStatus(emergency, grant, request, actions, waiting))
    statuses.sort(key=lambda s: (not s.awaiting_approval, s.emergency.declared_at, s.emergency.id))
    return tuple(statuses)


def decided_since(
    before: tuple[EmergencyStatus, ...], after: tuple[EmergencyStatus, ...]
) -> list[tuple[EmergencyStatus, bool]]:
    """Requests the district decided between two boards: (row now, granted or not).

    A request that vanished with its emergency was not decided; the emergency ended.
    """
    now_by_id = {s.emergency.id: s for s in after}
    decided = []
    for old in before:
        new = now_by_id.get(old.emergency.id)
        if old.awaiting_approval and new is not None and not new.awaiting_approval:
            decided.append((new, new.grant is not None))
    return decided
