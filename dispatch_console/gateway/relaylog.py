"""The gateway's log of relayed streams, reported to the district for reconciliation.

Why it exists: the district learns who viewed what from the consoles' audit trail, but a
console can crash before reporting, be modified, or a link can be opened by something
that is not a console at all. The gateway is the one place that knows which video
actually left the building. So every viewer connection that is sent video is a *relay*,
logged here and reported to the district (``POST /api/v1/gateway/relays``), which
reconciles relays against its audit sessions: a relay whose session has no recorded
start, whose camera is not the session's, or that went on well after the session ended,
is a finding on the district desk.

What a relay records: a ``relay_id`` of its own (one per viewer connection, so a reconnect
within one viewing session is a second relay), the signed link's session, camera and
stream, ``started_at`` when video first flowed to the viewer (not at accept: a refused
or HEAD request relays nothing), the bytes handed to the viewer's connection, and
``ended_at`` when the viewer left, was cut, or the gateway stopped. Times are UTC with
milliseconds (``domain.session.utc_ms``), the audit trail's one format.

Delivery is at least once, and the district's endpoint is idempotent by ``relay_id``
(a re-post replaces ``ended_at`` and ``bytes``). The reporter posts a new relay within
about a second (batched), an open relay's byte count every ``refresh_s`` while it
changes, and a relay's end promptly. A post that fails (refused, unreachable, timed out)
leaves everything in place and is retried with jittered back-off; a relay is forgotten
only once the district has acknowledged its end. A post the district refuses for its
content (422: a time it finds in the future, say) is split by halves until the refused
relays are found; those are kept and tried again every ``backoff_max_s``, and the rest
go through, so one bad relay never holds up the log. Memory is bounded: an acknowledged
ended relay is dropped at once, open relays are bounded by open connections, and if
ended but unacknowledged relays pile up past ``cap`` (the district unreachable for a
very long time), the oldest of them are dropped with an error in the log and a count in
``/metrics`` (``relays.dropped_unreported``), because silently losing audit evidence
would be worse than saying so. On shutdown the gateway ends its open relays and makes
one last post.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from dispatch_console.domain.session import utc_ms

log = logging.getLogger(__name__)

RELAYS_PATH = "/api/v1/gateway/relays"
MAX_PER_POST = 10_000  # the district's limit per post
# The district refuses bodies over 64 KiB (district.limits.MAX_BODY_BYTES); a post is cut
# below that, about 250 relays, so a backlog goes in many posts rather than none.
MAX_POST_BYTES = 60 * 1024
MAX_RELAYS = 50_000  # relays held in memory (open, or ended and not yet acknowledged)
BATCH_WINDOW_S = 0.5  # how long a new or ended relay waits for others to share its post
REFRESH_S = 10.0  # how often an open relay's byte count is reported while it changes
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
POST_TIMEOUT_S = 10.0
FINAL_REPORT_S = 2.0  # the shutdown post's budget (the launcher allows 5 s to stop)


# A district that answers these refuses what was posted, not the post: retrying the same
# batch would fail forever, so the relays it refuses are found and held aside.
_CONTENT_REFUSED = frozenset({400, 413, 422})
ISOLATION_POSTS = 32


def _now_utc() -> str:
    return utc_ms(datetime.now(UTC))


def _refusal(answer: httpx.Response) -> str:
    """The district's reason for refusing a post (its problem document's detail)."""
    try:
        detail = answer.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    if detail is None:
        text = answer.reason_phrase
    else:
        text = detail if isinstance(detail, str) else json.dumps(detail, default=str)
    return f"{answer.status_code}: {text[:300]}"


@dataclass(slots=True, eq=False)
class Relay:
    """One viewer connection that was sent video, and what the district has of it."""

    relay_id: str
    session_id: str
    camera_id: str
    stream: str
    started_at: str
    ended_at: str | None = None
    bytes: int = 0
    # The state the district last acknowledged (-1: it has never acknowledged this relay).
    acked_bytes: int = -1
    acked_ended: bool = False
    acked_at: float = 0.0  # monotonic
    # When the district refused this relay's content (422): why, and when to try again.
    refusal: str | None = None
    held_until: float = 0.0  # monotonic

    def as_json(self) -> dict[str, Any]:
        """The relay as the district's endpoint takes it."""
        return {
            "relay_id": self.relay_id,
            "session_id": self.session_id,
            "camera_id": self.camera_id,
            "stream": self.stream,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "bytes": self.bytes,
        }

    @property
    def acknowledged(self) -> bool:
        """Whether the district holds this relay's current state."""
        return self.acked_bytes == self.bytes and self.acked_ended == (self.ended_at is not None)


