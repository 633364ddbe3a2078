"""The cached GOP and how a new viewer starts from it (pure logic, no video)."""

from __future__ import annotations

from dispatch_console.gateway.gop import GopCache, MediaPacket, join_slices, squeeze_to_live_edge


def _packet(dts: int, key: bool = False, data: bytes = b"\x00\x00\x00\x01\x41x") -> MediaPacket:
    return MediaPacket(data, dts, dts, key)


def test_the_cache_holds_the_packets_since_the_latest_keyframe() -> None:
    cache = GopCache()
    cache.add(_packet(0))  # before any keyframe: useless to a decoder
    assert not cache.has_keyframe
    for dts in (6000, 12000, 18000):
        cache.add(_packet(dts, key=dts == 6000))
    cache.add(_packet(24000, key=True))
    cache.add(_packet(30000))
    assert [p.dts for p in cache.snapshot()] == [24000, 30000]


def test_a_gop_too_big_to_keep_is_dropped_until_the_next_keyframe() -> None:
    cache = GopCache(max_packets=3)
    for index in range(5):
        cache.add(_packet(index * 6000, key=index == 0))
    assert not cache.has_keyframe  # new viewers wait for a keyframe; memory stays bounded
    cache.add(_packet(99000, key=True))
    assert [p.dts for p in cache.snapshot()] == [99000]


def test_squeezed_packets_end_at_the_live_edge_in_order() -> None:
    gop = [_packet(6000 * i, key=i == 0) for i in range(30)]
    squeezed = squeeze_to_live_edge(gop, step=90)
    assert squeezed[-1].dts == gop[-1].dts  # the live packets that follow continue smoothly
    assert [p.dts for p in squeezed] == sorted({p.dts for p in squeezed})
    # The whole group now spans 29 steps (a few ms) instead of 29 frame intervals.
    assert squeezed[-1].dts - squeezed[0].dts == 29 * 90
    assert [p.data for p in squeezed] == [p.data for p in gop]


def test_squeezing_keeps_each_packets_reordering_delay() -> None:
    gop = [MediaPacket(b"k", 3000, 0, True), MediaPacket(b"p", 9000, 6000, False)]
    squeezed = squeeze_to_live_edge(gop, step=90)
    assert [(p.pts - p.dts) for p in squeezed if p.pts is not None and p.dts is not None] == [
        3000,
        3000,
    ]


def test_slices_of_one_picture_join_without_repeated_parameter_sets() -> None:
    sps, pps = b"\x00\x00\x00\x01\x67S", b"\x00\x00\x00\x01\x68P"
    first = MediaPacket(sps + pps + b"\x00\x00\x00\x01\x65top", 0, 0, True)
    second = MediaPacket(sps + pps + b"\x00\x00\x01\x65bottom", 0, 0, True)
    joined = join_slices([first, second], "h264")
    assert joined.data == first.data + b"\x00\x00\x01\x65bottom"
    assert joined.keyframe and joined.dts == 0


def test_hevc_parameter_sets_are_recognised_too() -> None:
    vps = b"\x00\x00\x00\x01\x40\x01V"  # type 32
    slice_ = b"\x00\x00\x00\x01\x26\x01I"  # IDR_W_RADL, type 19
    joined = join_slices(
        [MediaPacket(vps + slice_, 0, 0, True), MediaPacket(vps + slice_, 0, 0, True)], "hevc"
    )
    assert joined.data == vps + slice_ + slice_
