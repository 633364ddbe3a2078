"""The reference district API: the security boundary for police access to school cameras.

The console's locks are a convenience; this server is what actually decides. It signs a
stream link only when the viewing session's audit start is already stored ("no audit
record, no video") and the shared access policy (``dispatch_console.domain.policy``) allows
the viewer right now, and it tells its stream gateways to cut the stream the moment that
stops being true (``gateway_links``).

The audit record is the server's, not the client's: who (user, name, agency, role), which
camera (name, school, building, floor, room kind), which grant was in force and its
threat basis all come from the server's own tables, and ``started_at`` is the server's
receive time, with the client's time kept beside it. A field the client sends is checked
against that truth, never stored on trust.

Everything time-dependent reads one clock, ``ServerContext.clock``, so tests can move
time (expire grants, lift lockouts) without sleeping.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn
from urllib.parse import quote

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from dispatch_console import __version__
from dispatch_console.domain import stream_tokens
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Camera,
    District,
    Emergency,
    EmergencyType,
    EndReason,
    Grant,
    Role,
    RoomKind,
    User,
)
from dispatch_console.domain.policy import (
    DEFAULT_GRANT_DURATION,
    DISTRICT_ONLY,
    EVERYONE,
    GrantTermsError,
    agency_audience,
    can_view,
    grant_duration,
    grant_scope,
    is_break_glass,
    is_police,
    may_approve,
    scope_cameras,
)
from dispatch_console.domain.session import utc_ms
from dispatch_console.floorplan.loader import district_document, district_from_document

from . import auth
from .db import AuditStartRefused, Database, SchoolHold, Ticket, UserRecord
from .events import EventHub
from .gateway_links import GatewayLinks
from .limits import (
    CLOCK_SKEW,
    BadTime,
    BodyLimit,
    Id,
    Name,
    Otp,
    Secret,
    ThreatBasis,
    Timestamp,
    parse_client_time,
)
from .problems import (
    COMMON_ERRORS,
    Problem,
    install_problem_handlers,
    install_problem_openapi,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# A stream link opens streams for a minute (libVLC's retry, a reconnect); what keeps a
# stream going after that is the pushed cut and the gateway's lease, not the link.
TICKET_LIFETIME = timedelta(seconds=60)
# Streams whose session ended this recently are still checked (their cut may be pending).
RECENTLY_ENDED = timedelta(minutes=2)
MAX_EXTENSION_MINUTES = 240
BREAK_GLASS_APPROVER = "break-glass policy"
STANDING_ACCESS_BASIS = "Standing district access (audited)."
# A start whose client time is older than this by the server's clock was delivered late
# (after an outage); it needs the session's own evidence, and is flagged.
LATE_START = CLOCK_SKEW
# No outbox holds a record this long; older client times are not believable.
MAX_LATE_START = timedelta(days=366)
# How far the session id's UUIDv7 time may be from the client's start time.
ID_TIME_TOLERANCE = timedelta(seconds=1)
# Per user: a console opening every camera that covers a spot starts a dozen at once.
AUDIT_STARTS_PER_MINUTE = 60
MAX_OPEN_SESSIONS = 64
# The end's duration must agree with its own start and end times, to this tolerance.
DURATION_TOLERANCE_MS = 1000
MAX_DURATION_MS = 366 * 24 * 3600 * 1000
# Desks are told this long before a grant expires, so police can ask for more time.
GRANT_EXPIRY_NOTICE = timedelta(minutes=5)
# Expiries further back than this are not announced any more (a server down that long).
EXPIRED_NOTICE_WINDOW = timedelta(hours=1)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServerContext:
    """Everything the routes share. ``clock`` is replaceable so tests can move time."""

    db: Database
    district: District
    document: dict[str, Any]
    clock: Clock = system_clock
    version: str = __version__
    # The secret shared with the stream gateways (signs stream links); None: no video.
    gateway_secret: bytes | None = field(default=None, repr=False)
    # Camera id -> {"sub": url, "main": url}: the registry's stream sources. Only gateways
    # ever see them (they may name credentials-protected cameras).
    camera_sources: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    links: GatewayLinks = field(default_factory=lambda: GatewayLinks(dict), repr=False)
    events: EventHub | None = field(default=None, repr=False)
    throttle: auth.AddressThrottle = field(default_factory=auth.AddressThrottle)
    allow_totp_reuse: bool = False
    audit_starts_per_minute: int = AUDIT_STARTS_PER_MINUTE
    max_open_sessions: int = MAX_OPEN_SESSIONS

    def now(self) -> datetime:
        return self.clock()

    def announce(
        self, kind: str, audience: str, subject: str, data: dict[str, Any] | None = None
    ) -> None:
        """Tell the desks (see events.py); a failure to store it never fails the change."""
        if self.events is None:
            return
        try:
            self.events.publish(kind, audience, subject, data)
        except Exception:
            log.exception("could not store the %s event for %s", kind, subject)


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


class LoginOut(BaseModel):
    token: str
    expires_at: str
    user: UserOut


class EmergencyOut(BaseModel):
    id: str
    school_id: str
    type: EmergencyType
    threat_basis: str
    declared_by: str
    declared_at: str
    ended_at: str | None


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


class ReviewIn(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="What the review found.")


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


class AuditEndIn(BaseModel):
    session_id: Id
    ended_at: Timestamp = Field(description="ISO 8601 with a zone, not before the start.")
    duration_ms: int | None = Field(ge=0, le=MAX_DURATION_MS)
    end_reason: EndReason


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


class HealthOut(BaseModel):
    status: str
    version: str


def _user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        agency=user.agency,
        role=user.role,
        schools=sorted(user.schools),
    )


def _account_out(record: UserRecord, now: datetime) -> AccountOut:
    locked = record.locked_until if record.locked_until and record.locked_until > now else None
    return AccountOut(
        **_user_out(record.user).model_dump(),
        locked_until=_ms(locked),
        disabled=record.disabled_at is not None,
    )


def _ms(value: datetime | None) -> str | None:
    return None if value is None else utc_ms(value)


def _emergency_out(e: Emergency) -> EmergencyOut:
    return EmergencyOut(
        id=e.id,
        school_id=e.school_id,
        type=e.type,
        threat_basis=e.threat_basis,
        declared_by=e.declared_by,
        declared_at=utc_ms(e.declared_at),
        ended_at=_ms(e.ended_at),
    )


def _grant_out(g: Grant) -> GrantOut:
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
        revoked_at=_ms(g.revoked_at),
        buildings=list(g.buildings),
        cameras=list(g.cameras),
        reviewed_by=g.reviewed_by,
        reviewed_at=_ms(g.reviewed_at),
        review_note=g.review_note,
    )


def _request_out(r: AccessRequest) -> AccessRequestOut:
    return AccessRequestOut(
        id=r.id,
        emergency_id=r.emergency_id,
        school_id=r.school_id,
        agency=r.agency,
        requested_by=r.requested_by,
        requested_at=utc_ms(r.requested_at),
        status=r.status,
        decided_by=r.decided_by,
        decided_at=_ms(r.decided_at),
    )


def _hold_out(h: SchoolHold) -> HoldOut:
    return HoldOut(
        school_id=h.school_id, grant_id=h.grant_id, held_at=utc_ms(h.held_at), held_by=h.held_by
    )


def _session_out(row: dict[str, Any]) -> AuditSessionOut:
    fields = {k: row.get(k) for k in AuditSessionOut.model_fields}
    fields["late"] = bool(row.get("late"))
    return AuditSessionOut.model_validate(fields)


def _fail(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem} for code in codes}


def _uuid7_time(session_id: str) -> datetime | None:
    """The time inside a UUIDv7 session id (RFC 9562), or None for any other id."""
    try:
        value = uuid.UUID(session_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    try:
        return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------
# Access rules that belong to the server (the viewing rules live in domain.policy).


def may_declare(user: User, school_id: str) -> bool:
    """Police and district staff may declare; a school admin only for their own schools.

    Facilities staff report to the safety office rather than declaring themselves.
    """
    if is_police(user) or may_approve(user):
        return True
    return user.role is Role.SCHOOL_ADMIN and school_id in user.schools


def announce_grant(ctx: ServerContext, kind: str, grant: Grant) -> None:
    ctx.announce(
        kind,
        agency_audience(grant.agency),
        grant.id,
        {
            "school_id": grant.school_id,
            "emergency_id": grant.emergency_id,
            "expires_at": utc_ms(grant.expires_at),
        },
    )


class GrantClock:
    """Announces what no request does: a grant about to expire, and one that expired.

    Called by every event stream before it looks for events, at most once a second in
    all; each grant's notice is announced once (the stored events say whether it was).
    """

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._last = 0.0

    def tick(self) -> None:
        with self._lock:
            if time.monotonic() - self._last < 1.0:
                return
            self._last = time.monotonic()
            ctx, db = self._ctx, self._ctx.db
            now = ctx.now()
            for grant in in_force_grants(ctx, now):
                if grant.expires_at - now <= GRANT_EXPIRY_NOTICE and not db.has_event(
                    "grant.expiring", grant.id
                ):
                    announce_grant(ctx, "grant.expiring", grant)
            for grant in db.grants_expired_between(now - EXPIRED_NOTICE_WINDOW, now):
                if not db.has_event("grant.expired", grant.id):
                    announce_grant(ctx, "grant.expired", grant)


def in_force_grants(ctx: ServerContext, now: datetime, school_id: str | None = None) -> list[Grant]:
    """Grants unrevoked, unexpired, and whose emergency is still active."""
    grants = ctx.db.unexpired_grants(now, school_id)
    active = {e.id for e in ctx.db.open_emergencies(school_id) if e.is_active(now)}
    return [g for g in grants if g.emergency_id in active and g.is_in_force(now)]


def access_context(
    ctx: ServerContext, user: User, school_id: str | None, now: datetime
) -> AccessContext:
    """What the policy sees for this user: police see only their own agency's grants.

    The policy checks the agency itself too (``can_view``); filtering here also keeps
    other agencies' grants out of what police are shown.
    """
    emergencies = tuple(e for e in ctx.db.open_emergencies(school_id) if e.is_active(now))
    grants = tuple(
        g
        for g in ctx.db.unexpired_grants(now, school_id)
        if not is_police(user) or g.agency == user.agency
    )
    return AccessContext(emergencies, grants)


def stream_denial(ctx: ServerContext, ticket: Ticket) -> str | None:
    """Why this ticket holder may no longer watch, or None while they still may."""
    now = ctx.now()
    if not ctx.db.token_live(ticket.token_hash, now):
        return (
            "Your sign-in has ended (signed out, locked, disabled or expired); "
            "sign in again to watch."
        )
    user = ctx.db.user_by_id(ticket.user_id)
    if user is None:
        return "The account no longer exists."
    try:
        camera = ctx.district.camera(ticket.camera_id)
    except KeyError:
        return f"The camera {ticket.camera_id} is no longer in the district's registry."
    session = ctx.db.audit_session(ticket.session_id)
    if session is None or session["ended_at"] is not None:
        return "The viewing session has ended."
    decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
    if not decision.allowed:
        return decision.reason
    if decision.grant is not None and session["grant_id"] not in (None, decision.grant.id):
        return "The grant this viewing session was recorded under is no longer in force."
    return None


def streams_to_cut(ctx: ServerContext) -> list[tuple[str, str]]:
    """Every authorised stream whose viewer may no longer watch, with the reason."""
    now = ctx.now()
    cuts = []
    for ticket in ctx.db.stream_authorizations(now - RECENTLY_ENDED):
        reason = stream_denial(ctx, ticket)
        if reason is not None:
            cuts.append((ticket.session_id, reason))
    return cuts


def prewarm(ctx: ServerContext, grant: Grant) -> None:
    """Have the gateways connect the school's shareable cameras now, for the grant's life.

    Opening a camera takes one to two seconds; done at grant time, the dispatcher's first
    click is served from the gateway's cache.
    """
    cameras = [c.id for c in scope_cameras(ctx.district.school(grant.school_id), grant)]
    hold_s = max(0.0, (grant.expires_at - ctx.now()).total_seconds())
    ctx.links.prewarm(cameras, hold_s)


def sources_from_camsim(district: District, camsim_url: str) -> dict[str, dict[str, str]]:
    """Stream sources for the simulator's cameras: RTSP when it offers it, else HTTP-TS."""
    base = camsim_url.rstrip("/")
    sources: dict[str, dict[str, str]] = {}
    for camera in district.cameras():
        cam = quote(camera.id, safe="")
        if base.startswith(("rtsp://", "rtsps://")):
            sources[camera.id] = {
                "sub": f"{base}/cameras/{cam}",
                "main": f"{base}/cameras/{cam}/main",
            }
        else:
            sources[camera.id] = {
                "sub": f"{base}/cameras/{cam}.ts",
                "main": f"{base}/cameras/{cam}/main.ts",
            }
    return sources


