"""The floor-plan view: pins hit at every zoom, spots reported in metres, shapes per state."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QGraphicsSimpleTextItem
from pytestqt.qtbot import QtBot

from dispatch_console.domain.models import Background, Floor
from dispatch_console.floorplan.backgrounds import drawable_image
from dispatch_console.floorplan.camera_search import find_cameras
from dispatch_console.floorplan.loader import load_district
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.ui.map_view import COVERING_ACTION, FloorPlanView, PinLook, PinState
from tests.paths import SAMPLE_DISTRICT

DISTRICT = load_district(SAMPLE_DISTRICT)
FLOOR: Floor = DISTRICT.school("lincoln-hs").buildings[0].floors[0]


@pytest.fixture
def view(qtbot: QtBot) -> FloorPlanView:
    widget = FloorPlanView()
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    visible = VisibilityIndex().floor(FLOOR)
    areas = {c.id: visible.outline(c.id) for c in FLOOR.cameras}
    widget.show_floor(FLOOR, {c.id: PinState(PinLook.UNLOCKED, "") for c in FLOOR.cameras}, areas)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


@pytest.mark.parametrize("zoom", [1.0, 2.0, 5.0])
def test_clicks_land_on_the_right_pin_at_every_zoom(
    view: FloorPlanView, qtbot: QtBot, zoom: float
) -> None:
    view.zoom_by(zoom)
    for camera in FLOOR.cameras:
        view.centre_on_camera(camera.id) if zoom > 1 else None
        point = view.pin_position(camera.id).toPoint()
        with qtbot.waitSignal(view.camera_clicked) as clicked:
            qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)
        assert clicked.args == [camera.id]


def test_a_click_on_an_empty_spot_reports_it_in_metres(view: FloorPlanView, qtbot: QtBot) -> None:
    target = view.mapFromScene(40 * 10.0, 38 * 10.0)  # the gym, metres × pixels per metre
    with qtbot.waitSignal(view.spot_chosen) as chosen:
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=target)
    x, y = chosen.args
    assert x == pytest.approx(40, abs=0.3) and y == pytest.approx(38, abs=0.3)


def test_the_context_menu_asks_for_the_cameras_covering_the_spot(
    view: FloorPlanView, qtbot: QtBot
) -> None:
    target = view.mapFromScene(100.0, 230.0)
    menu = view.context_menu(target)
    [action] = [a for a in menu.actions() if a.text() == COVERING_ACTION]
    with qtbot.waitSignal(view.spot_chosen) as chosen:
        action.trigger()
    assert chosen.args == pytest.approx([10.0, 23.0], abs=0.2)


def test_every_state_has_its_own_shape(view: FloorPlanView) -> None:
    camera_id = FLOOR.cameras[0].id
    shapes = []
    for look in PinLook:
        view.set_pins({camera_id: PinState(look, "")})
        shapes.append(view.pin_outline(camera_id))
    for i, first in enumerate(shapes):
        for second in shapes[i + 1 :]:
            assert first != second


def test_the_shading_is_the_visible_area_not_a_cone_through_walls(view: FloorPlanView) -> None:
    # The parking camera (40, 61) looks north at the building: the wall at y=50 stops its
    # view, except through the lobby's front door (x 34..38).
    area = view.area_outline("lhs-cam-06")
    assert area.contains(QPointF(40 * 10.0, 55 * 10.0))  # the parking lot
    assert area.contains(QPointF(36 * 10.0, 45 * 10.0))  # the lobby, through the door
    assert not area.contains(QPointF(55 * 10.0, 45 * 10.0))  # the gym, behind the wall


def test_room_names_are_never_cut_to_an_ellipsis(view: FloorPlanView) -> None:
    labels = [i for i in view.plan_items() if isinstance(i, QGraphicsSimpleTextItem)]
    texts = {label.text().replace("\n", " ") for label in labels}
    assert {room.name for room in FLOOR.rooms} <= texts
    assert not any("…" in text for text in texts)


def test_zoom_keys_and_fit(view: FloorPlanView, qtbot: QtBot) -> None:
    before = view.transform().m11()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert view.transform().m11() > before
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert view.transform().m11() == pytest.approx(before)
    assert view.to_plan(QPoint(0, 0)) is not None


def test_search_finds_cameras_by_name_room_or_number() -> None:
    assert find_cameras(DISTRICT, "lhs-cam-05")[0].id == "lhs-cam-05"
    assert find_cameras(DISTRICT, "main hall east")[0].id == "lhs-cam-02"
    assert [c.id for c in find_cameras(DISTRICT, "gym")][:1] == ["lhs-cam-05"]
    assert find_cameras(DISTRICT, "11")[0].id == "lhs-cam-11"
    assert find_cameras(DISTRICT, "Classroom 101")[0].id == "lhs-cam-07"
    assert find_cameras(DISTRICT, "submarine") == []


def _floor_with_drawing(tmp_path: Path, name: str) -> Floor:
    return replace(FLOOR, background=Background(name, (0.0, 0.0, FLOOR.width_m, FLOOR.height_m)))


def test_a_floor_drawing_shows_under_the_rooms(qtbot: QtBot, tmp_path: Path) -> None:
    drawing = QImage(160, 124, QImage.Format.Format_RGB32)
    drawing.fill(QColor("#ff00ff"))
    assert drawing.save(str(tmp_path / "plan.png"))
    floor = _floor_with_drawing(tmp_path, "plan.png")
    path, why = drawable_image(tmp_path / "school.json", floor.background)  # type: ignore[arg-type]
    assert path is not None, why
    views = []
    for background in (None, path):
        view = FloorPlanView()
        qtbot.addWidget(view)
        view.resize(900, 700)
        view.show_floor(floor, {}, {}, background=background)
        view.show()
        views.append(view)
    plain, drawn = (v.grab().toImage() for v in views)
    spot = views[0].mapFromScene(20 * 10.0, 10 * 10.0)  # Classroom 101, no camera shading
    before, after = QColor(plain.pixel(spot)), QColor(drawn.pixel(spot))
    assert views[1].background_note == ""
    # Magenta shows through the room's fill, in either theme's colours.
    assert not (before.red() > before.green() + 40 and before.blue() > before.green() + 40)
    assert after.red() > after.green() + 40 and after.blue() > after.green() + 40


def test_an_unreadable_drawing_is_skipped_with_a_note(qtbot: QtBot, tmp_path: Path) -> None:
    (tmp_path / "plan.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    view = FloorPlanView()
    qtbot.addWidget(view)
    view.show_floor(
        _floor_with_drawing(tmp_path, "plan.png"), {}, {}, background=tmp_path / "plan.png"
    )
    assert view.background_note.startswith("plan.png: ")
    assert len(view.plan_items()) > len(FLOOR.rooms)  # the plan itself is still drawn
