"""The gateway's HTTP side: consoles open ``/streams/{camera}/{sub|main}.{ts|mjpg}?token=``.

The extension is the container the console will be sent, so it can pick its demuxer
before the first byte: ``.ts`` for H.264 and H.265 cameras, ``.mjpg`` for MJPEG ones.
The district puts the right one in the link (the gateway reports each camera's); a
request for the wrong one is refused with the right one named.

Framework-free (``asyncio.start_server``) for the same reasons as the simulator: one
route that streams for hours, sockets with TCP_NODELAY, and no access log that could
write the token in the URL to disk. Every refusal is an RFC 9457 problem document with
the gateway's reason in ``detail``, and the reason also goes in an ``X-Refusal-Reason``
header, so a client that cannot read bodies (libVLC) can still learn it from a HEAD.

Every connection that is sent video is logged as a relay (``relaylog``) from its first
chunk to its end, with the bytes handed to it, so the district can reconcile what left
the gateway against the viewing sessions consoles reported.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from dispatch_console.domain.stream_tokens import StreamClaims

from .access import AccessGuard, Refused
from .hub import CameraUnavailable, StreamHub
from .muxer import CONTENT_TYPES
from .relaylog import Relay, RelayLog
from .viewer import SOFT_LIMIT_BYTES, Viewer

log = logging.getLogger(__name__)

# The self-test's stream: a bundled test pattern, open to anyone (it shows no camera).
SELFTEST_PATH = "/selftest.ts"
SELFTEST_CLIP = Path(__file__).resolve().parent.parent / "resources" / "selftest-clip.ts"
_PATH_RE = re.compile(
    r"^/streams/(?P<camera>[A-Za-z0-9._-]{1,64})/(?P<stream>sub|main)\.(?P<container>ts|mjpg)$"
)
_MAX_REQUEST_LINE = 4096
_MAX_HEADER_LINES = 64
_REQUEST_TIMEOUT_S = 10.0
_CHECK_INTERVAL_S = 0.25

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    503: "Service Unavailable",
}


def _ascii_header(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii").replace("\r", " ").replace("\n", " ")


class RelayServer:
    """Serves live streams to holders of valid stream tokens while access lasts."""

    def __init__(
        self,
        hub: StreamHub,
        guard: AccessGuard,
        *,
        metrics_key: str | None = None,
        link_state: Callable[[], dict[str, Any]] | None = None,
        viewer_budget: int = SOFT_LIMIT_BYTES,
        relays: RelayLog | None = None,
    ) -> None:
        self.hub = hub
        self.relays = relays if relays is not None else RelayLog()
        self.guard = guard
        self._metrics_key = metrics_key
        self._viewer_budget = viewer_budget
        self._link_state = link_state or (lambda: {})
        self._by_session: dict[str, Viewer] = {}
        self._claims: dict[Viewer, StreamClaims] = {}
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.streams_served = 0

    # ---------------------------------------------------------------- lifecycle

    async def start(self, sock: Any) -> None:
        self.hub.bind(asyncio.get_running_loop())
        self._server = await asyncio.start_server(self._handle, sock=sock)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for viewer in list(self._claims):
            viewer.close("The gateway is shutting down.")
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if server is not None:
            await server.wait_closed()

    # ---------------------------------------------------------------- cuts

    def cut_sessions(self, session_ids: list[str], reason: str) -> int:
        """Stop these viewing sessions' streams now and refuse them from now on."""
        cut = 0
        for session_id in session_ids:
            self.guard.cut_session(session_id, reason)
            viewer = self._by_session.get(session_id)
            if viewer is not None:
                viewer.close(reason)
                cut += 1
        return cut

    def enforce(self) -> int:
        """Close every stream the guard no longer allows (lease lost, grant expired)."""
        now = time.time()
        cut = 0
        for viewer, claims in list(self._claims.items()):
            reason = self.guard.denial(claims, now)
            if reason is not None:
                viewer.close(reason)
                cut += 1
        return cut

    async def enforce_forever(self) -> None:
        while True:
            await asyncio.sleep(_CHECK_INTERVAL_S)
            self.enforce()

    def open_sessions(self) -> list[str]:
        return list(self._by_session)

    # ---------------------------------------------------------------- HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("gateway connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._handlers.discard(task)

    async def _read_request(
        self, reader: asyncio.StreamReader
    ) -> tuple[str, str, dict[str, str]] | None:
        line = await reader.readline()
        if not line or len(line) > _MAX_REQUEST_LINE:
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            return None
        headers: dict[str, str] = {}
        for _ in range(_MAX_HEADER_LINES):
            raw = await reader.readline()
            if raw in (b"\r\n", b"\n"):
                return parts[0], parts[1], headers
            if not raw:
                return None
            name, _, value = raw.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(self._read_request(reader), _REQUEST_TIMEOUT_S)
        except (ValueError, asyncio.LimitOverrunError):
            request = None
        if request is None:
            await self._problem(writer, 400, "The request could not be parsed.")
            return
        method, target, headers = request
        try:
            parts = urlsplit(target)
        except ValueError:
            await self._problem(writer, 400, "The request target could not be parsed.")
            return
        path = unquote(parts.path)
        if path == "/healthz" and method == "GET":
            await self._json(writer, 200, {"status": "ok", **self._link_state()})
            return
        if path == SELFTEST_PATH and method in ("GET", "HEAD"):
            await self._selftest_clip(writer, method)
            return
        if path == "/metrics" and method == "GET":
            if (
                self._metrics_key is None
                or headers.get("authorization") != f"Bearer {self._metrics_key}"
            ):
                await self._problem(writer, 401, "Metrics need the gateway's link key.")
                return
            await self._json(
                writer,
                200,
                {
                    **self.hub.metrics(),
                    "viewers": len(self._claims),
                    "relays": self.relays.state(),
                },
            )
            return
        match = _PATH_RE.match(path)
        if match is None:
            await self._problem(writer, 404, "There is no such stream on this gateway.")
            return
        if method not in ("GET", "HEAD"):
            await self._problem(writer, 405, "Streams are read with GET.", allow="GET, HEAD")
            return
        tokens = parse_qs(parts.query).get("token", [])
        if len(tokens) != 1:
            await self._problem(writer, 401, "This stream needs a token from the district.")
            return
        try:
            claims = self.guard.admit(tokens[0], match["camera"], match["stream"])
        except Refused as exc:
            await self._problem(writer, exc.status, exc.reason)
            return
        await self._stream(claims, match["container"], method, reader, writer)

    async def _stream(
        self,
        claims: StreamClaims,
        container: str,
        method: str,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        viewer = Viewer(
            claims.session_id,
            asyncio.get_running_loop(),
            soft_limit=self._viewer_budget,
            hard_limit=4 * self._viewer_budget,
        )
        try:
            upstream = await self.hub.attach(claims.camera_id, claims.stream, viewer)
        except CameraUnavailable as exc:
            await self._problem(writer, 404 if exc.unknown else 503, exc.reason, offline=True)
            return
        if upstream.container != container:
            upstream.remove_viewer(viewer)
            await self._problem(
                writer,
                409,
                f"This camera's {claims.stream} stream is served as .{upstream.container}, "
                f"not .{container}; ask the district for a new link.",
            )
            return
        self._bound_buffers(writer)
        older = self._by_session.get(claims.session_id)
        if older is not None:
            older.close("A newer stream of the same viewing session replaced this one.")
        self._by_session[claims.session_id] = viewer
        self._claims[viewer] = claims
        self.streams_served += 1
        log.info(
            "stream opened: camera %s/%s, session %s",
            claims.camera_id,
            claims.stream,
            claims.session_id,
        )
        hangup = asyncio.create_task(reader.read(1))
        relay: Relay | None = None
        try:
            writer.write(
                f"HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPES[container]}\r\n"
                "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
                "Connection: close\r\n\r\n".encode("ascii")
            )
            if method == "HEAD":
                await writer.drain()
                return
            while True:
                next_chunk = asyncio.ensure_future(viewer.next_chunk())
                done, _ = await asyncio.wait(
                    {next_chunk, hangup}, return_when=asyncio.FIRST_COMPLETED
                )
                if hangup in done:
                    next_chunk.cancel()
                    viewer.close("The viewer disconnected.")
                    break
                chunk = next_chunk.result()
                if chunk is None:
                    break
                if relay is None:  # video starts flowing to this viewer now
                    relay = self.relays.open(claims.session_id, claims.camera_id, claims.stream)
                writer.write(chunk)
                self.relays.sent(relay, len(chunk))
                await writer.drain()
        finally:
            hangup.cancel()
            if relay is not None:
                self.relays.end(relay)
            upstream.remove_viewer(viewer)
            self._claims.pop(viewer, None)
            if self._by_session.get(claims.session_id) is viewer:
                del self._by_session[claims.session_id]
            log.info(
                "stream closed: camera %s/%s, session %s, relay %s (%d bytes): %s",
                claims.camera_id,
                claims.stream,
                claims.session_id,
                relay.relay_id if relay is not None else "none",
                relay.bytes if relay is not None else 0,
                viewer.closed_reason or "the viewer disconnected",
            )

    def _bound_buffers(self, writer: asyncio.StreamWriter) -> None:
        """Keep a slow viewer's backlog where the gateway can skip it.

        Kernel send buffers grow to megabytes; video queued there cannot be skipped and
        only makes the viewer fall further behind live. Bounded here, a stalled
        connection pushes back within the viewer's budget, and its viewer queue then
        skips to the next keyframe (see Viewer).
        """
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, max(65536, self._viewer_budget)
                )
        writer.transport.set_write_buffer_limits(high=self._viewer_budget)

    async def _selftest_clip(self, writer: asyncio.StreamWriter, method: str) -> None:
        """A few seconds of test pattern, the same clip the console's libVLC check plays.

        No camera, no school and no token: a workstation's self-test opens it to prove the
        network path to the gateway and the decoder end to end, before anyone signs in.
        """
        try:
            data = await asyncio.to_thread(SELFTEST_CLIP.read_bytes)
        except OSError as exc:
            await self._problem(writer, 503, f"The gateway's test clip is missing: {exc}.")
            return
        writer.write(
            f"HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nContent-Length: {len(data)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode("latin-1")
            + (data if method == "GET" else b"")
        )
        await writer.drain()

    async def _json(self, writer: asyncio.StreamWriter, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode("utf-8")
        writer.write(
            f"HTTP/1.1 {status} {_TITLES.get(status, 'OK')}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode("latin-1")
            + data
        )
        await writer.drain()

    async def _problem(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        detail: str,
        *,
        allow: str | None = None,
        offline: bool = False,
    ) -> None:
        title = _TITLES.get(status, "Error")
        body = json.dumps(
            {"type": "about:blank", "title": title, "status": status, "detail": detail}
        )
        data = body.encode("utf-8")
        extra = f"Allow: {allow}\r\n" if allow else ""
        if offline:
            extra += "X-Camera-State: offline\r\n"
        writer.write(
            f"HTTP/1.1 {status} {title}\r\nContent-Type: application/problem+json\r\n"
            f"Content-Length: {len(data)}\r\nX-Refusal-Reason: {_ascii_header(detail)}\r\n"
            f"{extra}Cache-Control: no-store\r\nConnection: close\r\n\r\n".encode("latin-1")
            + data
        )
        await writer.drain()
