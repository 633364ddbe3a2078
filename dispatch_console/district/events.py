"""The live event stream: each desk hears of changes as they happen, instead of polling.

``GET /api/v1/events`` is a server-sent-event stream per signed-in user. Every change a
desk shows (an emergency declared or ended, a request pending or decided, a grant issued,
extended, revoked, expiring or expired, a viewing session started or ended, a camera
going offline or back) is stored as an event with an ever-increasing id, then announced.

Events are stored, not only broadcast, for two reasons: a desk that reconnects (after a
network blip, or to a restarted server) sends ``Last-Event-ID`` and gets exactly what it
missed; and several server processes sharing one database each serve what any of them
stored (each stream also looks for new rows every second, so no cross-process signal is
needed). A desk further behind than ``MAX_REPLAY`` events, or behind the oldest kept one,
is told to ``resync``: fetch the whole state once, then follow the stream again.

The stream ends with a ``signed_out`` event when the user's sign-in ends (sign-out,
expiry, account disabled): a stream must not outlive the access it was opened with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

from dispatch_console.domain.models import User
from dispatch_console.domain.policy import may_hear

from . import event_store
from .db import Database
from .event_store import StoredEvent

log = logging.getLogger(__name__)

HEARTBEAT_S = 15.0
# Streams look for events stored by other processes this often (their own are pushed).
POLL_S = 1.0
MAX_REPLAY = 1000
KEEP_EVENTS = 50_000
RETRY_MS = 2000


def sse(name: str, data: Mapping[str, Any], event_id: int | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id is not None else ""
    body = json.dumps(dict(data), separators=(",", ":"))
    return f"{head}event: {name}\ndata: {body}\n\n".encode()


class EventHub:
    """Stores events and wakes the streams that may carry them."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock
        self._wakers: set[asyncio.Event] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._published = 0

    def publish(
        self, kind: str, audience: str, subject: str, data: Mapping[str, Any] | None = None
    ) -> int:
        """Store the event and wake every open stream (any thread); its id.

        Inside a write transaction the event is part of it, and the streams are woken
        once it has committed: a stream woken earlier would look, find nothing yet, and
        carry the event only at its next look, a second later.
        """
        payload = {"subject": subject, **(data or {})}
        event_id = event_store.append(self._db, self._clock(), kind, audience, subject, payload)
        self._published += 1
        if self._published % 1000 == 0:
            event_store.trim(self._db, KEEP_EVENTS)
        self._db.after_commit(self._wake)
        return event_id

    def _wake(self) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed: shutting down
                loop.call_soon_threadsafe(self._wake_all)

    def _wake_all(self) -> None:
        for waker in self._wakers:
            waker.set()

    async def stream(
        self,
        user: User,
        last_event_id: int | None,
        still_signed_in: Callable[[], bool],
        ticker: Callable[[], None] | None = None,
    ) -> AsyncIterator[bytes]:
        """One desk's event stream, from just after ``last_event_id`` (or from now).

        ``ticker`` runs before each look for new events: it publishes what no request
        announces (a grant about to expire, or expired).
        """
        self._loop = asyncio.get_running_loop()
        waker = asyncio.Event()
        self._wakers.add(waker)
        try:
            first, last = event_store.id_range(self._db)
            yield f"retry: {RETRY_MS}\n\n".encode()
            if last_event_id is None:
                cursor = last
                yield sse("ready", {"last_event_id": last}, last)
            elif (
                last_event_id > last
                or (first and last_event_id < first - 1)
                or (last - last_event_id > MAX_REPLAY)
            ):
                cursor = last
                yield sse("resync", {"reason": "too much was missed; fetch the state"}, last)
            else:
                cursor = last_event_id
            last_sent = time.monotonic()
            while True:
                # Cleared before looking, not after: an event stored between the look and
                # the wait must still wake this stream (else it waits for the next poll).
                waker.clear()
                if ticker is not None:
                    await asyncio.to_thread(ticker)
                events = await asyncio.to_thread(event_store.after, self._db, cursor, 200)
                for event in events:
                    cursor = event.id
                    if may_hear(user, event.audience):
                        yield _as_sse(event)
                        last_sent = time.monotonic()
                if len(events) == 200:
                    continue  # more to catch up on
                if not await asyncio.to_thread(still_signed_in):
                    yield sse("signed_out", {"reason": "Your sign-in has ended."})
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waker.wait(), POLL_S)
                # Silence is measured from the last thing sent, not the last wake-up: a
                # police desk is woken by district-only events it is never sent.
                if time.monotonic() - last_sent >= HEARTBEAT_S:
                    yield b": heartbeat\n\n"
                    last_sent = time.monotonic()
        finally:
            self._wakers.discard(waker)


def _as_sse(event: StoredEvent) -> bytes:
    return sse(event.kind, {"at": event.at, **event.data}, event.id)
