"""Signed stream links, issued only for a recorded session the policy allows now."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter

from dispatch_console.district import emergency_store, session_store, ticket_store
from dispatch_console.district.context import (
    API_PREFIX,
    TICKET_LIFETIME,
    ServerContext,
    access_context,
)
from dispatch_console.district.deps import (
    Credentials,
    Ctx,
    CurrentUser,
    errors,
    fail,
)
from dispatch_console.district.schemas import (
    TicketIn,
    TicketOut,
)
from dispatch_console.district.token_hashes import token_hash
from dispatch_console.domain import stream_tokens
from dispatch_console.domain.models import (
    Camera,
    User,
)
from dispatch_console.domain.policy import (
    can_view,
)
from dispatch_console.domain.session import utc_ms

log = logging.getLogger(__name__)

router = APIRouter()


def issue_stream_link(
    ctx: ServerContext, user: User, sign_in_token: str, camera_id: str, session_id: str, stream: str
) -> TicketOut:
    """A signed stream link for a recorded session the policy allows now; 4xx/503 else.

    The audit start (with ``?stream=``) and the stream-link endpoint both use it.
    """
    now = ctx.now()
    try:
        camera: Camera = ctx.district.camera(camera_id)
    except KeyError:
        fail(404, f"There is no camera {camera_id!r} in this district.")
    session = session_store.get(ctx.db, session_id)
    if session is None or session["user_id"] != user.id or session["camera_id"] != camera.id:
        fail(
            409,
            "No audit record, no video: record the start of viewing session "
            f"{session_id} for camera {camera.id} before asking for its stream.",
        )
    if session["ended_at"] is not None:
        fail(
            409,
            f"Viewing session {session_id} has already ended; start a new session to watch again.",
        )
    decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
    if not decision.allowed:
        fail(403, decision.reason)
    grant = decision.grant
    if grant is not None:
        if session["grant_id"] is None:
            emergency = emergency_store.emergency(ctx.db, grant.emergency_id)
            session_store.bind_grant(
                ctx.db,
                session_id,
                grant.id,
                grant.emergency_id,
                emergency.threat_basis if emergency else "",
                now,
            )
        elif session["grant_id"] != grant.id:
            fail(
                409,
                f"Viewing session {session_id} was recorded under grant "
                f"{session['grant_id']}, which is no longer in force; start a new "
                "session to watch under the current grant.",
            )
    if ctx.gateway_secret is None:
        fail(503, "This district server relays no video: it has no gateway secret.")
    base = ctx.links.gateway_for(camera.school_id)
    if base is None:
        fail(
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
    ticket_store.insert(
        ctx.db,
        token_hash(token),
        user_id=user.id,
        camera_id=camera.id,
        session_id=session_id,
        issued_at=now,
        expires_at=expires_at,
        token_hash=token_hash(sign_in_token),
    )
    container = ctx.links.container_of(camera.id, stream)
    url = f"{base}/streams/{quote(camera.id, safe='')}/{stream}.{container}?token={token}"
    return TicketOut(url=url, expires_at=utc_ms(expires_at))


@router.post(
    f"{API_PREFIX}/streams/tickets",
    summary="Get a signed, one-minute stream link for a recorded viewing session; it "
    "opens one stream at a time at a gateway serving the camera's school",
    response_model=TicketOut,
    responses=errors(401, 403, 404, 409, 503),
)
def ticket(ctx: Ctx, body: TicketIn, user: CurrentUser, credentials: Credentials) -> TicketOut:
    assert credentials is not None  # current_user checked it
    # One transaction, as for the audit start: the session's binding to its grant and the
    # stream's authorisation are stored together or not at all, and no revocation lands
    # between the policy's answer and the authorisation.
    with ctx.db.transaction():
        return issue_stream_link(
            ctx, user, credentials.credentials, body.camera_id, body.session_id, body.stream
        )
