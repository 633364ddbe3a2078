"""The district server's side of its stream gateways: who serves what, and pushed cuts.

Gateways connect here (``GET /api/v1/gateway/events``, server-sent events, with the
link key derived from the shared secret) and stay connected. The server then:
- tells each gateway where the cameras' streams come from (the registry's sources);
- pushes ``cut`` events naming the viewing sessions whose video must stop, within a
  fraction of a second of the change that ended access. It finds them by re-evaluating
  the policy for every stream it authorised whose session is live (or just ended),
  at once after any change and every quarter second otherwise (expiry is a change no
  request announces). One evaluation covers every gateway: none of them polls per stream;
- asks gateways to prewarm a school's shareable cameras when a grant comes into force;
- learns each camera's state (online, offline and why) from the gateways, for consoles.

Several gateways may serve one district; each names the schools it serves (or all), and
a stream link points at a connected gateway serving the camera's school.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

HEARTBEAT_S = 2.0
REEVALUATE_S = 0.25
# A cut already sent is not sent again for this long (the gateway remembers it).
CUT_MEMORY = 10_000


@dataclass
class GatewayLink:
    link_id: int
    public_url: str
    schools: frozenset[str] | None  # None: all schools
    queue: asyncio.Queue[tuple[str, dict[str, Any]]] = field(default_factory=asyncio.Queue)

    def serves(self, school_id: str) -> bool:
        return self.schools is None or school_id in self.schools


# Sessions whose streams must stop now, with the reason: [(session_id, reason)].
Evaluate = Callable[[], list[tuple[str, str]]]


class GatewayLinks:
    def __init__(self, sources: Callable[[], dict[str, dict[str, str]]]) -> None:
        self._sources = sources
        self._links: dict[int, GatewayLink] = {}
        self._ids = itertools.count(1)
        self._poke = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._evaluator: asyncio.Task[None] | None = None
        self._cut_sent: dict[str, None] = {}
        self.camera_states: dict[str, dict[str, Any]] = {}
        self._containers: dict[tuple[str, str], str] = {}

    # ---------------------------------------------------------------- links

    def connected(self) -> list[GatewayLink]:
        return list(self._links.values())

    def gateway_for(self, school_id: str) -> str | None:
        """The public URL of a connected gateway serving this school, or None."""
        for link in self._links.values():
            if link.serves(school_id):
                return link.public_url
        return None

    async def stream(
        self, public_url: str, schools: frozenset[str] | None, evaluate: Evaluate
    ) -> AsyncIterator[bytes]:
        """The event stream of one gateway link, for as long as it stays connected."""
        self._loop = asyncio.get_running_loop()
        link = GatewayLink(next(self._ids), public_url, schools)
        self._links[link.link_id] = link
        if self._evaluator is None or self._evaluator.done():
            self._evaluator = asyncio.create_task(self._reevaluate_forever(evaluate))
        log.info(
            "gateway %s connected (%s)",
            public_url,
            "all schools" if schools is None else ", ".join(sorted(schools)),
        )
        try:
            yield _event("hello", {"sources": self._sources(), "heartbeat_s": HEARTBEAT_S})
            while True:
                try:
                    name, data = await asyncio.wait_for(link.queue.get(), HEARTBEAT_S)
                except TimeoutError:
                    yield b": heartbeat\n\nevent: heartbeat\ndata: {}\n\n"
                    continue
                yield _event(name, data)
        finally:
            self._links.pop(link.link_id, None)
            log.info("gateway %s disconnected", public_url)
            if not self._links and self._evaluator is not None:
                self._evaluator.cancel()
                self._evaluator = None

    def broadcast(self, name: str, data: dict[str, Any]) -> None:
        """Queue an event for every connected gateway (any thread)."""
        loop = self._loop
        if loop is None or not self._links:
            return

        def put() -> None:
            for link in self._links.values():
                link.queue.put_nowait((name, data))

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(put)

    def poke(self) -> None:
        """Something changed: re-evaluate the open streams now (any thread)."""
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._poke.set)

    def prewarm(self, camera_ids: list[str], hold_s: float) -> None:
        self.broadcast("prewarm", {"camera_ids": camera_ids, "stream": "sub", "hold_s": hold_s})

    def container_of(self, camera_id: str, stream: str) -> str:
        """How a gateway serves this camera stream: "ts" or "mjpg" (see gateway/relay.py).

        The gateways report it once they have probed the camera (prewarm at grant time
        makes that the usual case by the first click); until then the registry's source
        address is the best guess.
        """
        reported = self._containers.get((camera_id, stream))
        if reported is not None:
            return reported
        source = self._sources().get(camera_id, {}).get(stream, "")
        return "mjpg" if _looks_like_mjpeg(source) else "ts"

    def update_states(self, statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Take the gateways' reports; the cameras that went offline or came back online.

        Only those two changes are news for desks: connecting and idle come and go with
        viewers, and say nothing about the camera.
        """
        changes: list[dict[str, Any]] = []
        for status in statuses:
            container = status.get("container")
            if container in ("ts", "mjpg"):
                self._containers[(str(status["camera_id"]), str(status["stream"]))] = container
            if status.get("stream") != "sub":
                continue
            camera_id = str(status["camera_id"])
            now = {"state": status.get("state"), "reason": status.get("reason")}
            before = self.camera_states.get(camera_id, {})
            self.camera_states[camera_id] = now
            went_offline = now["state"] == "offline" and now != before
            came_back = now["state"] == "online" and before.get("state") == "offline"
            if went_offline or came_back:
                changes.append({"camera_id": camera_id, **now})
        return changes

    # ---------------------------------------------------------------- cuts

    async def _reevaluate_forever(self, evaluate: Evaluate) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), REEVALUATE_S)
            self._poke.clear()
            try:
                cuts = await asyncio.to_thread(evaluate)
            except Exception:  # a failed evaluation must not end the pushes for good
                log.exception("re-evaluating open streams failed")
                continue
            by_reason: dict[str, list[str]] = {}
            for session_id, reason in cuts:
                if session_id in self._cut_sent:
                    continue
                self._cut_sent[session_id] = None
                by_reason.setdefault(reason, []).append(session_id)
            while len(self._cut_sent) > CUT_MEMORY:
                self._cut_sent.pop(next(iter(self._cut_sent)))
            for reason, session_ids in by_reason.items():
                log.info("cutting %d stream(s): %s", len(session_ids), reason)
                for link in self._links.values():
                    link.queue.put_nowait(("cut", {"session_ids": session_ids, "reason": reason}))


def _looks_like_mjpeg(source: str) -> bool:
    """Whether a camera address names MJPEG (``.../video.mjpg``, Axis ``/mjpg/video.cgi``)."""
    path = urlsplit(source).path.lower()
    return "mjpg" in path or "mjpeg" in path


def _event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
