"""The district API's request and response models (they make the OpenAPI description),
and the functions that turn stored records into them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyType,
    EndReason,
    Grant,
    Role,
    RoomKind,
    User,
)
from dispatch_console.domain.session import utc_ms

from .account_store import UserRecord
from .audit_store import heartbeat_overdue
from .context import (
    MAX_DURATION_MS,
    MAX_EXTENSION_MINUTES,
)
from .emergency_store import SchoolHold
from .limits import (
    Id,
    Name,
    Otp,
    Secret,
    ThreatBasis,
    Timestamp,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------
# Wire models. Field names match the domain dataclasses; times are utc_ms strings. Every
# text a client sends has a maximum length and must be valid Unicode (limits.py).


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    agency: str
    role: Role
    schools: list[str]


class AccountOut(UserOut):
    """A user as a district approver manages it: lockout and disabling included."""

    locked_until: str | None = Field(description="Locked after failed sign-ins until then.")
    disabled: bool


class LoginIn(BaseModel):
    username: Name
    password: Secret
    otp: Otp = Field(description="The 6-digit code from the user's authenticator (RFC 6238).")
    remember: bool = Field(
        default=False,
        description="Also start a remembered sign-in (a refresh token), if the district "
        "allows it; see POST /auth/refresh.",
    )


class LoginOut(BaseModel):
    token: str
    expires_at: str
    user: UserOut
    refresh_token: str | None = Field(
        default=None,
        description="The remembered sign-in's refresh token, for the OS keyring only; "
        "null when not asked for or when the district does not allow remembering.",
    )
    refresh_expires_at: str | None = Field(
        default=None,
        description="When the remembered sign-in ends, however often it is refreshed.",
    )


class RefreshIn(BaseModel):
    refresh_token: Secret


class LocationIn(BaseModel):
    """Where the emergency is: a floor of the district's plans and a point on it."""

    floor_id: Id
    x: float = Field(description="Metres from the floor's left edge (plan frame, x right).")
    y: float = Field(description="Metres from the floor's top edge (plan frame, y down).")


class LocationOut(BaseModel):
    floor_id: str
    x: float
    y: float


class EmergencyOut(BaseModel):
    id: str
    school_id: str
    type: EmergencyType
    threat_basis: str
    declared_by: str
    declared_at: str
    ended_at: str | None
    location: LocationOut | None = Field(
        default=None, description="Where the declarer placed the emergency on the plan."
    )


class GrantOut(BaseModel):
    id: str
    emergency_id: str
    school_id: str
    agency: str
    granted_at: str
    expires_at: str
    approved_by: str
    break_glass: bool
    needs_review: bool
    revoked_at: str | None
    buildings: list[str] = Field(
        default_factory=list, description="Buildings in scope; with cameras empty too: all."
    )
    cameras: list[str] = Field(default_factory=list, description="Cameras in scope.")
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    review_note: str | None = None


class AccessRequestOut(BaseModel):
    id: str
    emergency_id: str
    school_id: str
    agency: str
    requested_by: str
    requested_at: str
    status: str = Field(description='"pending", "approved", "denied" or "cancelled".')
    decided_by: str | None = None
    decided_at: str | None = None
    decision_note: str = Field(default="", description="The approver's reason for a denial.")


class CameraProblemOut(BaseModel):
    """A camera a stream gateway cannot relay right now, in the gateway's own words."""

    camera_id: str
    reason: str


class HoldOut(BaseModel):
    """A school whose grant the district revoked: new grants there need an approver."""

    school_id: str
    grant_id: str = Field(description="The revoked grant that put the hold in place.")
    held_at: str
    held_by: str


class AccessOut(BaseModel):
    emergencies: list[EmergencyOut]
    grants: list[GrantOut]
    requests: list[AccessRequestOut] = Field(
        description="Pending access requests the caller may see (an addition for both desks)."
    )
    holds: list[HoldOut] = Field(
        default_factory=list,
        description="Schools where, after a revoke, every new grant waits for a district "
        "approver (no break-glass) until the district clears the hold.",
    )
    camera_problems: list[CameraProblemOut] = Field(
        default_factory=list,
        description="Cameras the stream gateways report offline, with their reason "
        "(unreachable, credentials refused, not video ...).",
    )


class DeclareIn(BaseModel):
    school_id: Id
    type: EmergencyType
    threat_basis: ThreatBasis = Field(
        description="Why access is needed; FERPA's emergency exception requires the record."
    )
    agency: Name | None = Field(
        default=None,
        description="District declarers only: the police agency to grant or request for. "
        "Police always declare for their own agency.",
    )
    location: LocationIn | None = Field(
        default=None,
        description="Optional: the spot on one of the school's floors, in plan metres; "
        "desks mark it and offer the cameras that see it.",
    )


class DeclareOut(BaseModel):
    emergency: EmergencyOut
    grant: GrantOut | None
    request: AccessRequestOut | None


