"""The "Emergencies and access" board: one row per active emergency, as both desks see it.

A pure function of the access state, the user and the moment. The panels only render its
rows; which buttons a row offers comes from the policy (``access_actions``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .models import AccessContext, AccessRequest, District, Emergency, EmergencyType, Grant, User
from .policy import AccessAction, access_actions, may_request_extension, needs_review

# A grant this close to its end is "expiring soon": the police desk offers to ask the
# district for more time, early enough for a busy safety officer to answer.
EXPIRING_SOON = timedelta(minutes=5)
# How long the dispatcher's school list keeps saying an emergency ended.
ENDED_SHOWN_FOR = timedelta(hours=1)

# Shown on the police desk while school video is on screen. The one place this text
# lives: police see the images under FERPA's health-or-safety emergency exception, which
# lets the district disclose them to police for the emergency and nothing more.
FERPA_NOTICE = (
    "These images come from school education records. The district discloses them to "
    "you under FERPA's health-or-safety emergency exception (34 CFR 99.36) for this "
    "emergency only: do not record, copy or pass them on (no redisclosure)."
)


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
    # The district's last denial for this emergency, when nothing is waiting or granted
    # (the police view of /access carries its agency's decided requests).
    denied: AccessRequest | None = None

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
        if grant is not None and may_request_extension(user, grant, now):
            actions |= {AccessAction.REQUEST_EXTENSION}
        waiting = max(now - request.requested_at, timedelta(0)) if request else None
        denials = [
            r for r in context.requests if r.emergency_id == emergency.id and r.status == "denied"
        ]
        denied = (
            max(denials, key=lambda r: r.decided_at or r.requested_at, default=None)
            if grant is None and request is None
            else None
        )
        statuses.append(EmergencyStatus(emergency, grant, request, actions, waiting, denied))
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


def countdown(remaining: timedelta) -> str:
    """A timer read at a glance: "4:07", "1:02:30"; never negative (0:00 once it is over)."""
    seconds = max(int(remaining.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{seconds:02d}"
    return f"{minutes}:{seconds:02d}"


def expiring_soon(grant: Grant, now: datetime) -> bool:
    """In force and ending within ``EXPIRING_SOON``: time to ask for an extension."""
    return grant.is_in_force(now) and grant.expires_at - now <= EXPIRING_SOON


def scope_text(grant: Grant) -> str:
    """What a grant covers, in the dispatcher's words."""
    if grant.whole_school:
        return "whole school"
    parts = []
    if grant.buildings:
        label = "building" if len(grant.buildings) == 1 else "buildings"
        parts.append(f"{label} {', '.join(grant.buildings)}")
    if grant.cameras:
        count = len(grant.cameras)
        parts.append(f"{count} camera{'s' if count > 1 else ''}")
    return " and ".join(parts)


class RequestPhase(StrEnum):
    """Where police access to one school stands, as the dispatcher's desk says it."""

    NONE = "none"  # no emergency at the school
    DECLARED = "declared"  # an emergency, but no request waiting and no grant (it ended)
    WAITING = "waiting"  # waiting for a district approver
    GRANTED = "granted"  # police access in force
    EXPIRING = "expiring"  # in force, ending within EXPIRING_SOON
    DENIED = "denied"  # the district said no (and why)
    ENDED = "ended"  # the emergency ended a short while ago


@dataclass(frozen=True)
class RequestState:
    phase: RequestPhase
    text: str
    # The same in a few words, for the one-line school list.
    brief: str = ""


def _clock(value: datetime) -> str:
    return value.astimezone().strftime("%H:%M")


def request_state(status: EmergencyStatus, now: datetime) -> RequestState:
    """The request's state with its live countdown: what the police desk shows per emergency.

    Pure, so a once-a-second timer can redraw it from the clock alone.
    """
    grant, request, denied = status.grant, status.request, status.denied
    if grant is not None:
        left = grant.expires_at - now
        phase = RequestPhase.EXPIRING if expiring_soon(grant, now) else RequestPhase.GRANTED
        text = (
            f"Police access until {_clock(grant.expires_at)} ({countdown(left)} left)"
            f" — {scope_text(grant)}"
        )
        brief = f"until {_clock(grant.expires_at)} ({countdown(left)} left), {scope_text(grant)}"
        if phase is RequestPhase.EXPIRING:
            text, brief = "Expiring soon: " + text, "expiring " + brief
        return RequestState(phase, text, brief)
    if request is not None:
        waited = max(now - request.requested_at, timedelta(0))
        return RequestState(
            RequestPhase.WAITING,
            f"Waiting for district approval — {countdown(waited)}"
            f" (requested by {request.requested_by})",
            f"waiting for approval {countdown(waited)}",
        )
    if denied is not None:
        by = f" by {denied.decided_by}" if denied.decided_by else ""
        why = f": {denied.decision_note}" if denied.decision_note else " (no reason given)"
        return RequestState(RequestPhase.DENIED, f"Denied{by}{why}", f"denied{why}")
    return RequestState(
        RequestPhase.DECLARED,
        "Declared — no police access (the grant ended)",
        "declared, no police access",
    )


def short_label(kind: EmergencyType) -> str:
    """ "Active threat", not "Active threat (shooter / intruder)": for one-line lists."""
    return kind.label.split(" (")[0]


@dataclass(frozen=True)
class EndedEmergency:
    """An emergency the desk saw end (it left the access state): "ended" for a while."""

    emergency_id: str
    school_id: str
    type: EmergencyType
    ended_at: datetime


def ended_since(before: AccessContext, after: AccessContext, now: datetime) -> list[EndedEmergency]:
    """Emergencies active in ``before`` that are gone (or ended) in ``after``."""
    still = {e.id for e in after.emergencies if e.is_active(now)}
    return [
        EndedEmergency(e.id, e.school_id, e.type, now)
        for e in before.emergencies
        if e.is_active(now) and e.id not in still
    ]


@dataclass(frozen=True)
class SchoolLine:
    """One school in the dispatcher's list: its name, the phase and what to say."""

    school_id: str
    name: str
    phase: RequestPhase
    text: str


def school_lines(
    district: District,
    statuses: Sequence[EmergencyStatus],
    ended: Mapping[str, EndedEmergency],
    now: datetime,
) -> tuple[SchoolLine, ...]:
    """Every school of the district with its emergency state, in the district's order.

    ``ended`` is the last emergency each school saw end; it shows for ``ENDED_SHOWN_FOR``
    unless a new emergency is under way there.
    """
    by_school: dict[str, EmergencyStatus] = {}
    for status in statuses:
        known = by_school.get(status.emergency.school_id)
        if known is None or (known.grant is None and status.grant is not None):
            by_school[status.emergency.school_id] = status
    lines = []
    for school in district.schools:
        found = by_school.get(school.id)
        gone = ended.get(school.id)
        if found is not None:
            state = request_state(found, now)
            kind = short_label(found.emergency.type)
            lines.append(SchoolLine(school.id, school.name, state.phase, f"{kind} · {state.brief}"))
        elif gone is not None and now - gone.ended_at <= ENDED_SHOWN_FOR:
            text = f"{short_label(gone.type)} · ended at {_clock(gone.ended_at)}"
            lines.append(SchoolLine(school.id, school.name, RequestPhase.ENDED, text))
        else:
            lines.append(SchoolLine(school.id, school.name, RequestPhase.NONE, "No emergency"))
    return tuple(lines)
