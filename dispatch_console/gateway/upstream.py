"""One upstream session per camera stream, however many consoles watch it.

Cameras allow a handful of sessions at most, and opening one (RTSP DESCRIBE, SETUP,
PLAY, then waiting for a keyframe) takes one to two seconds. So the gateway pulls each
camera stream once, in a thread of its own (PyAV's demuxer blocks), keeps the current
GOP, and hands every packet to each viewer's muxer. The upstream stays open a while after
the last viewer leaves (and from a prewarm until its hold ends), so a reopened or
prewarmed camera is served from cache.

A camera that cannot be reached, refuses the district's credentials or sends something
that is not video is marked offline with that reason, in words a dispatcher can pass on
to the district's IT, and retried with jittered exponential backoff. Reasons never quote
the source URL: it may carry credentials.

Why PyAV rather than GStreamer: it repackages without decoding, handles RTSP over TCP
with Basic and Digest authentication, HTTP MPEG-TS and multipart MJPEG through one API, installs
from PyPI as a wheel with its own FFmpeg (Debian's libVLC cannot play RTSP, and
GStreamer's Python bindings are not installable into a venv), and a prototype measured
first frames of 21-31 ms with it.
"""

from __future__ import annotations

import enum
import errno
import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av

from .gop import GopCache, MediaPacket, join_slices, squeeze_to_live_edge
from .muxer import make_muxer
from .sources import redact
from .viewer import Viewer

log = logging.getLogger(__name__)

# The codecs relayed, with the container each reaches consoles in (see muxer.py).
SUPPORTED_CODECS = {"h264": ("H.264", "ts"), "hevc": ("H.265", "ts"), "mjpeg": ("MJPEG", "mjpg")}
OPEN_TIMEOUT_S = 8.0
READ_TIMEOUT_S = 5.0
BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 30.0
# The most the assembler waits for more slices of a picture (see _assemble).
MERGE_WINDOW_S = 0.03
LATE_SLICE_WAIT_S = 0.2
QUEUE_PACKETS = 256


class CameraState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"


@dataclass(frozen=True)
class CameraStatus:
    camera_id: str
    stream: str
    state: CameraState
    reason: str | None
    since: float  # time.time()
    container: str | None = None  # how consoles get it ("ts", "mjpg"), once known

    def as_json(self) -> dict[str, Any]:
        return {
            "camera_id": self.camera_id,
            "stream": self.stream,
            "state": self.state.value,
            "reason": self.reason,
            "since": self.since,
            "container": self.container,
        }


def describe_failure(exc: BaseException, read_timeout: float) -> str:
    """What went wrong with a camera, for a dispatcher; never the URL or its secrets."""
    if isinstance(exc, av.error.HTTPUnauthorizedError | av.error.HTTPForbiddenError):
        return "The camera refused the district's credentials."
    if isinstance(exc, av.error.HTTPNotFoundError):
        return "The camera has no stream at the configured address (404)."
    if isinstance(exc, av.error.HTTPError | av.error.HTTPOtherClientError):
        return "The camera answered with an HTTP error instead of video."
    if isinstance(exc, av.error.InvalidDataError):
        return "The camera sends data that is not a video stream."
    code = getattr(exc, "errno", None)
    if code == errno.ECONNREFUSED:
        return "The camera cannot be reached: it refused the connection."
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "The camera cannot be reached: no route to it."
    if code == errno.ETIMEDOUT or isinstance(exc, TimeoutError) or code == errno.EIO:
        return f"The camera stopped answering (nothing for {read_timeout:g} s)."
    if code == errno.EACCES or code == errno.EPERM:
        return "The camera refused the district's credentials."
    if isinstance(exc, av.error.EOFError):
        return "The camera closed the stream."
    if isinstance(exc, av.FFmpegError):
        return f"The camera's stream could not be read ({type(exc).__name__})."
    return f"The camera's stream failed ({type(exc).__name__})."


class Unsupported(Exception):
    """The source opened but carries nothing the gateway relays."""