class RelayLog:
    """Every relay of this gateway not yet acknowledged as ended by the district.

    Event loop only: the relay server opens, counts and ends relays from its handlers,
    and the reporter reads them, all on the gateway's one loop, so no lock is needed.
    """

    def __init__(
        self,
        *,
        cap: int = MAX_RELAYS,
        refresh_s: float = REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], str] = _now_utc,
    ) -> None:
        self.cap = cap
        self.refresh_s = refresh_s
        self._clock = clock
        self._wall = wall
        self._relays: OrderedDict[str, Relay] = OrderedDict()  # oldest opened first
        self._urgent = asyncio.Event()  # a relay opened or ended: report it soon
        self.opened = 0
        self.dropped_unreported = 0
        self.problem: str | None = None  # why the last report failed, until one succeeds

    # ---------------------------------------------------------------- the relay server's side

    def open(self, session_id: str, camera_id: str, stream: str) -> Relay:
        """A viewer is about to be sent its first video: log the relay from now."""
        relay = Relay(uuid.uuid4().hex, session_id, camera_id, stream, self._wall())
        self._relays[relay.relay_id] = relay
        self.opened += 1
        self._urgent.set()
        self._enforce_cap()
        return relay

    @staticmethod
    def sent(relay: Relay, count: int) -> None:
        """``count`` more bytes were handed to the viewer's connection."""
        relay.bytes += count

    def end(self, relay: Relay) -> None:
        """The viewer left, was cut, or the gateway is stopping (the first end counts)."""
        if relay.ended_at is None:
            relay.ended_at = self._wall()
            self._urgent.set()

    def end_all(self) -> int:
        """End every open relay (the gateway is stopping); how many there were."""
        ended = 0
        for relay in list(self._relays.values()):
            if relay.ended_at is None:
                self.end(relay)
                ended += 1
        return ended

    # ---------------------------------------------------------------- the reporter's side

    def _due_at(self, relay: Relay) -> float:
        """When an unacknowledged relay should be posted (monotonic; 0: at once).

        New and ended relays are due at once; an open one whose bytes moved is due
        ``refresh_s`` after the district last acknowledged it; one the district refused
        waits out its hold first.
        """
        if relay.acked_bytes < 0 or relay.ended_at is not None:
            return relay.held_until
        return max(relay.acked_at + self.refresh_s, relay.held_until)

    def due(self, limit: int = MAX_PER_POST) -> list[Relay]:
        """What to post now, oldest first, at most ``limit``; empty while nothing is due.

        When anything is due, every relay with news rides along in the same post (but
        not one held after a refusal), so many viewers' refreshes fall into step instead
        of each making its own post.
        """
        now = self._clock()
        pending = [r for r in self._relays.values() if not r.acknowledged and r.held_until <= now]
        if any(self._due_at(relay) <= now for relay in pending):
            return pending[:limit]
        return []

    def unacknowledged(self, limit: int = MAX_PER_POST) -> list[Relay]:
        """The relays whose current state the district lacks, oldest first, at most ``limit``.

        Held ones included: this is the shutdown's last try.
        """
        pending: list[Relay] = []
        for relay in self._relays.values():
            if not relay.acknowledged:
                pending.append(relay)
                if len(pending) >= limit:
                    break
        return pending

    def wait_s(self) -> float | None:
        """Seconds until a relay falls due (0: one is due now); None while none will.

        An open relay whose refresh time came with no new bytes is current at the
        district as it stands, so its next refresh is counted from now.
        """
        now = self._clock()
        soonest: float | None = None
        for relay in self._relays.values():
            if relay.acknowledged:  # open (acknowledged ended relays are not kept)
                next_at = relay.acked_at + self.refresh_s
                if next_at <= now:
                    relay.acked_at = now
                    next_at = now + self.refresh_s
            else:
                next_at = self._due_at(relay)
                if next_at <= now:
                    return 0.0
            soonest = next_at - now if soonest is None else min(soonest, next_at - now)
        return soonest

    async def wait_for_urgent(self, within_s: float | None) -> None:
        """Return when a relay opens or ends, or after ``within_s`` seconds (None: no limit).

        Call it only when ``wait_s`` said nothing is due: earlier openings and ends are
        then already reported, so the flag is cleared before waiting for the next.
        """
        self._urgent.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._urgent.wait(), within_s)

    def acknowledge(self, posted: list[dict[str, Any]]) -> None:
        """The district took these relay states (as posted); forget relays it has ended."""
        now = self._clock()
        for item in posted:
            relay = self._relays.get(item["relay_id"])
            if relay is None:
                continue
            relay.acked_bytes = int(item["bytes"])
            relay.acked_ended = item["ended_at"] is not None
            relay.acked_at = now
            if relay.refusal is not None:
                log.info("the district took relay %s after refusing it", relay.relay_id)
                relay.refusal, relay.held_until = None, 0.0
            if relay.acked_ended:
                del self._relays[relay.relay_id]
        if self.problem is not None:
            log.info("the district takes the relay log again")
            self.problem = None

    def _enforce_cap(self) -> None:
        """Keep memory bounded, dropping the oldest *ended* unacknowledged relays if it must.

        Acknowledged ended relays are never kept, and open ones are live connections,
        so only evidence the district has not yet taken could be over the cap. Dropping
        it is logged as an error and counted: the district must learn that the gateway's
        log has a hole.
        """
        over = len(self._relays) - self.cap
        if over <= 0:
            return
        victims = [r for r in self._relays.values() if r.ended_at is not None][:over]
        for relay in victims:
            del self._relays[relay.relay_id]
        if victims:
            self.dropped_unreported += len(victims)
            log.error(
                "relay log full (%d held, the district has not acknowledged them): dropped "
                "%d ended relay(s) it never received, %d in all; the district cannot "
                "reconcile them",
                self.cap,
                len(victims),
                self.dropped_unreported,
            )

    def refused(self, relay: Relay, reason: str, hold_s: float) -> None:
        """The district refused this relay's content: keep it, and try again after ``hold_s``.

        It is never dropped for this (it is evidence, and a gateway clock running ahead
        of the district's, the likeliest cause, puts it right as time passes), but it no
        longer holds up the relays the district does take.
        """
        if relay.refusal is None:
            log.error(
                "the district refused relay %s (session %s, camera %s): %s; kept, tried "
                "again every %g s",
                relay.relay_id,
                relay.session_id,
                relay.camera_id,
                reason,
                hold_s,
            )
        relay.refusal = reason
        relay.held_until = self._clock() + hold_s

    # ---------------------------------------------------------------- state

    def __len__(self) -> int:
        return len(self._relays)

    def state(self) -> dict[str, Any]:
        """For ``/metrics``: how the relay log stands with the district."""
        return {
            "opened": self.opened,
            "open": sum(1 for r in self._relays.values() if r.ended_at is None),
            "unreported": sum(1 for r in self._relays.values() if not r.acknowledged),
            "refused": sum(1 for r in self._relays.values() if r.refusal is not None),
            "dropped_unreported": self.dropped_unreported,
            "problem": self.problem,
        }


