"""The stream gateway: the only way video leaves the district, and where access is enforced.

Consoles never reach cameras directly. They ask the API for a ticket (which requires a
stored audit start and a policy decision), then open ``/gateway/<camera>.ts?ticket=...``
here. The gateway redeems the ticket once, proxies the camera's live MPEG-TS stream, and
every half second asks again whether the viewer may still watch. When the answer turns
to no (grant revoked or expired, emergency ended, session closed, the viewer's sign-in
ended) it ends the response: that is what makes "feeds close when the grant ends" true on
the server, whatever the client does.

One viewing session is one stream at a time. When a second stream opens for a session
whose first is still open, the newer one wins and the older is cut: a reconnecting viewer
needs that, because the old connection is often half-dead (a frozen player can hold it for
a minute or more before TCP notices), and refusing the new one would leave them blind.

The ticket is a bearer secret in the URL, so it is never logged here, and the server runs
uvicorn with its access log off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from urllib.parse import quote

import httpx
from fastapi import HTTPException
from fastapi.responses import StreamingResponse

from .auth import token_hash
from .db import Ticket

log = logging.getLogger(__name__)

MEDIA_TYPE = "video/mp2t"
RECHECK_INTERVAL_S = 0.5
INVALID_TICKET = (
    "This stream ticket is not valid: it is unknown, already used, expired or for another "
    "camera. Ask the district API for a new ticket."
)

# Redeem a ticket (by its hash) for a camera at the current moment; None if not valid.
Redeem = Callable[[str, str], Ticket | None]
# Why the ticket holder may no longer watch, or None while they still may. Called from a
# worker thread, since it reads the database.
Denial = Callable[[Ticket], str | None]


class StreamGateway:
    """Proxies live camera streams for ticket holders while the policy still allows it."""

    def __init__(
        self,
        *,
        upstream_base: str | None,
        redeem: Redeem,
        denial: Denial,
        recheck_interval: float = RECHECK_INTERVAL_S,
        connect_timeout: float = 5.0,
        read_timeout: float = 15.0,
    ) -> None:
        self.upstream_base = upstream_base.rstrip("/") if upstream_base else None
        self._redeem = redeem
        self._denial = denial
        self.recheck_interval = recheck_interval
        self._timeout = httpx.Timeout(read_timeout, connect=connect_timeout)
        # The open stream of each viewing session, as the event that cuts it.
        self._streams: dict[str, asyncio.Event] = {}

    def open_sessions(self) -> set[str]:
        """The viewing sessions that have a stream open right now."""
        return set(self._streams)

    def upstream_url(self, camera_id: str) -> str:
        if self.upstream_base is None:
            raise ValueError("no camera source configured")
        return f"{self.upstream_base}/cameras/{quote(camera_id, safe='')}.ts"

    async def open(self, camera_id: str, ticket_text: str) -> StreamingResponse:
        """Redeem the ticket, check the policy, connect upstream, and stream."""
        ticket = await asyncio.to_thread(self._redeem, token_hash(ticket_text), camera_id)
        if ticket is None:
            raise HTTPException(403, INVALID_TICKET)
        reason = await asyncio.to_thread(self._denial, ticket)
        if reason is not None:
            raise HTTPException(403, reason)
        if self.upstream_base is None:
            raise HTTPException(
                503, "The district server has no camera source configured (start it with --camsim)."
            )
        client = httpx.AsyncClient(timeout=self._timeout)
        try:
            upstream = await client.send(
                client.build_request("GET", self.upstream_url(camera_id)), stream=True
            )
        except httpx.HTTPError as exc:
            await client.aclose()
            log.warning("gateway: camera %s unreachable: %s", camera_id, type(exc).__name__)
            raise HTTPException(
                502, f"The camera {camera_id} cannot be reached right now; try again shortly."
            ) from None
        if upstream.status_code != 200:
            status = upstream.status_code
            await upstream.aclose()
            await client.aclose()
            raise HTTPException(
                502, f"The camera {camera_id} did not deliver a stream (it answered {status})."
            )
        log.info("gateway: stream opened for camera %s, session %s", camera_id, ticket.session_id)
        older = self._streams.get(ticket.session_id)
        if older is not None:
            older.set()
        cut = asyncio.Event()
        self._streams[ticket.session_id] = cut
        return StreamingResponse(
            self._relay(client, upstream, ticket, cut),
            media_type=MEDIA_TYPE,
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    async def _relay(
        self,
        client: httpx.AsyncClient,
        upstream: httpx.Response,
        ticket: Ticket,
        cut: asyncio.Event,
    ) -> AsyncIterator[bytes]:
        """Copy upstream bytes, re-checking access on a timer even while no bytes arrive.

        A separate reader task fills a small queue so a stalled camera cannot stop the
        access checks: the grant ending must close the stream regardless.
        """
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=64)

        async def pump() -> None:
            try:
                async for chunk in upstream.aiter_raw():
                    if chunk:
                        await queue.put(chunk)
            except httpx.HTTPError as exc:
                log.info("gateway: camera %s stream broke: %s", ticket.camera_id, exc)
            finally:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)

        loop = asyncio.get_running_loop()
        reader = asyncio.create_task(pump())
        ended_because = "the camera stream ended"
        try:
            next_check = loop.time() + self.recheck_interval
            while True:
                wait = max(0.0, next_check - loop.time())
                chunk: bytes | None = b""
                try:
                    chunk = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    chunk = b""
                    if reader.done() and queue.empty():
                        return  # the reader ended without room for its end marker
                if cut.is_set():
                    ended_because = "a newer stream of the same viewing session replaced it"
                    return
                if loop.time() >= next_check:
                    reason = await asyncio.to_thread(self._denial, ticket)
                    if reason is not None:
                        ended_because = reason
                        return
                    next_check = loop.time() + self.recheck_interval
                if chunk is None:
                    return
                if chunk:
                    yield chunk
        finally:
            if self._streams.get(ticket.session_id) is cut:
                del self._streams[ticket.session_id]
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            await upstream.aclose()
            await client.aclose()
            log.info(
                "gateway: stream closed for camera %s, session %s: %s",
                ticket.camera_id,
                ticket.session_id,
                ended_because,
            )