def _registry_row(ctx: ServerContext, body: AuditStartIn) -> tuple[Camera, dict[str, Any]]:
    """The camera's registry facts for the audit record; 422 when the client's differ."""
    try:
        camera = ctx.district.camera(body.camera_id)
    except KeyError:
        _fail(422, f"There is no camera {body.camera_id!r} in the district's registry.")
    school = ctx.district.school(camera.school_id)
    building = school.building(camera.building_id)
    floor = school.floor(camera.floor_id)
    claimed = (body.school_id, body.building_id, body.floor_id)
    if claimed != (school.id, building.id, floor.id):
        _fail(
            422,
            f"The session's place does not match the registry: camera {camera.id} is at "
            f"{school.id} / {building.id} / {floor.id}, not {' / '.join(claimed)}. "
            "Reload the district's floor plans and open the camera again.",
        )
    return camera, {
        "camera_id": camera.id,
        "camera_name": camera.name,
        "room_kind": camera.room_kind.value,
        "school_id": school.id,
        "school_name": school.name,
        "building_id": building.id,
        "building_name": building.name,
        "floor_id": floor.id,
        "floor_name": floor.name,
    }


def _claimed_grant(ctx: ServerContext, user: User, camera: Camera, grant_id: str) -> Grant:
    """The grant the client names, if it can be this session's; 422 if it cannot."""
    grant = ctx.db.grant(grant_id)
    if grant is None:
        _fail(422, f"There is no grant {grant_id!r}; the session cannot be recorded under it.")
    if grant.school_id != camera.school_id or (is_police(user) and grant.agency != user.agency):
        _fail(
            422,
            f"Grant {grant_id} is for {grant.agency} at {grant.school_id}, so it does not "
            f"cover camera {camera.id} for you.",
        )
    return grant


