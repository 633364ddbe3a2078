"""PyAV work for the tests, run in a child process: ``python -m tests.av_child NAME JSON``.

PyAV's wheel carries its own FFmpeg, and the console's libVLC loads Debian's. With both
in one process the test run crashed (segmentation faults in later libVLC tests), so the
test process never imports ``av``: whatever needs it runs here and answers in JSON on
stdout. Production never mixes them either: the gateway (PyAV) and the console
(libVLC) are separate programs.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import av
import httpx

from dispatch_console.camsim import timestrip


def video_packets(path: str) -> list[tuple[int, bool]]:
    """(pts, keyframe) of every video packet in a TS capture file, in order."""
    with open(path, "rb") as data, av.open(io.BytesIO(data.read()), "r", format="mpegts") as c:
        return [(p.pts, p.is_keyframe) for p in c.demux(video=0) if p.size and p.pts is not None]


def rtsp_packets(url: str, count: int) -> dict[str, Any]:
    """Codec, width and height after demuxing ``count`` packets, or the error."""
    try:
        with av.open(url, options={"rtsp_transport": "tcp"}, timeout=15) as container:
            stream = container.streams.video[0]
            got = 0
            for packet in container.demux(stream):
                got += bool(packet.size)
                if got >= count:
                    break
            ctx = stream.codec_context
            return {"codec": ctx.name, "width": ctx.width, "height": ctx.height, "packets": got}
    except av.FFmpegError as exc:
        return {"error": type(exc).__name__, "message": str(exc)}


def _strip(frame: Any) -> int | None:
    """The capture time in a decoded picture, read from its luma plane (fast: no
    conversion, so the reader does not fall behind a burst of pictures)."""
    if frame.format.name not in ("yuv420p", "yuvj420p", "nv12"):
        rgb = frame.to_ndarray(format="bgra")
        return timestrip.read_rgb32(rgb.tobytes(), frame.width, frame.height, frame.width * 4)
    plane = frame.planes[0]
    return timestrip.read_luma(memoryview(plane), frame.width, frame.height, plane.line_size)


def capture_times(url: str, count: int) -> dict[str, Any]:
    """The strips of the first ``count`` pictures of a live TS stream, and the time then."""
    values: list[int | None] = []
    with av.open(url, format="mpegts", options={"fflags": "nobuffer"}) as container:
        for frame in container.decode(video=0):
            values.append(_strip(frame))
            if len(values) >= count:
                break
    return {"values": values, "now_ms": int(time.time() * 1000)}


def watch(url: str, seconds: float, timeout: float) -> dict[str, Any]:
    """Open a gateway stream, decode as bytes arrive for ``seconds`` after the first picture.

    Each picture: seconds since the request was sent, and its strip's age then.
    """
    read_fd, write_fd = os.pipe()
    started = time.monotonic()
    answer: dict[str, Any] = {"status": 0, "body": "", "pictures": []}
    stop = threading.Event()
    opened = threading.Event()

    def pump() -> None:
        try:
            with (
                os.fdopen(write_fd, "wb", buffering=0) as sink,
                httpx.stream("GET", url, timeout=timeout) as response,
            ):
                answer["status"] = response.status_code
                opened.set()
                if response.status_code != 200:
                    answer["body"] = response.read().decode("utf-8", "replace")
                    return
                for chunk in response.iter_raw():
                    sink.write(chunk)
                    if stop.is_set():
                        return
        except (httpx.HTTPError, OSError):
            pass
        finally:
            opened.set()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    opened.wait(timeout + 1)
    if answer["status"] == 200:
        with os.fdopen(read_fd, "rb", buffering=0) as source:
            try:
                # Not "nobuffer": it drops what the probe read, the cached GOP included.
                container = av.open(
                    source,
                    format="mpjpeg" if urlsplit(url).path.endswith(".mjpg") else "mpegts",
                    options={"probesize": "32768", "analyzeduration": "0"},
                )
                end: float | None = None
                for frame in container.decode(video=0):
                    now = time.monotonic()
                    value = _strip(frame)
                    age = timestrip.age_ms(value, int(time.time() * 1000)) if value else None
                    answer["pictures"].append([now - started, age])
                    end = end or now + seconds
                    if now >= end:
                        break
            except (av.FFmpegError, OSError):
                pass
            finally:
                stop.set()
    else:
        os.close(read_fd)
    stop.set()
    thread.join(5)
    return answer


COMMANDS = {
    "video_packets": video_packets,
    "rtsp_packets": rtsp_packets,
    "capture_times": capture_times,
    "watch": watch,
}

if __name__ == "__main__":
    result = COMMANDS[sys.argv[1]](**json.loads(sys.argv[2]))
    print(json.dumps(result))
