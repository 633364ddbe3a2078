"""What each camera can actually see: its field-of-view sector with the walls' shadows cut out.

A cone drawn through walls promises pictures of rooms the camera cannot see, and "which
cameras see this spot" must not answer with a camera behind a wall. Each wall segment in
reach casts a shadow away from the camera; the visible area is the sector minus those
shadows. Openings (doors, passages) are cut out of the walls first, so a camera sees
through an open doorway.

Everything is built once per floor and kept: wall segments in an STRtree to find the
walls in reach of a camera, and visible areas in a second STRtree for point queries.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from shapely import STRtree, union_all
from shapely.geometry import LineString, MultiLineString, Polygon
from shapely.geometry import Point as ShapelyPoint
from shapely.geometry.base import BaseGeometry

from dispatch_console.domain.models import Camera, Floor, Point

# Points on the sector's arc per full circle: smooth enough to draw, cheap to clip.
ARC_STEPS_PER_TURN = 72
# A wall this close to the camera is the one it is mounted on: it does not block.
MOUNT_DISTANCE_M = 0.15
# How much of an opening's width is cut out of a wall lying along it.
OPENING_TOLERANCE_M = 0.1
# Shadows are split so no piece subtends more than this angle (keeps each quad convex
# and long enough to cover the full range).
MAX_SHADOW_ANGLE = math.radians(60)


def sector(camera: Camera) -> Polygon:
    """The camera's field of view as a polygon, ignoring walls (y grows downwards)."""
    x, y = camera.position
    if camera.fov_deg >= 360:
        return ShapelyPoint(x, y).buffer(camera.range_m, quad_segs=ARC_STEPS_PER_TURN // 4)
    steps = max(2, math.ceil(ARC_STEPS_PER_TURN * camera.fov_deg / 360))
    start = math.radians(camera.heading_deg - camera.fov_deg / 2)
    span = math.radians(camera.fov_deg)
    arc = [
        (
            x + camera.range_m * math.cos(start + span * i / steps),
            y + camera.range_m * math.sin(start + span * i / steps),
        )
        for i in range(steps + 1)
    ]
    return Polygon([(x, y), *arc])


def wall_segments(floor: Floor) -> list[LineString]:
    """The floor's walls as two-point segments, with openings cut out of them."""
    if not floor.walls:
        return []
    walls: BaseGeometry = union_all([LineString(w.path) for w in floor.walls])
    if floor.openings:
        gaps = union_all(
            [
                LineString(o.ends).buffer(OPENING_TOLERANCE_M, cap_style="flat")
                for o in floor.openings
            ]
        )
        walls = walls.difference(gaps)
    lines: Sequence[BaseGeometry]
    if isinstance(walls, LineString):
        lines = [walls]
    elif isinstance(walls, MultiLineString):
        lines = list(walls.geoms)
    else:
        lines = [g for g in getattr(walls, "geoms", []) if isinstance(g, LineString)]
    segments = []
    for line in lines:
        coords = list(line.coords)
        segments += [LineString([a, b]) for a, b in pairwise(coords) if a != b]
    return segments


def _angle(origin: Point, a: Point, b: Point) -> float:
    """The angle segment a-b subtends at origin (radians, 0..pi)."""
    angle_a = math.atan2(a[1] - origin[1], a[0] - origin[0])
    angle_b = math.atan2(b[1] - origin[1], b[0] - origin[0])
    return abs((angle_b - angle_a + math.pi) % (2 * math.pi) - math.pi)


def _shadow(origin: Point, a: Point, b: Point, reach: float, depth: int = 0) -> list[Polygon]:
    """The region hidden behind segment a-b as seen from origin, out to ``reach``.

    Each quad's far edge is a chord; it stays beyond ``reach`` only if the piece subtends
    a modest angle, so wide pieces are halved until they do.
    """
    subtended = _angle(origin, a, b)
    if subtended > MAX_SHADOW_ANGLE and depth < 12:
        middle = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
        return _shadow(origin, a, middle, reach, depth + 1) + _shadow(
            origin, middle, b, reach, depth + 1
        )
    far = reach / math.cos(min(subtended, MAX_SHADOW_ANGLE) / 2) + 1.0
    corners = [a, b]
    for px, py in (b, a):
        dx, dy = px - origin[0], py - origin[1]
        length = math.hypot(dx, dy)
        if length == 0:
            return []
        # A corner already beyond the range is pushed out past itself, never pulled in.
        out = max(far, length + 1.0)
        corners.append((origin[0] + dx / length * out, origin[1] + dy / length * out))
    quad = Polygon(corners)
    return [quad] if quad.is_valid and quad.area > 0 else []


def visible_area(camera: Camera, walls: STRtree, segments: Sequence[LineString]) -> Polygon:
    """The camera's sector minus the shadows of the walls in reach."""
    view = sector(camera)
    origin = ShapelyPoint(camera.position)
    shadows: list[Polygon] = []
    for index in walls.query(view):
        segment = segments[int(index)]
        if segment.distance(origin) < MOUNT_DISTANCE_M:
            continue
        (ax, ay), (bx, by) = segment.coords
        shadows += _shadow(camera.position, (ax, ay), (bx, by), camera.range_m)
    if not shadows:
        return view
    seen = view.difference(union_all(shadows))
    parts = [g for g in getattr(seen, "geoms", [seen]) if isinstance(g, Polygon) and g.area > 0]
    if not parts:
        return Polygon()
    # The camera sees the piece it stands in; anything else is a numerical crumb.
    return min(parts, key=lambda part: part.distance(origin))


class FloorVisibility:
    """Visible areas of one floor's cameras, walls considered, with a spatial index."""

    def __init__(self, floor: Floor) -> None:
        self.floor = floor
        self.segments = wall_segments(floor)
        walls = STRtree(self.segments)
        self.areas: dict[str, Polygon] = {
            camera.id: visible_area(camera, walls, self.segments) for camera in floor.cameras
        }
        self._cameras = list(floor.cameras)
        self._tree = STRtree([self.areas[c.id] for c in self._cameras])

    def covering(self, spot: Point) -> list[Camera]:
        """Cameras whose visible area holds the spot, nearest first."""
        where = ShapelyPoint(spot)
        hits = [
            self._cameras[int(i)]
            for i in self._tree.query(where)
            if self.areas[self._cameras[int(i)].id].covers(where)
        ]
        return sorted(hits, key=lambda c: (math.dist(c.position, spot), c.id))

    def outline(self, camera_id: str) -> list[Point]:
        """The visible area's outer ring, for drawing."""
        area = self.areas.get(camera_id)
        if area is None or area.is_empty:
            return []
        return [(float(x), float(y)) for x, y in area.exterior.coords[:-1]]


class VisibilityIndex:
    """Per-floor visibility, built on first use and kept (floor ids are district-wide unique)."""

    def __init__(self) -> None:
        self._floors: dict[str, FloorVisibility] = {}

    def floor(self, floor: Floor) -> FloorVisibility:
        cached = self._floors.get(floor.id)
        if cached is None or cached.floor is not floor:
            cached = FloorVisibility(floor)
            self._floors[floor.id] = cached
        return cached
