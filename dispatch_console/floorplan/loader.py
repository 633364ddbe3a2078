"""Load a district's floor plans and decide, from geometry, which room each camera is in.

The file says whether the district *wants* a camera shared; the room polygon that holds
the camera's position says whether it *may* be. A shareable camera standing in a private
room is reported (as a warning naming file and camera) and stays locked for police.

Format (one JSON file per school, listed by ``district.json``)::

    district.json  {"id", "name", "schools": ["lincoln-high.json", ...]}
    <school>.json  {"id", "name", "address", "buildings": [{"id", "name", "floors": [
                      {"id", "name", "level", "width_m", "height_m",
                       "rooms":   [{"id", "name", "kind", "outline": [[x, y], ...]}],
                       "cameras": [{"id", "name", "position": [x, y], "heading_deg",
                                    "fov_deg", "range_m", "shareable"}]}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from shapely import make_valid
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from dispatch_console.domain.models import (
    Building,
    Camera,
    District,
    Floor,
    Room,
    RoomKind,
    School,
)
from dispatch_console.domain.policy import COMMON_AREAS

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    file: str
    feature: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.feature}: {self.message}"


class FloorPlanError(Exception):
    """The floor plans could not be loaded; every problem found is listed, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The floor plans have {len(problems)} problem(s):\n{lines}")


