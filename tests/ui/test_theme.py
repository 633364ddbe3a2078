"""Both themes read: every text colour on every background it is drawn on is ≥ 4.5:1,
and switching the theme redraws the floor plan's cached tiles in the new colours."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from dispatch_console.domain.contrast import MINIMUM_TEXT_CONTRAST, contrast_ratio
from dispatch_console.services.settings import load_settings
from dispatch_console.ui import theme
from dispatch_console.ui.map_view import FloorPlanView
from tests.paths import SAMPLE_DISTRICT


@pytest.fixture
def restored_theme(qapp: QApplication) -> Iterator[QApplication]:
    yield qapp
    theme.apply_theme(qapp, theme.DARK, theme.DEFAULT_TEXT_SIZE)


@pytest.mark.parametrize("name", theme.THEMES)
def test_every_text_pair_of_the_theme_reads(name: str) -> None:
    pairs = theme.BY_NAME[name].text_pairs()
    assert len(pairs) > 30  # palette, status words, fills, messages, every room fill
    poor = [
        f"{what}: {fg} on {bg} is {contrast_ratio(fg, bg):.2f}:1"
        for what, fg, bg in pairs
        if contrast_ratio(fg, bg) < MINIMUM_TEXT_CONTRAST
    ]
    assert not poor, "\n".join(poor)


def test_the_console_starts_dark_with_text_that_reads_at_a_metre(tmp_path: object) -> None:
    settings = load_settings(env={})
    assert settings.theme == "dark" and settings.text_size == "normal"
    assert 11 <= theme.TEXT_SIZES["normal"] <= 12 < theme.TEXT_SIZES["large"]
    light = load_settings(env={"DISPATCH_THEME": "Light", "DISPATCH_TEXT_SIZE": "large"})
    assert light.theme == "light" and light.text_size == "large"


def test_a_wrong_theme_stops_the_console_naming_the_key() -> None:
    from dispatch_console.services.settings import ConfigError

    with pytest.raises(ConfigError, match="theme"):
        load_settings(env={"DISPATCH_THEME": "purple"})


def test_switching_the_theme_recolours_the_palette_and_redraws_the_plan(
    restored_theme: QApplication,
) -> None:
    from dispatch_console.floorplan.loader import load_district

    app = restored_theme
    floor = load_district(SAMPLE_DISTRICT).schools[0].buildings[0].floors[0]
    view = FloorPlanView()
    view.resize(600, 400)
    theme.apply_theme(app, theme.DARK, "normal")
    view.show_floor(floor, {})
    dark_picture = view.grab().toImage()
    assert view.tiles.rendered > 0
    corner = dark_picture.pixelColor(2, 2)
    assert corner == QColor(theme.DARK_THEME.plan.paper)

    theme.apply_theme(app, theme.LIGHT, "large")
    QApplication.processEvents()  # the palette-change event reaches the view
    assert app.palette().color(QPalette.ColorRole.Window) == QColor(theme.LIGHT_THEME.window)
    assert app.font().pointSizeF() == theme.TEXT_SIZES["large"]
    assert QColor(theme.LIGHT_THEME.emergency_text) == theme.EMERGENCY_TEXT
    light_picture = view.grab().toImage()
    assert light_picture.pixelColor(2, 2) == QColor(theme.LIGHT_THEME.plan.paper)
    # No tile of the dark plan survives: the centre of the plan changed colour too.
    centre = (light_picture.width() // 2, light_picture.height() // 2)
    assert light_picture.pixelColor(*centre) != dark_picture.pixelColor(*centre)
    view.deleteLater()
