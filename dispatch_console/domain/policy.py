"""The access policy: the one place that decides who may see which camera, and why not.

The console asks it to lock pins and explain the lock; the district server asks the very
same functions before it hands out a stream ticket, which is what actually protects video.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .models import (
    AccessContext,
    Camera,
    EmergencyType,
    Grant,
    Role,
    RoomKind,
    School,
    User,
)

# Rooms the agreement lets police see. Anything else is private; new room kinds are
# private until someone decides otherwise here.
COMMON_AREAS: frozenset[RoomKind] = frozenset(
    {
        RoomKind.HALLWAY,
        RoomKind.CAFETERIA,
        RoomKind.GYM,
        RoomKind.AUDITORIUM,
        RoomKind.ENTRANCE,
        RoomKind.STAIRWELL,
        RoomKind.EXTERIOR,
        RoomKind.PARKING,
    }
)
OUTDOOR_AREAS: frozenset[RoomKind] = frozenset({RoomKind.EXTERIOR, RoomKind.PARKING})


def is_private_room(kind: RoomKind) -> bool:
    """Whether a room is private under the agreement: its cameras are never shared with
    police, and the map hatches it. The one place that reads COMMON_AREAS for that."""
    return kind not in COMMON_AREAS


# Emergencies in which waiting for a district approver could cost lives: the grant is
# issued at once and flagged for the district's review afterwards.
BREAK_GLASS: frozenset[EmergencyType] = frozenset(
    {EmergencyType.ACTIVE_THREAT, EmergencyType.EXPLOSION_OR_FIRE}
)
DEFAULT_GRANT_DURATION = timedelta(minutes=60)
# One click on the district desk's "Extend" adds this much to a grant in force.
EXTENSION_STEP = timedelta(minutes=30)


@dataclass(frozen=True)
class RolePolicy:
    police: bool
    needs_emergency_grant: bool
    may_approve: bool
    scope: str  # "shareable", "all", "own_schools", "outdoor"


ROLE_POLICIES: dict[Role, RolePolicy] = {
    Role.POLICE_DISPATCHER: RolePolicy(True, True, False, "shareable"),
    Role.POLICE_SUPERVISOR: RolePolicy(True, True, False, "shareable"),
    Role.DISTRICT_SAFETY_OFFICER: RolePolicy(False, False, True, "all"),
    Role.SCHOOL_ADMIN: RolePolicy(False, False, False, "own_schools"),
    Role.FACILITIES: RolePolicy(False, False, False, "outdoor"),
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    grant: Grant | None = None
    # A permanent refusal cannot be lifted by any emergency or grant (a private room,
    # a camera outside the user's scope); the console shows such pins differently.
    permanent: bool = False

    def __bool__(self) -> bool:
        return self.allowed


def police_shareable(camera: Camera) -> Decision:
    """Whether a camera may ever be shown to police, whatever the moment."""
    if is_private_room(camera.room_kind):
        return Decision(
            False,
            f"{camera.name} is in a {camera.room_kind.value.replace('_', ' ')}: "
            "cameras in private rooms are never shared with police.",
            permanent=True,
        )
    if not camera.configured_shareable:
        return Decision(
            False, f"The district has not made {camera.name} shareable.", permanent=True
        )
    return Decision(True, "Common-area camera.")


def grant_covers(grant: Grant, camera: Camera) -> bool:
    """Whether the grant's scope includes the camera: its school, then (if the grant is
    scoped) one of its buildings or one of its listed cameras."""
    if grant.school_id != camera.school_id:
        return False
    if grant.whole_school:
        return True
    return camera.building_id in grant.buildings or camera.id in grant.cameras


def grant_in_force(
    context: AccessContext,
    school_id: str,
    now: datetime,
    agency: str | None = None,
    camera: Camera | None = None,
) -> Grant | None:
    """The grant that currently opens this school, if any: live grant and live emergency.

    With ``agency``, only that agency's grants count: a grant is issued to one police
    agency, and another agency's officers gain nothing from it. With ``camera``, only
    grants whose scope covers that camera count.
    """
    live_emergencies = {
        e.id for e in context.emergencies if e.school_id == school_id and e.is_active(now)
    }
    for grant in sorted(context.grants, key=lambda g: g.expires_at, reverse=True):
        if (
            grant.school_id == school_id
            and (agency is None or grant.agency == agency)
            and grant.emergency_id in live_emergencies
            and grant.is_in_force(now)
            and (camera is None or grant_covers(grant, camera))
        ):
            return grant
    return None


class GrantTermsError(ValueError):
    """A grant's terms are not acceptable: a scope naming buildings or cameras the school
    does not have (or may not share), or a duration out of bounds. Says what is wrong."""


MIN_GRANT_DURATION = timedelta(minutes=5)
MAX_GRANT_DURATION = timedelta(hours=12)


def grant_duration(minutes: int | None) -> timedelta:
    """The duration an approver chose (the default when none), within the bounds."""
    if minutes is None:
        return DEFAULT_GRANT_DURATION
    chosen = timedelta(minutes=minutes)
    if not MIN_GRANT_DURATION <= chosen <= MAX_GRANT_DURATION:
        raise GrantTermsError(
            f"A grant lasts between {MIN_GRANT_DURATION.seconds // 60} minutes and "
            f"{MAX_GRANT_DURATION.seconds // 3600} hours; {minutes} minutes is outside that."
        )
    return chosen


def grant_scope(
    school: School, buildings: Sequence[str], cameras: Sequence[str]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The scope an approver asked for, checked against the school; GrantTermsError says what
    is wrong. Listing a camera police may never see (a private room) is an error, not a
    silent no-op: the approver must know the grant does not show it."""
    known_buildings = {b.id for b in school.buildings}
    unknown = sorted(set(buildings) - known_buildings)
    if unknown:
        raise GrantTermsError(f"{school.name} has no building {', '.join(unknown)}.")
    by_id = {c.id: c for c in school.cameras()}
    missing = sorted(set(cameras) - set(by_id))
    if missing:
        raise GrantTermsError(f"{school.name} has no camera {', '.join(missing)}.")
    for camera_id in cameras:
        shareable = police_shareable(by_id[camera_id])
        if not shareable:
            raise GrantTermsError(shareable.reason)
    return tuple(sorted(set(buildings))), tuple(sorted(set(cameras)))


