"""Reading the audit trail: the session list and browser, timelines, findings, the
workstations' state, verification, CSV export and the per-emergency report.

Nothing here writes an audit record, and no route anywhere edits or deletes one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response

from dispatch_console.district import audit_log, audit_store, session_store
from dispatch_console.district.audit_report import emergency_report
from dispatch_console.district.context import API_PREFIX, ServerContext
from dispatch_console.district.deps import Approver, Ctx, CurrentUser, PathId, errors, fail
from dispatch_console.district.limits import BadTime, parse_client_time
from dispatch_console.district.schemas import (
    AuditSessionOut,
    FindingOut,
    TimelineEntryOut,
    WorkstationOut,
    session_out,
)
from dispatch_console.domain.policy import may_approve
from dispatch_console.domain.session import utc_ms

router = APIRouter()

OptionalText = Annotated[str | None, Query(max_length=128)]
OptionalTime = Annotated[
    str | None, Query(max_length=64, description="ISO 8601 with a zone, e.g. 2026-11-25T08:00Z")
]


# A filter may name any time, future included: only the format is checked.
_ANY_TIME = datetime(9000, 1, 1, tzinfo=UTC)


def _time(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_client_time(text, name, _ANY_TIME)
    except BadTime as exc:
        fail(422, str(exc))


def _query(
    ctx: ServerContext,
    user_id: str | None,
    *,
    school_id: str | None,
    camera_id: str | None,
    agency: str | None,
    emergency_id: str | None,
    since: str | None,
    until: str | None,
    limit: int,
) -> audit_store.SessionQuery:
    return audit_store.SessionQuery(
        school_id=school_id,
        camera_id=camera_id,
        user_id=user_id,
        agency=agency,
        emergency_id=emergency_id,
        since=_time(since, "since"),
        until=_time(until, "until"),
        limit=limit,
    )


@router.get(
    f"{API_PREFIX}/audit/sessions",
    summary="Viewing sessions, newest first; filtered for the audit browser. Without "
    "filters, open ones are always listed. Police see only their own.",
    response_model=list[AuditSessionOut],
    responses=errors(401, 422),
)
def audit_list(
    ctx: Ctx,
    user: CurrentUser,
    active: Annotated[bool | None, Query(description="Only open (true) or ended (false).")] = (
        None
    ),
    limit: Annotated[int, Query(ge=1, le=10_000, description="How many at most.")] = 100,
    school_id: OptionalText = None,
    camera_id: OptionalText = None,
    user_id: OptionalText = None,
    agency: OptionalText = None,
    emergency_id: OptionalText = None,
    since: OptionalTime = None,
    until: OptionalTime = None,
) -> list[AuditSessionOut]:
    now = ctx.now()
    own = None if may_approve(user) else user.id
    filtered = any(v is not None for v in (school_id, camera_id, user_id, agency, emergency_id))
    if filtered or since is not None or until is not None:
        q = _query(
            ctx,
            own if own is not None else user_id,
            school_id=school_id,
            camera_id=camera_id,
            agency=agency,
            emergency_id=emergency_id,
            since=since,
            until=until,
            limit=limit,
        )
        rows = audit_store.search_sessions(ctx.db, q)
        if active is not None:
            rows = [r for r in rows if (r["ended_at"] is None) == active]
    else:
        rows = session_store.listed(ctx.db, user_id=own, active=active, limit=min(limit, 1000))
    return [session_out(r, now) for r in rows]


@router.get(
    f"{API_PREFIX}/audit/sessions.csv",
    summary="The filtered sessions as CSV (district approvers)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **errors(401, 403, 422)},
)
def audit_csv(
    ctx: Ctx,
    user: Approver,
    school_id: OptionalText = None,
    camera_id: OptionalText = None,
    user_id: OptionalText = None,
    agency: OptionalText = None,
    emergency_id: OptionalText = None,
    since: OptionalTime = None,
    until: OptionalTime = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100_000,
) -> Response:
    q = _query(
        ctx,
        user_id,
        school_id=school_id,
        camera_id=camera_id,
        agency=agency,
        emergency_id=emergency_id,
        since=since,
        until=until,
        limit=limit,
    )
    text = audit_store.sessions_csv(audit_store.search_sessions(ctx.db, q))
    stamp = utc_ms(ctx.now()).replace(":", "").replace("-", "")
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="viewing-sessions-{stamp}.csv"'},
    )


@router.get(
    f"{API_PREFIX}/audit/sessions/{{session_id}}/timeline",
    summary="Everything the district holds about one session, in order",
    response_model=list[TimelineEntryOut],
    responses=errors(401, 403, 404),
)
def audit_timeline(ctx: Ctx, user: CurrentUser, session_id: PathId) -> list[TimelineEntryOut]:
    session = session_store.get(ctx.db, session_id)
    if session is None:
        fail(404, f"There is no viewing session {session_id}.")
    if session["user_id"] != user.id and not may_approve(user):
        fail(403, "Only the viewer and district approvers may read a session's timeline.")
    return [TimelineEntryOut(**e) for e in audit_store.timeline(ctx.db, session_id)]


@router.get(
    f"{API_PREFIX}/audit/findings",
    summary="Audit findings: chain gaps and forks, unreported or overrunning streams, "
    "silent consoles, reviews due (district approvers)",
    response_model=list[FindingOut],
    responses=errors(401, 403),
)
def audit_findings(
    ctx: Ctx, user: Approver, limit: Annotated[int, Query(ge=1, le=10_000)] = 500
) -> list[FindingOut]:
    return [FindingOut(**f) for f in audit_store.findings(ctx.db, ctx.now(), limit)]


@router.get(
    f"{API_PREFIX}/audit/workstations",
    summary="Per workstation: the last record heard, open and silent sessions",
    response_model=list[WorkstationOut],
    responses=errors(401, 403),
)
def audit_workstations(ctx: Ctx, user: Approver) -> list[WorkstationOut]:
    return [WorkstationOut(**w) for w in audit_store.workstations(ctx.db, ctx.now())]


@router.get(
    f"{API_PREFIX}/audit/verify",
    summary="Check the whole audit log's chain and the session index against it",
    responses=errors(401, 403),
)
async def audit_verify(ctx: Ctx, user: Approver) -> dict[str, object]:
    report = await asyncio.to_thread(ctx.db.read, audit_log.verify)
    return report.as_json()


@router.get(
    f"{API_PREFIX}/emergencies/{{emergency_id}}/report",
    summary="The per-emergency report for the district's board (HTML)",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **errors(401, 403, 404)},
)
async def emergency_report_page(ctx: Ctx, user: Approver, emergency_id: PathId) -> Response:
    return Response(
        await asyncio.to_thread(_report, ctx, user.display_name, emergency_id),
        media_type="text/html; charset=utf-8",
    )


def _report(ctx: ServerContext, by: str, emergency_id: str) -> str:
    rows = ctx.db.query("SELECT * FROM emergencies WHERE id = ?", (emergency_id,))
    if not rows:
        fail(404, f"There is no emergency {emergency_id}.")
    emergency = rows[0]
    try:
        school_name = ctx.district.school(emergency["school_id"]).name
    except KeyError:
        school_name = emergency["school_id"]
    sessions = audit_store.search_sessions(
        ctx.db, audit_store.SessionQuery(emergency_id=emergency_id, limit=1_000_000)
    )
    sessions.sort(key=lambda s: (str(s["started_at"]), str(s["session_id"])))
    ids = {str(s["session_id"]) for s in sessions}
    gaps = audit_store.picture_gaps(ctx.db, sorted(ids))
    for session in sessions:
        session["picture_gaps"] = audit_store.gaps_summary(gaps.get(str(session["session_id"]), []))
    findings = [
        f
        for f in audit_store.findings(ctx.db, ctx.now(), 10_000)
        if f["subject"] in ids or any(i in str(f["detail"]) for i in ids)
    ]
    report = ctx.db.read(audit_log.verify)
    return emergency_report(
        emergency=emergency,
        school_name=school_name,
        requests=ctx.db.query(
            "SELECT * FROM access_requests WHERE emergency_id = ? ORDER BY requested_at",
            (emergency_id,),
        ),
        grants=ctx.db.query(
            "SELECT * FROM grants WHERE emergency_id = ? ORDER BY granted_at", (emergency_id,)
        ),
        sessions=sessions,
        findings=findings,
        verified=report.ok,
        verify_problem=report.first_problem,
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        generated_at=utc_ms(ctx.now()),
        generated_by=by,
    )
