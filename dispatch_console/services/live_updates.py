"""Follow the district's live event stream, so a desk shows a change as it happens.

The desks used to poll the access state every second. Now each follows its user's event
stream (``GET /api/v1/events``) and refreshes the access state when an event says it
changed; an approval on one desk shows on the other within a fraction of a second, and an
idle desk costs the server nothing.

When the stream breaks (the network, a restarted server, a proxy that cuts long
requests), the desk says so, reconnects with jittered back-off (at most every
``max_backoff_s``), and refreshes the access state at each attempt: a slow poll, so a
grant's end still closes feeds while the stream is down. It resumes with the last event
id it saw, so nothing in between is lost; a desk too far behind is told to resync and
refreshes once.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from .errors import ConsoleError, NotSignedIn
from .sse import ServerEvent

if TYPE_CHECKING:
    from .console import Console

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0
# Events that change nothing /access shows: the district's board reads them itself.
_NOT_ACCESS = ("viewing.",)


class LiveUpdates:
    def __init__(self, console: Console, *, max_backoff_s: float = MAX_BACKOFF_S) -> None:
        self._console = console
        self.max_backoff_s = max_backoff_s
        self.last_event_id: int | None = None
        # Why live updates are not arriving now (None while they are); listeners hear of
        # every change, so the desk can say it and say when it is over.
        self.problem: str | None = "Connecting to the district's live updates."
        self.problem_listeners: list[Callable[[str | None], None]] = []
        self.event_listeners: list[Callable[[ServerEvent], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._dirty = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="live-updates")

    async def stop(self) -> None:
        """Stop following; bounded, so closing a window never waits on a slow socket."""
        tasks = [t for t in (self._task, self._refresher) if t is not None]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        self._task = self._refresher = None

    async def _run(self) -> None:
        delay = 1.0
        while True:
            if self._console.sign_in_lost:
                await asyncio.sleep(0.5)  # the desk asks for a new sign-in meanwhile
                continue
            try:
                async for event in self._console.client.events(self.last_event_id):
                    await self._handle(event)
                    delay = 1.0
                problem = "The district server closed the live updates."
            except NotSignedIn:
                await self._refresh_now()  # the console notices and asks to sign in again
                continue
            except ConsoleError as exc:
                problem = str(exc)
            self._set_problem(problem)
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(self.max_backoff_s, delay * 2)
            await self._refresh_now()  # the slow poll while the stream is down

    async def _handle(self, event: ServerEvent) -> None:
        if event.id is not None:
            self.last_event_id = event.id
        if event.kind == "signed_out":
            await self._refresh_now()
        elif event.kind == "connected":
            self._set_problem(None)
            self._refresh_soon()  # catch up on whatever happened while disconnected
        elif not event.kind.startswith(_NOT_ACCESS):
            self._refresh_soon()
        for listener in list(self.event_listeners):
            listener(event)

    def _refresh_soon(self) -> None:
        """Refresh the access state once for a burst of events, not once per event."""
        self._dirty = True
        if self._refresher is None or self._refresher.done():
            self._refresher = asyncio.create_task(self._refresh_while_dirty())

    async def _refresh_while_dirty(self) -> None:
        while self._dirty:
            self._dirty = False
            await self._refresh_now()

    async def _refresh_now(self) -> None:
        try:
            await self._console.refresh_access()
        except ConsoleError:
            pass  # the console reported it (connection banner, or a new sign-in)

    def _set_problem(self, problem: str | None) -> None:
        if problem == self.problem:
            return
        if problem is None:
            log.info("live updates from the district are arriving")
        else:
            log.warning("live updates interrupted: %s", problem)
        self.problem = problem
        for listener in list(self.problem_listeners):
            listener(problem)
