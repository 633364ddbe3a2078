"""A drawing placed by two points shows on the map where the calibration puts it: rotated,
scaled and moved, under the rooms and cameras placed on it in metres."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from dispatch_console.domain.plan_calibration import CalibrationPoint
from dispatch_console.floorplan.backgrounds import drawable_image
from dispatch_console.floorplan.image_import import FloorTarget, import_image
from dispatch_console.floorplan.loader import load_district
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.ui.map_view import FloorPlanView, PinLook, PinState
from tests.floorplan.drawings import write_png

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _reddish(colour: QColor) -> bool:
    return colour.red() > colour.green() + 60 and colour.red() > colour.blue() + 60


def test_a_rotated_calibrated_drawing_lands_where_its_points_say(
    qtbot: QtBot, tmp_path: Path
) -> None:
    # The scan lies on its side (its red corner block is the building's north-east); a
    # quarter turn clockwise puts pixel (0, 400) at the origin and pixel (0, 0) at 40,0.
    out = tmp_path / "plans"
    points = [CalibrationPoint((0, 400), (0, 0)), CalibrationPoint((0, 0), (40, 0))]
    import_image(
        write_png(tmp_path / "scan.png", 200, 400),
        out,
        FloorTarget("oak-ms", "main", "oak-1", "Ground floor"),
        points,
    )
    school = json.loads((out / "oak-ms.json").read_text())
    floor = school["buildings"][0]["floors"][0]
    floor["rooms"] = [
        {"id": "hall", "name": "Main hall", "kind": "hallway",
         "outline": [[1, 6], [39, 6], [39, 14], [1, 14]]},
        {"id": "c101", "name": "Classroom 101", "kind": "classroom",
         "outline": [[1, 14], [20, 14], [20, 19], [1, 19]]},
    ]  # fmt: skip
    floor["cameras"] = [{"id": "oak-cam-1", "name": "Hall west", "position": [3, 10],
                         "heading_deg": 0, "fov_deg": 70, "range_m": 25}]  # fmt: skip
    (out / "oak-ms.json").write_text(json.dumps(school))
    loaded = load_district(out).schools[0].buildings[0].floors[0]
    assert loaded.background is not None
    path, why = drawable_image(out / "oak-ms.json", loaded.background)
    assert path is not None, why

    view = FloorPlanView()
    qtbot.addWidget(view)
    view.resize(900, 560)
    visible = VisibilityIndex().floor(loaded)
    areas = {c.id: visible.outline(c.id) for c in loaded.cameras}
    view.show_floor(loaded, {"oak-cam-1": PinState(PinLook.UNLOCKED, "")}, areas, path)
    view.show()
    qtbot.waitExposed(view)
    assert view.background_note == ""
    shot = view.grab().toImage()

    def colour_at(x: float, y: float) -> QColor:
        return QColor(shot.pixel(view.mapFromScene(x * 10.0, y * 10.0)))

    # The red block is the drawing's top-left pixels 0..40 × 0..80: on the plan, x 32..40
    # and y 0..4 after the turn. Unrotated it would sit at the plan's top left.
    assert _reddish(colour_at(36, 2))
    assert not _reddish(colour_at(4, 2))
    assert not _reddish(colour_at(36, 17))
    SHOTS.mkdir(parents=True, exist_ok=True)
    view.grab().save(str(SHOTS / "floorplan-calibrated-drawing.png"))


def test_a_drawing_that_arrives_later_keeps_the_zoom_and_is_dropped_for_another_floor(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The download finishes while the dispatcher is zoomed in, or on another floor."""
    out = tmp_path / "plans"
    import_image(
        write_png(tmp_path / "scan.png", 400, 200),
        out,
        FloorTarget("oak-ms", "main", "oak-1", "Ground floor"),
        [CalibrationPoint((0, 0), (0, 0)), CalibrationPoint((400, 0), (40, 0))],
    )
    floor = load_district(out).schools[0].buildings[0].floors[0]
    assert floor.background is not None
    path, why = drawable_image(out / "oak-ms.json", floor.background)
    assert path is not None, why
    view = FloorPlanView()
    qtbot.addWidget(view)
    view.resize(700, 500)
    view.show_floor(floor, {}, {})
    view.show()
    qtbot.waitExposed(view)
    view.zoom_by(3.0)
    view.mark_spot((5.0, 2.0))
    scale = view.transform().m11()
    view.show_drawing(floor, path)
    assert view.transform().m11() == scale
    assert view.background_note == ""
    assert any(item.zValue() == -1 for item in view.plan_items())  # the drawing is in
    assert view._spot_marker is not None  # the marked spot survives
    other = load_district(out).schools[0].buildings[0].floors[0]  # an equal, new floor
    view.show_floor(other, {}, {})
    view.show_drawing(floor, path)  # late, for the floor no longer shown
    assert not any(item.zValue() == -1 for item in view.plan_items())
