"""Two-point calibration of a drawing (pure geometry, no Qt): scale, rotation, translation,
and the calibrations that cannot place a drawing, refused with a reason."""

from __future__ import annotations

import math

import pytest

from dispatch_console.domain.plan_calibration import (
    CalibrationError,
    CalibrationPoint,
    similarity_from_points,
)


def _close(p: tuple[float, float], q: tuple[float, float], tol: float = 1e-9) -> bool:
    return math.hypot(p[0] - q[0], p[1] - q[1]) < tol


def test_scale_and_translation_of_an_upright_drawing() -> None:
    # 20 px per metre, the drawing's pixel (100, 50) is the floor's origin.
    placement = similarity_from_points(
        CalibrationPoint((100, 50), (0, 0)), CalibrationPoint((900, 50), (40, 0))
    )
    assert placement.metres_per_pixel == pytest.approx(0.05)
    assert placement.rotation_deg == pytest.approx(0.0)
    assert _close(placement.to_plan((100, 450)), (0.0, 20.0))
    assert _close(placement.to_plan((0, 0)), (-5.0, -2.5))
    assert placement.extent((1000, 500)) == pytest.approx((-5.0, -2.5, 45.0, 22.5))


@pytest.mark.parametrize("angle", [90.0, 30.0, -135.0, 179.0])
def test_a_rotated_drawing_maps_both_points_and_every_other_consistently(angle: float) -> None:
    """A scan lying rotated: the transform turns it back; lengths scale, angles are kept."""
    scale = 0.04
    theta = math.radians(angle)

    def truth(u: float, v: float) -> tuple[float, float]:
        return (
            scale * (u * math.cos(theta) - v * math.sin(theta)) + 12.0,
            scale * (u * math.sin(theta) + v * math.cos(theta)) + 7.5,
        )

    first, second = (120.0, 80.0), (1500.0, 900.0)
    placement = similarity_from_points(
        CalibrationPoint(first, truth(*first)), CalibrationPoint(second, truth(*second))
    )
    assert placement.metres_per_pixel == pytest.approx(scale)
    assert placement.rotation_deg == pytest.approx(angle)
    for pixel in [(0.0, 0.0), (1600.0, 0.0), (333.0, 777.0), (1600.0, 1200.0)]:
        assert _close(placement.to_plan(pixel), truth(*pixel), 1e-7)
        assert _close(placement.to_pixel(placement.to_plan(pixel)), pixel, 1e-6)
    corners = [truth(*c) for c in [(0, 0), (1600, 0), (1600, 1200), (0, 1200)]]
    assert placement.extent((1600, 1200)) == pytest.approx(
        (
            min(c[0] for c in corners),
            min(c[1] for c in corners),
            max(c[0] for c in corners),
            max(c[1] for c in corners),
        )
    )


def test_a_quarter_turn_puts_the_drawing_s_right_edge_at_the_bottom() -> None:
    """y is down in both frames: +90° is clockwise on screen, like camera headings."""
    placement = similarity_from_points(
        CalibrationPoint((0, 0), (10, 0)), CalibrationPoint((100, 0), (10, 10))
    )
    assert placement.rotation_deg == pytest.approx(90.0)
    assert _close(placement.to_plan((0, 100)), (0.0, 0.0))


@pytest.mark.parametrize(
    ("first", "second", "words"),
    [
        (((10, 10), (0, 0)), ((10, 10), (30, 0)), "same pixel"),
        (((10, 10), (5, 5)), ((800, 10), (5, 5)), "same plan point"),
        (((10, 10), (0, 0)), ((40, 30), (30, 0)), "px apart"),
        (((10, 10), (0, 0)), ((800, 10), (0.3, 0.4)), "m apart"),
        (((0, 0), (0, 0)), ((100, 0), (50_000, 0)), "swapped"),
        (((0, 0), (0, 0)), ((100, 0), (math.nan, 0)), "non-finite"),
    ],
)
def test_calibrations_that_cannot_place_a_drawing_are_refused_with_the_reason(
    first: tuple[tuple[float, float], tuple[float, float]],
    second: tuple[tuple[float, float], tuple[float, float]],
    words: str,
) -> None:
    with pytest.raises(CalibrationError, match=words):
        similarity_from_points(CalibrationPoint(*first), CalibrationPoint(*second))