class RelayReporter:
    """Posts the relay log to the district: at least once, batched, retried with back-off."""

    def __init__(
        self,
        district_url: str,
        link_key: str,
        relays: RelayLog,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        batch_window_s: float = BATCH_WINDOW_S,
        backoff_first_s: float = BACKOFF_FIRST_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        max_post_bytes: int = MAX_POST_BYTES,
    ) -> None:
        self._url = district_url.rstrip("/") + RELAYS_PATH
        self._max_post_bytes = max_post_bytes
        self._relays = relays
        self._batch_window_s = batch_window_s
        self._backoff_first_s = backoff_first_s
        self._backoff_max_s = backoff_max_s
        # Its own client: a slow relay post must not hold up the link's cuts or statuses.
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(POST_TIMEOUT_S, connect=5.0),
            headers={"Authorization": f"Bearer {link_key}"},
            transport=transport,
        )
        self.posts = 0

    async def run_forever(self) -> None:
        """Report due relays until cancelled; failures back off, and nothing is lost."""
        delay = self._backoff_first_s
        while True:
            wait = self._relays.wait_s()
            if wait != 0.0:
                await self._relays.wait_for_urgent(wait)
                if self._relays.wait_s() != 0.0:
                    continue
                # Something opened or ended: let its neighbours join the same post.
                await asyncio.sleep(self._batch_window_s)
            if await self.post(self._relays.due()):
                delay = self._backoff_first_s
            else:
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(self._backoff_max_s, delay * 2)

    async def post(self, relays: list[Relay]) -> bool:
        """Post these relays' current states, in as many posts as the district's limits
        need; True once it has acknowledged them all (or held aside those it refuses),
        False at the first post that failed."""
        for chunk in self._chunks(relays):
            if not await self._post_chunk(chunk):
                return False
        return True

    def _chunks(self, relays: list[Relay]) -> Iterator[list[Relay]]:
        """The relays in order, cut into posts under ``max_post_bytes`` and MAX_PER_POST.

        Sizes are measured with ``json.dumps``'s defaults (spaces, ASCII escapes), which
        never undercount what httpx sends.
        """
        chunk: list[Relay] = []
        size = len('{"relays": []}')
        for relay in relays:
            item = len(json.dumps(relay.as_json())) + 2
            if chunk and (size + item > self._max_post_bytes or len(chunk) >= MAX_PER_POST):
                yield chunk
                chunk, size = [], len('{"relays": []}')
            chunk.append(relay)
            size += item
        if chunk:
            yield chunk

    async def _post_chunk(self, relays: list[Relay]) -> bool:
        payload = [relay.as_json() for relay in relays]
        self.posts += 1
        try:
            answer = await self._client.post(self._url, json={"relays": payload})
        except httpx.HTTPError as exc:
            self._failed(f"the district could not be reached ({type(exc).__name__})")
            return False
        if answer.status_code in _CONTENT_REFUSED:
            return await self._isolate(relays, _refusal(answer))
        if not answer.is_success:
            self._failed(f"the district answered {answer.status_code}")
            return False
        self._relays.acknowledge(payload)
        return True

    async def _isolate(self, relays: list[Relay], reason: str) -> bool:
        """The district refused a post's content: find the relays it refuses, by halves.

        One bad relay (a time the district finds in the future, say) must not hold up
        the rest. The halves are posted in turn, down to single relays, which are then
        held aside (``RelayLog.refused``). After ``ISOLATION_POSTS`` posts the relays
        still unsorted are held aside together, so a batch of refusals cannot turn into
        thousands of posts. False if a post failed for another reason (then back off).
        """
        refused: list[tuple[list[Relay], str]] = [(relays, reason)]
        posts = 0
        while refused:
            group, reason = refused.pop()
            if len(group) == 1 or posts >= ISOLATION_POSTS:
                for relay in group:
                    self._relays.refused(relay, reason, self._backoff_max_s)
                continue
            middle = len(group) // 2
            for half in (group[:middle], group[middle:]):
                posts += 1
                payload = [relay.as_json() for relay in half]
                self.posts += 1
                try:
                    answer = await self._client.post(self._url, json={"relays": payload})
                except httpx.HTTPError as exc:
                    self._failed(f"the district could not be reached ({type(exc).__name__})")
                    return False
                if answer.status_code in _CONTENT_REFUSED:
                    refused.append((half, _refusal(answer)))
                elif answer.is_success:
                    self._relays.acknowledge(payload)
                else:
                    self._failed(f"the district answered {answer.status_code}")
                    return False
        return True

    def _failed(self, problem: str) -> None:
        if self._relays.problem != problem:
            log.warning(
                "relay log not delivered: %s; %d relay(s) kept and retried",
                problem,
                self._relays.state()["unreported"],
            )
        self._relays.problem = problem

    async def final_report(self, budget_s: float = FINAL_REPORT_S) -> bool:
        """End every open relay and try to deliver everything unacknowledged, once.

        Called as the gateway stops; what cannot be delivered within ``budget_s`` is
        lost with the process, and the log says how much.
        """
        self._relays.end_all()
        # Each relay is posted once (in as many posts as the limits need), held ones
        # included: one the district refuses now would be refused again.
        pending = self._relays.unacknowledged(limit=max(1, len(self._relays)))
        try:
            async with asyncio.timeout(budget_s):
                await self.post(pending)
        except TimeoutError:
            pass
        left = self._relays.state()["unreported"]
        if left:
            log.error(
                "the gateway stops with %d relay(s) the district has not acknowledged (%s)",
                left,
                self._relays.problem or "refused, or no time left to post",
            )
        return not left

    async def aclose(self) -> None:
        await self._client.aclose()
