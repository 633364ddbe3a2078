"""Checking a floor's background drawing without trusting it.

Backgrounds are scans and CAD exports from anywhere. SVG is XML, and XML can carry entity
bombs and external entities that read local files or fetch URLs: it is parsed with
``defusedxml`` with document type declarations refused outright, and nothing it refers to
is fetched. Raster and PDF files are only identified by their first bytes.
"""

from __future__ import annotations

import struct
from pathlib import Path, PurePosixPath

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from dispatch_console.domain.models import Background

MAX_IMAGE_BYTES = 32 * 1024 * 1024
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"
_MAGIC = {
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".pdf": (b"%PDF-",),
}
_LINK_ATTRIBUTES = ("href", "{http://www.w3.org/1999/xlink}href")


def image_path(plan_file: Path, background: Background) -> tuple[Path | None, str]:
    """Where the image is, relative to the plan file; refuses paths that leave its folder."""
    relative = PurePosixPath(background.image.replace("\\", "/"))
    if relative.is_absolute() or ".." in relative.parts or ":" in background.image:
        return None, (
            f"image {background.image!r} must be a file name relative to the plan's folder "
            "(no absolute paths, no '..', no URLs)"
        )
    return plan_file.parent / Path(*relative.parts), ""


def _svg_findings(data: bytes) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        return [
            f"SVG refused: {type(exc).__name__} (document types and entities are not allowed)"
        ], []
    except (ParseError, ValueError) as exc:
        return [f"SVG is not well-formed XML: {exc}"], []
    if root.tag != f"{SVG_NAMESPACE}svg":
        errors.append(f"not an SVG document (root element is {root.tag!r})")
        return errors, warnings
    external = 0
    for element in root.iter():
        for attribute in _LINK_ATTRIBUTES:
            link = element.get(attribute, "")
            if link and not link.startswith(("#", "data:")):
                external += 1
    if external:
        warnings.append(
            f"SVG refers to {external} outside resource(s); they are never fetched, so they "
            "will be missing from the drawing"
        )
    return errors, warnings


def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the first start-of-frame marker, walking segment by segment."""
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = struct.unpack(">H", data[at + 2 : at + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return int(width), int(height)
        at += 2 + length
    return None


def _svg_size(data: bytes) -> tuple[float, float] | None:
    """The SVG's own units: its viewBox, else width and height when they are plain numbers."""
    try:
        root = fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, ParseError, ValueError):
        return None
    box = root.get("viewBox", "").replace(",", " ").split()
    try:
        if len(box) == 4:
            width, height = float(box[2]), float(box[3])
        else:
            width = float(root.get("width", "").removesuffix("px"))
            height = float(root.get("height", "").removesuffix("px"))
    except ValueError:
        return None
    return (width, height) if width > 0 and height > 0 else None


def drawing_size(path: Path) -> tuple[float, float] | None:
    """A PNG's, JPEG's or SVG's size in its own pixels (an SVG's in its viewBox units).

    Calibration points are given in these units, and the map draws the SVG in them too.
    """
    data = path.read_bytes()[: MAX_IMAGE_BYTES + 1]
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return _svg_size(data)
    size = _png_size(data) if suffix == ".png" else _jpeg_size(data)
    if size is None or size[0] <= 0 or size[1] <= 0:
        return None
    return float(size[0]), float(size[1])


def check_background(plan_file: Path, background: Background) -> tuple[list[str], list[str]]:
    """(errors, warnings) about one floor's background image."""
    path, refusal = image_path(plan_file, background)
    if path is None:
        return [refusal], []
    return check_image_file(path, background)


def check_image_file(path: Path, background: Background) -> tuple[list[str], list[str]]:
    """(errors, warnings) about the file at ``path`` as the drawing ``background`` names.

    Separate from where the file is so a console can vet a drawing it downloaded into
    its cache with the same checks as one lying next to the plan.
    """
    suffix = path.suffix.lower()
    if suffix != ".svg" and suffix not in _MAGIC:
        return [f"image {background.image!r}: use PNG, JPEG, SVG or PDF"], []
    try:
        size = path.stat().st_size
        if size > MAX_IMAGE_BYTES:
            return [f"image {background.image!r} is {size} bytes; at most {MAX_IMAGE_BYTES}"], []
        data = path.read_bytes()
    except FileNotFoundError:
        return [f"image {background.image!r} not found next to the plan"], []
    except OSError as exc:
        return [f"image {background.image!r} cannot be read: {exc}"], []
    if suffix == ".svg":
        return _svg_findings(data)
    if not data.startswith(_MAGIC[suffix]):
        return [f"image {background.image!r} is not a {suffix[1:].upper()} file"], []
    warnings: list[str] = []
    pixels = _png_size(data) if suffix == ".png" else None
    # A calibrated drawing keeps its own proportions: only corner bounds can stretch it.
    if pixels is not None and background.placement is None and pixels[0] > 0 and pixels[1] > 0:
        x0, y0, x1, y1 = background.bounds
        image_ratio = pixels[0] / pixels[1]
        plan_ratio = (x1 - x0) / (y1 - y0)
        if abs(image_ratio / plan_ratio - 1) > 0.05:
            warnings.append(
                f"image is {pixels[0]}×{pixels[1]} px but its bounds are "
                f"{x1 - x0:g}×{y1 - y0:g} m: the drawing would be stretched"
            )
    return [], warnings


def drawable_image(plan_file: Path, background: Background) -> tuple[Path | None, str]:
    """The background's file if it is on this machine and safe to draw; else why it is not.

    The map draws only what passed the same checks as ``floorplan check``. A PDF page is
    not drawn (this build has no PDF renderer: export the page as PNG or SVG), and neither
    is an SVG that refers to outside resources: an SVG renderer may read local files it
    names, and the drawing would be incomplete anyway.
    """
    path, refusal = image_path(plan_file, background)
    if path is None:
        return None, refusal
    return drawable_file(path, background)


def drawable_file(path: Path, background: Background) -> tuple[Path | None, str]:
    """``drawable_image`` for a file wherever it is (a downloaded copy in the cache)."""
    errors, warnings = check_image_file(path, background)
    if errors:
        return None, errors[0]
    if path.suffix.lower() == ".pdf":
        return None, (
            f"image {background.image!r} is a PDF: the map does not draw PDF pages yet; "
            "export the page as PNG or SVG"
        )
    if path.suffix.lower() == ".svg" and warnings:
        return None, f"image {background.image!r} not drawn: {warnings[0]}"
    return path, ""  # a stretched raster is still drawn: `floorplan check` warns about it
