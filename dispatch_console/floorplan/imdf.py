"""Import an IMDF archive (a folder or .zip of GeoJSON files) as our floor-plan format.

IMDF places features in WGS 84 longitude/latitude. Our plans are metres in each floor's
own frame, x to the right and y down, so every building gets a local flat projection
with its top-left corner near (0, 0); all its levels share it, so floors stack.

Units become rooms (kind from their category, see ``imdf_categories``), the edges of
enclosed units become walls, and openings cut doors into them. IMDF has no cameras: the
district places those afterwards, and ``floorplan check`` validates the result.
"""

from __future__ import annotations

import json
import math
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely import GEOSException, get_num_coordinates, line_merge, transform, unary_union
from shapely.geometry import LineString, MultiLineString, Polygon, shape
from shapely.geometry.base import BaseGeometry

from .check import Finding, check_floorplans
from .imdf_categories import (
    OPEN_CATEGORIES,
    VOID_CATEGORIES,
    WALL_CATEGORIES,
    privacy_class,
    room_kind,
)
from .reading import MAX_FILE_BYTES, MAX_VERTICES

# Metres per degree of latitude, and of longitude at the equator (WGS 84, rounded).
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0
MARGIN_M = 2.0
MAX_ARCHIVE_BYTES = 256 * 1024 * 1024
PREFERRED_LANGUAGES = ("en", "en-US", "en-GB")
FEATURE_FILES = ("venue", "building", "level", "unit", "opening")


class ImdfError(Exception):
    """The archive cannot be imported at all (nothing is written)."""


@dataclass
class ImportSummary:
    source: str
    out: str = ""
    venue: str = ""
    buildings: list[str] = field(default_factory=list)
    levels: int = 0
    units_by_category: Counter[str] = field(default_factory=Counter)
    units_by_privacy: Counter[str] = field(default_factory=Counter)
    unknown_categories: list[str] = field(default_factory=list)
    openings: int = 0
    walls: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.severity == "error" for f in self.findings)

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "out": self.out,
            "ok": self.ok,
            "venue": self.venue,
            "buildings": self.buildings,
            "levels": self.levels,
            "units_by_category": dict(sorted(self.units_by_category.items())),
            "units_by_privacy": dict(sorted(self.units_by_privacy.items())),
            "unknown_categories": self.unknown_categories,
            "openings": self.openings,
            "walls": self.walls,
            "skipped_features": dict(sorted(self.skipped.items())),
            "findings": [f.as_json() for f in self.findings],
        }

    def as_text(self) -> str:
        lines = [
            f"Imported {self.venue or 'venue'} from {self.source} into {self.out}",
            f"  buildings: {len(self.buildings)} ({', '.join(self.buildings)})",
            f"  levels: {self.levels}",
            f"  units: {sum(self.units_by_category.values())}",
        ]
        for category, count in sorted(self.units_by_category.items()):
            lines.append(f"    {category}: {count}")
        privacy = ", ".join(f"{n} {k}" for k, n in sorted(self.units_by_privacy.items()))
        lines.append(f"  by privacy class: {privacy}")
        if self.unknown_categories:
            lines.append(
                f"  unknown categories (imported as private): {', '.join(self.unknown_categories)}"
            )
        lines.append(f"  openings: {self.openings}; walls drawn: {self.walls}")
        if self.skipped:
            skipped = ", ".join(f"{n} {k}" for k, n in sorted(self.skipped.items()))
            lines.append(f"  not imported: {skipped}")
        lines += [f"  {f}" for f in self.findings]
        return "\n".join(lines)