class CameraUpstream:
    """Pulls one camera stream in a thread and fans its packets out to viewers."""

    def __init__(
        self,
        camera_id: str,
        stream: str,
        url: str,
        on_status: Callable[[CameraStatus], None],
        open_timeout: float = OPEN_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self._url = url
        self._shown = redact(url)
        self._on_status = on_status
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stop_reading = threading.Event()
        self._last_dts: int | None = None
        self._status_was_online = False  # this connection delivered a keyframe
        self._cache = GopCache()
        self._viewers: list[Viewer] = []
        self._template: Any = None
        self._time_base = Fraction(1, 90000)
        self.container: str | None = None  # known once the source has been probed
        self._status = CameraStatus(camera_id, stream, CameraState.IDLE, None, time.time())
        self._changed = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self.sessions_opened = 0  # upstream connections made (a benchmark counts them)
        self.frames_skipped = 0  # frames slow viewers skipped (they caught up at a keyframe)
        self.idle_since: float | None = time.monotonic()
        self.hold_until = 0.0

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"upstream-{self.camera_id}-{self.stream}", daemon=True
            )
            self._thread.start()

    def stop(self, reason: str = "The gateway closed the camera's stream.") -> None:
        self._stop.set()
        with self._lock:
            viewers, self._viewers = self._viewers, []
            self._changed.notify_all()
        for viewer in viewers:
            viewer.close(reason)

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def status(self) -> CameraStatus:
        return self._status

    @property
    def viewer_count(self) -> int:
        return len(self._viewers)

    # ---------------------------------------------------------------- viewers

    def wait_ready(self, timeout: float) -> CameraStatus:
        """Block until the stream has a keyframe cached or has failed (worker thread)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                if self._cache.has_keyframe and self._template is not None:
                    return self._status
                if self._status.state is CameraState.OFFLINE or self._stop.is_set():
                    return self._status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return self._status
                self._changed.wait(remaining)

    def add_viewer(self, viewer: Viewer) -> bool:
        """Start the viewer on the cached GOP, squeezed to the live edge; False if not ready."""
        with self._lock:
            if self._template is None or not self._cache.has_keyframe or self._stop.is_set():
                return False
            assert self.container is not None  # set with the template
            viewer.muxer = make_muxer(self.container, self._template, self._time_base, viewer.push)
            for packet in squeeze_to_live_edge(self._cache.snapshot()):
                viewer.muxer.write(packet)
            self._viewers.append(viewer)
            self.idle_since = None
        return True

    def remove_viewer(self, viewer: Viewer) -> None:
        with self._lock:
            if viewer in self._viewers:
                self._viewers.remove(viewer)
            if not self._viewers:
                self.idle_since = time.monotonic()
            muxer, viewer.muxer = viewer.muxer, None
        if muxer is not None:
            muxer.close()

    def _fan_out(self, packet: MediaPacket) -> None:
        """Give the packet to each viewer (camera thread, lock held)."""
        for viewer in list(self._viewers):
            if viewer.closed_reason is not None:
                continue
            if viewer.skipping or viewer.over_soft_limit:
                # A slow viewer skips ahead to the next keyframe once it has drained.
                if packet.keyframe and viewer.queued_bytes <= 0:
                    viewer.skipping = False
                else:
                    viewer.skipping = True
                    viewer.skipped_frames += 1
                    self.frames_skipped += 1
                    continue
            try:
                viewer.muxer.write(packet)
            except (av.FFmpegError, OSError, ValueError) as exc:
                viewer.close(f"The gateway could not repackage the stream ({type(exc).__name__}).")

    # ---------------------------------------------------------------- the camera thread

    def _set_status(self, state: CameraState, reason: str | None = None) -> None:
        with self._lock:
            if self._status.state is state and self._status.reason == reason:
                return
            self._status = CameraStatus(
                self.camera_id, self.stream, state, reason, time.time(), self.container
            )
            self._changed.notify_all()
            status = self._status
        if state is CameraState.OFFLINE:
            log.warning("camera %s/%s offline: %s", self.camera_id, self.stream, reason)
        else:
            log.info("camera %s/%s %s", self.camera_id, self.stream, state.value)
        self._on_status(status)

    def _options(self) -> dict[str, str]:
        options = {"fflags": "nobuffer", "analyzeduration": "500000", "probesize": "500000"}
        if self._url.startswith(("rtsp://", "rtsps://")):
            options["rtsp_transport"] = "tcp"
        return options

    def _run(self) -> None:
        delay = BACKOFF_FIRST_S
        while not self._stop.is_set():
            self._set_status(CameraState.CONNECTING)
            reason = self._pull_once()
            if self._stop.is_set():
                break
            with self._lock:
                viewers, self._viewers = self._viewers, []
                self._cache.clear()
                self._template = None
                self._last_dts = None
            for viewer in viewers:
                viewer.close(reason)
            self._set_status(CameraState.OFFLINE, reason)
            if self._status_was_online:
                delay = BACKOFF_FIRST_S
            wait = delay * random.uniform(0.8, 1.2)
            delay = min(BACKOFF_MAX_S, delay * 2)
            self._stop.wait(wait)

    def _pull_once(self) -> str:
        """Pull the stream until it fails; the reason it ended."""
        self._status_was_online = False
        self.sessions_opened += 1
        opening = time.monotonic()
        try:
            container = av.open(
                self._url,
                options=self._options(),
                timeout=(self._open_timeout, self._read_timeout),
            )
        except Exception as exc:  # every failure is a reason to show, none a crash
            if time.monotonic() - opening >= self._open_timeout:
                # FFmpeg reports an interrupted open as whatever it was parsing then.
                return f"The camera did not answer within {self._open_timeout:g} s."
            return describe_failure(exc, self._read_timeout)
        packets: queue.Queue[MediaPacket | str] = queue.Queue(maxsize=QUEUE_PACKETS)
        reader: threading.Thread | None = None
        try:
            stream = self._video_stream(container)
            codec = stream.codec_context.name
            whole_pictures = SUPPORTED_CODECS[codec][1] == "mjpg"
            with self._lock:
                self._template = stream
                self._time_base = stream.time_base or Fraction(1, 90000)
                self.container = SUPPORTED_CODECS[codec][1]
            reader = threading.Thread(
                target=self._read,
                args=(container, stream, packets, whole_pictures),
                name=f"demux-{self.camera_id}-{self.stream}",
                daemon=True,
            )
            reader.start()
            if whole_pictures:
                return self._pass_through(packets)
            return self._assemble(packets, codec)
        except Unsupported as exc:
            return str(exc)
        except Exception as exc:
            return describe_failure(exc, self._read_timeout)
        finally:
            self._stop_reading.set()
            if reader is not None:
                reader.join(self._read_timeout + 1.0)
            self._stop_reading.clear()
            try:
                container.close()
            except Exception:  # closing a broken source must not hide its reason
                log.debug("closing %s failed", self._shown, exc_info=True)

    def _read(
        self,
        container: Any,
        stream: Any,
        packets: queue.Queue[MediaPacket | str],
        whole_pictures: bool,
    ) -> None:
        """Demux (blocking) and queue packets; a string is the reason the stream ended.

        With ``whole_pictures`` (MJPEG: every packet a whole picture that decodes on its
        own) the packets are numbered as they come: multipart JPEG carries no timestamps.
        """
        count = 0
        try:
            for packet in container.demux(stream):
                if self._stop.is_set() or self._stop_reading.is_set():
                    return
                if packet.size == 0:
                    continue
                if whole_pictures:
                    count += 1
                    media = MediaPacket(bytes(packet), count, count, True)
                elif packet.dts is None:
                    continue
                else:
                    media = MediaPacket(bytes(packet), packet.pts, packet.dts, packet.is_keyframe)
                packets.put(media, timeout=self._read_timeout)
            end = "The camera closed the stream."
        except queue.Full:
            end = "The gateway fell behind the camera's stream."
        except Exception as exc:
            end = describe_failure(exc, self._read_timeout)
        try:
            packets.put(end, timeout=self._read_timeout)
        except queue.Full:
            pass

    def _pass_through(self, packets: queue.Queue[MediaPacket | str]) -> str:
        """Cache and fan out whole pictures as they come; the reason the stream ended."""
        while True:
            try:
                item = packets.get(timeout=0.5)
            except queue.Empty:
                if self._stop.is_set():
                    return "The gateway closed the camera's stream."
                continue
            if isinstance(item, str):
                return item
            self._emit(item)

    def _assemble(self, packets: queue.Queue[MediaPacket | str], codec: str) -> str:
        """Join each picture's slices, then cache and fan out; the reason the stream ended.

        An RTSP source delivers each slice of a picture as a packet of its own, and the
        TS muxer needs whole pictures. Waiting for the next picture to know one is whole
        would cost a frame of latency, so the assembler learns from the stream how many
        packets a keyframe and a non-keyframe take, emits a picture as soon as it has
        that many, and otherwise waits at most MERGE_WINDOW_S for more.
        """
        expected: dict[bool, int | None] = {True: None, False: None}
        pending: list[MediaPacket] = []

        def flush() -> None:
            nonlocal pending
            if pending:
                expected[pending[0].keyframe] = max(
                    len(pending), expected[pending[0].keyframe] or 1
                )
                self._emit(join_slices(pending, codec))
                pending = []

        def window() -> float:
            if not pending:
                return 0.5
            # Once the stream has shown that a picture comes in more packets than this,
            # wait for them longer (some sources send a picture's slices a frame apart).
            known = expected[pending[0].keyframe]
            return LATE_SLICE_WAIT_S if known and known > len(pending) else MERGE_WINDOW_S

        while True:
            try:
                item = packets.get(timeout=window())
            except queue.Empty:
                flush()
                if self._stop.is_set():
                    return "The gateway closed the camera's stream."
                continue
            if isinstance(item, str):
                flush()
                return item
            if pending and item.dts != pending[0].dts:
                flush()
            if not pending and item.dts == self._last_dts:
                # A slice that came after its picture was sent: wait longer next time,
                # and mend the cached keyframe so later viewers get the whole picture.
                expected[item.keyframe] = (expected[item.keyframe] or 1) + 1
                self._mend_cache(item, codec)
                continue
            pending.append(item)
            if len(pending) == expected[pending[0].keyframe]:
                flush()

    def _mend_cache(self, late: MediaPacket, codec: str) -> None:
        with self._lock:
            cached = self._cache.snapshot()
            if len(cached) == 1 and cached[0].dts == late.dts:
                self._cache.add(join_slices([cached[0], late], codec))

    def _emit(self, media: MediaPacket) -> None:
        with self._lock:
            if self._last_dts is not None and media.dts is not None and media.dts <= self._last_dts:
                return  # a source whose timestamps go backwards: drop, do not break viewers
            self._last_dts = media.dts
            self._cache.add(media)
            if media.keyframe and not self._status_was_online:
                self._status_was_online = True
                self._changed.notify_all()
            self._fan_out(media)
        if media.keyframe and self._status.state is not CameraState.ONLINE:
            self._set_status(CameraState.ONLINE)

    @staticmethod
    def _video_stream(container: Any) -> Any:
        videos = list(container.streams.video)
        if not videos:
            kinds = sorted({s.type for s in container.streams}) or ["nothing"]
            raise Unsupported(f"The camera sends no video (only {', '.join(kinds)}).")
        stream = videos[0]
        name = stream.codec_context.name if stream.codec_context else "unknown"
        if name not in SUPPORTED_CODECS:
            raise Unsupported(
                f"The camera sends {name} video; the gateway relays "
                f"{', '.join(label for label, _ in SUPPORTED_CODECS.values())} only."
            )
        return stream