class DecisionOut(BaseModel):
    request: AccessRequestOut
    grant: GrantOut | None


class ExtendIn(BaseModel):
    minutes: int = Field(ge=1, le=MAX_EXTENSION_MINUTES)


_ScopeId = Annotated[str, Field(min_length=1, max_length=128)]


class ApproveIn(BaseModel):
    """What the approver grants: the whole school unless buildings or cameras are named
    (a camera is covered if its building or itself is listed), for a chosen time."""

    minutes: int | None = Field(
        default=None, description="How long the grant lasts (5 to 720; default 60)."
    )
    buildings: list[_ScopeId] = Field(default_factory=list, max_length=100)
    cameras: list[_ScopeId] = Field(default_factory=list, max_length=1000)


class DenyIn(BaseModel):
    reason: str = Field(
        default="",
        max_length=1000,
        description="Why the district denies access; the requesting desk is told.",
    )


class ReviewIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="What the review found.")


Hash = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256, lowercase hex.")]


class ChainIn(BaseModel):
    """A record's place in its workstation's hash chain (``domain.audit_chain``): ``hash``
    covers the JSON body as sent, without this ``chain`` member."""

    chain: Id = Field(description="The workstation's chain id; a new local store starts one.")
    seq: int = Field(ge=1, le=2**53, description="1 for the chain's first record.")
    prev: Hash
    hash: Hash


class AuditStartIn(BaseModel):
    """What the console sends. The server keeps it as sent (``client_record``) but stores
    its own identity, registry, grant and threat basis, and checks the rest against them."""

    session_id: Id
    user_id: Id
    user_name: Name
    agency: Name
    role: Name
    workstation_id: Name
    app_version: Name
    camera_id: Id
    camera_name: Name
    school_id: Id
    school_name: Name
    building_id: Id
    building_name: Name
    floor_id: Id
    floor_name: Name
    emergency_id: Id | None
    grant_id: Id | None
    threat_basis: ThreatBasis
    started_at: Timestamp = Field(
        description="The client's start time: ISO 8601 with a zone (UTC, milliseconds)."
    )
    chain: ChainIn | None = None


class AuditEndIn(BaseModel):
    session_id: Id
    ended_at: Timestamp = Field(description="ISO 8601 with a zone, not before the start.")
    duration_ms: int | None = Field(ge=0, le=MAX_DURATION_MS)
    end_reason: EndReason
    chain: ChainIn | None = None


class GapIn(BaseModel):
    """A stretch with no new picture, within the session (the stream was lost and came
    back in the same session)."""

    model_config = {"populate_by_name": True}

    from_: Timestamp = Field(alias="from", description="The last picture before the loss.")
    to: Timestamp = Field(description="The first picture after it.")
    reason: Name = Field(description="Why the picture was lost, in the console's words.")


class HeartbeatIn(BaseModel):
    """The console still shows this session (sent every 15 s while it is open), and the
    picture gaps it had since the last heartbeat, if any."""

    session_id: Id
    at: Timestamp = Field(description="The console's time of the heartbeat (UTC, ms).")
    gaps: list[GapIn] | None = Field(default=None, max_length=100)
    chain: ChainIn | None = None


class AuditSessionOut(BaseModel):
    """A viewing session as the district stores it."""

    session_id: str
    user_id: str
    user_name: str = Field(description="From the district's account, not from the client.")
    agency: str
    role: str
    workstation_id: str = Field(description="As the console reported it.")
    app_version: str = Field(description="As the console reported it.")
    camera_id: str
    camera_name: str = Field(description="From the district's registry.")
    room_kind: RoomKind | None = Field(description="The kind of room the camera stands in.")
    school_id: str
    school_name: str
    building_id: str
    building_name: str
    floor_id: str
    floor_name: str
    emergency_id: str | None
    grant_id: str | None = Field(description="The grant the server found in force.")
    threat_basis: str = Field(description="From the grant's emergency, not from the client.")
    started_at: str = Field(description="The server's time when it received the start.")
    client_started_at: str | None = Field(
        description="The console's own start time, normalised to UTC milliseconds."
    )
    late: bool = Field(
        description="The start arrived long after the console's start time (an outage); "
        "no video could flow before the server received it."
    )
    ended_at: str | None = Field(description="The console's end time, normalised.")
    duration_ms: int | None
    end_reason: EndReason | None
    start_received_at: str
    end_received_at: str | None
    last_heartbeat_at: str | None = Field(
        default=None, description="The console's time of its last recorded heartbeat."
    )
    heartbeat_overdue: bool = Field(
        default=False,
        description="Open, and the console has not been heard from for 60 s.",
    )


class TicketIn(BaseModel):
    camera_id: Id
    session_id: Id
    stream: Literal["sub", "main"] = "sub"


class TicketOut(BaseModel):
    url: str
    expires_at: str


