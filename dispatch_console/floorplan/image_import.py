"""``floorplan import-image``: a drawing a district already has, placed by two points.

The facilities office has scans and PDF sets, not coordinates. Two points it can name on
both — a pixel on the drawing and where that is on the floor, in metres — place the
drawing (``domain.plan_calibration``); the result is a floor in our format with the drawing
as its background and no rooms yet, which ``floorplan check`` accepts, and on which rooms
and cameras are then placed in metres. Importing onto a floor that already exists keeps
its rooms, walls and cameras and replaces only the drawing (re-calibrating a floor).

Nothing is written when the drawing or the calibration is refused.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch_console.domain.models import Background
from dispatch_console.domain.plan_calibration import (
    CalibrationError,
    CalibrationPoint,
    Similarity,
    similarity_from_points,
)

from .backgrounds import check_image_file, drawing_size
from .check import Finding, check_floorplans
from .pdf_pages import DEFAULT_DPI, PdfPageError, render_page
from .reading import FloorPlanError, read_json

DRAWING_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".pdf")
_POINT = re.compile(r"^\s*([^,=\s]+)\s*,\s*([^,=\s]+)\s*=\s*([^,=\s]+)\s*,\s*([^,=\s]+)\s*$")
# Part of the drawing may hang over the floor's origin by this much (margins, title
# blocks) before the import says so.
ORIGIN_SLACK_M = 1.0


class ImageImportError(Exception):
    """The drawing or its calibration is refused; nothing was written."""


def parse_point(text: str) -> CalibrationPoint:
    """``PX,PY=X,Y``: a pixel on the drawing and where it is on the floor, in metres."""
    match = _POINT.match(text)
    if match is None:
        raise ValueError(f"{text!r}: expected PX,PY=X,Y (pixel on the drawing = metres)")
    try:
        u, v, x, y = (float(g) for g in match.groups())
    except ValueError:
        raise ValueError(f"{text!r}: the four parts must be numbers") from None
    return CalibrationPoint((u, v), (x, y))


@dataclass(frozen=True)
class FloorTarget:
    """Where the drawing goes: school, building and floor ids, names, level."""

    school: str
    building: str
    floor: str
    name: str
    level: int | None = None
    school_name: str = ""
    building_name: str = ""


@dataclass
class ImageImport:
    source: str
    out: str
    image: str = ""
    size_px: tuple[float, float] = (0.0, 0.0)
    metres_per_pixel: float = 0.0
    rotation_deg: float = 0.0
    extent: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    floor_size_m: tuple[float, float] = (0.0, 0.0)
    school_file: str = ""
    kept: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "out": self.out,
            "ok": self.ok,
            "image": self.image,
            "size_px": list(self.size_px),
            "metres_per_pixel": self.metres_per_pixel,
            "rotation_deg": self.rotation_deg,
            "extent_m": list(self.extent),
            "floor_size_m": list(self.floor_size_m),
            "school_file": self.school_file,
            "kept": self.kept,
            "notes": self.notes,
            "findings": [f.as_json() for f in self.findings],
        }

    def as_text(self) -> str:
        x0, y0, x1, y1 = self.extent
        lines = [
            f"{self.source} → {self.school_file}: background {self.image} "
            f"({self.size_px[0]:g}×{self.size_px[1]:g} px)",
            f"  {self.metres_per_pixel:.4g} m per pixel, rotated {self.rotation_deg:.2f}° "
            f"clockwise; covers x {x0:.2f}…{x1:.2f} m, y {y0:.2f}…{y1:.2f} m",
            f"  floor {self.floor_size_m[0]:g}×{self.floor_size_m[1]:g} m"
            + (
                "; kept " + ", ".join(f"{n} {what}" for what, n in self.kept.items())
                if any(self.kept.values())
                else "; no rooms yet: place rooms and cameras in metres"
            ),
        ]
        lines += [f"  note: {note}" for note in self.notes]
        lines += [str(f) for f in self.findings]
        lines.append("check: " + ("OK" if self.ok else "NOT USABLE"))
        return "\n".join(lines)


def _dump(path: Path, data: Any) -> None:
    """Write whole or not at all: a half-written plan must never be left for the server."""
    temporary = path.with_name(path.name + ".part")
    temporary.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    temporary.replace(path)


def _load_object(path: Path) -> dict[str, Any]:
    try:
        data = read_json(path)
    except FloorPlanError as exc:
        raise ImageImportError(str(exc)) from None
    if not isinstance(data, dict):
        raise ImageImportError(f"{path} is not a JSON object")
    return data


def _school_file(out: Path, index: dict[str, Any], school_id: str) -> str:
    """The file district.json lists for this school, else ``<school id>.json``."""
    for entry in index.get("schools", []):
        if isinstance(entry, str) and (out / entry).is_file():
            try:
                data = read_json(out / entry)
            except FloorPlanError:
                continue
            if isinstance(data, dict) and data.get("id") == school_id:
                return entry
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", school_id).strip(".-") or "school"
    return f"{safe}.json"


def _drawing(source: Path, page: int | None, dpi: float) -> tuple[str, bytes, float]:
    """(file name in ``out``, its bytes, pixel factor): a PDF page becomes a PNG."""
    suffix = source.suffix.lower()
    if suffix not in DRAWING_SUFFIXES:
        raise ImageImportError(f"{source.name}: use a PNG, JPEG, SVG or PDF drawing")
    if not source.is_file():
        raise ImageImportError(f"{source} not found")
    if suffix == ".pdf":
        try:
            data, used = render_page(source, page or 1, dpi)
        except PdfPageError as exc:
            raise ImageImportError(str(exc)) from None
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{source.stem}-p{page or 1}") + ".png"
        return name, data, used / dpi
    if page is not None:
        raise ImageImportError("--page is for PDF drawings only")
    return source.name, source.read_bytes(), 1.0


def _floor(
    existing: dict[str, Any] | None, target: FloorTarget, background: dict[str, Any]
) -> dict[str, Any]:
    floor: dict[str, Any] = dict(existing or {})
    floor.update({"id": target.floor, "name": target.name, "background": background})
    if target.level is not None or "level" not in floor:
        floor["level"] = target.level or 0
    for key in ("rooms", "walls", "openings", "cameras"):
        floor.setdefault(key, [])
    return floor


def import_image(
    source: Path | str,
    out: Path | str,
    target: FloorTarget,
    points: list[CalibrationPoint],
    *,
    page: int | None = None,
    dpi: float = DEFAULT_DPI,
) -> ImageImport:
    """Place the drawing by ``points``, write it and the floor into ``out``, then check."""
    source, out = Path(source), Path(out)
    if len(points) != 2:
        raise ImageImportError(
            f"give exactly two --point PX,PY=X,Y calibration points, got {len(points)}"
        )
    name, data, factor = _drawing(source, page, dpi)
    # Pixels of a PDF page are those of the rendering at --dpi; when the page had to be
    # rendered smaller, the points scale with it.
    pixels = [CalibrationPoint((p.pixel[0] * factor, p.pixel[1] * factor), p.plan) for p in points]
    try:
        placement = similarity_from_points(*pixels)
    except CalibrationError as exc:
        raise ImageImportError(f"calibration refused: {exc}") from None
    out.mkdir(parents=True, exist_ok=True)
    staged = out / (name + ".part")
    staged.write_bytes(data)
    try:
        summary = _place(staged, name, out, source, target, pixels, placement)
    finally:
        staged.unlink(missing_ok=True)
    return summary


def _place(
    staged: Path,
    name: str,
    out: Path,
    source: Path,
    target: FloorTarget,
    pixels: list[CalibrationPoint],
    placement: Similarity,
) -> ImageImport:
    summary = ImageImport(str(source), str(out), image=name)
    vetting = Background(name, (0.0, 0.0, 1.0, 1.0), placement)
    # check_image_file reads the suffix: vet a copy named like the final file.
    probe = staged.with_name(f".vet-{name}")
    shutil.copyfile(staged, probe)
    try:
        errors, warnings = check_image_file(probe, vetting)
        size = None if errors else drawing_size(probe)
    finally:
        probe.unlink(missing_ok=True)
    if errors:
        raise ImageImportError(f"{source.name}: {errors[0]}")
    if size is None:
        raise ImageImportError(
            f"{source.name}: cannot tell the drawing's size in pixels (an SVG needs a viewBox "
            "or numeric width and height)"
        )
    summary.notes += warnings
    for point in pixels:
        u, v = point.pixel
        if not (0 <= u <= size[0] and 0 <= v <= size[1]):
            raise ImageImportError(
                f"calibration refused: pixel {u:g},{v:g} lies outside the "
                f"{size[0]:g}×{size[1]:g} px drawing"
            )
    x0, y0, x1, y1 = placement.extent(size)
    if x1 <= 0 or y1 <= 0:
        raise ImageImportError(
            f"calibration refused: the drawing would lie entirely left of or above the "
            f"floor's origin (x {x0:.1f}…{x1:.1f} m, y {y0:.1f}…{y1:.1f} m)"
        )
    if x0 < -ORIGIN_SLACK_M or y0 < -ORIGIN_SLACK_M:
        summary.notes.append(
            f"part of the drawing lies left of or above the floor's origin (its top-left is at "
            f"{x0:.1f},{y0:.1f} m); the map shows the floor from 0,0 — choose calibration "
            "points whose metres put the building's corner at 0,0"
        )
    index_path = out / "district.json"
    index = _load_object(index_path) if index_path.exists() else None
    if index is None:
        index = {"id": "district", "name": "District", "schools": []}
        summary.notes.append('district.json created with id "district": give it your own')
    school_file = _school_file(out, index, target.school)
    school_path = out / school_file
    school = (
        _load_object(school_path)
        if school_path.exists()
        else {"id": target.school, "name": target.school_name or target.school, "buildings": []}
    )
    if school.get("id") != target.school:
        raise ImageImportError(f"{school_path} holds school {school.get('id')!r}, not this one")
    buildings = school.setdefault("buildings", [])
    if not isinstance(buildings, list):
        raise ImageImportError(f"{school_path}: buildings is not a list")
    building = next(
        (b for b in buildings if isinstance(b, dict) and b.get("id") == target.building), None
    )
    if building is None:
        building = {"id": target.building, "name": target.building_name or target.building}
        building["floors"] = []
        buildings.append(building)
    floors = building.setdefault("floors", [])
    if not isinstance(floors, list):
        raise ImageImportError(f"{school_path}: building {target.building}: floors is not a list")
    at = next(
        (i for i, f in enumerate(floors) if isinstance(f, dict) and f.get("id") == target.floor),
        None,
    )
    existing = floors[at] if at is not None else None
    background = {
        "image": name,
        "size_px": [_number(size[0]), _number(size[1])],
        "calibration": [
            {"pixel": [_number(c) for c in p.pixel], "plan": [_number(c) for c in p.plan]}
            for p in pixels
        ],
    }
    floor = _floor(existing, target, background)
    width = max(float(floor.get("width_m", 0) or 0), round(x1, 2))
    height = max(float(floor.get("height_m", 0) or 0), round(y1, 2))
    floor["width_m"], floor["height_m"] = width, height
    if at is None:
        floors.append(floor)
    else:
        floors[at] = floor
    summary.kept = {key: len(floor[key]) for key in ("rooms", "walls", "openings", "cameras")}
    drawing = out / name
    if drawing.exists() and _digest(drawing) != _digest(staged):
        raise ImageImportError(
            f"{drawing} exists and is a different file: rename the drawing or remove it"
        )
    if not drawing.exists():
        shutil.copyfile(staged, drawing.with_name(drawing.name + ".tmp"))
        drawing.with_name(drawing.name + ".tmp").replace(drawing)
    _dump(school_path, school)
    if school_file not in index.get("schools", []):
        index["schools"] = [*index.get("schools", []), school_file]
    _dump(index_path, index)
    summary.size_px = size
    summary.metres_per_pixel = placement.metres_per_pixel
    summary.rotation_deg = placement.rotation_deg
    summary.extent = (x0, y0, x1, y1)
    summary.floor_size_m = (width, height)
    summary.school_file = str(school_path)
    summary.findings = check_floorplans(out).findings
    return summary


def _number(value: float) -> float | int:
    """Whole numbers as integers: the file is read and edited by people."""
    return int(value) if float(value).is_integer() else float(value)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