def scope_cameras(school: School, grant: Grant) -> list[Camera]:
    """The school's cameras this grant lets police see (what a gateway should prewarm)."""
    return [c for c in school.cameras() if grant_covers(grant, c) and police_shareable(c)]


def can_view(user: User, camera: Camera, context: AccessContext, now: datetime) -> Decision:
    """May this user watch this camera live right now? Always says why."""
    policy = ROLE_POLICIES.get(user.role)
    if policy is None:
        return Decision(False, f"The role {user.role.value} has no camera access.", permanent=True)
    if policy.police:
        shareable = police_shareable(camera)
        if not shareable:
            return shareable
    elif policy.scope == "own_schools" and camera.school_id not in user.schools:
        return Decision(False, f"{camera.name} is not in one of your buildings.", permanent=True)
    elif policy.scope == "outdoor" and camera.room_kind not in OUTDOOR_AREAS:
        return Decision(
            False, "Facilities staff see exterior and parking cameras only.", permanent=True
        )

    if not policy.needs_emergency_grant:
        return Decision(True, "Standing district access (audited).")
    active = [
        e for e in context.emergencies if e.school_id == camera.school_id and e.is_active(now)
    ]
    if not active:
        return Decision(False, "Live video is locked: no emergency is declared at this school.")
    # A grant opens a school to the one agency it names. Checked here, not only by
    # whoever builds the context, so no caller can forget it.
    grant = grant_in_force(context, camera.school_id, now, agency=user.agency, camera=camera)
    if grant is None:
        if grant_in_force(context, camera.school_id, now, agency=user.agency) is not None:
            return Decision(
                False,
                f"Live video is locked: the district's grant does not include {camera.name} "
                "(it covers other buildings or cameras of this school).",
            )
        return Decision(
            False,
            "Live video is locked: the district has not granted your agency access "
            "for this emergency.",
        )
    return Decision(True, "Emergency access granted.", grant)


