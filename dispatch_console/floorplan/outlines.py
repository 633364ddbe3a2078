"""Turning a drawn outline into one usable room polygon, whatever shapely makes of it.

An outline that crosses itself is repaired with ``make_valid``, which may answer with any
geometry type: a polygon, several polygons, lines, points, a mix, or nothing. Each case
gets a clear verdict, because a room's area decides whether its cameras may be shared.
"""

from __future__ import annotations

from dataclasses import dataclass

from shapely import make_valid
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

Ring = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class OutlineVerdict:
    polygon: Polygon | None
    # The outline to draw (the repaired one when a repair happened).
    ring: Ring
    error: str = ""
    warning: str = ""


def _parts(geometry: BaseGeometry) -> tuple[list[Polygon], list[str]]:
    """The polygons in any geometry, and the types of what else was in it."""
    if geometry.is_empty:
        return [], []
    kind = geometry.geom_type
    if kind == "Polygon":
        return [geometry], []
    if kind in ("MultiPolygon", "GeometryCollection"):
        polygons: list[Polygon] = []
        others: list[str] = []
        for part in geometry.geoms:
            found, rest = _parts(part)
            polygons.extend(found)
            others.extend(rest)
        return polygons, others
    return [], [kind]  # Point, LineString, LinearRing, and their Multi* forms


def room_polygon(ring: Ring) -> OutlineVerdict:
    """One polygon with area for a room outline, or the reason there is none."""
    try:
        polygon = Polygon(ring)
    except (ValueError, TypeError) as exc:  # fewer than three distinct corners, say
        return OutlineVerdict(None, ring, error=f"outline is not a polygon ({exc})")
    if polygon.is_valid:
        if polygon.area <= 0:
            return OutlineVerdict(None, ring, error="outline has no area")
        return OutlineVerdict(polygon, ring)
    reason = explain_validity(polygon)
    polygons, others = _parts(make_valid(polygon))
    polygons = [p for p in polygons if p.area > 0]
    if not polygons:
        what = ", ".join(sorted(set(others))) or "nothing"
        return OutlineVerdict(
            None, ring, error=f"outline is not a usable polygon ({reason}; it repairs to {what})"
        )
    if len(polygons) > 1:
        return OutlineVerdict(
            None,
            ring,
            error=f"outline is not a usable polygon: it crosses itself into {len(polygons)} "
            f"separate areas ({reason}); draw each as its own room",
        )
    repaired = polygons[0]
    note = f"outline was repaired ({reason})"
    if others:
        note += f"; dropped {len(others)} part(s) without area"
    coords = tuple((float(x), float(y)) for x, y in repaired.exterior.coords[:-1])
    return OutlineVerdict(repaired, coords, warning=note)