class _Reader:
    """Collects problems while walking one file, so a user sees them all at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, feature: str, message: str) -> None:
        self.problems.append(Problem(self.file, feature, message))

    def warn(self, feature: str, message: str) -> None:
        self.warnings.append(Problem(self.file, feature, message))

    def field(
        self, obj: Mapping[str, Any], key: str, feature: str, convert: Callable[[Any], T]
    ) -> T | None:
        if key not in obj:
            self.error(feature, f'missing field "{key}"')
            return None
        try:
            return convert(obj[key])
        except (TypeError, ValueError) as exc:
            self.error(feature, f'field "{key}" is invalid ({obj[key]!r}): {exc}')
            return None


def _point(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("expected [x, y]")
    return float(value[0]), float(value[1])


def _outline(value: Any) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or len(value) < 3:
        raise ValueError("expected at least three [x, y] corners")
    return tuple(_point(v) for v in value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected non-empty text")
    return value.strip()


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FloorPlanError([Problem(str(path), "file", "not found")]) from None
    except json.JSONDecodeError as exc:
        raise FloorPlanError(
            [Problem(str(path), "file", f"not valid JSON: {exc.msg} (line {exc.lineno})")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FloorPlanError([Problem(str(path), "file", f"cannot be read: {exc}")]) from None


def _room(reader: _Reader, raw: Any, floor_id: str) -> tuple[Room, Polygon] | None:
    if not isinstance(raw, dict):
        reader.error(f"floor {floor_id}", "a room entry is not an object")
        return None
    room_id = reader.field(raw, "id", f"room on floor {floor_id}", _text)
    feature = f"room {room_id}"
    name = reader.field(raw, "name", feature, _text)
    kind = reader.field(raw, "kind", feature, RoomKind)
    outline = reader.field(raw, "outline", feature, _outline)
    if room_id is None or name is None or kind is None or outline is None:
        return None
    polygon = Polygon(outline)
    if not polygon.is_valid:
        repaired = make_valid(polygon)
        reason = explain_validity(polygon)
        if repaired.geom_type != "Polygon" or repaired.area <= 0:
            reader.error(feature, f"outline is not a usable polygon ({reason})")
            return None
        reader.warn(feature, f"outline was repaired ({reason})")
        polygon = repaired
    if polygon.area <= 0:
        reader.error(feature, "outline has no area")
        return None
    return Room(room_id, name, kind, outline), polygon


def _camera(
    reader: _Reader,
    raw: Any,
    ids: tuple[str, str, str],
    rooms: list[tuple[Room, Polygon]],
) -> Camera | None:
    school_id, building_id, floor_id = ids
    if not isinstance(raw, dict):
        reader.error(f"floor {floor_id}", "a camera entry is not an object")
        return None
    camera_id = reader.field(raw, "id", f"camera on floor {floor_id}", _text)
    feature = f"camera {camera_id}"
    name = reader.field(raw, "name", feature, _text)
    position = reader.field(raw, "position", feature, _point)
    heading = reader.field(raw, "heading_deg", feature, float)
    fov = reader.field(raw, "fov_deg", feature, float)
    range_m = reader.field(raw, "range_m", feature, float)
    shareable = _bool(raw["shareable"]) if isinstance(raw.get("shareable"), bool) else None
    if "shareable" in raw and shareable is None:
        reader.error(feature, 'field "shareable" must be true or false')
    if None in (camera_id, name, position, heading, fov, range_m) or position is None:
        return None
    assert camera_id is not None and name is not None
    assert heading is not None and fov is not None and range_m is not None
    if not 0 < fov <= 360:
        reader.error(feature, f"fov_deg must be in (0, 360], got {fov}")
    if range_m <= 0:
        reader.error(feature, f"range_m must be positive, got {range_m}")
    where = ShapelyPoint(position)
    holders = [(room, poly) for room, poly in rooms if poly.covers(where)]
    if not holders:
        reader.error(
            feature, f"position {list(position)} is outside every room of floor {floor_id}"
        )
        return None
    # On a shared wall the stricter room wins: a private room beats a common area.
    holders.sort(key=lambda rp: (rp[0].kind in COMMON_AREAS, rp[1].area))
    room = holders[0][0]
    configured = True if shareable is None else shareable
    if configured and room.kind not in COMMON_AREAS:
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
    )


def _floor(reader: _Reader, raw: Any, school_id: str, building_id: str) -> Floor | None:
    if not isinstance(raw, dict):
        reader.error(f"building {building_id}", "a floor entry is not an object")
        return None
    floor_id = reader.field(raw, "id", f"floor in building {building_id}", _text)
    feature = f"floor {floor_id}"
    name = reader.field(raw, "name", feature, _text)
    level = reader.field(raw, "level", feature, int)
    width = reader.field(raw, "width_m", feature, float)
    height = reader.field(raw, "height_m", feature, float)
    raw_rooms = reader.field(raw, "rooms", feature, _list) or []
    raw_cameras = reader.field(raw, "cameras", feature, _list) or []
    if floor_id is None or name is None or level is None or width is None or height is None:
        return None
    rooms = [r for r in (_room(reader, item, floor_id) for item in raw_rooms) if r]
    ids = (school_id, building_id, floor_id)
    cameras = [c for c in (_camera(reader, item, ids, rooms) for item in raw_cameras) if c]
    return Floor(floor_id, name, level, tuple(r for r, _ in rooms), tuple(cameras), width, height)


def _school(raw: Any, file: str) -> tuple[School | None, _Reader]:
    reader = _Reader(file)
    if not isinstance(raw, dict):
        reader.error("file", "expected a JSON object describing one school")
        return None, reader
    school_id = reader.field(raw, "id", "school", _text)
    name = reader.field(raw, "name", f"school {school_id}", _text)
    address = raw.get("address", "")
    buildings: list[Building] = []
    for raw_building in reader.field(raw, "buildings", f"school {school_id}", _list) or []:
        if not isinstance(raw_building, dict):
            reader.error(f"school {school_id}", "a building entry is not an object")
            continue
        building_id = reader.field(raw_building, "id", "building", _text)
        building_name = reader.field(raw_building, "name", f"building {building_id}", _text)
        raw_floors = reader.field(raw_building, "floors", f"building {building_id}", _list)
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
    index = _read_json(index_path)
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
            school = _read_json(root / entry)
        except FloorPlanError as exc:
            problems.extend(exc.problems)
            continue
        if isinstance(school, dict):
            school = {**school, "source": str(root / entry)}
        schools.append(school)
    if problems:
        raise FloorPlanError(problems)
    return {**index, "schools": schools, "source": str(index_path)}


def district_from_document(document: Any, source: str = "district document") -> District:
    """Validate a district document (schools inline); raises FloorPlanError listing all problems."""
    if not isinstance(document, dict):
        raise FloorPlanError([Problem(source, "file", "expected a JSON object")])
    source = str(document.get("source", source))
    reader = _Reader(source)
    district_id = reader.field(document, "id", "district", _text)
    name = reader.field(document, "name", "district", _text)
    raw_schools = reader.field(document, "schools", "district", _list) or []
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
        raise FloorPlanError(problems)
    return District(district.id, district.name, district.schools, tuple(map(str, warnings)))


def load_district(directory: Path | str) -> District:
    """Load and validate a floor-plan folder; raises FloorPlanError listing every problem."""
    return district_from_document(district_document(directory))