def is_break_glass(emergency_type: EmergencyType) -> bool:
    return emergency_type in BREAK_GLASS


def may_approve(user: User) -> bool:
    policy = ROLE_POLICIES.get(user.role)
    return policy is not None and policy.may_approve


def is_police(user: User) -> bool:
    policy = ROLE_POLICIES.get(user.role)
    return policy is not None and policy.police


def may_declare(user: User, school_id: str) -> bool:
    """Police and district approvers may declare; a school admin only for their own schools.

    Facilities staff report to the safety office rather than declaring themselves.
    """
    if is_police(user) or may_approve(user):
        return True
    return user.role is Role.SCHOOL_ADMIN and school_id in user.schools


def declares_on_behalf(user: User) -> bool:
    """A district declarer asks for police access on an agency's behalf (the grant or the
    request names that agency); police always declare for their own."""
    return not is_police(user)


# The district's choice: a desk whose user watches police video during an active
# emergency does not lock for idleness (the dispatcher may be watching, not typing).
IDLE_LOCK_SUSPENDED_WHILE_WATCHING_AN_EMERGENCY = True


def idle_lock_due(
    idle: timedelta, limit: timedelta | None, watching_an_active_emergency: bool
) -> bool:
    """Whether a desk idle this long must lock now (``limit`` None: never)."""
    if limit is None or idle < limit:
        return False
    return not (watching_an_active_emergency and IDLE_LOCK_SUSPENDED_WHILE_WATCHING_AN_EMERGENCY)


# Who hears of an event on the live event stream (see district/events.py).
EVERYONE = "all"
DISTRICT_ONLY = "district"


def agency_audience(agency: str) -> str:
    """The audience of an event about one agency's request or grant."""
    return f"agency:{agency}"


def may_hear(user: User, audience: str) -> bool:
    """Whether the user's desk is told of an event meant for this audience.

    Police hear what /access would show them: every school's emergencies and camera
    states, and their own agency's requests and grants, but not who is watching what
    (viewing sessions are for the district's eyes). District roles hear everything.
    """
    if not is_police(user):
        return True
    return audience == EVERYONE or audience == agency_audience(user.agency)


class AccessAction(StrEnum):
    """What a district approver can do to one emergency's access."""

    APPROVE = "approve"
    APPROVE_SCOPED = "approve_scoped"  # approve some buildings or cameras, for a chosen time
    DENY = "deny"
    EXTEND = "extend"
    REVOKE = "revoke"
    END = "end"
    REVIEW = "review"  # record the review of a break-glass grant
    # Police of the grant's agency ask the district to extend it (the district decides).
    REQUEST_EXTENSION = "request_extension"


def may_request_extension(user: User, grant: Grant, now: datetime) -> bool:
    """Police may ask the district to extend their own agency's grant while it is in force.

    Asking is not extending: only an approver extends (``AccessAction.EXTEND``), so an
    agency cannot stretch its own access; it can only make sure the district hears it.
    """
    return is_police(user) and grant.agency == user.agency and grant.is_in_force(now)


def needs_review(grant: Grant) -> bool:
    """A break-glass grant the district has not reviewed yet."""
    return grant.break_glass and grant.reviewed_at is None


def access_actions(
    user: User,
    *,
    emergency_active: bool,
    grant_in_force: bool,
    request_pending: bool,
    grant_needs_review: bool = False,
) -> frozenset[AccessAction]:
    """The actions this user may take on one emergency now; none for anyone but approvers.

    The server checks the same rules again: this only decides which buttons a desk shows.
    """
    if not may_approve(user) or not emergency_active:
        return frozenset()
    actions = {AccessAction.END}
    if request_pending:
        actions |= {AccessAction.APPROVE, AccessAction.APPROVE_SCOPED, AccessAction.DENY}
    if grant_in_force:
        actions |= {AccessAction.EXTEND, AccessAction.REVOKE}
    if grant_needs_review:
        actions |= {AccessAction.REVIEW}
    return frozenset(actions)
