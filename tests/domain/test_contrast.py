"""WCAG contrast arithmetic, checked against values WCAG's own examples give."""

from __future__ import annotations

import pytest

from dispatch_console.domain.contrast import contrast_ratio, parse_hex, relative_luminance


def test_black_on_white_is_21_and_a_colour_on_itself_is_1() -> None:
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast_ratio("#ffffff", "#000000") == pytest.approx(21.0)
    assert contrast_ratio("#b3261e", "#b3261e") == pytest.approx(1.0)


def test_known_ratios() -> None:
    # #767676 on white is the classic "just passes AA" grey (4.54:1).
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#777777", "#ffffff") < 4.5
    assert relative_luminance("#808080") == pytest.approx(0.2159, abs=0.0001)


def test_garbage_is_refused() -> None:
    for bad in ("red", "#fff", "#gggggg", ""):
        with pytest.raises(ValueError):
            parse_hex(bad)
