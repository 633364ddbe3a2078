"""Watch a gateway stream as a player would, and note when each picture could be shown.

The stream is decoded by FFmpeg (PyAV), a decoder this project did not write, fed from
the socket as bytes arrive, in a child process (see tests/av_child.py). For each picture
we note the time since the request was sent and the age of its capture-time strip then.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.avproc import av_call


@dataclass(frozen=True)
class Picture:
    at_s: float  # since the request was sent
    age_ms: int | None  # capture to decode, from the picture's strip


@dataclass
class Watch:
    status: int
    pictures: list[Picture]
    body: bytes = b""

    @property
    def first_picture_s(self) -> float:
        assert self.pictures, f"no picture (status {self.status}, {self.body[:300]!r})"
        return self.pictures[0].at_s


def watch(url: str, seconds: float, *, timeout: float = 20.0) -> Watch:
    """Open the stream, decode it for ``seconds`` after the first picture, then hang up."""
    answer = av_call(
        "watch", process_timeout=timeout + seconds + 30, url=url, seconds=seconds, timeout=timeout
    )
    pictures = [Picture(at, age) for at, age in answer["pictures"]]
    return Watch(answer["status"], pictures, answer["body"].encode())
