"""The decode buffer follows the camera's shape: never stretched, never scaled up."""

from __future__ import annotations

import pytest

from dispatch_console.domain.picture_size import DecodeLimit, decode_size, visible_size


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ((640, 360), (640, 360)),  # the sub-stream: as it comes
        ((1920, 1080), (640, 360)),  # a main stream: scaled down, same shape
        ((1280, 960), (554, 415)),  # 4:3
        ((1080, 1920), (360, 640)),  # a 9:16 corridor camera: as many pixels
        ((320, 240), (320, 240)),  # small: never scaled up
        ((7680, 4320), (640, 360)),  # huge
    ],
)
def test_keeps_the_shape_within_the_budget(
    source: tuple[int, int], expected: tuple[int, int]
) -> None:
    width, height = decode_size(*source)
    assert (width, height) == (expected[0] // 2 * 2, expected[1] // 2 * 2)
    assert width * height <= 640 * 360
    assert width / height == pytest.approx(source[0] / source[1], rel=0.02)


def test_rejects_a_sizeless_source() -> None:
    with pytest.raises(ValueError):
        decode_size(0, 360)


@pytest.mark.parametrize(
    ("padded", "visible"),
    [
        ((640, 386), (640, 360)),  # what FFmpeg hands libVLC for the simulator's H.264
        ((640, 368), (640, 360)),
        ((1920, 1088), (1920, 1080)),
        ((1280, 962), (1280, 960)),  # 4:3
        ((1088, 1922), (1080, 1920)),  # 9:16, padded both ways
        ((640, 360), (640, 360)),  # nothing padded
        ((777, 555), (777, 555)),  # no common shape fits: the buffer as it is
    ],
)
def test_visible_size_inside_the_decoders_padding(
    padded: tuple[int, int], visible: tuple[int, int]
) -> None:
    assert visible_size(*padded) == visible


def test_the_plans_stream_profile_wins_when_it_fits() -> None:
    assert visible_size(720, 592, hint=(720, 576)) == (720, 576)  # PAL D1: no common shape
    assert visible_size(640, 386, hint=(1920, 1080)) == (640, 360)  # a wrong hint is ignored


def test_padding_seen_from_libvlc_on_files() -> None:
    # Buffers libVLC 3.0 reported for ffmpeg-made clips of 640×480 and 360×640.
    assert visible_size(640, 482) == (640, 480)
    assert visible_size(368, 640) == (360, 640)
    assert visible_size(368, 642) == (360, 640)


@pytest.mark.parametrize(
    ("source", "box", "expected"),
    [
        ((640, 360), (477, 207), (368, 206)),  # a 4×4 tile at 1920×1080: height-bound
        ((640, 480), (477, 207), (276, 206)),  # 4:3 in the same tile
        ((1080, 1920), (477, 207), (116, 206)),  # a corridor camera: never stretched
        ((640, 360), (1900, 1000), (640, 360)),  # a big box never scales up
    ],
)
def test_decodes_no_larger_than_the_box_the_tile_shows(
    source: tuple[int, int], box: tuple[int, int], expected: tuple[int, int]
) -> None:
    assert DecodeLimit(640 * 360, box).size_for(*source) == expected


def test_a_limit_needs_a_positive_budget() -> None:
    with pytest.raises(ValueError):
        DecodeLimit(0)
