"""Camera simulator: one live, labelled MPEG-TS stream per camera over plain HTTP/1.1.

The district's real cameras sit behind a stream gateway that the console reaches over
HTTP. For the demo and the tests we need something that behaves like a live camera
without shipping video files: every HTTP connection gets its own ``ffmpeg`` child that
renders a test pattern, burns in the camera's logical name, its id and a running wall
clock (so a screenshot tells which camera is in which tile and that it is live), and
encodes it as H.264 in MPEG-TS in real time.

Why one encoder per connection rather than one per camera shared by all viewers: the
encoder starts at a keyframe for every new viewer, so the first frame arrives in tens of
milliseconds instead of waiting up to a GOP for the next keyframe, and a viewer that
disconnects takes its encoder with it. The cost is one encoder per viewer, which is fine
for a simulator: at 640x360, 15 fps one ffmpeg child used about 4.7 % of one core and
62 MB of memory (measured on a 2-core machine with ffmpeg 5.1).

The server is deliberately framework-free (``asyncio.start_server``): it needs one route,
and owning the socket makes the child-process lifetime explicit: when the client goes,
the encoder is killed and reaped in the same task, so no zombies or stray tasks remain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import shutil
import signal
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CameraSimulator", "FfmpegNotFoundError", "SimCamera", "main"]

log = logging.getLogger(__name__)

#: Camera ids appear in URL paths and in the burnt-in caption; keeping them to a small
#: alphabet means neither needs escaping and a path can never escape ``/cameras/``.
_CAMERA_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_PATH_RE = re.compile(r"^/cameras/(?P<camera_id>[^/?#]+)\.ts(?:\?[^#]*)?$")

_DEBIAN_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_REQUEST_TIMEOUT_S = 10.0
_MAX_HEADER_LINES = 100
_CHUNK = 64 * 1024


class FfmpegNotFoundError(RuntimeError):
    """Raised when the encoder the simulator depends on is not installed."""


@dataclass(frozen=True)
class SimCamera:
    """One simulated camera.

    ``label`` is the logical name an operator knows the camera by (for example
    "Main Hall East — 1st floor"); it is burnt into the picture verbatim.
    """

    camera_id: str
    label: str

    def __post_init__(self) -> None:
        if not _CAMERA_ID_RE.match(self.camera_id):
            raise ValueError(
                f"camera id {self.camera_id!r} must be 1-128 characters of letters, digits, "
                "'.', '_' or '-' and start with a letter or digit"
            )


def _hue_for(camera_id: str) -> int:
    """A stable per-camera hue rotation (degrees) so neighbouring tiles differ in colour."""
    return zlib.crc32(camera_id.encode()) % 360


def _find_font(bold: bool) -> str | None:
    """Return a DejaVu font path: Debian's fixed location first, then fontconfig.

    ``None`` means "let ffmpeg's drawtext ask fontconfig itself", which still works on
    builds linked with fontconfig (Debian's is).
    """
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    candidate = _DEBIAN_FONT_DIR / name
    if candidate.is_file():
        return str(candidate)
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    import subprocess  # local: only needed on the fallback path

    pattern = "DejaVu Sans:bold" if bold else "DejaVu Sans Mono"
    try:
        out = subprocess.run(
            [fc_match, "--format=%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out and Path(out).is_file() else None


def _drawtext_escape(value: str) -> str:
    """Escape a value (a file path) for use inside an ffmpeg filtergraph option.

    Two levels apply: the filter option parser (``\\``, ``'`` and ``:``) and the graph
    parser. Quoting with single quotes and escaping single quotes handles both for the
    paths we generate (temporary directories, font paths).
    """
    return "'" + value.replace("\\", "\\\\").replace("'", "'\\''").replace(":", "\\:") + "'"


class CameraSimulator:
    """Serve ``GET /cameras/{camera_id}.ts`` as live MPEG-TS, one ffmpeg per connection."""

    def __init__(
        self,
        cameras: Sequence[SimCamera],
        host: str = "127.0.0.1",
        port: int = 0,
        width: int = 640,
        height: int = 360,
        fps: int = 15,
    ) -> None:
        cams = {cam.camera_id: cam for cam in cameras}
        if len(cams) != len(cameras):
            raise ValueError("camera ids must be unique")
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise ValueError("width and height must be positive and even (yuv420p)")
        if fps <= 0:
            raise ValueError("fps must be positive")
        self._cameras = cams
        self._host = host
        self._requested_port = port
        self._width = width
        self._height = height
        self._fps = fps
        self._server: asyncio.Server | None = None
        self._ffmpeg: str | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._filters: dict[str, str] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._procs: set[asyncio.subprocess.Process] = set()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Check ffmpeg, prepare caption files, and start listening."""
        if self._server is not None:
            raise RuntimeError("camera simulator already started")
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise FfmpegNotFoundError(
                "ffmpeg was not found on PATH; the camera simulator needs it to encode "
                "video. Install the Debian package 'ffmpeg' (apt-get install ffmpeg)."
            )
        self._ffmpeg = ffmpeg
        label_font, clock_font = await asyncio.gather(
            asyncio.to_thread(_find_font, True), asyncio.to_thread(_find_font, False)
        )
        # Captions go through files so labels with quotes, colons, dashes or percent
        # signs need no filtergraph escaping at all.
        self._tmpdir = tempfile.TemporaryDirectory(prefix="camsim-")
        root = Path(self._tmpdir.name)
        for index, cam in enumerate(self._cameras.values()):
            label_file = root / f"label-{index}.txt"
            clock_file = root / f"clock-{index}.txt"
            label_file.write_text(cam.label, encoding="utf-8")
            # Expanded by drawtext: %{localtime:%X} is the wall clock. The id is safe
            # to place here because of _CAMERA_ID_RE (no '%' or '\\').
            clock_file.write_text("%{localtime:%X}  " + cam.camera_id, encoding="utf-8")
            self._filters[cam.camera_id] = self._filtergraph(
                cam.camera_id, label_file, clock_file, label_font, clock_font
            )
        try:
            self._server = await asyncio.start_server(
                self._handle, self._host, self._requested_port
            )
        except BaseException:
            self._cleanup_tmp()
            raise
        log.info("camera simulator listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Close the listener, end every stream, kill and reap every ffmpeg child."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        handlers = list(self._handlers)
        for task in handlers:
            task.cancel()
        if handlers:
            await asyncio.gather(*handlers, return_exceptions=True)
        # Handlers reap their own children; this is a safety net for a child whose
        # handler was cancelled before it could register cleanup.
        for proc in list(self._procs):
            await _kill_and_reap(proc)
        self._procs.clear()
        if server is not None:
            await server.wait_closed()
        self._cleanup_tmp()

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    # ------------------------------------------------------------------ properties

    @property
    def port(self) -> int:
        """The port actually bound (useful when constructed with ``port=0``)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("camera simulator is not running")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def url_for(self, camera_id: str) -> str:
        """The stream URL for a camera on this simulator."""
        if camera_id not in self._cameras:
            raise KeyError(camera_id)
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/cameras/{camera_id}.ts"

    @property
    def active_streams(self) -> int:
        """Number of ffmpeg encoders currently running (one per connected viewer)."""
        return sum(1 for proc in self._procs if proc.returncode is None)

    # ------------------------------------------------------------------ ffmpeg

    def _filtergraph(
        self,
        camera_id: str,
        label_file: Path,
        clock_file: Path,
        label_font: str | None,
        clock_font: str | None,
    ) -> str:
        w, h, fps = self._width, self._height, self._fps
        size = max(12, h // 15)
        label_fontopt = f"fontfile={_drawtext_escape(label_font)}:" if label_font else ""
        clock_fontopt = f"fontfile={_drawtext_escape(clock_font)}:" if clock_font else ""
        box = "box=1:boxcolor=black@0.6:boxborderw=6:fontcolor=white"
        return (
            f"testsrc2=size={w}x{h}:rate={fps},"
            f"hue=h={_hue_for(camera_id)},"
            f"drawtext={label_fontopt}textfile={_drawtext_escape(str(label_file))}:"
            f"expansion=none:fontsize={size}:x=12:y=12:{box},"
            f"drawtext={clock_fontopt}textfile={_drawtext_escape(str(clock_file))}:"
            f"expansion=normal:fontsize={size}:x=12:y=h-th-16:{box}"
        )

    def _ffmpeg_args(self, camera_id: str) -> list[str]:
        assert self._ffmpeg is not None
        return [
            self._ffmpeg,
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
            self._filters[camera_id],
            "-an",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-tune",
            "zerolatency",
            "-g",
            str(self._fps),
            "-pix_fmt",
            "yuv420p",
            # Without this the TS muxer's output sits in a 32 KiB I/O buffer (about a
            # fifth of a second at this bitrate) before it reaches the pipe.
            "-flush_packets",
            "1",
            # FFmpeg's muxer defaults put timestamps 0.7 s ahead of the PCR, which a
            # player turns into 0.7 s of start-up stall and 0.7 s of constant latency.
            "-muxdelay",
            "0",
            "-muxpreload",
            "0",
            "-f",
            "mpegts",
            # Write the video PES length so the demuxer need not wait for the next frame.
            "-omit_video_pes_length",
            "0",
            "pipe:1",
        ]

    # ------------------------------------------------------------------ HTTP

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass  # the client went away or never finished its request
        except asyncio.CancelledError:
            # Only stop() (or loop shutdown) cancels a handler, and the stream cleanup
            # has run by now. Ending normally rather than cancelled keeps Python 3.11's
            # StreamReaderProtocol from logging the cancellation as an error.
            pass
        except Exception:
            log.exception("camera simulator connection failed")
        finally:
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._handlers.discard(task)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(self._read_head(reader), _REQUEST_TIMEOUT_S)
        if head is None:
            await _respond_error(writer, 400, "Bad Request")
            return
        method, target = head
        match = _PATH_RE.match(target)
        if match is None or match["camera_id"] not in self._cameras:
            await _respond_error(writer, 404, "Not Found")
            return
        if method not in ("GET", "HEAD"):
            await _respond_error(writer, 405, "Method Not Allowed", extra="Allow: GET, HEAD\r\n")
            return
        writer.write(
            b"HTTP/1.1 200 OK\r\n"
            b"Content-Type: video/mp2t\r\n"
            b"Cache-Control: no-store\r\n"
            b"Connection: close\r\n"
            b"\r\n"
        )
        await writer.drain()
        if method == "HEAD":
            return
        await self._stream(match["camera_id"], reader, writer)

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> tuple[str, str] | None:
        """Read the request line and headers; ``None`` when the request is malformed."""
        try:
            line = await reader.readline()
        except (asyncio.LimitOverrunError, ValueError):
            return None
        parts = line.decode("latin-1").rstrip("\r\n").split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
            return None
        for _ in range(_MAX_HEADER_LINES):
            try:
                header = await reader.readline()
            except (asyncio.LimitOverrunError, ValueError):
                return None
            if header in (b"\r\n", b"\n"):
                return parts[0], parts[1]
            if not header:
                return None
        return None

    async def _stream(
        self, camera_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self._ffmpeg_args(camera_id),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        self._procs.add(proc)
        log.info("stream %s started (ffmpeg pid %d)", camera_id, proc.pid)
        copy = asyncio.create_task(_copy(proc, writer), name=f"camsim-copy-{camera_id}")
        # The client sends nothing after its request; EOF here means it hung up, which
        # we notice even while ffmpeg is between frames.
        hangup = asyncio.create_task(_wait_eof(reader), name=f"camsim-eof-{camera_id}")
        errors = asyncio.create_task(_collect_stderr(proc), name=f"camsim-stderr-{camera_id}")
        try:
            await asyncio.wait({copy, hangup}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (copy, hangup):
                t.cancel()
            await _kill_and_reap(proc)
            await asyncio.gather(copy, hangup, return_exceptions=True)
            stderr_tail = await asyncio.gather(errors, return_exceptions=True)
            self._procs.discard(proc)
            tail = stderr_tail[0]
            if isinstance(tail, str) and tail and proc.returncode not in (0, -signal.SIGKILL):
                log.warning("ffmpeg for %s exited with %s: %s", camera_id, proc.returncode, tail)
            log.info("stream %s ended (ffmpeg pid %d reaped)", camera_id, proc.pid)


async def _respond_error(
    writer: asyncio.StreamWriter, status: int, reason: str, extra: str = ""
) -> None:
    body = f"{status} {reason}\n".encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Cache-Control: no-store\r\n"
        "Connection: close\r\n"
        f"{extra}\r\n".encode()
        + body
    )
    await writer.drain()


async def _copy(proc: asyncio.subprocess.Process, writer: asyncio.StreamWriter) -> None:
    """Copy ffmpeg's stdout to the socket until either side ends."""
    assert proc.stdout is not None
    while chunk := await proc.stdout.read(_CHUNK):
        writer.write(chunk)
        await writer.drain()


async def _wait_eof(reader: asyncio.StreamReader) -> None:
    while await reader.read(4096):
        pass


async def _collect_stderr(proc: asyncio.subprocess.Process) -> str:
    """Drain stderr (so ffmpeg never blocks on it) and keep the last few lines for logs."""
    assert proc.stderr is not None
    lines: list[str] = []
    while line := await proc.stderr.readline():
        lines.append(line.decode(errors="replace").rstrip())
        del lines[:-5]
    return " | ".join(lines)


async def _kill_and_reap(proc: asyncio.subprocess.Process) -> None:
    """Kill a child if still running and wait for it, so it never lingers as a zombie."""
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    # Shielded: a cancelled caller must still not leave the child unreaped.
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.shield(proc.wait())


# ---------------------------------------------------------------------- standalone


def _parse_camera(value: str) -> SimCamera:
    camera_id, sep, label = value.partition("=")
    if not sep or not label:
        raise argparse.ArgumentTypeError(f"expected ID=LABEL, got {value!r}")
    try:
        return SimCamera(camera_id=camera_id, label=label)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


async def _run(sim: CameraSimulator) -> None:
    await sim.start()
    for cam_id in sim._cameras:
        print(sim.url_for(cam_id), flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows has no add_signal_handler
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the simulator standalone until interrupted; prints one URL per camera."""
    parser = argparse.ArgumentParser(
        prog="camsim", description="Serve live, labelled MPEG-TS test streams over HTTP."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument(
        "--camera",
        action="append",
        type=_parse_camera,
        required=True,
        metavar="ID=LABEL",
        help="a camera to serve (repeatable), e.g. --camera 'mh-e1=Main Hall East — 1st floor'",
    )
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=15)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        sim = CameraSimulator(
            args.camera,
            host=args.host,
            port=args.port,
            width=args.width,
            height=args.height,
            fps=args.fps,
        )
        asyncio.run(_run(sim))
    except (ValueError, FfmpegNotFoundError, OSError) as exc:
        print(f"camsim: {exc}")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
