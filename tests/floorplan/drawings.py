"""Small drawings for the import, server and map tests, made here rather than shipped."""

from __future__ import annotations

from pathlib import Path

from dispatch_console.floorplan.pdf_pages import _png


def write_png(path: Path, width: int, height: int, *, grid_px: int = 50) -> Path:
    """A pale sheet with dark grid lines every ``grid_px`` and a red block at the top left,
    so a screenshot shows at once whether the drawing is scaled, rotated and placed."""
    rows = []
    for y in range(height):
        row = bytearray()
        for x in range(width):
            if x < width // 5 and y < height // 5:
                row += b"\xd0\x30\x30"
            elif x % grid_px < 2 or y % grid_px < 2:
                row += b"\x40\x40\x60"
            else:
                row += b"\xf4\xf0\xe6"
        rows.append(bytes(row))
    path.write_bytes(_png(width, height, rows))
    return path


def write_svg(path: Path, width: float, height: float, extra: str = "") -> Path:
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width:g} {height:g}" width="{width * 2:g}" height="{height * 2:g}">'
        f'<rect x="0" y="0" width="{width:g}" height="{height:g}" fill="#eee" stroke="#333"/>'
        f"{extra}</svg>"
    )
    return path


def write_pdf(path: Path, pages: list[tuple[float, float]]) -> Path:
    """A PDF with blank pages of the given sizes in points (needs the ``pdf`` extra)."""
    import pypdfium2

    document = pypdfium2.PdfDocument.new()
    for width, height in pages:
        document.new_page(width, height)
    document.save(str(path))
    document.close()
    return path
