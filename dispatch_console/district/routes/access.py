"""Emergencies, access requests and grants: declare, approve (with a scope), deny,
revoke, extend, review, end."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam

from dispatch_console.district import account_store, emergency_store
from dispatch_console.district.context import (
    API_PREFIX,
    BREAK_GLASS_APPROVER,
    ServerContext,
    announce_grant,
    in_force_grants,
    prewarm,
)
from dispatch_console.district.deps import (
    Approver,
    Ctx,
    CurrentUser,
    PathId,
    errors,
    fail,
    new_id,
)
from dispatch_console.district.schemas import (
    AccessOut,
    ApproveIn,
    CameraProblemOut,
    DecisionOut,
    DeclareIn,
    DeclareOut,
    DenyIn,
    EmergencyOut,
    ExtendIn,
    GrantOut,
    ReviewIn,
    emergency_out,
    grant_out,
    hold_out,
    request_out,
)
from dispatch_console.domain.emergency_location import location_fields, location_problem
from dispatch_console.domain.models import (
    AccessRequest,
    Emergency,
    EmergencyLocation,
    Grant,
    User,
)
from dispatch_console.domain.policy import (
    DEFAULT_GRANT_DURATION,
    DISTRICT_ONLY,
    EVERYONE,
    GrantTermsError,
    agency_audience,
    grant_duration,
    grant_scope,
    is_break_glass,
    is_police,
    may_declare,
    may_request_extension,
)
from dispatch_console.domain.session import utc_ms

log = logging.getLogger(__name__)

router = APIRouter()

# A police agency as accounts and grants name it ("Riverside Police Department").
AgencyName = Annotated[str, PathParam(min_length=1, max_length=200)]


@router.get(
    f"{API_PREFIX}/access",
    summary="Active emergencies and the grants in force for the caller",
    response_model=AccessOut,
    responses=errors(401),
)
def get_access(ctx: Ctx, user: CurrentUser) -> AccessOut:
    now = ctx.now()
    police = is_police(user)
    emergencies = [e for e in emergency_store.open_emergencies(ctx.db) if e.is_active(now)]
    grants = [g for g in in_force_grants(ctx, now) if not police or g.agency == user.agency]
    requests = [
        r for r in emergency_store.pending_requests(ctx.db) if not police or r.agency == user.agency
    ]
    if police:
        # The agency's decided requests too, while their emergency lasts: a dispatcher
        # who restarts (or missed the live event) still reads why the district said no.
        decided = emergency_store.requests_of_emergencies(ctx.db, [e.id for e in emergencies])
        requests += [r for r in decided if r.agency == user.agency and not r.is_pending]
    return AccessOut(
        emergencies=[emergency_out(e) for e in emergencies],
        grants=[grant_out(g) for g in grants],
        requests=[request_out(r) for r in requests],
        holds=[hold_out(h) for h in emergency_store.school_holds(ctx.db)],
        camera_problems=[
            CameraProblemOut(camera_id=camera_id, reason=state["reason"] or "offline")
            for camera_id, state in sorted(ctx.links.camera_states.items())
            if state.get("state") == "offline"
        ],
    )


@router.post(
    f"{API_PREFIX}/emergencies",
    summary="Declare an emergency at a school",
    status_code=201,
    response_model=DeclareOut,
    responses=errors(401, 403, 404, 422),
)
def declare(ctx: Ctx, body: DeclareIn, user: CurrentUser) -> DeclareOut:
    threat_basis = body.threat_basis.strip()
    if not threat_basis:
        fail(
            422,
            "State the threat basis: the district must record why access is needed "
            "(FERPA emergency exception).",
        )
    try:
        ctx.district.school(body.school_id)
    except KeyError:
        fail(404, f"There is no school {body.school_id!r} in this district.")
    if not may_declare(user, body.school_id):
        fail(403, "Your role may not declare emergencies at this school.")
    location: EmergencyLocation | None = None
    if body.location is not None:
        location = EmergencyLocation(body.location.floor_id, body.location.x, body.location.y)
        problem = location_problem(ctx.district, body.school_id, location)
        if problem is not None:
            fail(422, problem)
    agency = user.agency
    if body.agency is not None and body.agency.strip() and body.agency.strip() != agency:
        if is_police(user):
            fail(403, "Police may request access for their own agency only.")
        agency = body.agency.strip()
    now = ctx.now()
    emergency = Emergency(
        id=new_id("em"),
        school_id=body.school_id,
        type=body.type,
        threat_basis=threat_basis,
        declared_by=user.display_name,
        declared_at=now,
        location=location,
    )
    grant: Grant | None = None
    request: AccessRequest | None = None
    # After a revoke, the school waits for a district approver until the district
    # clears the hold: declaring again must not hand out a new break-glass grant.
    held = emergency_store.school_hold(ctx.db, body.school_id) is not None
    if is_break_glass(body.type) and not held:
        grant = Grant(
            id=new_id("gr"),
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
            id=new_id("rq"),
            emergency_id=emergency.id,
            school_id=emergency.school_id,
            agency=agency,
            requested_by=user.display_name,
            requested_at=now,
            status="pending",
        )
    emergency_store.insert_emergency(ctx.db, emergency, grant, request)
    declared: dict[str, object] = {"school_id": emergency.school_id, "type": emergency.type.value}
    if location is not None:
        declared["location"] = location_fields(location)
    ctx.announce("emergency.declared", EVERYONE, emergency.id, declared)
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
        emergency=emergency_out(emergency),
        grant=grant_out(grant) if grant else None,
        request=request_out(request) if request else None,
    )


@router.post(
    f"{API_PREFIX}/emergencies/{{emergency_id}}/end",
    summary="End an emergency (its grants end with it)",
    response_model=EmergencyOut,
    responses=errors(401, 403, 404),
)
def end_emergency(ctx: Ctx, emergency_id: PathId, user: Approver) -> EmergencyOut:
    ended = emergency_store.end_emergency(ctx.db, emergency_id, ctx.now())
    if ended is None:
        fail(404, f"There is no emergency {emergency_id!r}.")
    ctx.announce("emergency.ended", EVERYONE, ended.id, {"school_id": ended.school_id})
    return emergency_out(ended)


def _decide(
    ctx: ServerContext,
    request_id: str,
    user: User,
    approve: bool,
    terms: ApproveIn | None = None,
    reason: str = "",
) -> DecisionOut:
    now = ctx.now()
    pending = emergency_store.access_request(ctx.db, request_id)
    if pending is None:
        fail(404, f"There is no access request {request_id!r}.")
    if pending.status != "pending":
        fail(409, f"This access request has already been {pending.status}.")
    grant: Grant | None = None
    if approve:
        emergency = emergency_store.emergency(ctx.db, pending.emergency_id)
        if emergency is None or not emergency.is_active(now):
            fail(409, "The emergency has ended, so there is nothing left to grant.")
        terms = terms or ApproveIn()
        try:
            duration = grant_duration(terms.minutes)
            buildings, cameras = grant_scope(
                ctx.district.school(pending.school_id), terms.buildings, terms.cameras
            )
        except GrantTermsError as exc:
            fail(422, str(exc))
        grant = Grant(
            id=new_id("gr"),
            emergency_id=pending.emergency_id,
            school_id=pending.school_id,
            agency=pending.agency,
            granted_at=now,
            expires_at=now + duration,
            approved_by=user.display_name,
            buildings=buildings,
            cameras=cameras,
        )
    decided = emergency_store.decide_request(
        ctx.db,
        request_id,
        "approved" if approve else "denied",
        user.display_name,
        now,
        grant,
        reason,
    )
    if decided is None:
        fail(409, "This access request was decided by someone else a moment ago.")
    ctx.announce(
        f"request.{decided.status}",
        agency_audience(decided.agency),
        decided.id,
        {
            "school_id": decided.school_id,
            "emergency_id": decided.emergency_id,
            "reason": decided.decision_note,
        },
    )
    if grant is not None:
        announce_grant(ctx, "grant.issued", grant)
        prewarm(ctx, grant)
    return DecisionOut(request=request_out(decided), grant=grant_out(grant) if grant else None)


@router.post(
    f"{API_PREFIX}/requests/{{request_id}}/approve",
    summary="Approve a police access request: a grant for the whole school or the "
    "buildings and cameras named, for the minutes chosen (default 60)",
    response_model=DecisionOut,
    responses=errors(401, 403, 404, 409, 422),
)
def approve(
    ctx: Ctx, request_id: PathId, user: Approver, body: ApproveIn | None = None
) -> DecisionOut:
    return _decide(ctx, request_id, user, approve=True, terms=body)


@router.post(
    f"{API_PREFIX}/requests/{{request_id}}/deny",
    summary="Deny a police access request, with the reason the requesting desk is shown",
    response_model=DecisionOut,
    responses=errors(401, 403, 404, 409, 422),
)
def deny(ctx: Ctx, request_id: PathId, user: Approver, body: DenyIn | None = None) -> DecisionOut:
    reason = body.reason.strip() if body is not None else ""
    return _decide(ctx, request_id, user, approve=False, reason=reason)


@router.post(
    f"{API_PREFIX}/grants/{{grant_id}}/revoke",
    summary="Revoke a grant now (open streams close within a second); the school then "
    "waits for a district approver until cleared",
    response_model=GrantOut,
    responses=errors(401, 403, 404),
)
def revoke(ctx: Ctx, grant_id: PathId, user: Approver) -> GrantOut:
    grant = _revoke(ctx, grant_id, user)
    if grant is None:
        fail(404, f"There is no grant {grant_id!r}.")
    return grant_out(grant)


def _revoke(ctx: ServerContext, grant_id: str, user: User) -> Grant | None:
    """Revoke one grant, hold its school, and tell the desks: the one way a grant is
    revoked, whether alone or with the rest of its agency's. None: no such grant."""
    grant = emergency_store.revoke_grant(ctx.db, grant_id, ctx.now(), user.display_name)
    if grant is None:
        return None
    log.info("grant %s revoked by %s; %s on hold", grant.id, user.username, grant.school_id)
    announce_grant(ctx, "grant.revoked", grant)
    ctx.announce("school.held", EVERYONE, grant.school_id, {"grant_id": grant.id})
    return grant


