"""One continuous encoder per camera stream, shared by every viewer, like a real IP camera.

Why continuous: a real camera runs one encoder with a fixed keyframe interval whether
anyone watches or not, and a viewer that connects joins wherever that encoder is in its
GOP. The console's start-up path (waiting for a keyframe, decoding garbage until then,
measuring latency) only gets exercised honestly if the simulator does the same, so a
subscriber here gets bytes from the current point of the live MPEG-TS, never a fresh
keyframe of its own.

Why frames are painted in Python: each frame must carry its own capture time (see
:mod:`dispatch_console.camsim.timestrip`) taken the moment it is painted, which an
ffmpeg test source cannot do. Painting stays cheap: the camera's picture (test pattern,
hue, caption) is rendered once by ffmpeg at start, and each frame is a copy of it plus a
few numpy slice assignments (a sweeping bar and the time strip), written as raw yuv420p
to the encoder's stdin at wall-clock pace. When painting falls behind, frames are skipped
rather than written in a burst, so the picture's capture times stay honest.

Threads rather than asyncio for the encoder side: the pipe writes and reads are blocking
and per camera; two plain threads per stream keep the event loop free for the HTTP
viewers, and hand chunks over with ``call_soon_threadsafe``. Each subscriber has a
bounded buffer; one that falls behind is cut off instead of slowing the encoder or the
other viewers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from dispatch_console.camsim import timestrip

__all__ = [
    "MAIN",
    "SUB",
    "CameraEncoder",
    "Codec",
    "FfmpegNotFoundError",
    "StreamSpec",
    "Subscriber",
    "find_ffmpeg",
    "render_background",
]

log = logging.getLogger(__name__)

Codec = Literal["h264", "h265"]

TS_PACKET = 188
_READ_SIZE = TS_PACKET * 128
#: A subscriber may lag this many bytes behind the encoder before it is cut off: a few
#: seconds of the sub stream, bounded memory whatever the number of slow viewers.
SUBSCRIBER_MAX_BYTES = 2 * 1024 * 1024
_RESTART_DELAY_S = 1.0
_DEBIAN_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")

WHITE_Y = 235
BLACK_Y = 16
NEUTRAL_UV = 128


class FfmpegNotFoundError(RuntimeError):
    """Raised when the encoder the simulator depends on is not installed."""


@dataclass(frozen=True)
class StreamSpec:
    """One of a camera's streams: real cameras offer a small "sub" and a large "main"."""

    name: str
    width: int
    height: int
    bitrate: str


SUB = StreamSpec("sub", 640, 360, "600k")
MAIN = StreamSpec("main", 1920, 1080, "4000k")


def find_ffmpeg() -> str:
    """The ffmpeg executable, or a clear error telling how to install it."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise FfmpegNotFoundError(
            "ffmpeg was not found on PATH; the camera simulator needs it to encode "
            "video. Install the Debian package 'ffmpeg' (apt-get install ffmpeg)."
        )
    return ffmpeg


def hue_for(camera_id: str) -> int:
    """A stable per-camera hue rotation (degrees) so neighbouring tiles differ in colour."""
    return zlib.crc32(camera_id.encode()) % 360


def _font(bold: bool) -> str | None:
    path = _DEBIAN_FONT_DIR / ("DejaVuSans-Bold.ttf" if bold else "DejaVuSansMono.ttf")
    return str(path) if path.is_file() else None


def _escape(value: str) -> str:
    """Quote a path for an ffmpeg filtergraph option (option and graph level)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


