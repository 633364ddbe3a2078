"""The capture-time strip: a frame's wall-clock capture time painted as large blocks.

A benchmark that wants glass-to-glass latency needs the capture time of the very frame
on screen. Metadata does not survive a real camera, RTP, a gateway and a decoder, but
pixels do: the simulator paints the time into each frame as a row of black and white
blocks, big enough to survive H.264 at low bitrate and any scaling a player does, and
whoever holds the decoded picture reads it back.

Layout, left to right along the bottom edge: a white and a black sync block, 32 data
bits (capture time in milliseconds since the Unix epoch, modulo 2**32, most significant
bit first), then a 4-bit checksum (the data's nibbles XOR-ed), so a torn or half-decoded
frame reads as "no value" instead of a wrong time. Pure Python, no dependencies: the
simulator, the benchmark and the tests share it.
"""

from __future__ import annotations

from collections.abc import Callable

DATA_BITS = 32
CHECK_BITS = 4
SYNC = (True, False)
BLOCKS = len(SYNC) + DATA_BITS + CHECK_BITS
MODULUS = 1 << DATA_BITS


def _checksum(value: int) -> int:
    check = 0
    for shift in range(0, DATA_BITS, 4):
        check ^= (value >> shift) & 0xF
    return check


def blocks_for(time_ms: int) -> list[bool]:
    """The blocks (True = white) that encode ``time_ms``, sync blocks first."""
    value = time_ms % MODULUS
    bits = [bool(value >> (DATA_BITS - 1 - i) & 1) for i in range(DATA_BITS)]
    check = _checksum(value)
    bits += [bool(check >> (CHECK_BITS - 1 - i) & 1) for i in range(CHECK_BITS)]
    return [*SYNC, *bits]


def read_blocks(is_white: Callable[[int], bool]) -> int | None:
    """The encoded value from a block reader (block index -> white?), or None if invalid."""
    blocks = [is_white(i) for i in range(BLOCKS)]
    if tuple(blocks[: len(SYNC)]) != SYNC:
        return None
    data = blocks[len(SYNC) : len(SYNC) + DATA_BITS]
    value = 0
    for bit in data:
        value = value << 1 | int(bit)
    check = 0
    for bit in blocks[len(SYNC) + DATA_BITS :]:
        check = check << 1 | int(bit)
    return value if check == _checksum(value) else None


def age_ms(encoded: int, now_ms: int) -> int:
    """Milliseconds from the encoded capture time to ``now_ms`` (handles the wrap)."""
    delta = (now_ms - encoded) % MODULUS
    return delta if delta < MODULUS // 2 else delta - MODULUS


def geometry(width: int, height: int) -> tuple[int, int, int]:
    """Block size and the strip's top-left corner (size, x0, y0) for a frame size.

    Blocks are square, as large as fit the width (at least 8 px), and sit on the bottom
    edge so they never cover the camera's caption.
    """
    size = max(8, (width // BLOCKS) // 2 * 2)
    x0 = (width - size * BLOCKS) // 2 // 2 * 2
    y0 = (height - size) // 2 * 2
    return size, max(0, x0), max(0, y0)


def read_luma(data: bytes | memoryview, width: int, height: int, stride: int) -> int | None:
    """Read the strip from an 8-bit luma plane (a decoder's Y plane, no conversion)."""
    size, x0, y0 = geometry(width, height)
    y = y0 + size // 2
    if y >= height:
        return None
    row = y * stride
    return read_blocks(lambda index: data[row + x0 + index * size + size // 2] >= 128)


def read_rgb32(data: bytes | memoryview, width: int, height: int, stride: int) -> int | None:
    """Read the strip from a 32-bit BGRA/RGBA picture (the player's and QImage's format).

    Samples the middle of each block, where a codec's edge ringing is smallest, and takes
    the green channel as brightness (it carries most of the luma in every RGB order).
    """
    size, x0, y0 = geometry(width, height)
    y = y0 + size // 2
    if y >= height:
        return None
    row = y * stride

    def is_white(index: int) -> bool:
        x = x0 + index * size + size // 2
        return data[row + x * 4 + 1] >= 128

    return read_blocks(is_white)