def _features_from(name: str, data: bytes, into: dict[str, list[dict[str, Any]]]) -> None:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ImdfError(f"{name} is not valid GeoJSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("features"), list):
        raise ImdfError(f"{name} is not a GeoJSON FeatureCollection")
    default_type = Path(name).stem
    for feature in document["features"]:
        if isinstance(feature, dict):
            kind = feature.get("feature_type") or default_type
            into.setdefault(str(kind), []).append(feature)


def read_archive(path: Path) -> dict[str, list[dict[str, Any]]]:
    """Every feature in the archive, by feature type."""
    features: dict[str, list[dict[str, Any]]] = {}
    if path.is_dir():
        for file in sorted(path.glob("*.geojson")):
            if file.stat().st_size > MAX_FILE_BYTES:
                raise ImdfError(f"{file.name} is larger than {MAX_FILE_BYTES} bytes")
            _features_from(file.name, file.read_bytes(), features)
        return features
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.infolist() if m.filename.endswith(".geojson")]
            if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
                raise ImdfError(f"the archive unpacks to more than {MAX_ARCHIVE_BYTES} bytes")
            for member in members:
                _features_from(member.filename, archive.read(member), features)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImdfError(f"{path} is neither an IMDF folder nor a readable .zip: {exc}") from None
    return features


def label(value: Any, fallback: str) -> str:
    """IMDF names are LABELS: {"en": "...", "es": "..."}; prefer English, else the first."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, dict):
        for language in (*PREFERRED_LANGUAGES, *value):
            text = value.get(language)
            if isinstance(text, str) and text.strip():
                return text.strip()
    return fallback


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "venue"


class _Projection:
    """WGS 84 to local metres around one reference point (accurate over a campus)."""

    def __init__(self, lon0: float, lat0: float) -> None:
        self.lon0 = lon0
        self.lat0 = lat0
        self.x_scale = M_PER_DEG_LON * math.cos(math.radians(lat0))


def _geometry(feature: dict[str, Any]) -> BaseGeometry | None:
    raw = feature.get("geometry")
    if not isinstance(raw, dict):
        return None
    try:
        geometry = shape(raw)
    except (GEOSException, ValueError, TypeError, KeyError, AttributeError, IndexError):
        return None
    if geometry.is_empty:
        return None
    return geometry


def _project(geometry: BaseGeometry, projection: _Projection) -> BaseGeometry:
    def convert(coords: Any) -> Any:
        xs = (coords[:, 0] - projection.lon0) * projection.x_scale
        ys = -(coords[:, 1] - projection.lat0) * M_PER_DEG_LAT
        coords[:, 0] = xs
        coords[:, 1] = ys
        return coords

    return transform(geometry, convert)


def _ring(polygon: Polygon, dx: float, dy: float) -> list[list[float]]:
    return [[round(x - dx, 2), round(y - dy, 2)] for x, y in polygon.exterior.coords[:-1]]


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    return [g for g in getattr(geometry, "geoms", []) if isinstance(g, Polygon)]


def _vertex_count(geometry: BaseGeometry) -> int:
    return int(get_num_coordinates(geometry))


def _reference(features: dict[str, list[dict[str, Any]]]) -> tuple[float, float]:
    """The venue's display point if it has one, else the middle of all levels."""
    for venue in features.get("venue", []):
        props = venue.get("properties") or {}
        display = props.get("display_point")
        if isinstance(display, dict):
            coords = display.get("coordinates")
            if isinstance(coords, list) and len(coords) == 2:
                return float(coords[0]), float(coords[1])
    shapes = [g for g in (_geometry(f) for f in features.get("level", [])) if g is not None]
    if not shapes:
        raise ImdfError("the archive has no level with a geometry")
    centre = unary_union(shapes).centroid
    return float(centre.x), float(centre.y)


@dataclass
class _Level:
    id: str
    name: str
    ordinal: int
    building_id: str
    geometry: BaseGeometry
    rooms: list[dict[str, Any]] = field(default_factory=list)
    wall_edges: list[BaseGeometry] = field(default_factory=list)
    openings: list[LineString] = field(default_factory=list)
    opening_ids: list[tuple[str, str]] = field(default_factory=list)