def render_background(
    ffmpeg: str, camera_id: str, label: str, width: int, height: int
) -> npt.NDArray[np.uint8]:
    """The camera's static picture as one yuv420p frame: test pattern, hue, label and id.

    Rendered once per camera and stream; the chroma under the time strip is made neutral
    here so the per-frame work only touches luma.
    """
    size = max(12, height // 15)
    box = "box=1:boxcolor=black@0.6:boxborderw=6:fontcolor=white"
    with tempfile.TemporaryDirectory(prefix="camsim-") as tmp:
        label_file = Path(tmp) / "label.txt"
        id_file = Path(tmp) / "id.txt"
        # Captions go through files so no label needs filtergraph escaping.
        label_file.write_text(label, encoding="utf-8")
        id_file.write_text(camera_id, encoding="utf-8")
        label_font, id_font = _font(True), _font(False)
        label_opt = f"fontfile={_escape(label_font)}:" if label_font else ""
        id_opt = f"fontfile={_escape(id_font)}:" if id_font else ""
        graph = (
            f"testsrc2=size={width}x{height}:rate=1,"
            f"hue=h={hue_for(camera_id)},"
            f"drawtext={label_opt}textfile={_escape(str(label_file))}:"
            f"expansion=none:fontsize={size}:x=12:y=12:{box},"
            f"drawtext={id_opt}textfile={_escape(str(id_file))}:"
            f"expansion=none:fontsize={size}:x=12:y=24+{size}:{box}"
        )
        result = subprocess.run(
            [
                ffmpeg,
                "-hide_banner",
                "-nostdin",
                "-loglevel",
                "error",
                "-f",
                "lavfi",
                "-i",
                graph,
                "-frames:v",
                "1",
                "-pix_fmt",
                "yuv420p",
                "-f",
                "rawvideo",
                "pipe:1",
            ],
            capture_output=True,
            timeout=30,
            check=False,
        )
    expected = width * height * 3 // 2
    if result.returncode != 0 or len(result.stdout) != expected:
        raise RuntimeError(
            f"could not render the picture for camera {camera_id}: "
            f"{result.stderr.decode(errors='replace').strip() or 'wrong frame size'}"
        )
    frame = np.frombuffer(result.stdout, dtype=np.uint8).copy()
    block, x0, y0 = timestrip.geometry(width, height)
    x1 = x0 + block * timestrip.BLOCKS
    chroma_w, chroma_h = width // 2, height // 2
    u = frame[width * height : width * height + chroma_w * chroma_h].reshape(chroma_h, chroma_w)
    v = frame[width * height + chroma_w * chroma_h :].reshape(chroma_h, chroma_w)
    u[y0 // 2 : (y0 + block + 1) // 2, x0 // 2 : (x1 + 1) // 2] = NEUTRAL_UV
    v[y0 // 2 : (y0 + block + 1) // 2, x0 // 2 : (x1 + 1) // 2] = NEUTRAL_UV
    return frame


class Subscriber:
    """A viewer's bounded window onto the live stream, used from the event loop only.

    ``get`` returns the next chunk of MPEG-TS (whole 188-byte packets), or ``None`` once
    the subscriber is closed: by the viewer, by the encoder stopping, or because it fell
    more than ``max_bytes`` behind (``dropped`` is then true and ``on_drop`` has run, so
    the viewer's socket can be aborted even while it is blocked writing).
    """

    def __init__(
        self, max_bytes: int = SUBSCRIBER_MAX_BYTES, on_drop: Callable[[], None] | None = None
    ) -> None:
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._max_bytes = max_bytes
        self._event = asyncio.Event()
        self._on_drop = on_drop
        self.closed = False
        self.dropped = False

    def push(self, chunk: bytes) -> None:
        if self.closed:
            return
        if self._buffered + len(chunk) > self._max_bytes:
            self.dropped = True
            self.close()
            if self._on_drop is not None:
                self._on_drop()
            return
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        self._event.set()

    def close(self) -> None:
        self.closed = True
        self._chunks.clear()
        self._buffered = 0
        self._event.set()

    async def get(self) -> bytes | None:
        while not self._chunks:
            if self.closed:
                return None
            self._event.clear()
            await self._event.wait()
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        return chunk


class CameraEncoder:
    """Paints one camera stream's frames and runs its ffmpeg encoder, restarting it if it dies.

    Created and subscribed to from the event loop; ``start`` launches a painting thread
    (which also supervises ffmpeg) and ``stop`` ends it, kills and reaps ffmpeg and joins
    both threads.
    """

    def __init__(
        self,
        *,
        camera_id: str,
        spec: StreamSpec,
        fps: int,
        gop_s: float,
        codec: Codec,
        ffmpeg: str,
        background: npt.NDArray[np.uint8],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        if fps <= 0 or gop_s <= 0:
            raise ValueError("fps and gop must be positive")
        if background.size != spec.width * spec.height * 3 // 2:
            raise ValueError("background does not match the stream size")
        self.camera_id = camera_id
        self.spec = spec
        self.fps = fps
        self.gop_frames = max(1, round(gop_s * fps))
        self.codec: Codec = codec
        self._ffmpeg = ffmpeg
        self._background = background
        self._loop = loop
        self._subscribers: set[Subscriber] = set()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._proc_lock = threading.Lock()
        self.frames_painted = 0
        self.frames_skipped = 0
        self.restarts = 0
        w, h = spec.width, spec.height
        self._block, self._strip_x0, self._strip_y0 = timestrip.geometry(w, h)
        self._bar_w = max(8, w // 40) // 2 * 2
        self._bar_bottom = max(0, self._strip_y0 - 4)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("encoder already started")
        self._thread = threading.Thread(
            target=self._supervise, name=f"camsim-{self.camera_id}-{self.spec.name}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop painting, kill and reap ffmpeg, join the threads (blocking; run off-loop)."""
        self._stopping.set()
        self._kill_proc()
        if self._thread is not None:
            self._thread.join(10)
            if self._thread.is_alive():
                log.error("encoder thread for %s/%s did not end", self.camera_id, self.spec.name)
            self._thread = None

    def close_subscribers(self) -> None:
        """End every subscriber's stream (event-loop side of stopping)."""
        for sub in list(self._subscribers):
            sub.close()
        self._subscribers.clear()

    def _kill_proc(self) -> None:
        with self._proc_lock:
            proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()

    @property
    def pid(self) -> int | None:
        with self._proc_lock:
            return self._proc.pid if self._proc is not None else None

    # ------------------------------------------------------------------ subscribers

    def subscribe(self, on_drop: Callable[[], None] | None = None) -> Subscriber:
        """A new subscriber that receives the stream from the current point (mid-GOP)."""
        sub = Subscriber(on_drop=on_drop)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subscribers.discard(sub)
        sub.close()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)

    def _fanout(self, chunk: bytes) -> None:
        for sub in list(self._subscribers):
            sub.push(chunk)
            if sub.closed:
                self._subscribers.discard(sub)
                if sub.dropped:
                    log.info("dropped a slow viewer of %s/%s", self.camera_id, self.spec.name)

    # ------------------------------------------------------------------ ffmpeg

    def ffmpeg_args(self) -> list[str]:
        n = str(self.gop_frames)
        if self.codec == "h264":
            codec_args = [
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                "-g", n, "-keyint_min", n, "-sc_threshold", "0", "-bf", "0",
            ]  # fmt: skip
        else:
            codec_args = [
                "-c:v", "libx265", "-preset", "ultrafast", "-tune", "zerolatency",
                "-x265-params",
                f"keyint={n}:min-keyint={n}:scenecut=0:bframes=0:log-level=error",
            ]  # fmt: skip
        return [
            self._ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
            "-f", "rawvideo", "-pix_fmt", "yuv420p",
            "-s", f"{self.spec.width}x{self.spec.height}", "-r", str(self.fps), "-i", "pipe:0",
            "-an", *codec_args,
            "-b:v", self.spec.bitrate, "-maxrate", self.spec.bitrate,
            "-bufsize", self.spec.bitrate, "-pix_fmt", "yuv420p",
            # Without this the TS muxer's output sits in a 32 KiB buffer before the pipe.
            "-flush_packets", "1",
            # FFmpeg's defaults put timestamps 0.7 s ahead of the PCR: 0.7 s of stall.
            "-muxdelay", "0", "-muxpreload", "0",
            "-f", "mpegts", "-omit_video_pes_length", "0", "pipe:1",
        ]  # fmt: skip

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            try:
                proc = subprocess.Popen(
                    self.ffmpeg_args(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0
                )
            except OSError as exc:
                log.error("cannot start ffmpeg for %s/%s: %s", self.camera_id, self.spec.name, exc)
                self._stopping.wait(_RESTART_DELAY_S)
                continue
            with self._proc_lock:
                self._proc = proc
            reader = threading.Thread(
                target=self._read,
                args=(proc,),
                name=f"camsim-{self.camera_id}-{self.spec.name}-out",
                daemon=True,
            )
            reader.start()
            try:
                self._paint_until_broken(proc)
            finally:
                if proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
                code = proc.wait()
                reader.join()
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None:
                        with contextlib.suppress(OSError):
                            pipe.close()
            if self._stopping.is_set():
                break
            self.restarts += 1
            log.warning(
                "ffmpeg for %s/%s exited with %s; restarting it",
                self.camera_id,
                self.spec.name,
                code,
            )
            self._stopping.wait(_RESTART_DELAY_S)

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        pending = b""
        while True:
            try:
                data = os.read(fd, _READ_SIZE)
            except OSError:
                break
            if not data:
                break
            pending += data
            cut = len(pending) - len(pending) % TS_PACKET
            if cut:
                chunk, pending = pending[:cut], pending[cut:]
                try:
                    self._loop.call_soon_threadsafe(self._fanout, chunk)
                except RuntimeError:
                    break  # the event loop is closed: we are shutting down

    def _paint_until_broken(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None
        fd = proc.stdin.fileno()
        frame = np.empty_like(self._background)
        view = memoryview(frame.data).cast("B")
        period = 1.0 / self.fps
        start = time.monotonic()
        index = 0
        while not self._stopping.is_set():
            delay = start + index * period - time.monotonic()
            if delay > 0 and self._stopping.wait(delay):
                return
            self._paint(frame, self.frames_painted, int(time.time() * 1000))
            try:
                written = 0
                while written < len(view):
                    written += os.write(fd, view[written:])
            except OSError:
                return  # ffmpeg died (broken pipe) or was killed by stop()
            self.frames_painted += 1
            index += 1
            behind = time.monotonic() - (start + index * period)
            if behind > period:
                skip = int(behind / period)
                index += skip
                self.frames_skipped += skip

    def _paint(self, frame: npt.NDArray[np.uint8], number: int, now_ms: int) -> None:
        w, h = self.spec.width, self.spec.height
        np.copyto(frame, self._background)
        luma = frame[: w * h].reshape(h, w)
        # Something moving, so a frozen picture is obvious: a bar sweeping left to right.
        span = w - self._bar_w
        x = (number * max(2, w // (self.fps * 4)) // 2 * 2) % span
        luma[: self._bar_bottom, x : x + self._bar_w] = WHITE_Y
        block, x0, y0 = self._block, self._strip_x0, self._strip_y0
        values = np.where(np.array(timestrip.blocks_for(now_ms)), WHITE_Y, BLACK_Y)
        luma[y0 : y0 + block, x0 : x0 + block * timestrip.BLOCKS] = np.repeat(
            values.astype(np.uint8), block
        )