class AuditStartOut(AuditSessionOut):
    """The stored start, and the stream link when one was asked for (``?stream=``)."""

    stream_link: TicketOut | None = Field(
        default=None, description="The session's signed stream link, when asked and allowed."
    )
    stream_refusal: str | None = Field(
        default=None, description="Why no stream link was given, when one was asked for."
    )


class GatewayCheckIn(BaseModel):
    session_ids: list[Id] = Field(max_length=10_000)


class GatewayCut(BaseModel):
    session_id: str
    reason: str


class GatewayCheckOut(BaseModel):
    cut: list[GatewayCut]


class CameraStateIn(BaseModel):
    camera_id: Id
    stream: Literal["sub", "main"]
    state: Literal["idle", "connecting", "online", "offline"]
    reason: str | None = Field(default=None, max_length=1000)
    since: float
    container: Literal["ts", "mjpg"] | None = None


class GatewayStatusIn(BaseModel):
    statuses: list[CameraStateIn] = Field(max_length=10_000)


class RelayIn(BaseModel):
    relay_id: Id
    session_id: Id
    camera_id: Id
    stream: Literal["sub", "main"]
    started_at: Timestamp
    ended_at: Timestamp | None = None
    bytes: int = Field(ge=0, le=2**62)


class RelaysIn(BaseModel):
    """What a gateway relayed (or still relays), reconciled against reported sessions."""

    relays: list[RelayIn] = Field(max_length=10_000)


class FindingOut(BaseModel):
    id: int | None = Field(description="None for a live finding (it clears by itself).")
    at: str
    kind: str = Field(
        description="chain_gap, chain_fork, chain_altered, chain_new, unreported_stream, "
        "relay_camera_mismatch, streamed_after_end, heartbeat_overdue, review_due"
    )
    subject: str
    workstation_id: str | None
    detail: str
    live: bool


class WorkstationOut(BaseModel):
    workstation_id: str
    last_event_at: str | None
    links: int
    chains: int
    open_sessions: int
    overdue_sessions: int


class TimelineEntryOut(BaseModel):
    at: str
    kind: str
    seq: int | None
    detail: str


class HealthOut(BaseModel):
    status: str
    version: str


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        agency=user.agency,
        role=user.role,
        schools=sorted(user.schools),
    )


def account_out(record: UserRecord, now: datetime) -> AccountOut:
    locked = record.locked_until if record.locked_until and record.locked_until > now else None
    return AccountOut(
        **user_out(record.user).model_dump(),
        locked_until=iso_ms(locked),
        disabled=record.disabled_at is not None,
    )


def iso_ms(value: datetime | None) -> str | None:
    return None if value is None else utc_ms(value)


def emergency_out(e: Emergency) -> EmergencyOut:
    return EmergencyOut(
        id=e.id,
        school_id=e.school_id,
        type=e.type,
        threat_basis=e.threat_basis,
        declared_by=e.declared_by,
        declared_at=utc_ms(e.declared_at),
        ended_at=iso_ms(e.ended_at),
        location=(
            LocationOut(floor_id=e.location.floor_id, x=e.location.x, y=e.location.y)
            if e.location is not None
            else None
        ),
    )


def grant_out(g: Grant) -> GrantOut:
    return GrantOut(
        id=g.id,
        emergency_id=g.emergency_id,
        school_id=g.school_id,
        agency=g.agency,
        granted_at=utc_ms(g.granted_at),
        expires_at=utc_ms(g.expires_at),
        approved_by=g.approved_by,
        break_glass=g.break_glass,
        needs_review=g.needs_review,
        revoked_at=iso_ms(g.revoked_at),
        buildings=list(g.buildings),
        cameras=list(g.cameras),
        reviewed_by=g.reviewed_by,
        reviewed_at=iso_ms(g.reviewed_at),
        review_note=g.review_note,
    )


def request_out(r: AccessRequest) -> AccessRequestOut:
    return AccessRequestOut(
        id=r.id,
        emergency_id=r.emergency_id,
        school_id=r.school_id,
        agency=r.agency,
        requested_by=r.requested_by,
        requested_at=utc_ms(r.requested_at),
        status=r.status,
        decided_by=r.decided_by,
        decided_at=iso_ms(r.decided_at),
        decision_note=r.decision_note,
    )


def hold_out(h: SchoolHold) -> HoldOut:
    return HoldOut(
        school_id=h.school_id, grant_id=h.grant_id, held_at=utc_ms(h.held_at), held_by=h.held_by
    )


def session_out(row: dict[str, Any], now: datetime | None = None) -> AuditSessionOut:
    """The stored row; with ``now``, also whether its console has gone silent."""
    fields = {k: row.get(k) for k in AuditSessionOut.model_fields}
    fields["late"] = bool(row.get("late"))
    fields["heartbeat_overdue"] = now is not None and heartbeat_overdue(row, now)
    return AuditSessionOut.model_validate(fields)
