"""Each signed-in user's live event stream (see ``district.events``)."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Response
from fastapi.responses import StreamingResponse

from dispatch_console.district import auth
from dispatch_console.district.context import (
    API_PREFIX,
)
from dispatch_console.district.deps import (
    Credentials,
    Ctx,
    CurrentUser,
    errors,
    fail,
)

log = logging.getLogger(__name__)

router = APIRouter()


@router.get(
    f"{API_PREFIX}/events",
    summary="The signed-in user's live event stream (server-sent events): emergencies, "
    "requests, grants, camera states, and for district roles viewing sessions. Resume "
    "with Last-Event-ID; a 'resync' event means fetch the state again",
    response_class=Response,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "The event stream."},
        **errors(401, 422),
    },
)
async def events(
    ctx: Ctx,
    user: CurrentUser,
    credentials: Credentials,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> Response:
    assert credentials is not None and ctx.events is not None  # current_user checked it
    resume: int | None = None
    if last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            fail(422, "Last-Event-ID must be the id of an event this server sent.")
        resume = int(last_event_id.strip())
    token = credentials.credentials

    def still_signed_in() -> bool:
        return auth.user_for_token(ctx.db, token, ctx.now()) is not None

    return StreamingResponse(
        ctx.events.stream(
            user, resume, still_signed_in, ticker=ctx.grant_clock.tick if ctx.grant_clock else None
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
