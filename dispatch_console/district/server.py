"""The reference district API: the security boundary for police access to school cameras.

The console's locks are a convenience; this server is what actually decides. It hands out
a stream ticket only when the viewing session's audit start is already stored ("no audit
record, no video") and the shared access policy (``dispatch_console.domain.policy``) allows
the viewer right now, and its gateway cuts streams when that stops being true.

Everything time-dependent reads one clock, ``ServerContext.clock``, so tests can move
time (expire grants, lift lockouts) without sleeping.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from dispatch_console import __version__
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
    User,
)
from dispatch_console.domain.policy import (
    DEFAULT_GRANT_DURATION,
    can_view,
    is_break_glass,
    is_police,
    may_approve,
)
from dispatch_console.domain.session import parse_utc, utc_ms
from dispatch_console.floorplan.loader import district_document, district_from_document

from . import auth
from .db import Database, Ticket
from .gateway import StreamGateway

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
TICKET_LIFETIME = timedelta(seconds=30)
MAX_EXTENSION_MINUTES = 240
BREAK_GLASS_APPROVER = "break-glass policy"

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServerContext:
    """Everything the routes share. ``clock`` is replaceable so tests can move time."""

    db: Database
    district: District
    document: dict[str, Any]
    camsim_url: str | None
    clock: Clock = system_clock
    version: str = __version__
    gateway: StreamGateway | None = field(default=None, repr=False)

    def now(self) -> datetime:
        return self.clock()


# ---------------------------------------------------------------------------------------
# Wire models. Field names match the domain dataclasses; times are utc_ms strings.


class ErrorOut(BaseModel):
    detail: str = Field(description="What went wrong, as a sentence a dispatcher can act on.")


class UserOut(BaseModel):
    id: str
    username: str
    display_name: str
    agency: str
    role: Role
    schools: list[str]


class LoginIn(BaseModel):
    username: str
    password: str
    otp: str = Field(description="The 6-digit code from the user's authenticator (RFC 6238).")


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


class AccessOut(BaseModel):
    emergencies: list[EmergencyOut]
    grants: list[GrantOut]
    requests: list[AccessRequestOut] = Field(
        description="Pending access requests the caller may see (an addition for both desks)."
    )


class DeclareIn(BaseModel):
    school_id: str
    type: EmergencyType
    threat_basis: str = Field(
        description="Why access is needed; FERPA's emergency exception requires the record."
    )
    agency: str | None = Field(
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


class AuditStartIn(BaseModel):
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


class AuditEndIn(BaseModel):
    session_id: str
    ended_at: str
    duration_ms: int | None
    end_reason: EndReason


class AuditSessionOut(AuditStartIn):
    ended_at: str | None
    duration_ms: int | None
    end_reason: EndReason | None
    start_received_at: str
    end_received_at: str | None


class TicketIn(BaseModel):
    camera_id: str
    session_id: str


class TicketOut(BaseModel):
    url: str
    expires_at: str


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


def _fail(status: int, detail: str) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail)


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


# ---------------------------------------------------------------------------------------
# Access rules that belong to the server (the viewing rules live in domain.policy).


def may_declare(user: User, school_id: str) -> bool:
    """Police and district staff may declare; a school admin only for their own schools.

    Facilities staff report to the safety office rather than declaring themselves.
    """
    if is_police(user) or may_approve(user):
        return True
    return user.role is Role.SCHOOL_ADMIN and school_id in user.schools


def in_force_grants(ctx: ServerContext, now: datetime, school_id: str | None = None) -> list[Grant]:
    """Grants unrevoked, unexpired, and whose emergency is still active."""
    grants = ctx.db.unexpired_grants(now, school_id)
    active = {e.id for e in ctx.db.open_emergencies(school_id) if e.is_active(now)}
    return [g for g in grants if g.emergency_id in active and g.is_in_force(now)]


def access_context(
    ctx: ServerContext, user: User, school_id: str | None, now: datetime
) -> AccessContext:
    """What the policy sees for this user: police see only their own agency's grants."""
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
    return None if decision.allowed else decision.reason


