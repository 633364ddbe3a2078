"""One MPEG-TS muxer per viewer: repackaging without decoding or re-encoding.

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
from typing import Any

import av

from .gop import MediaPacket

MUXER_OPTIONS = {
    "omit_video_pes_length": "0",
    "max_delay": "0",
    "flush_packets": "1",
}


class _Sink:
    """The file object PyAV writes to: hands every written chunk to a callback."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver

    def write(self, data: bytes) -> int:
        if data:
            self._deliver(bytes(data))
        return len(data)


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
