"""The camera simulator's HTTP face, its fault switches, and the RTSP front it supervises.

Framework-free (``asyncio.start_server``) for the same reason as the old simulator: the
routes are few, and owning each socket makes the lifetimes explicit. Every encoder runs
from start to stop whether watched or not (see :mod:`dispatch_console.camsim.encoder`);
an HTTP viewer is only a subscriber that receives the live MPEG-TS from wherever the
encoder is, exactly like pulling a real camera's stream.

MJPEG, which many cheap cameras serve, is produced by one ffmpeg per camera that
transcodes the camera's own TS stream; it starts with the first MJPEG viewer and stops
with the last, so nobody pays for it when unused.

Fault injection (``POST /control/{id}``) exists because the console must cope with
cameras that refuse connections, send garbage, go silent or want credentials; the tests
need to switch a camera into those states on demand. It only affects the camera's HTTP
routes. The RTSP front pulls the streams through a separate internal route
(``/feed/{id}/{stream}.ts``) so RTSP keeps working whatever the HTTP fault mode is.

RTSP is served by a child process running Debian's own Python, because the GStreamer
RTSP server is only reachable through PyGObject (``gi``), which the project venv does not
have (see :mod:`dispatch_console.camsim.rtsp_front`). If that Python or the GStreamer
pieces are missing, the simulator says so and carries on with HTTP only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import signal
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast

from dispatch_console.camsim.encoder import (
    MAIN,
    SUB,
    CameraEncoder,
    Codec,
    StreamSpec,
    Subscriber,
    find_ffmpeg,
    render_background,
)

__all__ = ["FaultMode", "SimCamera", "SimConfig", "Simulator", "run_until_signalled"]

log = logging.getLogger(__name__)

FaultMode = Literal["normal", "refuse", "garbage", "silent", "unauthorized"]
FAULT_MODES: tuple[FaultMode, ...] = ("normal", "refuse", "garbage", "silent", "unauthorized")

_CAMERA_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_TS_RE = re.compile(r"^/cameras/(?P<cam>[^/]+?)(?:\.ts|/(?P<stream>sub|main)\.ts)$")
_MJPG_RE = re.compile(r"^/cameras/(?P<cam>[^/]+)\.mjpg$")
_FEED_RE = re.compile(r"^/feed/(?P<cam>[^/]+)/(?P<stream>sub|main)\.ts$")
_CONTROL_RE = re.compile(r"^/control/(?P<cam>[^/]+)$")
_REQUEST_TIMEOUT_S = 10.0
_MAX_HEADER_LINES = 100
_MAX_BODY = 4096
_MJPEG_BOUNDARY = "camsimframe"
_RTSP_READY_TIMEOUT_S = 15.0
_SYSTEM_PYTHON = "/usr/bin/python3"
_RTSP_SCRIPT = Path(__file__).with_name("rtsp_front.py")
_RTSP_PASSWORD_ENV = "CAMSIM_RTSP_PASSWORD"
_RTSP_UNAVAILABLE = 3  # rtsp_front's exit code when gi or a GStreamer element is missing


@dataclass(frozen=True)
class SimCamera:
    """A simulated camera: its id (used in URLs) and the label burnt into its picture."""

    camera_id: str
    label: str

    def __post_init__(self) -> None:
        if not _CAMERA_ID_RE.match(self.camera_id):
            raise ValueError(
                f"camera id {self.camera_id!r} must be 1-128 characters of letters, digits, "
                "'.', '_' or '-' and start with a letter or digit"
            )


@dataclass(frozen=True)
class SimConfig:
    cameras: Sequence[SimCamera]
    host: str = "127.0.0.1"
    port: int = 8554
    fps: int = 15
    gop_s: float = 2.0
    codec: Codec = "h264"
    main: bool = False
    rtsp: bool = True
    rtsp_port: int = 0
    rtsp_user: str | None = None
    rtsp_password: str | None = None


@dataclass
class _CameraState:
    camera: SimCamera
    encoders: dict[str, CameraEncoder]
    mode: FaultMode = "normal"
    viewers: dict[asyncio.Task[None], asyncio.StreamWriter] = field(default_factory=dict)
    mjpeg: _MjpegHub | None = None


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    headers: dict[str, str]


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _loopback_for(host: str) -> str:
    """Where a local client reaches a server bound to ``host`` (wildcards -> loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


class Simulator:
    """All cameras' encoders, the HTTP server and (optionally) the RTSP front."""

    def __init__(self, config: SimConfig) -> None:
        if not config.cameras:
            raise ValueError("no cameras to simulate")
        ids = [c.camera_id for c in config.cameras]
        if len(set(ids)) != len(ids):
            raise ValueError("camera ids must be unique")
        if config.fps <= 0 or config.gop_s <= 0:
            raise ValueError("--fps and --gop must be positive")
        if (config.rtsp_user is None) != (config.rtsp_password is None):
            raise ValueError("--rtsp-user and --rtsp-password go together")
        self.config = config
        self._ffmpeg = ""
        self._cameras: dict[str, _CameraState] = {}
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._rtsp_proc: asyncio.subprocess.Process | None = None
        self._rtsp_drain: asyncio.Task[None] | None = None
        self.rtsp_url: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Render pictures, start every encoder, listen on HTTP, then start RTSP."""
        self._ffmpeg = find_ffmpeg()
        loop = asyncio.get_running_loop()
        specs: list[StreamSpec] = [SUB, MAIN] if self.config.main else [SUB]
        jobs = [(cam, spec) for cam in self.config.cameras for spec in specs]
        backgrounds = await asyncio.gather(
            *(
                asyncio.to_thread(
                    render_background,
                    self._ffmpeg,
                    cam.camera_id,
                    cam.label,
                    spec.width,
                    spec.height,
                )
                for cam, spec in jobs
            )
        )
        for cam in self.config.cameras:
            self._cameras[cam.camera_id] = _CameraState(cam, {})
        for (cam, spec), background in zip(jobs, backgrounds, strict=True):
            encoder = CameraEncoder(
                camera_id=cam.camera_id,
                spec=spec,
                fps=self.config.fps,
                gop_s=self.config.gop_s,
                codec=self.config.codec,
                ffmpeg=self._ffmpeg,
                background=background,
                loop=loop,
            )
            self._cameras[cam.camera_id].encoders[spec.name] = encoder
            encoder.start()
        log.info(
            "%d encoder(s) running: %d camera(s), %s, %d fps, keyframe every %g s",
            len(jobs),
            len(self._cameras),
            self.config.codec,
            self.config.fps,
            self.config.gop_s,
        )
        try:
            self._server = await asyncio.start_server(
                self._handle, self.config.host, self.config.port
            )
            log.info("HTTP on %s", self.http_url)
            if self.config.rtsp:
                await self._start_rtsp()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop RTSP, the listener, every viewer and encoder; reap every child."""
        await self._stop_rtsp()
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for state in self._cameras.values():
            if state.mjpeg is not None:
                await state.mjpeg.stop()
            for encoder in state.encoders.values():
                encoder.close_subscribers()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)
        encoders = [e for s in self._cameras.values() for e in s.encoders.values()]
        await asyncio.gather(*(asyncio.to_thread(e.stop) for e in encoders))
        if server is not None:
            await server.wait_closed()

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("camera simulator is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def http_url(self) -> str:
        return f"http://{_url_host(self.config.host)}:{self.port}"

    def encoders(self) -> list[CameraEncoder]:
        return [e for s in self._cameras.values() for e in s.encoders.values()]

    def info(self) -> dict[str, object]:
        return {
            "cameras": list(self._cameras),
            "gop_s": self.config.gop_s,
            "fps": self.config.fps,
            "codec": self.config.codec,
            "main": self.config.main,
            "rtsp": self.rtsp_url,
            # Open HTTP viewer connections: tests check that players hang up.
            "http_viewers": sum(len(state.viewers) for state in self._cameras.values()),
        }

    # ------------------------------------------------------------------ RTSP front

    async def _start_rtsp(self) -> None:
        if not os.access(_SYSTEM_PYTHON, os.X_OK):
            log.warning(
                "RTSP disabled: %s not found; install python3-gi, python3-gst-1.0 and "
                "gir1.2-gst-rtsp-server-1.0 to serve RTSP (HTTP still works)",
                _SYSTEM_PYTHON,
            )
            return
        pull = f"http://{_url_host(_loopback_for(self.config.host))}:{self.port}"
        args = [
            _SYSTEM_PYTHON,
            str(_RTSP_SCRIPT),
            "--http",
            pull,
            "--host",
            self.config.host,
            "--port",
            str(self.config.rtsp_port),
            "--codec",
            self.config.codec,
            "--cameras",
            ",".join(self._cameras),
        ]
        if self.config.main:
            args.append("--main")
        env = dict(os.environ)
        env.pop(_RTSP_PASSWORD_ENV, None)
        if self.config.rtsp_user is not None and self.config.rtsp_password is not None:
            args += ["--user", self.config.rtsp_user]
            env[_RTSP_PASSWORD_ENV] = self.config.rtsp_password
        # stdin stays an open pipe: the front quits when it reaches EOF, so it cannot
        # outlive this process even if we are killed without a chance to clean up.
        proc = await asyncio.create_subprocess_exec(
            *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, env=env
        )
        self._rtsp_proc = proc
        assert proc.stdout is not None
        try:
            url = await asyncio.wait_for(_ready_line(proc.stdout), _RTSP_READY_TIMEOUT_S)
        except TimeoutError:
            url = None
            log.warning("RTSP disabled: the RTSP front did not start within 15 s")
        if url is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 0.5)  # an exiting child: get its code
            if proc.returncode == _RTSP_UNAVAILABLE:
                log.warning(
                    "RTSP disabled: the GStreamer RTSP server is not available (needs "
                    "python3-gi, python3-gst-1.0, gir1.2-gst-rtsp-server-1.0 and the "
                    "GStreamer plugins); serving HTTP only"
                )
            else:
                log.warning(
                    "RTSP disabled: the RTSP front failed (exit code %s, see its message "
                    "above); serving HTTP only",
                    proc.returncode,
                )
            await self._stop_rtsp()
            return
        self.rtsp_url = url
        self._rtsp_drain = asyncio.create_task(self._watch_rtsp(proc))
        log.info("RTSP on %s", url)

    async def _watch_rtsp(self, proc: asyncio.subprocess.Process) -> None:
        """Drain the front's stdout and say so loudly if it dies while we still run."""
        assert proc.stdout is not None
        await _drain(proc.stdout)
        code = await proc.wait()
        if self._rtsp_proc is proc:
            log.error("the RTSP front exited unexpectedly (code %s); RTSP is down", code)
            self.rtsp_url = None

    async def _stop_rtsp(self) -> None:
        proc, self._rtsp_proc = self._rtsp_proc, None
        self.rtsp_url = None
        if proc is not None:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 3)
                except TimeoutError:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                    await proc.wait()
            if proc.stdin is not None:
                proc.stdin.close()
        drain, self._rtsp_drain = self._rtsp_drain, None
        if drain is not None:
            drain.cancel()
            await asyncio.gather(drain, return_exceptions=True)

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or never finished its request
        except asyncio.CancelledError:
            # stop() or a "refuse" switch cut this viewer; the socket closes below.
            pass
        except Exception:
            log.exception("camera simulator connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await asyncio.wait_for(_read_head(reader), _REQUEST_TIMEOUT_S)
        if request is None:
            await _respond(writer, 400, "Bad Request", "malformed HTTP request\n")
            return
        path = request.path
        if path == "/info":
            await self._info(request, writer)
        elif m := _CONTROL_RE.match(path):
            await self._control(m["cam"], request, reader, writer)
        elif m := _FEED_RE.match(path):
            state = self._camera(m["cam"])
            if state is None or m["stream"] not in state.encoders:
                await _respond(writer, 404, "Not Found", "no such camera stream\n")
            elif request.method not in ("GET", "HEAD"):
                await _not_allowed(writer, "GET, HEAD")
            else:
                await self._stream_ts(state, m["stream"], request, reader, writer)
        elif (m := _TS_RE.match(path)) or (m := _MJPG_RE.match(path)):
            state = self._camera(m["cam"])
            if state is None:
                await _respond(writer, 404, "Not Found", f"no camera {m['cam']!r}\n")
                return
            if request.method not in ("GET", "HEAD"):
                await _not_allowed(writer, "GET, HEAD")
                return
            await self._camera_route(state, m, request, reader, writer)
        else:
            await _respond(writer, 404, "Not Found", "unknown path\n")

    def _camera(self, camera_id: str) -> _CameraState | None:
        return self._cameras.get(camera_id)

    async def _info(self, request: _Request, writer: asyncio.StreamWriter) -> None:
        if request.method not in ("GET", "HEAD"):
            await _not_allowed(writer, "GET, HEAD")
            return
        body = json.dumps(self.info()).encode()
        await _respond(writer, 200, "OK", body, "application/json", head=request.method == "HEAD")

    async def _control(
        self,
        camera_id: str,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        state = self._camera(camera_id)
        if state is None:
            await _respond(writer, 404, "Not Found", f"no camera {camera_id!r}\n")
            return
        if request.method != "POST":
            await _not_allowed(writer, "POST")
            return
        try:
            length = int(request.headers.get("content-length", ""))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            await _respond(writer, 400, "Bad Request", "need a JSON body with Content-Length\n")
            return
        body = await asyncio.wait_for(reader.readexactly(length), _REQUEST_TIMEOUT_S)
        try:
            mode = json.loads(body).get("mode")
        except (ValueError, AttributeError):
            mode = None
        if mode not in FAULT_MODES:
            await _respond(
                writer, 400, "Bad Request", f"mode must be one of {', '.join(FAULT_MODES)}\n"
            )
            return
        state.mode = cast(FaultMode, mode)
        log.info("camera %s: HTTP fault mode %s", camera_id, mode)
        if mode == "refuse":
            # Cut, not closed politely: a reset, as when a camera's service dies.
            for viewer, viewer_writer in list(state.viewers.items()):
                _reset(viewer_writer)
                viewer.cancel()
        await _respond(writer, 204, "No Content", b"")

    async def _camera_route(
        self,
        state: _CameraState,
        match: re.Match[str],
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        mode = state.mode
        if mode == "refuse":
            # No answer at all: reset the connection like a camera whose service is down.
            _reset(writer)
            return
        if mode == "unauthorized":
            await _respond(
                writer,
                401,
                "Unauthorized",
                "credentials required\n",
                extra='WWW-Authenticate: Basic realm="camsim"\r\n',
            )
            return
        mjpeg = match.re is _MJPG_RE
        stream = "sub" if mjpeg else (match["stream"] or "sub")
        if stream not in state.encoders:
            await _respond(
                writer,
                404,
                "Not Found",
                f"camera {state.camera.camera_id} has no {stream} stream "
                "(start the simulator with --main)\n",
            )
            return
        task = asyncio.current_task()
        assert task is not None
        state.viewers[task] = writer
        try:
            if mode == "garbage":
                await _send_headers(writer, "video/mp2t")
                if request.method == "GET":
                    await _garbage(writer)
            elif mode == "silent":
                await _send_headers(writer, "video/mp2t")
                if request.method == "GET":
                    await _wait_eof(reader)
            elif mjpeg:
                await self._stream_mjpeg(state, request, reader, writer)
            else:
                await self._stream_ts(state, stream, request, reader, writer)
        finally:
            state.viewers.pop(task, None)

    async def _stream_ts(
        self,
        state: _CameraState,
        stream: str,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        await _send_headers(writer, "video/mp2t")
        if request.method == "HEAD":
            return
        encoder = state.encoders[stream]
        sub = encoder.subscribe(on_drop=writer.transport.abort)
        hangup = asyncio.create_task(_wait_eof(reader))
        hangup.add_done_callback(lambda _: sub.close())
        try:
            while (chunk := await sub.get()) is not None:
                writer.write(chunk)
                await writer.drain()
        finally:
            encoder.unsubscribe(sub)
            hangup.cancel()
            await asyncio.gather(hangup, return_exceptions=True)

    async def _stream_mjpeg(
        self,
        state: _CameraState,
        request: _Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        await _send_headers(writer, f"multipart/x-mixed-replace;boundary={_MJPEG_BOUNDARY}")
        if request.method == "HEAD":
            return
        if state.mjpeg is None:
            state.mjpeg = _MjpegHub(state.encoders["sub"], self._ffmpeg)
        hub = state.mjpeg
        viewer = hub.join()
        hangup = asyncio.create_task(_wait_eof(reader))
        hangup.add_done_callback(lambda _: viewer.close())
        try:
            while (jpeg := await viewer.next()) is not None:
                writer.write(
                    f"--{_MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                    f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                await writer.drain()
        finally:
            hangup.cancel()
            await asyncio.gather(hangup, return_exceptions=True)
            if hub.leave(viewer):
                if state.mjpeg is hub:
                    state.mjpeg = None
                await hub.stop()


class _JpegViewer:
    """Latest-frame mailbox: a slow MJPEG viewer skips frames instead of queueing them."""

    def __init__(self) -> None:
        self._latest: bytes | None = None
        self._event = asyncio.Event()
        self.closed = False

    def offer(self, jpeg: bytes) -> None:
        self._latest = jpeg
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._event.set()

    async def next(self) -> bytes | None:
        while self._latest is None:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        jpeg, self._latest = self._latest, None
        return None if self.closed else jpeg


class _MjpegHub:
    """One ffmpeg per camera turning its TS stream into JPEGs, alive while anyone watches."""

    def __init__(self, encoder: CameraEncoder, ffmpeg: str) -> None:
        self._encoder = encoder
        self._ffmpeg = ffmpeg
        self._viewers: set[_JpegViewer] = set()
        self._task: asyncio.Task[None] | None = None

    def join(self) -> _JpegViewer:
        viewer = _JpegViewer()
        self._viewers.add(viewer)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return viewer

    def leave(self, viewer: _JpegViewer) -> bool:
        """Remove a viewer; True when it was the last one (the caller then stops the hub)."""
        self._viewers.discard(viewer)
        viewer.close()
        return not self._viewers

    async def stop(self) -> None:
        for viewer in list(self._viewers):
            viewer.close()
        self._viewers.clear()
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        try:
            await self._transcode()
        except Exception:
            log.exception("MJPEG encoder for %s failed", self._encoder.camera_id)
        finally:
            # Viewers must never wait on a hub whose encoder is gone.
            for viewer in list(self._viewers):
                viewer.close()

    async def _transcode(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            # "fatal": joining mid-GOP, the decoder complains until the next keyframe.
            self._ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "fatal",
            "-fflags", "nobuffer", "-probesize", "200000", "-analyzeduration", "1000000",
            "-f", "mpegts", "-i", "pipe:0", "-an", "-c:v", "mjpeg", "-q:v", "7",
            "-f", "mpjpeg", "pipe:1",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        sub = self._encoder.subscribe()
        feed = asyncio.create_task(self._feed(sub, proc))
        try:
            await self._parse(proc)
        finally:
            self._encoder.unsubscribe(sub)
            feed.cancel()
            await asyncio.gather(feed, return_exceptions=True)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(proc.wait())

    @staticmethod
    async def _feed(sub: Subscriber, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdin is not None
        with contextlib.suppress(ConnectionError):
            while (chunk := await sub.get()) is not None:
                proc.stdin.write(chunk)
                await proc.stdin.drain()
        with contextlib.suppress(OSError):
            proc.stdin.close()

    async def _parse(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        length_re = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)
        with contextlib.suppress(asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            while True:
                head = await proc.stdout.readuntil(b"\r\n\r\n")
                found = length_re.search(head)
                if found is None:
                    log.warning("unexpected MJPEG part header from ffmpeg: %r", head[:200])
                    return
                jpeg = await proc.stdout.readexactly(int(found[1]))
                for viewer in list(self._viewers):
                    viewer.offer(jpeg)


# ---------------------------------------------------------------------- HTTP helpers


async def _read_head(reader: asyncio.StreamReader) -> _Request | None:
    """Read the request line and headers; ``None`` when the request is malformed."""
    try:
        line = await reader.readline()
    except (asyncio.LimitOverrunError, ValueError):
        return None
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        return None
    headers: dict[str, str] = {}
    for _ in range(_MAX_HEADER_LINES):
        try:
            raw = await reader.readline()
        except (asyncio.LimitOverrunError, ValueError):
            return None
        if raw in (b"\r\n", b"\n"):
            path = parts[1].split("?", 1)[0].split("#", 1)[0]
            return _Request(parts[0], path, headers)
        if not raw:
            return None
        name, sep, value = raw.decode("latin-1").partition(":")
        if not sep:
            return None
        headers[name.strip().lower()] = value.strip()
    return None


def _reset(writer: asyncio.StreamWriter) -> None:
    """Drop a connection with a TCP reset (linger 0), not an orderly close."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _send_headers(writer: asyncio.StreamWriter, content_type: str) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\n"
        + f"Content-Type: {content_type}\r\n".encode()
        + b"Cache-Control: no-store\r\nConnection: close\r\n\r\n"
    )
    await writer.drain()


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    reason: str,
    body: bytes | str,
    content_type: str = "text/plain; charset=utf-8",
    extra: str = "",
    head: bool = False,
) -> None:
    data = body.encode() if isinstance(body, str) else body
    type_line = f"Content-Type: {content_type}\r\n" if status != 204 else ""
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\n{type_line}"
        f"Content-Length: {len(data)}\r\n"
        "Cache-Control: no-store\r\nConnection: close\r\n"
        f"{extra}\r\n".encode()
        + (b"" if head else data)
    )
    await writer.drain()


async def _not_allowed(writer: asyncio.StreamWriter, allow: str) -> None:
    await _respond(
        writer, 405, "Method Not Allowed", "method not allowed\n", extra=f"Allow: {allow}\r\n"
    )


async def _garbage(writer: asyncio.StreamWriter) -> None:
    """Endless random bytes that are not MPEG-TS (no 0x47 sync byte anywhere)."""
    no_sync = bytes.maketrans(b"\x47", b"\x00")
    rng = random.Random()
    while True:
        writer.write(rng.randbytes(16 * 1024).translate(no_sync))
        await writer.drain()
        await asyncio.sleep(0.05)


async def _wait_eof(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(4096):
            pass


async def _ready_line(stdout: asyncio.StreamReader) -> str | None:
    """The URL from the RTSP front's ``RTSP_READY=`` line, or None if it exits first."""
    while line := await stdout.readline():
        text = line.decode(errors="replace").strip()
        if text.startswith("RTSP_READY="):
            return text.partition("=")[2]
    return None


async def _drain(stdout: asyncio.StreamReader) -> None:
    while await stdout.read(4096):
        pass


# ---------------------------------------------------------------------- running


async def run_until_signalled(config: SimConfig, ready: Callable[[Simulator], None]) -> None:
    """Start the simulator, call ``ready`` once HTTP and RTSP listen, run until SIGINT/TERM."""
    sim = Simulator(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await sim.start()
    try:
        ready(sim)
        await stop.wait()
    finally:
        log.info("stopping")
        await sim.stop()
        log.info("stopped: every encoder and child process ended")