@router.post(
    f"{API_PREFIX}/agencies/{{agency}}/revoke",
    summary="Revoke every grant of one police agency that is in force now (each school "
    "then waits for a district approver); returns the grants revoked, none if it had none",
    response_model=list[GrantOut],
    responses=errors(401, 403, 404),
)
def revoke_agency(ctx: Ctx, agency: AgencyName, user: Approver) -> list[GrantOut]:
    # An agency no account and no grant names is a typo, not "nothing to revoke": 404,
    # so an approver never believes an agency's access ended when it was never found.
    known = {r.user.agency for r in account_store.user_records(ctx.db)} | {
        g.agency for g in emergency_store.unexpired_grants(ctx.db, ctx.now())
    }
    if agency not in known:
        fail(404, f"No account or grant names the agency {agency!r}.")
    revoked = []
    for grant in in_force_grants(ctx, ctx.now()):
        if grant.agency == agency and (done := _revoke(ctx, grant.id, user)) is not None:
            revoked.append(done)
    log.info("%s revoked all %d grant(s) of %s", user.username, len(revoked), agency)
    return [grant_out(g) for g in revoked]


@router.post(
    f"{API_PREFIX}/schools/{{school_id}}/clear",
    summary="Clear a school's hold after a revoke: break-glass grants work there again",
    response_model=AccessOut,
    responses=errors(401, 403, 404, 409),
)
def clear_hold(ctx: Ctx, school_id: PathId, user: Approver) -> AccessOut:
    try:
        ctx.district.school(school_id)
    except KeyError:
        fail(404, f"There is no school {school_id!r} in this district.")
    if not emergency_store.clear_hold(ctx.db, school_id, ctx.now(), user.display_name):
        fail(409, f"{school_id} is not on hold; there is nothing to clear.")
    log.info("hold on %s cleared by %s", school_id, user.username)
    ctx.announce("school.hold_cleared", EVERYONE, school_id)
    return get_access(ctx, user)


