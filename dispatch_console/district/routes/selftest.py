"""What a workstation's self-test may reach before anyone signs in.

Police IT runs ``dispatch-console selftest`` on a fresh install with no account at hand,
and must still see every part of the path work: the live event stream through the
site's proxies (a buffering proxy breaks server-sent events, and only a stream shows it)
and a video stream from the gateway through its firewall. Neither answer carries a
school's data: the probe stream says only that it is one, and the gateways' addresses
are what every signed-in console is sent in its stream links anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from dispatch_console.district.context import API_PREFIX
from dispatch_console.district.deps import Ctx
from dispatch_console.domain.session import utc_ms

router = APIRouter()

# Long enough for a buffering proxy to give itself away (it holds the first event back).
PROBE_HOLD_S = 1.0


class SelftestOut(BaseModel):
    gateways: list[str] = Field(
        description="Public addresses of the stream gateways linked now; each serves a "
        "test pattern at /selftest.ts"
    )
    server_time: str
    event_probe: str = Field(description="An anonymous event stream for the self-test.")


@router.get(
    f"{API_PREFIX}/selftest",
    summary="What a workstation's self-test checks before sign-in: the linked gateways "
    "and the probe event stream",
    response_model=SelftestOut,
)
def selftest(ctx: Ctx) -> SelftestOut:
    return SelftestOut(
        gateways=sorted({link.public_url for link in ctx.links.connected()}),
        server_time=utc_ms(ctx.now()),
        event_probe=f"{API_PREFIX}/events/probe",
    )


@router.get(
    f"{API_PREFIX}/events/probe",
    summary="An anonymous server-sent-events stream: one 'probe' event, a heartbeat a "
    "second later, then it ends (for the self-test)",
    response_class=Response,
    responses={200: {"content": {"text/event-stream": {}}, "description": "The probe."}},
)
async def event_probe() -> Response:
    async def events() -> AsyncIterator[bytes]:
        yield b"event: probe\ndata: {}\n\n"
        await asyncio.sleep(PROBE_HOLD_S)
        yield b": heartbeat\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