def _walls(level: _Level, dx: float, dy: float) -> list[dict[str, Any]]:
    """Edges of enclosed units, merged, with the openings cut out."""
    if not level.wall_edges:
        return []
    edges = unary_union(level.wall_edges)
    if level.openings:
        doors = unary_union([o.buffer(0.1, cap_style="flat") for o in level.openings])
        edges = edges.difference(doors)
    merged = line_merge(edges) if not edges.is_empty else edges
    lines: list[LineString] = []
    if isinstance(merged, LineString):
        lines = [merged]
    elif isinstance(merged, MultiLineString):
        lines = list(merged.geoms)
    else:
        lines = [g for g in getattr(merged, "geoms", []) if isinstance(g, LineString)]
    walls = []
    for index, line in enumerate(lines):
        path = [[round(x - dx, 2), round(y - dy, 2)] for x, y in line.coords]
        if len(path) >= 2 and line.length > 0.05:
            walls.append({"id": f"{level.id}-wall-{index + 1}", "path": path})
    return walls


def _floor_document(
    level: _Level, frame: tuple[float, float], size: tuple[float, float]
) -> dict[str, Any]:
    dx, dy = frame

    def at(x: float, y: float) -> list[float]:
        return [round(x - dx, 2), round(y - dy, 2)]

    openings = []
    for (opening_id, opening_kind), line in zip(level.opening_ids, level.openings, strict=True):
        ends = [at(*line.coords[0]), at(*line.coords[-1])]
        openings.append({"id": opening_id, "kind": opening_kind, "ends": ends})
    rooms = [
        {
            "id": r["id"],
            "name": r["name"],
            "kind": r["kind"],
            "outline": _ring(r["polygon"], dx, dy),
        }
        for r in level.rooms
    ]
    return {
        "id": level.id,
        "name": level.name,
        "level": level.ordinal,
        "width_m": size[0],
        "height_m": size[1],
        "rooms": rooms,
        "walls": _walls(level, dx, dy),
        "openings": openings,
        "cameras": [],
    }