@router.post(
    f"{API_PREFIX}/grants/{{grant_id}}/review",
    summary="Record the district's review of a break-glass grant (who, when, a note)",
    response_model=GrantOut,
    responses=errors(401, 403, 404, 409, 422),
)
def review(ctx: Ctx, grant_id: PathId, body: ReviewIn, user: Approver) -> GrantOut:
    note = body.note.strip()
    if not note:
        fail(422, "Write what the review found: the note is the district's record.")
    grant = emergency_store.grant(ctx.db, grant_id)
    if grant is None:
        fail(404, f"There is no grant {grant_id!r}.")
    if not grant.break_glass:
        fail(409, "Only break-glass grants wait for review; an approver issued this one.")
    if grant.reviewed_at is not None:
        fail(
            409,
            f"This grant was reviewed by {grant.reviewed_by} at "
            f"{utc_ms(grant.reviewed_at)}; that review stands.",
        )
    reviewed = emergency_store.review_grant(ctx.db, grant_id, user.display_name, ctx.now(), note)
    assert reviewed is not None
    if reviewed.reviewed_by != user.display_name:
        fail(409, f"This grant was reviewed by {reviewed.reviewed_by} a moment ago.")
    log.info("break-glass grant %s reviewed by %s", grant_id, user.username)
    ctx.announce("grant.reviewed", DISTRICT_ONLY, grant_id, {"school_id": grant.school_id})
    return grant_out(reviewed)


