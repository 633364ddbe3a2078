"""The size libVLC decodes a camera's picture into: its own shape, within a pixel budget.

A fixed 640×360 buffer stretched a 4:3 camera 1.33× and a 9:16 corridor camera about
3.1× — people looked wider than they are. The buffer must follow the source's shape;
the budget (in pixels, not a box) keeps a portrait camera as sharp as a landscape one
at the same decoding and copying cost, and a picture is never scaled up.

A tile also names the box it shows the picture in. Decoding into exactly the letterboxed
size lets the tile copy the picture unscaled: on this project's 2-core machine a 4×4
grid painted 16 pictures scaled from 418×234 into 368×207 four times slower than the
same pictures at 368×206 (bench/grid_bench.py; 0.78 ms against 0.18 ms a tile), and the
decoder's own scaling into the smaller buffer costs less too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["DEFAULT_PIXEL_BUDGET", "DecodeLimit", "decode_size", "visible_size"]

DEFAULT_PIXEL_BUDGET = 640 * 360

# Decoders hand libVLC's format callback their buffer size, padded for their own needs
# (FFmpeg aligns H.264 640×360 to 640×386: 16-line macroblocks plus edge lines), not
# the picture's visible size. The padding never exceeds this many lines or columns.
MAX_PADDING = 48
# Picture shapes cameras send, as width:height.
_SHAPES = (
    (16, 9), (4, 3), (9, 16), (3, 4), (1, 1), (16, 10), (10, 16), (5, 4), (4, 5),
    (3, 2), (2, 3), (21, 9), (32, 9), (2, 1), (1, 2),
)  # fmt: skip


def _padded(size: int) -> set[int]:
    """Sizes a decoder may report for ``size``: aligned to 16 or 32, plus edge lines."""
    sizes = {size}
    for align in (16, 32):
        aligned = (size + align - 1) // align * align
        sizes |= {aligned, aligned + 2}
    return sizes


def visible_size(
    padded_w: int, padded_h: int, hint: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The visible picture inside a decoder's padded buffer size.

    ``hint`` is what the camera's stream profile says (the district's plan); it wins when
    it fits inside the padding. Otherwise the first camera shape (most common first)
    whose aligned size is the buffer's, with the least padding; if none is, the buffer
    size itself (an unusual shape is shown as the decoder gives it, not bent to a guess).
    """
    if hint is not None and hint[0] > 0 and hint[1] > 0:
        w, h = hint
        if 0 <= padded_w - w <= MAX_PADDING and 0 <= padded_h - h <= MAX_PADDING:
            return hint
    for shape_w, shape_h in _SHAPES:
        for width in range(padded_w, max(1, padded_w - MAX_PADDING) - 1, -1):
            if (width * shape_h) % shape_w or padded_w not in _padded(width):
                continue
            height = width * shape_h // shape_w
            if padded_h in _padded(height):
                return width, height
    return padded_w, padded_h


def decode_size(
    source_w: int,
    source_h: int,
    budget_px: int = DEFAULT_PIXEL_BUDGET,
    box: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Width and height (both even) of the source's shape with at most ``budget_px`` pixels,
    and no larger than fits in ``box`` (the tile's picture area) when one is given."""
    if source_w <= 0 or source_h <= 0:
        raise ValueError("the source has no size")
    if budget_px <= 0:
        raise ValueError("the budget must be positive")
    scale = min(1.0, math.sqrt(budget_px / (source_w * source_h)))
    if box is not None and box[0] > 0 and box[1] > 0:
        scale = min(scale, box[0] / source_w, box[1] / source_h)
    width = max(2, int(source_w * scale) // 2 * 2)
    height = max(2, int(source_h * scale) // 2 * 2)
    return width, height


@dataclass(frozen=True)
class DecodeLimit:
    """The most a stream is decoded into: a pixel budget, and the box it is shown in.

    Chosen when a stream opens: the decoder's buffer cannot change size without reopening
    the stream, which a layout switch never does.
    """

    pixels: int = DEFAULT_PIXEL_BUDGET
    box: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.pixels <= 0:
            raise ValueError("the pixel budget must be positive")

    def size_for(self, source_w: int, source_h: int) -> tuple[int, int]:
        return decode_size(source_w, source_h, self.pixels, self.box)
