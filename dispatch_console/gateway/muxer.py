"""One muxer per viewer: repackaging without decoding or re-encoding.

H.264 and H.265 go out as MPEG-TS; MJPEG goes out as it came, one JPEG per part of a
``multipart/x-mixed-replace`` response, which libVLC's MJPEG demuxer plays (MPEG-TS has
no standard mapping for JPEG pictures, and players disagree on the private ones).

Each viewer gets its own muxer rather than a share of one byte stream, because each must
start with a PAT, a PMT and a keyframe, with continuity counters of its own; a shared
byte stream can only be joined at a random packet. Muxing costs no decoding, so this is
cheap (PyAV's ``mpegts`` muxer copies the compressed frames).

The muxer options matter for latency, as measured with libVLC (see ``../shared`` brief):
- ``omit_video_pes_length=0``: FFmpeg leaves the video PES length out by default, and
  then the demuxer holds each frame until the next one starts (one frame of latency);
- ``max_delay=0`` (the command line's ``-muxdelay``): timestamps not pushed 0.7 s ahead
  of the clock reference;
- ``flush_packets=1``: each frame leaves the muxer at once instead of filling 32 KiB.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, Protocol

import av

from .gop import MediaPacket

MUXER_OPTIONS = {
    "omit_video_pes_length": "0",
    "max_delay": "0",
    "flush_packets": "1",
}
MJPEG_BOUNDARY = "dispatch-console-frame"


class _Sink:
    """The file object PyAV writes to: hands every written chunk to a callback."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver

    def write(self, data: bytes) -> int:
        if data:
            self._deliver(bytes(data))
        return len(data)


CONTENT_TYPES = {
    "ts": "video/mp2t",
    "mjpg": f"multipart/x-mixed-replace;boundary={MJPEG_BOUNDARY}",
}


class Muxer(Protocol):
    def write(self, packet: MediaPacket) -> None: ...

    def close(self) -> None: ...


def make_muxer(
    container: str, template: Any, time_base: Fraction, deliver: Callable[[bytes], None]
) -> Muxer:
    """The muxer for a viewer of a stream relayed in this container ("ts" or "mjpg")."""
    if container == "mjpg":
        return MjpegMuxer(deliver)
    return TsMuxer(template, time_base, deliver)


class MjpegMuxer:
    """Sends each JPEG picture as one part of a multipart response, with its length.

    The length lets the player take each picture whole the moment it arrives instead of
    scanning for the next boundary, which would hold every picture until the next came.
    """

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver

    def write(self, packet: MediaPacket) -> None:
        head = (
            f"--{MJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
            f"Content-Length: {len(packet.data)}\r\n\r\n"
        ).encode("ascii")
        self._deliver(head + packet.data + b"\r\n")

    def close(self) -> None:
        pass


class TsMuxer:
    """Repackages one video stream's packets as MPEG-TS bytes for one viewer."""

    def __init__(
        self, template: Any, time_base: Fraction, deliver: Callable[[bytes], None]
    ) -> None:
        self._time_base = time_base
        self._container: Any = av.open(
            _Sink(deliver), mode="w", format="mpegts", options=MUXER_OPTIONS, buffer_size=4096
        )
        self._stream = self._container.add_stream_from_template(template)
        self._last_dts: int | None = None

    def write(self, packet: MediaPacket) -> None:
        """Mux one frame; frames whose timestamps would go backwards are dropped."""
        if packet.dts is not None and self._last_dts is not None and packet.dts <= self._last_dts:
            return
        out = av.Packet(packet.data)
        out.pts = packet.pts
        out.dts = packet.dts
        out.time_base = self._time_base
        out.is_keyframe = packet.keyframe
        out.stream = self._stream
        self._container.mux(out)
        if packet.dts is not None:
            self._last_dts = packet.dts

    def close(self) -> None:
        try:
            self._container.close()
        except (av.FFmpegError, OSError, ValueError):
            pass