def convert_archive(
    features: dict[str, list[dict[str, Any]]], source: str
) -> tuple[dict[str, Any], ImportSummary]:
    """Our school document for the archive's venue, and what went into it."""
    summary = ImportSummary(source)
    if not features.get("level"):
        raise ImdfError("the archive has no level.geojson (or no level features)")
    if not features.get("unit"):
        raise ImdfError("the archive has no unit.geojson (or no unit features)")
    lon0, lat0 = _reference(features)
    projection = _Projection(lon0, lat0)
    venues = features.get("venue", [])
    venue_props = (venues[0].get("properties") or {}) if venues else {}
    venue_name = label(venue_props.get("name"), "Imported venue")
    venue_id = str(venues[0].get("id")) if venues else "venue"
    summary.venue = venue_name

    buildings: dict[str, str] = {}
    for building in features.get("building", []):
        props = building.get("properties") or {}
        building_id = str(building.get("id"))
        buildings[building_id] = label(props.get("name"), f"Building {len(buildings) + 1}")

    levels: dict[str, _Level] = {}
    for feature in features["level"]:
        props = feature.get("properties") or {}
        level_id = str(feature.get("id"))
        geometry = _geometry(feature)
        if geometry is None:
            summary.findings.append(
                Finding(source, f"level {level_id}", "has no geometry", "error")
            )
            continue
        geometry = _project(geometry, projection)
        building_ids = props.get("building_ids") or []
        if isinstance(building_ids, list) and building_ids:
            building_id = str(building_ids[0])
        else:
            building_id = "grounds"
            buildings.setdefault("grounds", "Grounds (outdoor)")
        if building_id not in buildings:
            buildings[building_id] = f"Building {len(buildings) + 1}"
        ordinal = props.get("ordinal")
        levels[level_id] = _Level(
            level_id,
            label(props.get("name"), label(props.get("short_name"), f"Level {ordinal}")),
            int(ordinal) if isinstance(ordinal, int | float) and math.isfinite(ordinal) else 0,
            building_id,
            geometry,
        )
        # The level's outline is the facade: exterior walls, with its entrances as openings.
        levels[level_id].wall_edges.append(geometry.boundary)

    unknown: set[str] = set()
    for feature in features["unit"]:
        props = feature.get("properties") or {}
        unit_id = str(feature.get("id"))
        category = str(props.get("category") or "unspecified")
        level = levels.get(str(props.get("level_id")))
        geometry = _geometry(feature)
        if level is None or geometry is None:
            why = "names no known level" if level is None else "has no usable geometry"
            summary.findings.append(Finding(source, f"unit {unit_id}", why, "warning"))
            summary.skipped["unit"] += 1
            continue
        if _vertex_count(geometry) > MAX_VERTICES:
            summary.findings.append(
                Finding(source, f"unit {unit_id}", f"has more than {MAX_VERTICES} points", "error")
            )
            continue
        geometry = _project(geometry, projection)
        if category in VOID_CATEGORIES:
            summary.skipped[f"unit ({category})"] += 1
            continue
        if category in WALL_CATEGORIES:
            level.wall_edges.append(geometry.boundary)
            summary.skipped[f"unit ({category}, drawn as walls)"] += 1
            continue
        kind = room_kind(category)
        if kind.value == "other" and category not in ("unspecified",):
            unknown.add(category)
        summary.units_by_category[category] += 1
        summary.units_by_privacy[privacy_class(kind)] += 1
        name = label(
            props.get("name"), label(props.get("alt_name"), category.split(".")[0].title())
        )
        parts = _polygons(geometry)
        for index, part in enumerate(parts):
            room_id = unit_id if len(parts) == 1 else f"{unit_id}-{index + 1}"
            level.rooms.append({"id": room_id, "name": name, "kind": kind.value, "polygon": part})
        if category not in OPEN_CATEGORIES:
            level.wall_edges.append(geometry.boundary)
    summary.unknown_categories = sorted(unknown)

    for feature in features.get("opening", []):
        props = feature.get("properties") or {}
        opening_id = str(feature.get("id"))
        level = levels.get(str(props.get("level_id")))
        geometry = _geometry(feature)
        if level is None or not isinstance(geometry, LineString):
            summary.findings.append(
                Finding(
                    source, f"opening {opening_id}", "needs a level and a LineString", "warning"
                )
            )
            summary.skipped["opening"] += 1
            continue
        line = _project(geometry, projection)
        assert isinstance(line, LineString)
        level.openings.append(line)
        opening_kind = "door" if isinstance(props.get("door"), dict) else "opening"
        level.opening_ids.append((opening_id, opening_kind))
        summary.openings += 1

    for feature_type in sorted(set(features) - set(FEATURE_FILES)):
        summary.skipped[feature_type] += len(features[feature_type])

    school_buildings = []
    for building_id, building_name in buildings.items():
        own = [lv for lv in levels.values() if lv.building_id == building_id]
        if not own:
            continue
        own.sort(key=lambda lv: lv.ordinal)
        min_x, min_y, max_x, max_y = unary_union([lv.geometry for lv in own]).bounds
        frame = (min_x - MARGIN_M, min_y - MARGIN_M)
        size = (round(max_x - min_x + 2 * MARGIN_M, 2), round(max_y - min_y + 2 * MARGIN_M, 2))
        floors = [_floor_document(level, frame, size) for level in own]
        summary.walls += sum(len(f["walls"]) for f in floors)
        summary.levels += len(floors)
        summary.buildings.append(building_name)
        school_buildings.append({"id": building_id, "name": building_name, "floors": floors})
    school = {
        "id": _slug(venue_name),
        "name": venue_name,
        "address": "",
        "imported_from": {"format": "IMDF", "venue_id": venue_id},
        "buildings": school_buildings,
    }
    return school, summary


def import_imdf(path: Path | str, out: Path | str) -> ImportSummary:
    """Convert the archive, write ``district.json`` and the school file, then check them."""
    source, target = Path(path), Path(out)
    if not source.exists():
        raise ImdfError(f"{source} not found")
    school, summary = convert_archive(read_archive(source), str(source))
    target.mkdir(parents=True, exist_ok=True)
    school_file = f"{school['id']}.json"
    district = {"id": f"{school['id']}-district", "name": school["name"], "schools": [school_file]}
    (target / school_file).write_text(json.dumps(school, indent=1, ensure_ascii=False) + "\n")
    (target / "district.json").write_text(json.dumps(district, indent=1, ensure_ascii=False) + "\n")
    summary.out = str(target)
    summary.findings += check_floorplans(target).findings
    return summary
