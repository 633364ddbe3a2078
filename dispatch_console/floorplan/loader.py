"""Load a district's floor plans and decide, from geometry, which room each camera is in.

The file says whether the district *wants* a camera shared; the room polygon that holds
the camera's position says whether it *may* be. A shareable camera standing in a private
room is reported (as a warning naming file and camera) and stays locked for police.

The format is described by ``floorplans/floorplan.schema.json``::

    district.json  {"id", "name", "schools": ["lincoln-high.json", ...]}
    <school>.json  {"id", "name", "address", "buildings": [{"id", "name", "floors": [
                      {"id", "name", "level", "width_m", "height_m",
                       "background"?: {"image", "bounds": [x0, y0, x1, y1]}
                                    | {"image", "size_px": [w, h], "calibration":
                                       [{"pixel": [u, v], "plan": [x, y]}, {...}]},
                       "rooms":    [{"id", "name", "kind", "outline": [[x, y], ...]}],
                       "walls"?:   [{"id", "path": [[x, y], ...]}],
                       "openings"?: [{"id", "kind": "door"|"opening", "ends": [[x, y], [x, y]]}],
                       "cameras":  [{"id", "name", "logical_name"?, "position": [x, y],
                                    "heading_deg", "fov_deg", "range_m", "shareable"?,
                                    "streams"?: {"main"?: {...}, "sub"?: {...}}}]}]}]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon

from dispatch_console.domain.models import (
    Background,
    Building,
    Camera,
    District,
    Floor,
    Opening,
    Room,
    RoomKind,
    School,
    StreamProfile,
    Wall,
)
from dispatch_console.domain.plan_calibration import (
    CalibrationError,
    CalibrationPoint,
    Similarity,
    similarity_from_points,
)
from dispatch_console.domain.policy import is_private_room

from .outlines import room_polygon
from .reading import (
    MAX_COORDINATE_M,
    FloorPlanError,
    Problem,
    Reader,
    boolean,
    coordinate,
    integer,
    items,
    number,
    outline,
    point,
    points,
    read_json,
    text,
)

__all__ = [
    "FloorPlanError",
    "Problem",
    "Validation",
    "district_document",
    "district_from_document",
    "load_district",
    "validate_document",
]

OPENING_KINDS = ("door", "opening")
# A drawing's pixel size, as ``floorplan import-image`` writes it; past this it is not a plan.
MAX_DRAWING_PX = 100_000
_SHA256 = re.compile(r"[0-9a-f]{64}")
STREAM_NAMES = ("main", "sub")


def _kind(value: Any) -> RoomKind:
    if not isinstance(value, str):
        raise ValueError("expected a room kind")
    try:
        return RoomKind(value)
    except ValueError:
        known = ", ".join(k.value for k in RoomKind)
        raise ValueError(f"unknown room kind; one of {known}") from None


def _ends(value: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("expected two [x, y] ends")
    first, second = point(value[0]), point(value[1])
    if first == second:
        raise ValueError("the two ends are the same point")
    return first, second


def _bounds(value: Any) -> tuple[float, float, float, float]:
    if not isinstance(value, list) or len(value) != 4:
        raise ValueError("expected [x0, y0, x1, y1]")
    x0, y0, x1, y1 = (coordinate(v) for v in value)
    if x1 <= x0 or y1 <= y0:
        raise ValueError("the bottom-right corner must lie right of and below the top-left")
    return x0, y0, x1, y1


def _stream(name: str, value: Any) -> StreamProfile:
    if not isinstance(value, dict):
        raise ValueError('expected an object such as {"codec": "h264", "width": 640}')
    if any(key in value for key in ("url", "uri", "address")):
        raise ValueError(
            "stream addresses belong in the district's camera registry, not in the floor plan "
            "that every console receives"
        )
    codec = value.get("codec", "")
    if not isinstance(codec, str):
        raise ValueError("codec must be text")
    width = integer(value.get("width", 0))
    height = integer(value.get("height", 0))
    fps = number(value.get("fps", 0))
    if width < 0 or height < 0 or fps < 0:
        raise ValueError("width, height and fps cannot be negative")
    return StreamProfile(name, codec, width, height, fps)


def _streams(value: Any) -> tuple[StreamProfile, ...]:
    if not isinstance(value, dict):
        raise ValueError('expected {"main": {...}, "sub": {...}}')
    unknown = sorted(set(value) - set(STREAM_NAMES))
    if unknown:
        raise ValueError(f"unknown stream(s) {', '.join(map(str, unknown))}; main and sub only")
    return tuple(_stream(name, value[name]) for name in STREAM_NAMES if name in value)


def _room(reader: Reader, raw: Any, floor_id: str) -> tuple[Room, Polygon] | None:
    if not isinstance(raw, dict):
        reader.error(f"floor {floor_id}", "a room entry is not an object")
        return None
    room_id = reader.field(raw, "id", f"room on floor {floor_id}", text)
    feature = f"room {room_id}"
    name = reader.field(raw, "name", feature, text)
    kind = reader.field(raw, "kind", feature, _kind)
    ring = reader.field(raw, "outline", feature, outline)
    if room_id is None or name is None or kind is None or ring is None:
        return None
    verdict = room_polygon(ring)
    if verdict.polygon is None:
        reader.error(feature, verdict.error)
        return None
    if verdict.warning:
        reader.warn(feature, verdict.warning)
    return Room(room_id, name, kind, verdict.ring), verdict.polygon


def _wall(reader: Reader, raw: Any, floor_id: str) -> Wall | None:
    if not isinstance(raw, dict):
        reader.error(f"floor {floor_id}", "a wall entry is not an object")
        return None
    wall_id = reader.field(raw, "id", f"wall on floor {floor_id}", text)
    path = reader.field(raw, "path", f"wall {wall_id}", lambda v: points(v, 2))
    if wall_id is None or path is None:
        return None
    if len(set(path)) < 2:
        reader.error(f"wall {wall_id}", "path has no length (all its points are the same)")
        return None
    return Wall(wall_id, path)


def _opening(reader: Reader, raw: Any, floor_id: str) -> Opening | None:
    if not isinstance(raw, dict):
        reader.error(f"floor {floor_id}", "an opening entry is not an object")
        return None
    opening_id = reader.field(raw, "id", f"opening on floor {floor_id}", text)
    feature = f"opening {opening_id}"
    kind = reader.optional(raw, "kind", feature, text) or "door"
    ends = reader.field(raw, "ends", feature, _ends)
    if kind not in OPENING_KINDS:
        reader.error(feature, f"kind must be one of {', '.join(OPENING_KINDS)}, got {kind!r}")
        return None
    if opening_id is None or ends is None:
        return None
    return Opening(opening_id, kind, ends)


def _size_px(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError("expected [width, height] in pixels")
    width, height = number(value[0]), number(value[1])
    if not (0 < width <= MAX_DRAWING_PX and 0 < height <= MAX_DRAWING_PX):
        raise ValueError(f"width and height must be more than 0 and at most {MAX_DRAWING_PX}")
    return width, height


def _calibration(value: Any) -> Similarity:
    """Two {"pixel": [u, v], "plan": [x, y]} points; refused when they cannot place a drawing."""
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError('expected two points [{"pixel": [u, v], "plan": [x, y]}, {...}]')
    pairs = []
    for entry in value:
        if not isinstance(entry, dict) or "pixel" not in entry or "plan" not in entry:
            raise ValueError('each calibration point is {"pixel": [u, v], "plan": [x, y]}')
        pairs.append(CalibrationPoint(point(entry["pixel"]), point(entry["plan"])))
    try:
        return similarity_from_points(pairs[0], pairs[1])
    except CalibrationError as exc:
        raise ValueError(str(exc)) from None


def _background(reader: Reader, raw: Any, feature: str) -> Background | None:
    """Placed by ``bounds`` (corners, axis-aligned) or by ``calibration`` with ``size_px``."""
    if not isinstance(raw, dict):
        reader.error(feature, 'field "background" must be an object {"image", "bounds"}')
        return None
    where = f"{feature} background"
    image = reader.field(raw, "image", where, text)
    digest = raw.get("sha256", "")
    sha256 = digest if isinstance(digest, str) and _SHA256.fullmatch(digest) else ""
    if raw.get("calibration") is None:
        bounds = reader.field(raw, "bounds", where, _bounds)
        if image is None or bounds is None:
            return None
        return Background(image, bounds, sha256=sha256)
    if raw.get("bounds") is not None:
        reader.error(where, 'give "bounds" or "calibration", not both')
        return None
    placement = reader.field(raw, "calibration", where, _calibration)
    size = reader.field(raw, "size_px", where, _size_px)
    if image is None or placement is None or size is None:
        return None
    extent = placement.extent(size)
    if any(abs(c) > MAX_COORDINATE_M for c in extent):
        reader.error(where, "the calibration places the drawing beyond 100 km from the origin")
        return None
    return Background(image, extent, placement, sha256)


def _camera(
    reader: Reader,
    raw: Any,
    ids: tuple[str, str, str],
    rooms: list[tuple[Room, Polygon]],
) -> Camera | None:
    school_id, building_id, floor_id = ids
    if not isinstance(raw, dict):
        reader.error(f"floor {floor_id}", "a camera entry is not an object")
        return None
    camera_id = reader.field(raw, "id", f"camera on floor {floor_id}", text)
    feature = f"camera {camera_id}"
    name = reader.field(raw, "name", feature, text)
    logical_name = reader.optional(raw, "logical_name", feature, text) or ""
    position = reader.field(raw, "position", feature, point)
    heading = reader.field(raw, "heading_deg", feature, number)
    fov = reader.field(raw, "fov_deg", feature, number)
    range_m = reader.field(raw, "range_m", feature, number)
    shareable = reader.optional(raw, "shareable", feature, boolean)
    streams = reader.optional(raw, "streams", feature, _streams) or ()
    if (
        camera_id is None
        or name is None
        or position is None
        or heading is None
        or fov is None
        or range_m is None
    ):
        return None
    if not 0 < fov <= 360:
        reader.error(feature, f"fov_deg must be in (0, 360], got {fov:g}")
    if not 0 < range_m <= 1000:
        reader.error(feature, f"range_m must be more than 0 and at most 1000, got {range_m:g}")
    where = ShapelyPoint(position)
    holders = [(room, poly) for room, poly in rooms if poly.covers(where)]
    if not holders:
        reader.error(
            feature, f"position {list(position)} is outside every room of floor {floor_id}"
        )
        return None
    # On a shared wall the stricter room wins: a private room beats a common area.
    holders.sort(key=lambda rp: (not is_private_room(rp[0].kind), rp[1].area))
    room = holders[0][0]
    configured = True if shareable is None else shareable
    if configured and is_private_room(room.kind):
        reader.warn(
            feature,
            f'"{name}" is configured shareable but stands in {room.name} '
            f"({room.kind.value.replace('_', ' ')}); it will never be shared with police",
        )
    return Camera(
        id=camera_id,
        name=name,
        school_id=school_id,
        building_id=building_id,
        floor_id=floor_id,
        position=position,
        heading_deg=heading % 360,
        fov_deg=fov,
        range_m=range_m,
        room_id=room.id,
        room_kind=room.kind,
        configured_shareable=configured,
        logical_name=logical_name,
        streams=streams,
    )


def _listed(reader: Reader, raw: dict[str, Any], key: str, feature: str) -> list[Any]:
    return reader.optional(raw, key, feature, items) or []


def _floor(reader: Reader, raw: Any, school_id: str, building_id: str) -> Floor | None:
    if not isinstance(raw, dict):
        reader.error(f"building {building_id}", "a floor entry is not an object")
        return None
    floor_id = reader.field(raw, "id", f"floor in building {building_id}", text)
    feature = f"floor {floor_id}"
    name = reader.field(raw, "name", feature, text)
    level = reader.field(raw, "level", feature, integer)
    width = reader.field(raw, "width_m", feature, coordinate)
    height = reader.field(raw, "height_m", feature, coordinate)
    raw_rooms = reader.field(raw, "rooms", feature, items) or []
    raw_cameras = reader.field(raw, "cameras", feature, items) or []
    raw_walls = _listed(reader, raw, "walls", feature)
    raw_openings = _listed(reader, raw, "openings", feature)
    background = None
    if raw.get("background") is not None:
        background = _background(reader, raw["background"], feature)
    if floor_id is None or name is None or level is None or width is None or height is None:
        return None
    if width <= 0 or height <= 0:
        reader.error(feature, f"width_m and height_m must be positive, got {width:g} × {height:g}")
    rooms = [r for r in (_room(reader, item, floor_id) for item in raw_rooms) if r]
    walls = tuple(w for w in (_wall(reader, item, floor_id) for item in raw_walls) if w)
    openings = tuple(o for o in (_opening(reader, item, floor_id) for item in raw_openings) if o)
    ids = (school_id, building_id, floor_id)
    cameras = [c for c in (_camera(reader, item, ids, rooms) for item in raw_cameras) if c]
    return Floor(
        floor_id,
        name,
        level,
        tuple(r for r, _ in rooms),
        tuple(cameras),
        width,
        height,
        walls,
        openings,
        background,
    )


def _school(raw: Any, file: str) -> tuple[School | None, Reader]:
    reader = Reader(file)
    if not isinstance(raw, dict):
        reader.error("file", "expected a JSON object describing one school")
        return None, reader
    school_id = reader.field(raw, "id", "school", text)
    name = reader.field(raw, "name", f"school {school_id}", text)
    address = raw.get("address", "")
    buildings: list[Building] = []
    for raw_building in reader.field(raw, "buildings", f"school {school_id}", items) or []:
        if not isinstance(raw_building, dict):
            reader.error(f"school {school_id}", "a building entry is not an object")
            continue
        building_id = reader.field(raw_building, "id", "building", text)
        building_name = reader.field(raw_building, "name", f"building {building_id}", text)
        raw_floors = reader.field(raw_building, "floors", f"building {building_id}", items)
        if school_id is None or building_id is None or building_name is None:
            continue
        floors = [
            f for f in (_floor(reader, rf, school_id, building_id) for rf in raw_floors or []) if f
        ]
        buildings.append(Building(building_id, building_name, tuple(floors)))
    if school_id is None or name is None:
        return None, reader
    return School(school_id, name, str(address), tuple(buildings)), reader


def _duplicates(district: District, file: str) -> list[Problem]:
    seen: dict[str, str] = {}
    problems = []
    for school in district.schools:
        for building in school.buildings:
            for floor in building.floors:
                features = [("room", r.id) for r in floor.rooms]
                features += [("camera", c.id) for c in floor.cameras]
                features.append(("floor", floor.id))
                for kind, item_id in features:
                    key = f"{kind}:{item_id}"
                    if key in seen:
                        problems.append(
                            Problem(
                                file, f"{kind} {item_id}", f"id used twice (also in {seen[key]})"
                            )
                        )
                    seen[key] = school.id
    return problems


def district_document(directory: Path | str) -> dict[str, Any]:
    """Read a floor-plan folder into one document with the schools inline.

    This is what the district server hands to consoles, so the police installer never
    needs the district's files.
    """
    root = Path(directory)
    index_path = root / "district.json"
    index = read_json(index_path)
    if not isinstance(index, dict):
        raise FloorPlanError([Problem(str(index_path), "file", "expected a JSON object")])
    schools: list[Any] = []
    problems: list[Problem] = []
    raw_schools = index.get("schools", [])
    for entry in raw_schools if isinstance(raw_schools, list) else []:
        if not isinstance(entry, str):
            problems.append(Problem(str(index_path), "schools", f"{entry!r} is not a file name"))
            continue
        try:
            school = read_json(root / entry)
        except FloorPlanError as exc:
            problems.extend(exc.problems)
            continue
        if isinstance(school, dict):
            school = {**school, "source": str(root / entry)}
        schools.append(school)
    if problems:
        raise FloorPlanError(problems)
    return {**index, "schools": schools, "source": str(index_path)}


@dataclass(frozen=True)
class Validation:
    """Everything validation found: the district (None when errors stop it) and findings."""

    district: District | None
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]


def validate_document(document: Any, source: str = "district document") -> Validation:
    """Validate a district document (schools inline) without raising: the checker's core."""
    if not isinstance(document, dict):
        return Validation(None, (Problem(source, "file", "expected a JSON object"),), ())
    source = str(document.get("source", source))
    reader = Reader(source)
    district_id = reader.field(document, "id", "district", text)
    name = reader.field(document, "name", "district", text)
    raw_schools = reader.field(document, "schools", "district", items) or []
    problems = list(reader.problems)
    warnings: list[Problem] = []
    schools: list[School] = []
    for index, raw in enumerate(raw_schools):
        file = (
            str(raw.get("source", f"{source} school #{index + 1}"))
            if isinstance(raw, dict)
            else source
        )
        school, school_reader = _school(raw, file)
        problems.extend(school_reader.problems)
        warnings.extend(school_reader.warnings)
        if school is not None:
            schools.append(school)
    district = District(district_id or "?", name or "?", tuple(schools))
    problems.extend(_duplicates(district, source))
    if problems:
        return Validation(None, tuple(problems), tuple(warnings))
    district = District(district.id, district.name, district.schools, tuple(map(str, warnings)))
    return Validation(district, (), tuple(warnings))


def district_from_document(document: Any, source: str = "district document") -> District:
    """Validate a district document (schools inline); raises FloorPlanError listing all problems."""
    validation = validate_document(document, source)
    if validation.district is None:
        raise FloorPlanError(list(validation.problems))
    return validation.district


def load_district(directory: Path | str) -> District:
    """Load and validate a floor-plan folder; raises FloorPlanError listing every problem."""
    return district_from_document(district_document(directory))
