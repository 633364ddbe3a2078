"""The current group of pictures of a camera, and how a new viewer starts from it.

A decoder can start only at a keyframe, and cameras send one every 1 to 4 seconds. A
viewer who joins between two would wait for the next. So the gateway keeps every packet
since the last keyframe and sends them to a new viewer at once, followed by the live
packets. Sent unchanged, those cached packets would make the player show the picture a
whole GOP late, for good: it paces output by timestamps. So their timestamps are squeezed
to sit just before the live edge: the decoder gets the whole group in a burst, shows its
last picture, and goes on live.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

# The cached packets are spaced this many ticks apart (90 kHz: about 1 ms).
SQUEEZE_STEP_TICKS = 90
# A GOP longer than this (a camera with no keyframes, or a broken one) is not kept: new
# viewers then wait for the next keyframe instead of the gateway growing without bound.
MAX_CACHED_BYTES = 8 * 1024 * 1024
MAX_CACHED_PACKETS = 600


@dataclass(frozen=True)
class MediaPacket:
    """One compressed video frame, in the source stream's time base."""

    data: bytes
    pts: int | None
    dts: int | None
    keyframe: bool


class GopCache:
    """The packets since the latest keyframe (nothing before the first keyframe)."""

    def __init__(
        self, max_bytes: int = MAX_CACHED_BYTES, max_packets: int = MAX_CACHED_PACKETS
    ) -> None:
        self._packets: list[MediaPacket] = []
        self._bytes = 0
        self._max_bytes = max_bytes
        self._max_packets = max_packets
        self._overflowed = False

    def add(self, packet: MediaPacket) -> None:
        if packet.keyframe:
            self._packets = [packet]
            self._bytes = len(packet.data)
            self._overflowed = False
            return
        if not self._packets or self._overflowed:
            return
        self._packets.append(packet)
        self._bytes += len(packet.data)
        if self._bytes > self._max_bytes or len(self._packets) > self._max_packets:
            self._packets, self._bytes, self._overflowed = [], 0, True

    def clear(self) -> None:
        self._packets, self._bytes, self._overflowed = [], 0, False

    def snapshot(self) -> list[MediaPacket]:
        return list(self._packets)

    @property
    def has_keyframe(self) -> bool:
        return bool(self._packets)


def squeeze_to_live_edge(
    packets: Sequence[MediaPacket], step: int = SQUEEZE_STEP_TICKS
) -> list[MediaPacket]:
    """The packets re-timed to end at the last one's timestamps, ``step`` ticks apart.

    The last packet keeps its timestamps, so the live packets that follow continue
    without a jump. The gap between each packet's pts and dts (reordering delay) is kept.
    """
    if not packets:
        return []
    edge = packets[-1]
    edge_dts = edge.dts if edge.dts is not None else edge.pts
    if edge_dts is None:
        return list(packets)
    out: list[MediaPacket] = []
    count = len(packets)
    for index, packet in enumerate(packets):
        dts = edge_dts - (count - 1 - index) * step
        lag = 0
        if packet.pts is not None and packet.dts is not None:
            lag = packet.pts - packet.dts
        out.append(replace(packet, dts=dts, pts=dts + lag))
    return out


_START = b"\x00\x00\x01"


def _nal_units(data: bytes) -> list[bytes]:
    """The Annex B NAL units of a packet, each with its start code."""
    starts = []
    index = data.find(_START)
    while index >= 0:
        begin = index - 1 if index > 0 and data[index - 1] == 0 else index
        starts.append((begin, index + 3))
        index = data.find(_START, index + 3)
    if not starts:
        return [data]
    units = []
    for position, (begin, _) in enumerate(starts):
        end = starts[position + 1][0] if position + 1 < len(starts) else len(data)
        units.append(data[begin:end])
    return units


def _is_parameter_set(unit: bytes, codec: str) -> bool:
    header = unit[unit.find(_START) + 3 :][:1]
    if not header:
        return False
    if codec == "hevc":
        return (header[0] >> 1) & 0x3F in (32, 33, 34)  # VPS, SPS, PPS
    return header[0] & 0x1F in (7, 8)  # SPS, PPS


def join_slices(parts: Sequence[MediaPacket], codec: str) -> MediaPacket:
    """One access unit from the packets of one picture (an RTSP source sends each slice
    as a packet of its own, but a TS muxer needs the whole picture in one).

    Parameter sets repeated before the second and later slices are dropped: they may not
    stand between the slices of one picture.
    """
    if len(parts) == 1:
        return parts[0]
    data = [parts[0].data]
    for part in parts[1:]:
        data.extend(u for u in _nal_units(part.data) if not _is_parameter_set(u, codec))
    return replace(parts[0], data=b"".join(data), keyframe=any(p.keyframe for p in parts))
