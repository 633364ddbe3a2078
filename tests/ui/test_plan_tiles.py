"""The static plan drawn from cached tiles must look like the plan drawn from its vectors.

A cached picture that drifts from the plan (a missing visible area, a shifted wall, a
stale shade after access changed) would mislead a dispatcher, so each case compares the
cached view with a view that draws every vector on every repaint.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent, QImage
from PySide6.QtWidgets import QApplication, QToolTip
from pytestqt.qtbot import QtBot

from dispatch_console.domain.models import Floor
from dispatch_console.floorplan.loader import load_district
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.ui.map_view import FloorPlanView, PinLook, PinState
from dispatch_console.ui.plan_tiles import MAX_TILES
from tests.paths import SAMPLE_DISTRICT

FLOOR: Floor = load_district(SAMPLE_DISTRICT).school("lincoln-hs").buildings[0].floors[0]
AREAS = VisibilityIndex().floor(FLOOR)
LOOKS = list(PinLook)
PINS = {c.id: PinState(LOOKS[n % len(LOOKS)], "") for n, c in enumerate(FLOOR.cameras)}


def _view(qtbot: QtBot, *, cache_plan: bool) -> FloorPlanView:
    view = FloorPlanView(cache_plan=cache_plan)
    qtbot.addWidget(view)
    view.resize(900, 700)
    view.show_floor(FLOOR, dict(PINS), {c.id: AREAS.outline(c.id) for c in FLOOR.cameras})
    view.show()
    qtbot.waitExposed(view)
    return view


def _difference(first: FloorPlanView, second: FloorPlanView) -> int:
    """Largest colour difference after averaging 8×8 blocks.

    Averaging hides only the phase of the private rooms' hatching, which the tiles anchor
    to the plan and direct drawing anchors to the window; anything that moves, appears or
    changes colour shows.
    """
    images = []
    for view in (first, second):
        image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
        images.append(
            image.scaled(
                image.width() // 8,
                image.height() // 8,
                Qt.AspectRatioMode.IgnoreAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        )
    a, b = images
    assert a.size() == b.size()
    worst = 0
    for y in range(a.height()):
        for x in range(a.width()):
            pa, pb = a.pixel(x, y), b.pixel(x, y)
            worst = max(worst, *(abs(((pa >> s) & 255) - ((pb >> s) & 255)) for s in (0, 8, 16)))
    return worst


@pytest.fixture
def pair(qtbot: QtBot) -> tuple[FloorPlanView, FloorPlanView]:
    return _view(qtbot, cache_plan=True), _view(qtbot, cache_plan=False)


@pytest.mark.parametrize("zoom", [1.0, 2.5, 6.0])
def test_cached_tiles_look_like_the_vector_plan(
    pair: tuple[FloorPlanView, FloorPlanView], zoom: float
) -> None:
    for view in pair:
        view.zoom_by(zoom)
        view.centre_on_camera("lhs-cam-06") if zoom > 1 else None
        view.settle()
    assert _difference(*pair) <= 8


def test_a_changed_pin_state_reshades_the_cached_plan(
    pair: tuple[FloorPlanView, FloorPlanView],
) -> None:
    cached, _reference = pair
    before = cached.grab()
    changed = {c.id: PinState(PinLook.LOCKED, "") for c in FLOOR.cameras}
    for view in pair:
        view.set_pins(changed)
    assert cached.grab().toImage() != before.toImage()
    assert _difference(*pair) <= 8


def test_opening_and_closing_a_feed_renders_no_tile(qtbot: QtBot) -> None:
    """The click-to-picture path once re-rendered the whole plan (10 ms and more on the GUI
    thread) because an open camera's shading differed from an unlocked one's."""
    view = _view(qtbot, cache_plan=True)
    unlocked = {c.id: PinState(PinLook.UNLOCKED, "") for c in FLOOR.cameras}
    view.set_pins(unlocked)
    view.grab()
    rendered = view.tiles.rendered
    camera = FLOOR.cameras[0].id
    for look in (PinLook.OPEN, PinLook.UNLOCKED, PinLook.OPEN):
        view.set_pins({**unlocked, camera: PinState(look, "")})
        view.grab()
    assert view.tiles.rendered == rendered
    assert view.pin_state(camera).look is PinLook.OPEN


def test_while_zooming_a_rendered_level_is_scaled_then_the_crisp_one_follows(
    pair: tuple[FloorPlanView, FloorPlanView],
) -> None:
    cached, reference = pair
    cached.grab()
    rendered = cached.tiles.rendered
    assert rendered > 0
    for view in pair:
        view.zoom_by(1.25)
    cached.grab()
    assert cached.tiles.rendered == rendered  # scaled from the fit level, nothing rendered
    cached.settle()
    assert _difference(cached, reference) <= 8
    assert cached.tiles.rendered > rendered


def test_the_tile_cache_stays_within_its_budget(qtbot: QtBot) -> None:
    view = _view(qtbot, cache_plan=True)
    for _ in range(12):
        view.zoom_by(1.25)
        view.settle()
        view.grab()
        view.prefetch()
    assert view.tiles.rendered > MAX_TILES  # the zooms needed more than the budget
    assert len(view.tiles) <= MAX_TILES


def test_rooms_keep_their_tooltips_under_the_cached_plan(qtbot: QtBot) -> None:
    view = _view(qtbot, cache_plan=True)
    gym = view.mapFromScene(55 * 10.0, 40 * 10.0)
    event = QHelpEvent(QEvent.Type.ToolTip, gym, view.viewport().mapToGlobal(gym))
    QApplication.sendEvent(view.viewport(), event)
    assert "Gymnasium" in QToolTip.text()
    QToolTip.hideText()
