"""The viewing-session audit: starts and ends recorded from the server's own truth."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from dispatch_console.district import audit_store, emergency_store, session_store
from dispatch_console.district.context import (
    API_PREFIX,
    DURATION_TOLERANCE_MS,
    ID_TIME_TOLERANCE,
    LATE_START,
    MAX_LATE_START,
    ServerContext,
    access_context,
)
from dispatch_console.district.deps import (
    Credentials,
    Ctx,
    CurrentUser,
    PathId,
    RawBody,
    errors,
    fail,
    uuid7_time,
)
from dispatch_console.district.limits import (
    CLOCK_SKEW,
    BadTime,
    parse_client_time,
)
from dispatch_console.district.problems import (
    Problem,
)
from dispatch_console.district.routes.streams import issue_stream_link
from dispatch_console.district.schemas import (
    AuditEndIn,
    AuditSessionOut,
    AuditStartIn,
    AuditStartOut,
    ChainIn,
    HeartbeatIn,
    session_out,
)
from dispatch_console.district.session_store import AuditStartRefused
from dispatch_console.domain.audit_basis import (
    recorded_emergency,
    recorded_grant,
    recorded_threat_basis,
)
from dispatch_console.domain.audit_chain import Link
from dispatch_console.domain.models import (
    Camera,
    Grant,
    User,
)
from dispatch_console.domain.policy import (
    DISTRICT_ONLY,
    can_view,
    is_police,
    may_approve,
)
from dispatch_console.domain.session import milliseconds_between, utc_ms

log = logging.getLogger(__name__)

router = APIRouter()


def _registry_row(ctx: ServerContext, body: AuditStartIn) -> tuple[Camera, dict[str, Any]]:
    """The camera's registry facts for the audit record; 422 when the client's differ."""
    try:
        camera = ctx.district.camera(body.camera_id)
    except KeyError:
        fail(422, f"There is no camera {body.camera_id!r} in the district's registry.")
    school = ctx.district.school(camera.school_id)
    building = school.building(camera.building_id)
    floor = school.floor(camera.floor_id)
    claimed = (body.school_id, body.building_id, body.floor_id)
    if claimed != (school.id, building.id, floor.id):
        fail(
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
    grant = emergency_store.grant(ctx.db, grant_id)
    if grant is None:
        fail(422, f"There is no grant {grant_id!r}; the session cannot be recorded under it.")
    if grant.school_id != camera.school_id or (is_police(user) and grant.agency != user.agency):
        fail(
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
        fail(
            422,
            f"started_at {utc_ms(client_start)} is more than a year old; the district does "
            "not accept a session start that old.",
        )
    id_time = uuid7_time(session_id)
    if id_time is None or abs(id_time - client_start) > ID_TIME_TOLERANCE:
        fail(
            422,
            f"started_at {utc_ms(client_start)} is older than the district's clock allows "
            "for a fresh start, and the session id does not carry the same time: a start "
            "delivered late must keep the time-ordered (UUIDv7) id made when it began.",
        )
    if claimed is not None and client_start < claimed.granted_at - CLOCK_SKEW:
        fail(
            422,
            f"started_at {utc_ms(client_start)} is before grant {claimed.id} existed.",
        )
    return True


def _client_record(body: AuditStartIn) -> str:
    """The start as the client sent it, for replays and for the record.

    Without its chain link: the link is held and checked on its own (a replay under a
    different link is a fork finding, not a different session).
    """
    return json.dumps(
        body.model_dump(mode="json", exclude={"chain"}), sort_keys=True, ensure_ascii=False
    )


def _hold_link(
    ctx: ServerContext,
    chain: ChainIn | None,
    kind: str,
    raw: dict[str, Any],
    session_id: str,
    workstation_id: str,
) -> None:
    """Hold the record's place in its workstation's chain; announce what is wrong with it.

    Only for a record the district accepted: a refused record leaves a gap, which becomes
    a finding if it is never filled.
    """
    if chain is None:
        return
    body = {k: v for k, v in raw.items() if k != "chain"}
    for finding in audit_store.accept_link(
        ctx.db,
        Link(chain.chain, chain.seq, chain.prev, chain.hash),
        kind,
        body,
        session_id=session_id,
        workstation_id=workstation_id,
        now=ctx.now(),
    ):
        log.warning("audit finding: %s", finding["detail"])
        ctx.announce("audit.finding", DISTRICT_ONLY, session_id, finding)


@router.put(
    f"{API_PREFIX}/audit/sessions/{{session_id}}/start",
    summary="Record the start of a viewing session (idempotent); with ?stream=, also "
    "get its signed stream link in the same answer",
    status_code=201,
    response_model=AuditStartOut,
    responses={
        200: {"model": AuditStartOut, "description": "Already recorded (a replay)."},
        **errors(401, 403, 409, 422),
        429: {
            "model": Problem,
            "description": "Too many session starts for this user; see Retry-After.",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        },
    },
)
def audit_start(
    ctx: Ctx,
    session_id: PathId,
    body: AuditStartIn,
    raw: RawBody,
    user: CurrentUser,
    credentials: Credentials,
    response: Response,
    stream: Annotated[Literal["sub", "main"] | None, Query()] = None,
) -> AuditStartOut:
    """The start is recorded first; a link comes only for a recorded start, and a
    refused link never undoes the record (the refusal is in the answer instead).

    The record, its place in the workstation's chain, its event and its stream
    authorisation are one transaction: one commit (one fsync) on the click path instead
    of four, and all or nothing. If any of them fails the client gets the error and
    nothing is stored, so its retry finds no half-made start; the policy's decision and
    the record it allows are also made with no other write between them. An event that
    cannot be stored still never fails the start (ServerContext.announce), and the desks'
    streams are woken once the commit is done.
    """
    with ctx.db.transaction():
        stored = _record_start(ctx, session_id, body, user, response)
        _hold_link(ctx, body.chain, "start", raw, session_id, body.workstation_id)
        answer = AuditStartOut(**stored.model_dump())
        if stream is not None:
            assert credentials is not None  # current_user checked it
            try:
                answer.stream_link = issue_stream_link(
                    ctx, user, credentials.credentials, body.camera_id, session_id, stream
                )
            except HTTPException as exc:
                answer.stream_refusal = str(exc.detail)
    return answer


def _record_start(
    ctx: ServerContext, session_id: str, body: AuditStartIn, user: User, response: Response
) -> AuditSessionOut:
    now = ctx.now()
    if body.session_id != session_id:
        fail(422, "The session id in the path and in the record differ.")
    if body.user_id != user.id:
        fail(403, "A viewing session can only be recorded by the user it belongs to.")
    try:
        client_start = parse_client_time(body.started_at, "started_at", now)
    except BadTime as exc:
        fail(422, str(exc))
    client_record = _client_record(body)
    existing = session_store.get(ctx.db, session_id)
    if existing is not None:
        # A replay is judged on what the client sent: the server's own fields (its
        # receive time, the grant then in force) would differ by now.
        if existing["client_record"] != client_record:
            fail(
                409,
                f"Viewing session {session_id} is already recorded with different "
                "content; the stored record is kept.",
            )
        response.status_code = 200
        return session_out(existing)
    camera, registry = _registry_row(ctx, body)
    claimed = _claimed_grant(ctx, user, camera, body.grant_id) if body.grant_id else None
    if body.emergency_id is not None:
        claimed_emergency = emergency_store.emergency(ctx.db, body.emergency_id)
        if claimed_emergency is None or claimed_emergency.school_id != camera.school_id:
            fail(
                422,
                f"Emergency {body.emergency_id!r} is not an emergency at {camera.school_id}.",
            )
    late = _check_client_start(session_id, client_start, now, claimed)
    decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
    grant = recorded_grant(
        decision, claimed, late=late, client_start=client_start, clock_skew=CLOCK_SKEW
    )
    known = (
        [e for e in (emergency_store.emergency(ctx.db, grant.emergency_id),) if e] if grant else []
    )
    emergency = recorded_emergency(
        grant,
        known or emergency_store.open_emergencies(ctx.db, camera.school_id),
        camera.school_id,
        standing=not is_police(user),
        now=now,
    )
    threat_basis = recorded_threat_basis(emergency, decision)
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
        outcome, stored = session_store.record_start(
            ctx.db,
            record,
            now,
            per_minute=ctx.audit_starts_per_minute,
            max_open=ctx.max_open_sessions,
        )
    except AuditStartRefused as exc:
        fail(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
    if outcome == "conflict":
        fail(
            409,
            f"Viewing session {session_id} is already recorded with different content; "
            "the stored record is kept.",
        )
    if outcome == "replayed":
        response.status_code = 200
        return session_out(stored)
    if late:
        log.info("late audit start %s (client time %s)", session_id, utc_ms(client_start))
    ctx.announce(
        "viewing.started",
        DISTRICT_ONLY,
        session_id,
        {"camera_id": camera.id, "school_id": camera.school_id, "agency": user.agency},
    )
    return session_out(stored)


@router.put(
    f"{API_PREFIX}/audit/sessions/{{session_id}}/end",
    summary="Record the end of a viewing session (first end wins)",
    response_model=AuditSessionOut,
    responses=errors(401, 403, 404, 422),
)
def audit_end(
    ctx: Ctx,
    session_id: PathId,
    body: AuditEndIn,
    raw: RawBody,
    user: CurrentUser,
) -> AuditSessionOut:
    now = ctx.now()
    existing, ended, started = _session_and_time(
        ctx,
        user,
        session_id,
        body.session_id,
        body.ended_at,
        field="ended_at",
        record="end",
        approvers_too=True,
    )
    if existing["ended_at"] is not None:
        # The first end wins; a replay changes nothing.
        _hold_link(ctx, body.chain, "end", raw, session_id, existing["workstation_id"])
        return session_out(existing)
    duration_ms = milliseconds_between(started, ended)
    if body.duration_ms is not None and abs(body.duration_ms - duration_ms) > (
        DURATION_TOLERANCE_MS
    ):
        fail(
            422,
            f"duration_ms {body.duration_ms} does not match the session's start and end "
            f"({duration_ms} ms apart).",
        )
    stored = session_store.record_end(
        ctx.db, session_id, utc_ms(ended), duration_ms, body.end_reason.value, now
    )
    if stored is None:  # pragma: no cover - the start cannot vanish
        fail(404, f"Viewing session {session_id} has no recorded start.")
    _hold_link(ctx, body.chain, "end", raw, session_id, stored["workstation_id"])
    ctx.announce(
        "viewing.ended",
        DISTRICT_ONLY,
        session_id,
        {"camera_id": stored["camera_id"], "end_reason": body.end_reason.value},
    )
    return session_out(stored)


def _session_and_time(
    ctx: ServerContext,
    user: User,
    session_id: str,
    body_session_id: str,
    moment_text: str,
    *,
    field: str,
    record: str,
    approvers_too: bool,
) -> tuple[dict[str, Any], datetime, datetime]:
    """The stored session a later record (end, heartbeat) is for, the record's time and
    the session's start.

    404 before its start arrived (the console sends the start again, then this), 403 for
    someone else's session, 422 for a time before the session's start.
    """
    if body_session_id != session_id:
        fail(422, "The session id in the path and in the record differ.")
    try:
        moment = parse_client_time(moment_text, field, ctx.now())
    except BadTime as exc:
        fail(422, str(exc))
    existing = session_store.get(ctx.db, session_id)
    if existing is None:
        fail(
            404,
            f"Viewing session {session_id} has no recorded start yet; "
            f"send the start first and retry the {record}.",
        )
    if existing["user_id"] != user.id and not (approvers_too and may_approve(user)):
        fail(403, f"Only the user a viewing session belongs to may send its {record}.")
    started_text = existing["client_started_at"] or existing["started_at"]
    started = datetime.fromisoformat(started_text.replace("Z", "+00:00"))
    if moment < started:
        fail(422, f"{field} {utc_ms(moment)} is before the session's start {started_text}.")
    return existing, moment, started


@router.put(
    f"{API_PREFIX}/audit/sessions/{{session_id}}/heartbeat",
    summary="The console still shows this session (every 15 s while open; idempotent)",
    response_model=AuditSessionOut,
    responses=errors(401, 403, 404, 422),
)
def audit_heartbeat(
    ctx: Ctx,
    session_id: PathId,
    body: HeartbeatIn,
    raw: RawBody,
    user: CurrentUser,
) -> AuditSessionOut:
    """A crash-left session ends at its last heartbeat; the desk flags a silent one."""
    existing, at, started = _session_and_time(
        ctx,
        user,
        session_id,
        body.session_id,
        body.at,
        field="at",
        record="heartbeat",
        approvers_too=False,
    )
    gaps = []
    for gap in body.gaps or ():
        try:
            start = parse_client_time(gap.from_, "gaps.from", ctx.now())
            end = parse_client_time(gap.to, "gaps.to", ctx.now())
        except BadTime as exc:
            fail(422, str(exc))
        if not started <= start <= end <= at:
            fail(
                422,
                f"A picture gap ({utc_ms(start)} to {utc_ms(end)}) must lie between the "
                f"session's start and this heartbeat ({utc_ms(at)}), in order.",
            )
        gaps.append({"from": utc_ms(start), "to": utc_ms(end), "reason": gap.reason})
    stored = session_store.record_heartbeat(ctx.db, session_id, at, ctx.now(), gaps)
    if stored is None:  # pragma: no cover - the start cannot vanish
        fail(404, f"Viewing session {session_id} has no recorded start.")
    _hold_link(ctx, body.chain, "heartbeat", raw, session_id, existing["workstation_id"])
    return session_out(stored)
