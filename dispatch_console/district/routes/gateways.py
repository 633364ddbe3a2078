"""The stream gateways' link: sources and pushed cuts, open-session checks, camera states."""

from __future__ import annotations

import logging
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from dispatch_console.district import audit_store, ticket_store
from dispatch_console.district.context import (
    API_PREFIX,
    stream_denial,
    streams_to_cut,
)
from dispatch_console.district.deps import (
    Ctx,
    errors,
    fail,
    request_context,
)
from dispatch_console.district.limits import BadTime, parse_client_time
from dispatch_console.district.schemas import (
    GatewayCheckIn,
    GatewayCheckOut,
    GatewayCut,
    GatewayStatusIn,
    RelaysIn,
)
from dispatch_console.domain import stream_tokens
from dispatch_console.domain.policy import (
    EVERYONE,
)
from dispatch_console.domain.session import utc_ms

log = logging.getLogger(__name__)

router = APIRouter()


def gateway_link(request: Request) -> None:
    """Only a gateway holding the shared secret may use the link endpoints."""
    ctx = request_context(request)
    if ctx.gateway_secret is None:
        fail(503, "This district server has no gateway secret configured.")
    header = request.headers.get("authorization", "")
    expected = f"Bearer {stream_tokens.link_key(ctx.gateway_secret)}"
    if not secrets.compare_digest(header.encode(), expected.encode()):
        fail(401, "Gateway links need the district's gateway key.")


gateway_only = [Depends(gateway_link)]


@router.get(
    f"{API_PREFIX}/gateway/events",
    dependencies=gateway_only,
    summary="A gateway's link: camera sources, then pushed cuts and prewarms "
    "(server-sent events, heartbeat every 2 s)",
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
        **errors(401, 422, 503),
    },
    include_in_schema=False,
)
async def gateway_events(
    ctx: Ctx,
    public_url: Annotated[str, Query(min_length=8, max_length=512, pattern=r"^https?://")],
    schools: Annotated[str | None, Query(max_length=4096)] = None,
) -> Response:
    served = frozenset(schools.split(",")) if schools else None
    return StreamingResponse(
        ctx.links.stream(public_url.rstrip("/"), served, lambda: streams_to_cut(ctx)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store"},
    )


@router.post(
    f"{API_PREFIX}/gateway/check",
    dependencies=gateway_only,
    summary="Which of a gateway's open sessions must stop (asked after a reconnect)",
    response_model=GatewayCheckOut,
    responses=errors(401, 503),
    include_in_schema=False,
)
def gateway_check(ctx: Ctx, body: GatewayCheckIn) -> GatewayCheckOut:
    cut = []
    for session_id in body.session_ids:
        ticket = ticket_store.authorization(ctx.db, session_id)
        reason = (
            "The district has no record of this stream's authorisation."
            if ticket is None
            else stream_denial(ctx, ticket)
        )
        if reason is not None:
            cut.append(GatewayCut(session_id=session_id, reason=reason))
    return GatewayCheckOut(cut=cut)


@router.post(
    f"{API_PREFIX}/gateway/status",
    dependencies=gateway_only,
    summary="A gateway reports camera states (online, offline and why)",
    status_code=204,
    response_class=Response,
    responses=errors(401, 503),
    include_in_schema=False,
)
def gateway_status(ctx: Ctx, body: GatewayStatusIn) -> Response:
    for change in ctx.links.update_states([s.model_dump() for s in body.statuses]):
        ctx.announce(f"camera.{change['state']}", EVERYONE, change["camera_id"], change)
    return Response(status_code=204)


@router.post(
    f"{API_PREFIX}/gateway/relays",
    dependencies=gateway_only,
    summary="A gateway reports the streams it relayed, reconciled against reported sessions",
    status_code=204,
    response_class=Response,
    responses=errors(401, 422, 503),
    include_in_schema=False,
)
def gateway_relays(ctx: Ctx, body: RelaysIn) -> Response:
    """Stored as reported; ``audit_store.sweep`` turns a relay no session explains into a
    finding (after a grace period: the start may still be on its way)."""
    now = ctx.now()
    for relay in body.relays:
        for field in ("started_at", "ended_at"):
            value = getattr(relay, field)
            if value is not None:
                try:
                    setattr(relay, field, utc_ms(parse_client_time(value, field, now)))
                except BadTime as exc:
                    fail(422, f"relay {relay.relay_id}: {exc}")
    audit_store.record_relays(ctx.db, [r.model_dump() for r in body.relays], now)
    return Response(status_code=204)