@router.get(
    f"{API_PREFIX}/grants/to-review",
    summary="Break-glass grants the district has not reviewed yet, oldest first",
    response_model=list[GrantOut],
    responses=errors(401, 403),
)
def to_review(ctx: Ctx, user: Approver) -> list[GrantOut]:
    return [grant_out(g) for g in emergency_store.grants_to_review(ctx.db)]


@router.post(
    f"{API_PREFIX}/grants/{{grant_id}}/extension-request",
    summary="Police ask the district to extend their agency's grant in force; the district "
    "desks are told (event grant.extension_requested) and an approver decides with /extend",
    status_code=202,
    response_model=GrantOut,
    responses=errors(401, 403, 404, 409),
)
def request_extension(ctx: Ctx, grant_id: PathId, user: CurrentUser) -> GrantOut:
    now = ctx.now()
    grant = emergency_store.grant(ctx.db, grant_id)
    if grant is None or (is_police(user) and grant.agency != user.agency):
        fail(404, f"There is no grant {grant_id!r}.")
    if not is_police(user):
        fail(403, "Only police of the grant's agency ask for an extension; approvers extend.")
    in_force = grant.id in {g.id for g in in_force_grants(ctx, now, grant.school_id)}
    if not in_force or not may_request_extension(user, grant, now):
        fail(409, "This grant is no longer in force; declare again or ask for a new grant.")
    # Kept in the district's admin log (and its audit chain): who asked, when, for what.
    account_store.record_admin_action(
        ctx.db, now, user.display_name, "grant.extension_requested", grant.id, grant.school_id
    )
    ctx.announce(
        "grant.extension_requested",
        agency_audience(grant.agency),
        grant.id,
        {
            "school_id": grant.school_id,
            "emergency_id": grant.emergency_id,
            "expires_at": utc_ms(grant.expires_at),
            "requested_by": user.display_name,
            "agency": grant.agency,
        },
    )
    log.info("extension of grant %s requested by %s", grant.id, user.username)
    return grant_out(grant)


@router.post(
    f"{API_PREFIX}/grants/{{grant_id}}/extend",
    summary="Extend a grant in force by some minutes",
    response_model=GrantOut,
    responses=errors(401, 403, 404, 409),
)
def extend(ctx: Ctx, grant_id: PathId, body: ExtendIn, user: Approver) -> GrantOut:
    now = ctx.now()
    grant = emergency_store.grant(ctx.db, grant_id)
    if grant is None:
        fail(404, f"There is no grant {grant_id!r}.")
    if grant.id not in {g.id for g in in_force_grants(ctx, now, grant.school_id)}:
        fail(409, "This grant is no longer in force; approve a new request instead.")
    grant = replace(grant, expires_at=grant.expires_at + timedelta(minutes=body.minutes))
    emergency_store.save_grant(ctx.db, grant)
    announce_grant(ctx, "grant.extended", grant)
    return grant_out(grant)