def _check_client_start(
    session_id: str, client_start: datetime, now: datetime, claimed: Grant | None
) -> bool:
    """Whether the start is late; 422 when an old client time has nothing to back it.

    A start delivered late after an outage is legitimate: the console made it durable
    before asking for video and could not deliver it. No ticket can predate the server's
    receipt, so an old client time hides no video; but it must be the session's own time:
    the time-ordered (UUIDv7) session id carries the same moment, and a grant the session
    names existed by then.
    """
    if now - client_start <= LATE_START:
        return False
    if now - client_start > MAX_LATE_START:
        _fail(
            422,
            f"started_at {utc_ms(client_start)} is more than a year old; the district does "
            "not accept a session start that old.",
        )
    id_time = _uuid7_time(session_id)
    if id_time is None or abs(id_time - client_start) > ID_TIME_TOLERANCE:
        _fail(
            422,
            f"started_at {utc_ms(client_start)} is older than the district's clock allows "
            "for a fresh start, and the session id does not carry the same time: a start "
            "delivered late must keep the time-ordered (UUIDv7) id made when it began.",
        )
    if claimed is not None and client_start < claimed.granted_at - CLOCK_SKEW:
        _fail(
            422,
            f"started_at {utc_ms(client_start)} is before grant {claimed.id} existed.",
        )
    return True


def _client_record(body: AuditStartIn) -> str:
    """The start exactly as the client sent it, for replays and for the record."""
    return json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


# ---------------------------------------------------------------------------------------
# Dependencies (module level, so FastAPI can resolve their annotations).

