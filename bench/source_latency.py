"""How old a camera's pictures already are when they leave the camera: the baseline for
``live_latency_p95_s``.

Run as a child process of ``bench/run.py`` (PyAV and libVLC must not share a process):
``python bench/source_latency.py URL SECONDS`` decodes the camera's stream with FFmpeg as
it arrives, with no buffering, for SECONDS after the first picture, and prints a JSON list
of each picture's age in milliseconds, read from its capture-time strip. What the gateway
and the console add to the picture's age is the difference to what the tile paints.
"""

from __future__ import annotations

import json
import sys
import time

import av

from dispatch_console.camsim import timestrip


def picture_ages(url: str, seconds: float) -> list[int]:
    options = {"fflags": "nobuffer"}
    if url.startswith("rtsp"):
        options["rtsp_transport"] = "tcp"
    ages: list[int] = []
    end: float | None = None
    with av.open(url, options=options, timeout=(10, 5)) as container:
        for frame in container.decode(video=0):
            picture = frame.to_ndarray(format="bgra")
            value = timestrip.read_rgb32(
                picture.tobytes(), frame.width, frame.height, frame.width * 4
            )
            if value is not None:
                ages.append(timestrip.age_ms(value, int(time.time() * 1000)))
            end = end or time.monotonic() + seconds
            if time.monotonic() >= end:
                break
    return ages


if __name__ == "__main__":
    print(json.dumps(picture_ages(sys.argv[1], float(sys.argv[2]))))