# ---------------------------------------------------------------------------------------


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
    user = auth.user_for_token(ctx.db, credentials.credentials, ctx.now())
    if user is None:
        raise HTTPException(
            401,
            "Your sign-in has expired or is not valid; sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


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
    clock: Clock = system_clock,
) -> FastAPI:
    """Build the district API. Raises FloorPlanError if the floor plans are not valid.

    The floor plans are validated once here so a broken district file stops the server at
    start-up with every problem listed, instead of failing later during an emergency.
    """
    document = district_document(floorplans_dir)
    district = district_from_document(document)
    for warning in district.warnings:
        log.warning("floor plans: %s", warning)
    ctx = ServerContext(
        db=db, district=district, document=document, camsim_url=camsim_url, clock=clock
    )
    ctx.gateway = StreamGateway(
        upstream_base=camsim_url,
        redeem=lambda ticket_hash, camera_id: db.consume_ticket(ticket_hash, camera_id, ctx.now()),
        denial=lambda ticket: stream_denial(ctx, ticket),
    )
    db.purge_expired_tokens(ctx.now())

    app = FastAPI(
        title="Dispatch Console — district API",
        version=__version__,
        description="Emergency-only police access to school cameras: accounts, emergencies, "
        "access requests and grants, viewing-session audit, and the stream gateway.",
    )
    app.state.ctx = ctx

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for error in exc.errors():
            where = ".".join(str(p) for p in error.get("loc", ()) if p != "body")
            parts.append(f"{where}: {error.get('msg', 'invalid')}" if where else error["msg"])
        return JSONResponse(
            status_code=422, content={"detail": "The request is not valid: " + "; ".join(parts)}
        )

    # -- accounts ----------------------------------------------------------------------

    @app.post(
        f"{API_PREFIX}/auth/login",
        summary="Sign in with password and one-time code",
        response_model=LoginOut,
        responses=_errors(401, 423),
    )
    def login(body: LoginIn) -> LoginOut:
        try:
            result = auth.sign_in(db, body.username, body.password, body.otp, ctx.now())
        except auth.AccountLocked as exc:
            _fail(423, str(exc))
        except auth.SignInFailed as exc:
            _fail(401, str(exc))
        return LoginOut(
            token=result.token, expires_at=utc_ms(result.expires_at), user=_user_out(result.user)
        )

    @app.post(
        f"{API_PREFIX}/auth/logout",
        summary="End this sign-in (the token stops working)",
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
        if is_break_glass(body.type):
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
        log.info(
            "emergency %s declared at %s (%s) by %s",
            emergency.id,
            emergency.school_id,
            emergency.type.value,
            user.username,
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
    def end_emergency(emergency_id: str, user: Approver) -> EmergencyOut:
        ended = db.end_emergency(emergency_id, ctx.now())
        if ended is None:
            _fail(404, f"There is no emergency {emergency_id!r}.")
        return _emergency_out(ended)

    def _decide(request_id: str, user: User, approve: bool) -> DecisionOut:
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
            grant = Grant(
                id=_new_id("gr"),
                emergency_id=pending.emergency_id,
                school_id=pending.school_id,
                agency=pending.agency,
                granted_at=now,
                expires_at=now + DEFAULT_GRANT_DURATION,
                approved_by=user.display_name,
            )
        decided = db.decide_request(
            request_id, "approved" if approve else "denied", user.display_name, now, grant
        )
        if decided is None:
            _fail(409, "This access request was decided by someone else a moment ago.")
        return DecisionOut(
            request=_request_out(decided), grant=_grant_out(grant) if grant else None
        )

    @app.post(
        f"{API_PREFIX}/requests/{{request_id}}/approve",
        summary="Approve a police access request (issues a 60-minute grant)",
        response_model=DecisionOut,
        responses=_errors(401, 403, 404, 409),
    )
    def approve(request_id: str, user: Approver) -> DecisionOut:
        return _decide(request_id, user, approve=True)

    @app.post(
        f"{API_PREFIX}/requests/{{request_id}}/deny",
        summary="Deny a police access request",
        response_model=DecisionOut,
        responses=_errors(401, 403, 404, 409),
    )
    def deny(request_id: str, user: Approver) -> DecisionOut:
        return _decide(request_id, user, approve=False)

    @app.post(
        f"{API_PREFIX}/grants/{{grant_id}}/revoke",
        summary="Revoke a grant now (open streams close within a second)",
        response_model=GrantOut,
        responses=_errors(401, 403, 404),
    )
    def revoke(grant_id: str, user: Approver) -> GrantOut:
        grant = db.grant(grant_id)
        if grant is None:
            _fail(404, f"There is no grant {grant_id!r}.")
        if grant.revoked_at is None:
            grant = replace(grant, revoked_at=ctx.now())
            db.save_grant(grant)
            log.info("grant %s revoked by %s", grant.id, user.username)
        return _grant_out(grant)

    @app.post(
        f"{API_PREFIX}/grants/{{grant_id}}/extend",
        summary="Extend a grant in force by some minutes",
        response_model=GrantOut,
        responses=_errors(401, 403, 404, 409),
    )
    def extend(grant_id: str, body: ExtendIn, user: Approver) -> GrantOut:
        now = ctx.now()
        grant = db.grant(grant_id)
        if grant is None:
            _fail(404, f"There is no grant {grant_id!r}.")
        if grant.id not in {g.id for g in in_force_grants(ctx, now, grant.school_id)}:
            _fail(409, "This grant is no longer in force; approve a new request instead.")
        grant = replace(grant, expires_at=grant.expires_at + timedelta(minutes=body.minutes))
        db.save_grant(grant)
        return _grant_out(grant)

    # -- audit ---------------------------------------------------------------------------

    def _session_out(row: dict[str, Any]) -> AuditSessionOut:
        return AuditSessionOut.model_validate(row)

    @app.put(
        f"{API_PREFIX}/audit/sessions/{{session_id}}/start",
        summary="Record the start of a viewing session (idempotent)",
        status_code=201,
        response_model=AuditSessionOut,
        responses={200: {"model": AuditSessionOut}, **_errors(401, 403, 409, 422)},
    )
    def audit_start(
        session_id: str, body: AuditStartIn, user: CurrentUser, response: Response
    ) -> AuditSessionOut:
        if body.session_id != session_id:
            _fail(422, "The session id in the path and in the record differ.")
        if body.user_id != user.id:
            _fail(403, "A viewing session can only be recorded by the user it belongs to.")
        try:
            parse_utc(body.started_at)
        except ValueError:
            _fail(422, f"started_at {body.started_at!r} is not an ISO 8601 time.")
        outcome, stored = db.record_audit_start(body.model_dump(), ctx.now())
        if outcome == "conflict":
            _fail(
                409,
                f"Viewing session {session_id} is already recorded with different content; "
                "the stored record is kept.",
            )
        if outcome == "replayed":
            response.status_code = 200
        return _session_out(stored)

    @app.put(
        f"{API_PREFIX}/audit/sessions/{{session_id}}/end",
        summary="Record the end of a viewing session (first end wins)",
        response_model=AuditSessionOut,
        responses=_errors(401, 403, 404, 422),
    )
    def audit_end(session_id: str, body: AuditEndIn, user: CurrentUser) -> AuditSessionOut:
        if body.session_id != session_id:
            _fail(422, "The session id in the path and in the record differ.")
        try:
            parse_utc(body.ended_at)
        except ValueError:
            _fail(422, f"ended_at {body.ended_at!r} is not an ISO 8601 time.")
        existing = db.audit_session(session_id)
        if existing is None:
            _fail(
                404,
                f"Viewing session {session_id} has no recorded start yet; "
                "send the start first and retry the end.",
            )
        if existing["user_id"] != user.id and not may_approve(user):
            _fail(403, "A viewing session can only be ended by the user it belongs to.")
        stored = db.record_audit_end(
            session_id, body.ended_at, body.duration_ms, body.end_reason.value, ctx.now()
        )
        if stored is None:  # pragma: no cover - the start cannot vanish
            _fail(404, f"Viewing session {session_id} has no recorded start.")
        return _session_out(stored)

    @app.get(
        f"{API_PREFIX}/audit/sessions",
        summary="Viewing sessions, newest first (approvers see everyone's)",
        response_model=list[AuditSessionOut],
        responses=_errors(401),
    )
    def audit_list(
        user: CurrentUser,
        active: Annotated[bool | None, Query(description="Only open (true) or ended (false).")] = (
            None
        ),
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditSessionOut]:
        rows = db.audit_sessions(
            user_id=None if may_approve(user) else user.id, active=active, limit=limit
        )
        return [_session_out(r) for r in rows]

    # -- streams -------------------------------------------------------------------------

    @app.post(
        f"{API_PREFIX}/streams/tickets",
        summary="Get a single-use, 30-second ticket to open one camera's stream",
        response_model=TicketOut,
        responses=_errors(401, 403, 404, 409),
    )
    def ticket(body: TicketIn, user: CurrentUser, request: Request) -> TicketOut:
        now = ctx.now()
        try:
            camera: Camera = ctx.district.camera(body.camera_id)
        except KeyError:
            _fail(404, f"There is no camera {body.camera_id!r} in this district.")
        session = db.audit_session(body.session_id)
        if session is None or session["user_id"] != user.id or session["camera_id"] != camera.id:
            _fail(
                409,
                "No audit record, no video: record the start of viewing session "
                f"{body.session_id} for camera {camera.id} before asking for its stream.",
            )
        if session["ended_at"] is not None:
            _fail(
                409,
                f"Viewing session {body.session_id} has already ended; "
                "start a new session to watch again.",
            )
        decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
        if not decision.allowed:
            _fail(403, decision.reason)
        secret = secrets.token_urlsafe(32)
        expires_at = now + TICKET_LIFETIME
        db.insert_ticket(
            auth.token_hash(secret),
            user_id=user.id,
            camera_id=camera.id,
            session_id=body.session_id,
            issued_at=now,
            expires_at=expires_at,
        )
        url = f"{request.base_url}gateway/{quote(camera.id, safe='')}.ts?ticket={secret}"
        return TicketOut(url=url, expires_at=utc_ms(expires_at))

    @app.get(
        "/gateway/{camera_id}.ts",
        summary="Live MPEG-TS stream for the holder of a stream ticket",
        response_class=Response,
        responses={
            200: {"content": {"video/mp2t": {}}, "description": "The live stream."},
            **_errors(403, 502, 503),
        },
    )
    async def gateway(camera_id: str, ticket: Annotated[str, Query()]) -> Response:
        assert ctx.gateway is not None
        return await ctx.gateway.open(camera_id, ticket)

    return app


def app_context(app: FastAPI) -> ServerContext:
    """The context of an app built by create_app (tests use it to move the clock)."""
    ctx = app.state.ctx
    assert isinstance(ctx, ServerContext)
    return ctx