bearer = HTTPBearer(auto_error=False, description="The token from POST /auth/login.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def request_context(request: Request) -> ServerContext:
    return app_context(request.app)


def current_user(request: Request, credentials: Credentials) -> User:
    """The signed-in caller; 401 with a sentence saying what to do otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "Sign in first: this request needs a bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    ctx = request_context(request)
    try:
        user = auth.user_for_token(ctx.db, credentials.credentials, ctx.now())
    except UnicodeEncodeError:
        user = None
    if user is None:
        raise HTTPException(
            401,
            "Your sign-in has expired or is not valid; sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]
# An id in the path, bounded like the ids in bodies.
PathId = Annotated[str, PathParam(min_length=1, max_length=128)]


def approver(user: CurrentUser) -> User:
    """The caller, if the policy lets their role approve, revoke and end."""
    if not may_approve(user):
        _fail(403, "Only district approvers may do this.")
    return user


Approver = Annotated[User, Depends(approver)]


def create_app(
    *,
    db: Database,
    floorplans_dir: Path | str,
    camsim_url: str | None = None,
    camera_sources: dict[str, dict[str, str]] | None = None,
    gateway_secret: bytes | None = None,
    clock: Clock = system_clock,
    sign_in_failures_per_address: int = auth.ADDRESS_FAILURES,
    allow_totp_reuse: bool = False,
    audit_starts_per_minute: int = AUDIT_STARTS_PER_MINUTE,
) -> FastAPI:
    """Build the district API. Raises FloorPlanError if the floor plans are not valid.

    The floor plans are validated once here so a broken district file stops the server at
    start-up with every problem listed, instead of failing later during an emergency.
    Stream sources come from ``camera_sources`` (the registry's), else from the camera
    simulator at ``camsim_url``. Without ``gateway_secret`` no gateway can connect and no
    stream links are issued.
    ``allow_totp_reuse`` is for the test suite's shared server only (see auth.sign_in).
    """
    document = district_document(floorplans_dir)
    district = district_from_document(document)
    for warning in district.warnings:
        log.warning("floor plans: %s", warning)
    if allow_totp_reuse:
        log.warning("one-time codes may be reused: a test-suite setting, never for real use")
    ctx = ServerContext(
        db=db,
        district=district,
        document=document,
        clock=clock,
        gateway_secret=gateway_secret,
        throttle=auth.AddressThrottle(limit=sign_in_failures_per_address),
        allow_totp_reuse=allow_totp_reuse,
        audit_starts_per_minute=audit_starts_per_minute,
    )
    if camera_sources is not None:
        ctx.camera_sources = camera_sources
    elif camsim_url:
        ctx.camera_sources = sources_from_camsim(district, camsim_url)
    ctx.links = GatewayLinks(lambda: ctx.camera_sources)
    ctx.events = EventHub(db, ctx.now)
    db.purge_expired_tokens(ctx.now())

    app = FastAPI(
        title="Dispatch Console — district API",
        version=__version__,
        description="Emergency-only police access to school cameras: accounts, emergencies, "
        "access requests and grants, viewing-session audit, and the stream gateway. "
        "Every error is an RFC 9457 problem document (application/problem+json).",
        responses=COMMON_ERRORS,
    )
    app.state.ctx = ctx
    app.add_middleware(BodyLimit)
    install_problem_handlers(app)

    @app.middleware("http")
    async def reevaluate_after_changes(request: Request, call_next: Any) -> Any:
        # Any change (revoke, end, sign-out, session end ...) may end someone's access:
        # the gateways hear about it now, not at the next periodic evaluation.
        response = await call_next(request)
        if request.method != "GET":
            ctx.links.poke()
        return response

    # -- accounts ----------------------------------------------------------------------

    @app.post(
        f"{API_PREFIX}/auth/login",
        summary="Sign in with password and one-time code",
        response_model=LoginOut,
        responses={
            **_errors(401, 423),
            429: {
                "model": Problem,
                "description": "Too many failed sign-ins from this address; see Retry-After.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            },
        },
    )
    def login(body: LoginIn, request: Request) -> LoginOut:
        now = ctx.now()
        address = request.client.host if request.client else "unknown"
        try:
            attempt = ctx.throttle.reserve(address, now)
        except auth.TooManyAttempts as exc:
            _fail(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
        try:
            result = auth.sign_in(
                db,
                body.username,
                body.password,
                body.otp,
                now,
                allow_totp_reuse=ctx.allow_totp_reuse,
            )
        except auth.AccountLocked as exc:
            log.warning("sign-in refused: account locked (from %s)", address)
            _fail(423, str(exc))
        except auth.SignInFailed as exc:
            _fail(401, str(exc))
        ctx.throttle.release(address, attempt)
        return LoginOut(
            token=result.token, expires_at=utc_ms(result.expires_at), user=_user_out(result.user)
        )

    @app.post(
        f"{API_PREFIX}/auth/logout",
        summary="End this sign-in: its token, unused stream tickets and open streams",
        status_code=204,
        responses=_errors(401),
    )
    def logout(user: CurrentUser, credentials: Credentials) -> Response:
        if credentials is not None:
            auth.sign_out(db, credentials.credentials)
        return Response(status_code=204)

    @app.get(
        f"{API_PREFIX}/auth/me",
        summary="Who this token belongs to",
        response_model=UserOut,
        responses=_errors(401),
    )
    def me(user: CurrentUser) -> UserOut:
        return _user_out(user)

    @app.get(
        f"{API_PREFIX}/users",
        summary="Accounts with their lockout state (district approvers)",
        response_model=list[AccountOut],
        responses=_errors(401, 403),
    )
    def users(user: Approver) -> list[AccountOut]:
        now = ctx.now()
        return [_account_out(r, now) for r in db.user_records()]

    def _account(user_id: str) -> UserRecord:
        record = db.user_record_by_id(user_id)
        if record is None:
            _fail(404, f"There is no account {user_id!r}.")
        return record

    @app.post(
        f"{API_PREFIX}/users/{{user_id}}/unlock",
        summary="Lift a lockout after failed sign-ins now (district approvers)",
        response_model=AccountOut,
        responses=_errors(401, 403, 404),
    )
    def unlock(user_id: PathId, user: Approver) -> AccountOut:
        target = _account(user_id)
        db.unlock_user(user_id)
        db.record_admin_action(ctx.now(), user.display_name, "user.unlock", target.user.username)
        log.info("account %s unlocked by %s", user_id, user.username)
        return _account_out(_account(user_id), ctx.now())

    @app.post(
        f"{API_PREFIX}/users/{{user_id}}/disable",
        summary="Disable an account: its sign-ins, tickets and streams end now",
        response_model=AccountOut,
        responses=_errors(401, 403, 404, 409),
    )
    def disable(user_id: PathId, user: Approver) -> AccountOut:
        target = _account(user_id)
        if user_id == user.id:
            _fail(409, "You cannot disable your own account; ask another approver.")
        db.set_disabled(user_id, ctx.now())
        db.record_admin_action(ctx.now(), user.display_name, "user.disable", target.user.username)
        log.info("account %s disabled by %s", user_id, user.username)
        return _account_out(_account(user_id), ctx.now())

    @app.post(
        f"{API_PREFIX}/users/{{user_id}}/enable",
        summary="Enable a disabled account again (district approvers)",
        response_model=AccountOut,
        responses=_errors(401, 403, 404),
    )
    def enable(user_id: PathId, user: Approver) -> AccountOut:
        target = _account(user_id)
        db.set_disabled(user_id, None)
        db.record_admin_action(ctx.now(), user.display_name, "user.enable", target.user.username)
        log.info("account %s enabled by %s", user_id, user.username)
        return _account_out(_account(user_id), ctx.now())

    # -- registry ------------------------------------------------------------------------

    @app.get(
        f"{API_PREFIX}/district",
        summary="The district's schools, floor plans and cameras",
        response_model=dict[str, Any],
        responses=_errors(401),
    )
    def get_district(user: CurrentUser) -> dict[str, Any]:
        return ctx.document

    @app.get(f"{API_PREFIX}/health", summary="Liveness and version", response_model=HealthOut)
    def health() -> HealthOut:
        return HealthOut(status="ok", version=ctx.version)

    # -- emergencies, requests and grants ------------------------------------------------

    @app.get(
        f"{API_PREFIX}/access",
        summary="Active emergencies and the grants in force for the caller",
        response_model=AccessOut,
        responses=_errors(401),
    )
    def get_access(user: CurrentUser) -> AccessOut:
        now = ctx.now()
        police = is_police(user)
        emergencies = [e for e in db.open_emergencies() if e.is_active(now)]
        grants = [g for g in in_force_grants(ctx, now) if not police or g.agency == user.agency]
        requests = [r for r in db.pending_requests() if not police or r.agency == user.agency]
        return AccessOut(
            emergencies=[_emergency_out(e) for e in emergencies],
            grants=[_grant_out(g) for g in grants],
            requests=[_request_out(r) for r in requests],
            holds=[_hold_out(h) for h in db.school_holds()],
            camera_problems=[
                CameraProblemOut(camera_id=camera_id, reason=state["reason"] or "offline")
                for camera_id, state in sorted(ctx.links.camera_states.items())
                if state.get("state") == "offline"
            ],
        )

    @app.post(
        f"{API_PREFIX}/emergencies",
        summary="Declare an emergency at a school",
        status_code=201,
        response_model=DeclareOut,
        responses=_errors(401, 403, 404, 422),
    )
    def declare(body: DeclareIn, user: CurrentUser) -> DeclareOut:
        threat_basis = body.threat_basis.strip()
        if not threat_basis:
            _fail(
                422,
                "State the threat basis: the district must record why access is needed "
                "(FERPA emergency exception).",
            )
        try:
            ctx.district.school(body.school_id)
        except KeyError:
            _fail(404, f"There is no school {body.school_id!r} in this district.")
        if not may_declare(user, body.school_id):
            _fail(403, "Your role may not declare emergencies at this school.")
        agency = user.agency
        if body.agency is not None and body.agency.strip() and body.agency.strip() != agency:
            if is_police(user):
                _fail(403, "Police may request access for their own agency only.")
            agency = body.agency.strip()
        now = ctx.now()
        emergency = Emergency(
            id=_new_id("em"),
            school_id=body.school_id,
            type=body.type,
            threat_basis=threat_basis,
            declared_by=user.display_name,
            declared_at=now,
        )
        grant: Grant | None = None
        request: AccessRequest | None = None
        # After a revoke, the school waits for a district approver until the district
        # clears the hold: declaring again must not hand out a new break-glass grant.
        held = db.school_hold(body.school_id) is not None
        if is_break_glass(body.type) and not held:
            grant = Grant(
                id=_new_id("gr"),
                emergency_id=emergency.id,
                school_id=emergency.school_id,
                agency=agency,
                granted_at=now,
                expires_at=now + DEFAULT_GRANT_DURATION,
                approved_by=BREAK_GLASS_APPROVER,
                break_glass=True,
                needs_review=True,
            )
        else:
            request = AccessRequest(
                id=_new_id("rq"),
                emergency_id=emergency.id,
                school_id=emergency.school_id,
                agency=agency,
                requested_by=user.display_name,
                requested_at=now,
                status="pending",
            )
        db.insert_emergency(emergency, grant, request)
        ctx.announce(
            "emergency.declared",
            EVERYONE,
            emergency.id,
            {"school_id": emergency.school_id, "type": emergency.type.value},
        )
        if grant is not None:
            announce_grant(ctx, "grant.issued", grant)
            prewarm(ctx, grant)
        if request is not None:
            ctx.announce(
                "request.pending",
                agency_audience(request.agency),
                request.id,
                {"school_id": request.school_id, "emergency_id": emergency.id},
            )
        log.info(
            "emergency %s declared at %s (%s) by %s%s",
            emergency.id,
            emergency.school_id,
            emergency.type.value,
            user.username,
            " (school on hold: request for an approver)" if held else "",
        )
        return DeclareOut(
            emergency=_emergency_out(emergency),
            grant=_grant_out(grant) if grant else None,
            request=_request_out(request) if request else None,
        )

    @app.post(
        f"{API_PREFIX}/emergencies/{{emergency_id}}/end",
        summary="End an emergency (its grants end with it)",
        response_model=EmergencyOut,
        responses=_errors(401, 403, 404),
    )
    def end_emergency(emergency_id: PathId, user: Approver) -> EmergencyOut:
        ended = db.end_emergency(emergency_id, ctx.now())
        if ended is None:
            _fail(404, f"There is no emergency {emergency_id!r}.")
        ctx.announce("emergency.ended", EVERYONE, ended.id, {"school_id": ended.school_id})
        return _emergency_out(ended)

    def _decide(
        request_id: str, user: User, approve: bool, terms: ApproveIn | None = None
    ) -> DecisionOut:
        now = ctx.now()
        pending = db.access_request(request_id)
        if pending is None:
            _fail(404, f"There is no access request {request_id!r}.")
        if pending.status != "pending":
            _fail(409, f"This access request has already been {pending.status}.")
        grant: Grant | None = None
        if approve:
            emergency = db.emergency(pending.emergency_id)
            if emergency is None or not emergency.is_active(now):
                _fail(409, "The emergency has ended, so there is nothing left to grant.")
            terms = terms or ApproveIn()
            try:
                duration = grant_duration(terms.minutes)
                buildings, cameras = grant_scope(
                    ctx.district.school(pending.school_id), terms.buildings, terms.cameras
                )
            except GrantTermsError as exc:
                _fail(422, str(exc))
            grant = Grant(
                id=_new_id("gr"),
                emergency_id=pending.emergency_id,
                school_id=pending.school_id,
                agency=pending.agency,
                granted_at=now,
                expires_at=now + duration,
                approved_by=user.display_name,
                buildings=buildings,
                cameras=cameras,
            )
        decided = db.decide_request(
            request_id, "approved" if approve else "denied", user.display_name, now, grant
        )
        if decided is None:
            _fail(409, "This access request was decided by someone else a moment ago.")
        ctx.announce(
            f"request.{decided.status}",
            agency_audience(decided.agency),
            decided.id,
            {"school_id": decided.school_id, "emergency_id": decided.emergency_id},
        )
        if grant is not None:
            announce_grant(ctx, "grant.issued", grant)
            prewarm(ctx, grant)
        return DecisionOut(
            request=_request_out(decided), grant=_grant_out(grant) if grant else None
        )

    @app.post(
        f"{API_PREFIX}/requests/{{request_id}}/approve",
        summary="Approve a police access request: a grant for the whole school or the "
        "buildings and cameras named, for the minutes chosen (default 60)",
        response_model=DecisionOut,
        responses=_errors(401, 403, 404, 409, 422),
    )
    def approve(request_id: PathId, user: Approver, body: ApproveIn | None = None) -> DecisionOut:
        return _decide(request_id, user, approve=True, terms=body)

    @app.post(
        f"{API_PREFIX}/requests/{{request_id}}/deny",
        summary="Deny a police access request",
        response_model=DecisionOut,
        responses=_errors(401, 403, 404, 409),
    )
    def deny(request_id: PathId, user: Approver) -> DecisionOut:
        return _decide(request_id, user, approve=False)

    @app.post(
        f"{API_PREFIX}/grants/{{grant_id}}/revoke",
        summary="Revoke a grant now (open streams close within a second); the school then "
        "waits for a district approver until cleared",
        response_model=GrantOut,
        responses=_errors(401, 403, 404),
    )
    def revoke(grant_id: PathId, user: Approver) -> GrantOut:
        grant = db.revoke_grant(grant_id, ctx.now(), user.display_name)
        if grant is None:
            _fail(404, f"There is no grant {grant_id!r}.")
        log.info("grant %s revoked by %s; %s on hold", grant.id, user.username, grant.school_id)
        announce_grant(ctx, "grant.revoked", grant)
        ctx.announce("school.held", EVERYONE, grant.school_id, {"grant_id": grant.id})
        return _grant_out(grant)

    @app.post(
        f"{API_PREFIX}/schools/{{school_id}}/clear",
        summary="Clear a school's hold after a revoke: break-glass grants work there again",
        response_model=AccessOut,
        responses=_errors(401, 403, 404, 409),
    )
    def clear_hold(school_id: PathId, user: Approver) -> AccessOut:
        try:
            ctx.district.school(school_id)
        except KeyError:
            _fail(404, f"There is no school {school_id!r} in this district.")
        if not db.clear_hold(school_id, ctx.now(), user.display_name):
            _fail(409, f"{school_id} is not on hold; there is nothing to clear.")
        log.info("hold on %s cleared by %s", school_id, user.username)
        ctx.announce("school.hold_cleared", EVERYONE, school_id)
        return get_access(user)

    @app.post(
        f"{API_PREFIX}/grants/{{grant_id}}/review",
        summary="Record the district's review of a break-glass grant (who, when, a note)",
        response_model=GrantOut,
        responses=_errors(401, 403, 404, 409, 422),
    )
    def review(grant_id: PathId, body: ReviewIn, user: Approver) -> GrantOut:
        note = body.note.strip()
        if not note:
            _fail(422, "Write what the review found: the note is the district's record.")
        grant = db.grant(grant_id)
        if grant is None:
            _fail(404, f"There is no grant {grant_id!r}.")
        if not grant.break_glass:
            _fail(409, "Only break-glass grants wait for review; an approver issued this one.")
        if grant.reviewed_at is not None:
            _fail(
                409,
                f"This grant was reviewed by {grant.reviewed_by} at "
                f"{utc_ms(grant.reviewed_at)}; that review stands.",
            )
        reviewed = db.review_grant(grant_id, user.display_name, ctx.now(), note)
        assert reviewed is not None
        if reviewed.reviewed_by != user.display_name:
            _fail(409, f"This grant was reviewed by {reviewed.reviewed_by} a moment ago.")
        log.info("break-glass grant %s reviewed by %s", grant_id, user.username)
        ctx.announce("grant.reviewed", DISTRICT_ONLY, grant_id, {"school_id": grant.school_id})
        return _grant_out(reviewed)

    @app.get(
        f"{API_PREFIX}/grants/to-review",
        summary="Break-glass grants the district has not reviewed yet, oldest first",
        response_model=list[GrantOut],
        responses=_errors(401, 403),
    )
    def to_review(user: Approver) -> list[GrantOut]:
        return [_grant_out(g) for g in db.grants_to_review()]

    @app.post(
        f"{API_PREFIX}/grants/{{grant_id}}/extend",
        summary="Extend a grant in force by some minutes",
        response_model=GrantOut,
        responses=_errors(401, 403, 404, 409),
    )
    def extend(grant_id: PathId, body: ExtendIn, user: Approver) -> GrantOut:
        now = ctx.now()
        grant = db.grant(grant_id)
        if grant is None:
            _fail(404, f"There is no grant {grant_id!r}.")
        if grant.id not in {g.id for g in in_force_grants(ctx, now, grant.school_id)}:
            _fail(409, "This grant is no longer in force; approve a new request instead.")
        grant = replace(grant, expires_at=grant.expires_at + timedelta(minutes=body.minutes))
        db.save_grant(grant)
        announce_grant(ctx, "grant.extended", grant)
        return _grant_out(grant)

    # -- audit ---------------------------------------------------------------------------

    @app.put(
        f"{API_PREFIX}/audit/sessions/{{session_id}}/start",
        summary="Record the start of a viewing session (idempotent); with ?stream=, also "
        "get its signed stream link in the same answer",
        status_code=201,
        response_model=AuditStartOut,
        responses={
            200: {"model": AuditStartOut, "description": "Already recorded (a replay)."},
            **_errors(401, 403, 409, 422),
            429: {
                "model": Problem,
                "description": "Too many session starts for this user; see Retry-After.",
                "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            },
        },
    )
    def audit_start(
        session_id: PathId,
        body: AuditStartIn,
        user: CurrentUser,
        credentials: Credentials,
        response: Response,
        stream: Annotated[Literal["sub", "main"] | None, Query()] = None,
    ) -> AuditStartOut:
        """The start is recorded first; a link comes only for a recorded start, and a
        refused link never undoes the record (the refusal is in the answer instead)."""
        stored = _record_start(session_id, body, user, response)
        answer = AuditStartOut(**stored.model_dump())
        if stream is not None:
            assert credentials is not None  # current_user checked it
            try:
                answer.stream_link = issue_stream_link(
                    user, credentials.credentials, body.camera_id, session_id, stream
                )
            except HTTPException as exc:
                answer.stream_refusal = str(exc.detail)
        return answer

    def _record_start(
        session_id: str, body: AuditStartIn, user: User, response: Response
    ) -> AuditSessionOut:
        now = ctx.now()
        if body.session_id != session_id:
            _fail(422, "The session id in the path and in the record differ.")
        if body.user_id != user.id:
            _fail(403, "A viewing session can only be recorded by the user it belongs to.")
        try:
            client_start = parse_client_time(body.started_at, "started_at", now)
        except BadTime as exc:
            _fail(422, str(exc))
        client_record = _client_record(body)
        existing = db.audit_session(session_id)
        if existing is not None:
            # A replay is judged on what the client sent: the server's own fields (its
            # receive time, the grant then in force) would differ by now.
            if existing["client_record"] != client_record:
                _fail(
                    409,
                    f"Viewing session {session_id} is already recorded with different "
                    "content; the stored record is kept.",
                )
            response.status_code = 200
            return _session_out(existing)
        camera, registry = _registry_row(ctx, body)
        claimed = _claimed_grant(ctx, user, camera, body.grant_id) if body.grant_id else None
        if body.emergency_id is not None:
            claimed_emergency = db.emergency(body.emergency_id)
            if claimed_emergency is None or claimed_emergency.school_id != camera.school_id:
                _fail(
                    422,
                    f"Emergency {body.emergency_id!r} is not an emergency at {camera.school_id}.",
                )
        late = _check_client_start(session_id, client_start, now, claimed)
        decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
        grant = decision.grant
        if (
            grant is None
            and late
            and claimed is not None
            and claimed.granted_at - CLOCK_SKEW <= client_start < claimed.expires_at
        ):
            # The outage outlasted the grant: record the grant the console was under.
            grant = claimed
        emergency = db.emergency(grant.emergency_id) if grant is not None else None
        if emergency is None and not is_police(user):
            emergency = next(
                (e for e in db.open_emergencies(camera.school_id) if e.is_active(now)), None
            )
        if emergency is not None:
            threat_basis = emergency.threat_basis
        elif decision.allowed:
            threat_basis = STANDING_ACCESS_BASIS
        else:
            threat_basis = f"No access was in force when the session started: {decision.reason}"
        record = {
            "session_id": session_id,
            "user_id": user.id,
            "user_name": user.display_name,
            "agency": user.agency,
            "role": user.role.value,
            "workstation_id": body.workstation_id,
            "app_version": body.app_version,
            **registry,
            "emergency_id": emergency.id if emergency is not None else None,
            "grant_id": grant.id if grant is not None else None,
            "threat_basis": threat_basis,
            "started_at": utc_ms(now),
            "client_started_at": utc_ms(client_start),
            "late": int(late),
            "client_record": client_record,
        }
        try:
            outcome, stored = db.record_audit_start(
                record,
                now,
                per_minute=ctx.audit_starts_per_minute,
                max_open=ctx.max_open_sessions,
            )
        except AuditStartRefused as exc:
            _fail(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
        if outcome == "conflict":
            _fail(
                409,
                f"Viewing session {session_id} is already recorded with different content; "
                "the stored record is kept.",
            )
        if outcome == "replayed":
            response.status_code = 200
            return _session_out(stored)
        if late:
            log.info("late audit start %s (client time %s)", session_id, utc_ms(client_start))
        ctx.announce(
            "viewing.started",
            DISTRICT_ONLY,
            session_id,
            {"camera_id": camera.id, "school_id": camera.school_id, "agency": user.agency},
        )
        return _session_out(stored)

    @app.put(
        f"{API_PREFIX}/audit/sessions/{{session_id}}/end",
        summary="Record the end of a viewing session (first end wins)",
        response_model=AuditSessionOut,
        responses=_errors(401, 403, 404, 422),
    )
    def audit_end(
        session_id: PathId,
        body: AuditEndIn,
        user: CurrentUser,
    ) -> AuditSessionOut:
        now = ctx.now()
        if body.session_id != session_id:
            _fail(422, "The session id in the path and in the record differ.")
        try:
            ended = parse_client_time(body.ended_at, "ended_at", now)
        except BadTime as exc:
            _fail(422, str(exc))
        existing = db.audit_session(session_id)
        if existing is None:
            _fail(
                404,
                f"Viewing session {session_id} has no recorded start yet; "
                "send the start first and retry the end.",
            )
        if existing["user_id"] != user.id and not may_approve(user):
            _fail(403, "A viewing session can only be ended by the user it belongs to.")
        if existing["ended_at"] is not None:
            return _session_out(existing)  # the first end wins; a replay changes nothing
        started_text = existing["client_started_at"] or existing["started_at"]
        started = datetime.fromisoformat(started_text.replace("Z", "+00:00"))
        if ended < started:
            _fail(
                422,
                f"ended_at {utc_ms(ended)} is before the session's start {started_text}.",
            )
        duration_ms = round((ended - started).total_seconds() * 1000)
        if body.duration_ms is not None and abs(body.duration_ms - duration_ms) > (
            DURATION_TOLERANCE_MS
        ):
            _fail(
                422,
                f"duration_ms {body.duration_ms} does not match the session's start and end "
                f"({duration_ms} ms apart).",
            )
        stored = db.record_audit_end(
            session_id, utc_ms(ended), duration_ms, body.end_reason.value, now
        )
        if stored is None:  # pragma: no cover - the start cannot vanish
            _fail(404, f"Viewing session {session_id} has no recorded start.")
        ctx.announce(
            "viewing.ended",
            DISTRICT_ONLY,
            session_id,
            {"camera_id": stored["camera_id"], "end_reason": body.end_reason.value},
        )
        return _session_out(stored)

    @app.get(
        f"{API_PREFIX}/audit/sessions",
        summary="Viewing sessions by the server's start time, newest first; open ones always "
        "listed (approvers see everyone's)",
        response_model=list[AuditSessionOut],
        responses=_errors(401),
    )
    def audit_list(
        user: CurrentUser,
        active: Annotated[bool | None, Query(description="Only open (true) or ended (false).")] = (
            None
        ),
        limit: Annotated[
            int,
            Query(
                ge=1,
                le=1000,
                description="How many ended sessions at most; open ones are always all listed.",
            ),
        ] = 100,
    ) -> list[AuditSessionOut]:
        rows = db.audit_sessions(
            user_id=None if may_approve(user) else user.id, active=active, limit=limit
        )
        return [_session_out(r) for r in rows]

    # -- streams -------------------------------------------------------------------------

    def issue_stream_link(
        user: User, sign_in_token: str, camera_id: str, session_id: str, stream: str
    ) -> TicketOut:
        """A signed stream link for a recorded session the policy allows now; 4xx/503 else.

        The audit start (with ``?stream=``) and the stream-link endpoint both use it.
        """
        now = ctx.now()
        try:
            camera: Camera = ctx.district.camera(camera_id)
        except KeyError:
            _fail(404, f"There is no camera {camera_id!r} in this district.")
        session = db.audit_session(session_id)
        if session is None or session["user_id"] != user.id or session["camera_id"] != camera.id:
            _fail(
                409,
                "No audit record, no video: record the start of viewing session "
                f"{session_id} for camera {camera.id} before asking for its stream.",
            )
        if session["ended_at"] is not None:
            _fail(
                409,
                f"Viewing session {session_id} has already ended; "
                "start a new session to watch again.",
            )
        decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
        if not decision.allowed:
            _fail(403, decision.reason)
        grant = decision.grant
        if grant is not None:
            if session["grant_id"] is None:
                emergency = db.emergency(grant.emergency_id)
                db.bind_session_grant(
                    session_id,
                    grant.id,
                    grant.emergency_id,
                    emergency.threat_basis if emergency else "",
                )
            elif session["grant_id"] != grant.id:
                _fail(
                    409,
                    f"Viewing session {session_id} was recorded under grant "
                    f"{session['grant_id']}, which is no longer in force; start a new "
                    "session to watch under the current grant.",
                )
        if ctx.gateway_secret is None:
            _fail(503, "This district server relays no video: it has no gateway secret.")
        base = ctx.links.gateway_for(camera.school_id)
        if base is None:
            _fail(
                503,
                f"No stream gateway serving {camera.school_id} is connected to the district "
                "server right now, so video cannot be relayed. Tell the district's IT.",
            )
        expires_at = now + TICKET_LIFETIME
        grant_until = grant.expires_at if grant is not None else None
        token = stream_tokens.sign(
            stream_tokens.signing_key(ctx.gateway_secret),
            stream_tokens.StreamClaims(
                user_id=user.id,
                camera_id=camera.id,
                session_id=session_id,
                grant_id=grant.id if grant is not None else None,
                stream=stream,
                expires_at=expires_at.timestamp(),
                grant_until=grant_until.timestamp() if grant_until else None,
            ),
        )
        # The stream's authorisation, kept so the server can tell the gateways when it
        # ends (sign-in ended, grant revoked ...): see streams_to_cut.
        db.insert_ticket(
            auth.token_hash(token),
            user_id=user.id,
            camera_id=camera.id,
            session_id=session_id,
            issued_at=now,
            expires_at=expires_at,
            token_hash=auth.token_hash(sign_in_token),
        )
        container = ctx.links.container_of(camera.id, stream)
        url = f"{base}/streams/{quote(camera.id, safe='')}/{stream}.{container}?token={token}"
        return TicketOut(url=url, expires_at=utc_ms(expires_at))

    @app.post(
        f"{API_PREFIX}/streams/tickets",
        summary="Get a signed, one-minute stream link for a recorded viewing session; it "
        "opens one stream at a time at a gateway serving the camera's school",
        response_model=TicketOut,
        responses=_errors(401, 403, 404, 409, 503),
    )
    def ticket(body: TicketIn, user: CurrentUser, credentials: Credentials) -> TicketOut:
        assert credentials is not None  # current_user checked it
        return issue_stream_link(
            user, credentials.credentials, body.camera_id, body.session_id, body.stream
        )

    # -- gateways ------------------------------------------------------------------------

    def gateway_link(request: Request) -> None:
        """Only a gateway holding the shared secret may use the link endpoints."""
        if ctx.gateway_secret is None:
            _fail(503, "This district server has no gateway secret configured.")
        header = request.headers.get("authorization", "")
        expected = f"Bearer {stream_tokens.link_key(ctx.gateway_secret)}"
        if not secrets.compare_digest(header.encode(), expected.encode()):
            _fail(401, "Gateway links need the district's gateway key.")

    gateway_only = [Depends(gateway_link)]

    @app.get(
        f"{API_PREFIX}/gateway/events",
        dependencies=gateway_only,
        summary="A gateway's link: camera sources, then pushed cuts and prewarms "
        "(server-sent events, heartbeat every 2 s)",
        response_class=Response,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
            **_errors(401, 422, 503),
        },
        include_in_schema=False,
    )
    async def gateway_events(
        public_url: Annotated[str, Query(min_length=8, max_length=512, pattern=r"^https?://")],
        schools: Annotated[str | None, Query(max_length=4096)] = None,
    ) -> Response:
        served = frozenset(schools.split(",")) if schools else None
        return StreamingResponse(
            ctx.links.stream(public_url.rstrip("/"), served, lambda: streams_to_cut(ctx)),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
        )

    @app.post(
        f"{API_PREFIX}/gateway/check",
        dependencies=gateway_only,
        summary="Which of a gateway's open sessions must stop (asked after a reconnect)",
        response_model=GatewayCheckOut,
        responses=_errors(401, 503),
        include_in_schema=False,
    )
    def gateway_check(body: GatewayCheckIn) -> GatewayCheckOut:
        cut = []
        for session_id in body.session_ids:
            ticket = db.stream_authorization(session_id)
            reason = (
                "The district has no record of this stream's authorisation."
                if ticket is None
                else stream_denial(ctx, ticket)
            )
            if reason is not None:
                cut.append(GatewayCut(session_id=session_id, reason=reason))
        return GatewayCheckOut(cut=cut)

    @app.post(
        f"{API_PREFIX}/gateway/status",
        dependencies=gateway_only,
        summary="A gateway reports camera states (online, offline and why)",
        status_code=204,
        response_class=Response,
        responses=_errors(401, 503),
        include_in_schema=False,
    )
    def gateway_status(body: GatewayStatusIn) -> Response:
        for change in ctx.links.update_states([s.model_dump() for s in body.statuses]):
            ctx.announce(f"camera.{change['state']}", EVERYONE, change["camera_id"], change)
        return Response(status_code=204)

    @app.get(
        f"{API_PREFIX}/events",
        summary="The signed-in user's live event stream (server-sent events): emergencies, "
        "requests, grants, camera states, and for district roles viewing sessions. Resume "
        "with Last-Event-ID; a 'resync' event means fetch the state again",
        response_class=Response,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
            **_errors(401, 422),
        },
    )
    async def events(
        user: CurrentUser,
        credentials: Credentials,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
    ) -> Response:
        assert credentials is not None and ctx.events is not None  # current_user checked it
        resume: int | None = None
        if last_event_id is not None and last_event_id.strip():
            if not last_event_id.strip().isdigit():
                _fail(422, "Last-Event-ID must be the id of an event this server sent.")
            resume = int(last_event_id.strip())
        token = credentials.credentials

        def still_signed_in() -> bool:
            return auth.user_for_token(db, token, ctx.now()) is not None

        return StreamingResponse(
            ctx.events.stream(user, resume, still_signed_in, ticker=grant_clock.tick),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    grant_clock = GrantClock(ctx)

    install_problem_openapi(app)
    return app


def app_context(app: FastAPI) -> ServerContext:
    """The context of an app built by create_app (tests use it to move the clock)."""
    ctx = app.state.ctx
    assert isinstance(ctx, ServerContext)
    return ctx
