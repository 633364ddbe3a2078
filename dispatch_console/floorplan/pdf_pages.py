"""One page of a PDF floor plan, rendered once into a PNG the map can draw.

Districts often have their plans only as PDF sets from the architect. The console has no
PDF renderer (and should not parse PDFs from anywhere on a dispatcher's machine), so
``floorplan import-image`` renders the page here, on the facilities office's machine,
with PDFium (``pypdfium2``, whose wheels carry their own library; the ``pdf`` extra), and
the plan names the PNG. Calibration points on a PDF are pixels of that rendering.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path
from typing import Any

# A page rendered larger than this on its long side is scaled down (an A0 sheet at 300 dpi
# is 14,000 px): the map rasterises drawings at 4,096 px anyway.
MAX_RENDER_PX = 8192
DEFAULT_DPI = 150.0


class PdfPageError(ValueError):
    """The page cannot be rendered; the message says why, for the person at the terminal."""


def _png(width: int, height: int, rows: list[bytes]) -> bytes:
    """An 8-bit RGB PNG, written without an imaging library."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def _pdfium() -> Any:
    try:
        import pypdfium2
    except ImportError:
        raise PdfPageError(
            "PDF pages need pypdfium2 (pip install 'dispatch-console[pdf]'), or export the "
            "page as PNG or SVG"
        ) from None
    return pypdfium2


def render_page(path: Path, page_number: int, dpi: float = DEFAULT_DPI) -> tuple[bytes, float]:
    """(PNG bytes, the dpi actually used) for page ``page_number`` (from 1) of a PDF.

    The dpi is lowered when the page would exceed MAX_RENDER_PX, and returned, because
    calibration pixels are pixels of the rendering that was made.
    """
    pdfium = _pdfium()
    if not 10 <= dpi <= 1200:
        raise PdfPageError(f"--dpi must be between 10 and 1200, got {dpi:g}")
    try:
        document = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        raise PdfPageError(f"{path.name} is not a readable PDF ({exc})") from None
    try:
        pages = len(document)
        if not 1 <= page_number <= pages:
            raise PdfPageError(f"{path.name} has {pages} page(s); --page {page_number} is not one")
        page = document[page_number - 1]
        width_pt, height_pt = page.get_size()
        if width_pt <= 0 or height_pt <= 0:
            raise PdfPageError(f"page {page_number} of {path.name} has no area")
        dpi = min(dpi, MAX_RENDER_PX * 72 / max(width_pt, height_pt))
        bitmap = page.render(scale=dpi / 72, rev_byteorder=True)
        if bitmap.n_channels != 3:
            raise PdfPageError(f"PDFium rendered {bitmap.n_channels} channels, expected RGB")
        buffer = bytes(bitmap.buffer)
        row_bytes = bitmap.width * 3
        rows = [
            buffer[y * bitmap.stride : y * bitmap.stride + row_bytes] for y in range(bitmap.height)
        ]
        return _png(bitmap.width, bitmap.height, rows), dpi
    finally:
        document.close()
