"""Placing a floor-plan drawing on the plan from two points: a similarity transform.

A district has drawings (scans, CAD exports, PDF pages) but no coordinates for them. Two
points whose place it knows on both — "this pixel is the north-west corner of the gym, 0,0;
that one the fire door, 48.5,12" — fix scale, rotation and translation (no shear, no
mirroring: a drawing is a picture of the floor, not a distortion of it). The same math
places the image on the map, checks the calibration and reports it, so it lives here once,
pure (no Qt, no I/O, no shapely).

Pixels and metres are both x to the right, y down, so a positive rotation turns the
drawing clockwise on screen, as headings do.
"""

from __future__ import annotations

import cmath
import math
from dataclasses import dataclass

Point = tuple[float, float]

# Two calibration points closer than this on the drawing leave a click's error (a pixel or
# two) as a large share of the distance the scale is taken from: at 50 px, 2 px off is 4 %
# off in scale, which puts a camera 2 m wrong at the far side of a 50 m wing.
MIN_PIXEL_DISTANCE = 50.0
# The same on the floor: points under a metre apart cannot fix a building's scale.
MIN_PLAN_DISTANCE_M = 1.0
# Beyond these a calibration is a typo (pixels for metres, a missing decimal point).
MIN_METRES_PER_PIXEL = 1e-4  # 0.1 mm per pixel: a 10 m room would be 100,000 px
MAX_METRES_PER_PIXEL = 10.0


class CalibrationError(ValueError):
    """The two points cannot place a drawing; the message says which and why."""


@dataclass(frozen=True)
class CalibrationPoint:
    """One point known on both: where it is on the drawing and on the floor."""

    pixel: Point
    plan: Point


@dataclass(frozen=True)
class Similarity:
    """plan = scale · rotation · pixel + offset (no shear, no mirror).

    As a matrix: ``x = a·u − b·v + tx``, ``y = b·u + a·v + ty`` with ``a = s·cos θ`` and
    ``b = s·sin θ``, which is what a painter's affine transform takes.
    """

    a: float
    b: float
    tx: float
    ty: float

    @property
    def metres_per_pixel(self) -> float:
        return math.hypot(self.a, self.b)

    @property
    def rotation_deg(self) -> float:
        """Clockwise on screen (y down), in (-180, 180]."""
        return math.degrees(math.atan2(self.b, self.a))

    def to_plan(self, pixel: Point) -> Point:
        u, v = pixel
        return self.a * u - self.b * v + self.tx, self.b * u + self.a * v + self.ty

    def to_pixel(self, plan: Point) -> Point:
        """The inverse: where a plan point lies on the drawing (an editor's click)."""
        x, y = plan[0] - self.tx, plan[1] - self.ty
        scale2 = self.a * self.a + self.b * self.b
        return (self.a * x + self.b * y) / scale2, (-self.b * x + self.a * y) / scale2

    def extent(self, size_px: tuple[float, float]) -> tuple[float, float, float, float]:
        """(x0, y0, x1, y1): the box the whole drawing covers on the plan, rotated or not."""
        w, h = size_px
        corners = [self.to_plan(c) for c in ((0, 0), (w, 0), (w, h), (0, h))]
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        return min(xs), min(ys), max(xs), max(ys)


def _distance(p: Point, q: Point) -> float:
    return math.hypot(q[0] - p[0], q[1] - p[1])


def similarity_from_points(first: CalibrationPoint, second: CalibrationPoint) -> Similarity:
    """The one similarity taking both pixels to their plan points; refuses what cannot work.

    In complex numbers, ``plan = k·pixel + t``: ``k`` (scale and rotation) is the ratio of
    the two displacements, ``t`` what is left. Raises CalibrationError for the same point
    twice, points too close on the drawing or on the floor, and absurd scales.
    """
    for label, p in (("first", first), ("second", second)):
        if not all(math.isfinite(c) for c in (*p.pixel, *p.plan)):
            raise CalibrationError(f"the {label} calibration point has a non-finite number")
    pixels = _distance(first.pixel, second.pixel)
    metres = _distance(first.plan, second.plan)
    if first.pixel == second.pixel:
        raise CalibrationError(
            f"both calibration points are the same pixel {_show(first.pixel)}: "
            "two different points on the drawing are needed"
        )
    if first.plan == second.plan:
        raise CalibrationError(
            f"both calibration points are the same plan point {_show(first.plan)} m: "
            "two different points on the floor are needed"
        )
    if pixels < MIN_PIXEL_DISTANCE:
        raise CalibrationError(
            f"the calibration points are {pixels:.1f} px apart on the drawing; at least "
            f"{MIN_PIXEL_DISTANCE:g} px are needed (choose points far apart, such as two "
            "opposite corners of the building)"
        )
    if metres < MIN_PLAN_DISTANCE_M:
        raise CalibrationError(
            f"the calibration points are {metres:.2f} m apart on the floor; at least "
            f"{MIN_PLAN_DISTANCE_M:g} m are needed"
        )
    scale = metres / pixels
    if not MIN_METRES_PER_PIXEL <= scale <= MAX_METRES_PER_PIXEL:
        raise CalibrationError(
            f"the calibration makes one pixel {scale:.3g} m; expected between "
            f"{MIN_METRES_PER_PIXEL:g} and {MAX_METRES_PER_PIXEL:g} m (are pixels and metres "
            "swapped?)"
        )
    z1, z2 = complex(*first.pixel), complex(*second.pixel)
    w1, w2 = complex(*first.plan), complex(*second.plan)
    k = (w2 - w1) / (z2 - z1)
    t = w1 - k * z1
    if not (cmath.isfinite(k) and cmath.isfinite(t)):
        raise CalibrationError("the calibration points give no finite transform")
    return Similarity(k.real, k.imag, t.real, t.imag)


def _show(point: Point) -> str:
    return f"{point[0]:g},{point[1]:g}"
