"""``floorplan import-image``: a drawing plus two points becomes a floor that ``floorplan
check`` accepts; refused drawings and calibrations write nothing."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from dispatch_console.domain.plan_calibration import CalibrationPoint
from dispatch_console.floorplan.check import check_floorplans
from dispatch_console.floorplan.image_import import (
    FloorTarget,
    ImageImportError,
    import_image,
    parse_point,
)
from dispatch_console.floorplan.loader import load_district
from tests.floorplan.drawings import write_pdf, write_png, write_svg
from tests.paths import ROOT

SCHEMA = json.loads((ROOT / "floorplans" / "floorplan.schema.json").read_text())
COMMAND = str(Path(sys.executable).parent / "dispatch-console")
TARGET = FloorTarget("oak-ms", "main", "oak-1", "Ground floor", 1, "Oak Middle School")


def _points(*pairs: tuple[tuple[float, float], tuple[float, float]]) -> list[CalibrationPoint]:
    return [CalibrationPoint(pixel, plan) for pixel, plan in pairs]


def _school(out: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((out / "oak-ms.json").read_text())
    return data


def test_a_png_becomes_a_floor_with_its_drawing_and_no_rooms(tmp_path: Path) -> None:
    drawing = write_png(tmp_path / "oak-ground.png", 600, 300)
    out = tmp_path / "plans"
    summary = import_image(drawing, out, TARGET, _points(((0, 0), (0, 0)), ((600, 0), (60, 0))))
    assert summary.ok, summary.as_text()
    assert summary.metres_per_pixel == pytest.approx(0.1)
    assert summary.floor_size_m == (60.0, 30.0)
    assert (out / "oak-ground.png").read_bytes() == drawing.read_bytes()
    district = load_district(out)
    floor = district.schools[0].buildings[0].floors[0]
    assert (floor.id, floor.name, floor.level, floor.rooms) == ("oak-1", "Ground floor", 1, ())
    assert floor.background is not None and floor.background.placement is not None
    assert floor.background.bounds == pytest.approx((0.0, 0.0, 60.0, 30.0))
    assert district.schools[0].name == "Oak Middle School"
    report = check_floorplans(out)
    assert report.ok and report.findings == [], report.as_text()
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for name in ("district.json", "oak-ms.json"):
        assert list(validator.iter_errors(json.loads((out / name).read_text()))) == []


def test_a_rotated_scan_is_placed_by_its_points_and_the_floor_covers_it(tmp_path: Path) -> None:
    """A scan with the building's north side on its left: turned a quarter clockwise on the
    plan, its bottom-left corner is the floor's origin and its right edge the bottom."""
    drawing = write_png(tmp_path / "scan.png", 200, 400)
    out = tmp_path / "plans"
    points = _points(((0, 400), (0, 0)), ((0, 0), (40, 0)))
    summary = import_image(drawing, out, TARGET, points)
    assert summary.ok, summary.as_text()
    assert summary.rotation_deg == pytest.approx(90.0)
    assert summary.floor_size_m == (40.0, 20.0)
    background = load_district(out).schools[0].buildings[0].floors[0].background
    assert background is not None and background.placement is not None
    x, y = background.placement.to_plan((200, 400))
    assert math.hypot(x - 0, y - 20) < 1e-9


def test_re_importing_a_floor_keeps_its_rooms_and_cameras(tmp_path: Path) -> None:
    out = tmp_path / "plans"
    points = _points(((0, 0), (0, 0)), ((600, 0), (60, 0)))
    import_image(write_png(tmp_path / "a.png", 600, 300), out, TARGET, points)
    school = _school(out)
    floor = school["buildings"][0]["floors"][0]
    floor["rooms"] = [{"id": "hall", "name": "Hall", "kind": "hallway",
                       "outline": [[1, 1], [20, 1], [20, 5], [1, 5]]}]  # fmt: skip
    floor["cameras"] = [{"id": "c1", "name": "Hall cam", "position": [2, 2],
                         "heading_deg": 0, "fov_deg": 90, "range_m": 15}]  # fmt: skip
    (out / "oak-ms.json").write_text(json.dumps(school))
    again = _points(((0, 0), (0, 0)), ((600, 0), (30, 0)))
    summary = import_image(write_png(tmp_path / "b.png", 600, 300), out, TARGET, again)
    assert summary.ok, summary.as_text()
    assert summary.kept == {"rooms": 1, "walls": 0, "openings": 0, "cameras": 1}
    floor = _school(out)["buildings"][0]["floors"][0]
    assert floor["background"]["image"] == "b.png"
    assert (floor["width_m"], floor["height_m"]) == (60.0, 30.0)  # never shrinks under rooms
    assert json.loads((out / "district.json").read_text())["schools"] == ["oak-ms.json"]


@pytest.mark.parametrize(
    ("pairs", "words"),
    [
        ([((10, 10), (0, 0)), ((10, 10), (30, 0))], "same pixel"),
        ([((10, 10), (0, 0)), ((30, 20), (30, 0))], "px apart"),
        ([((10, 10), (0, 0)), ((500, 10), (0, 0.5))], "m apart"),
        ([((10, 10), (0, 0)), ((900, 10), (30, 0))], "outside the 600×300 px drawing"),
        ([((0, 0), (-100, -100)), ((600, 0), (-40, -100))], "entirely left of or above"),
    ],
)
def test_a_degenerate_calibration_is_refused_and_nothing_is_written(
    tmp_path: Path, pairs: list[tuple[tuple[float, float], tuple[float, float]]], words: str
) -> None:
    drawing = write_png(tmp_path / "a.png", 600, 300)
    out = tmp_path / "plans"
    with pytest.raises(ImageImportError, match=words):
        import_image(drawing, out, TARGET, _points(*pairs))
    assert not out.exists() or list(out.iterdir()) == []


def test_an_svg_is_calibrated_in_its_viewbox_units(tmp_path: Path) -> None:
    drawing = write_svg(tmp_path / "cad.svg", 800, 400)
    out = tmp_path / "plans"
    summary = import_image(drawing, out, TARGET, _points(((0, 0), (0, 0)), ((800, 0), (40, 0))))
    assert summary.ok, summary.as_text()
    assert summary.size_px == (800.0, 400.0)
    assert summary.floor_size_m == (40.0, 20.0)


def test_a_hostile_svg_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    drawing = tmp_path / "bomb.svg"
    drawing.write_text(
        '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">]>'
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 400">&a;</svg>'
    )
    out = tmp_path / "plans"
    with pytest.raises(ImageImportError, match="SVG refused"):
        import_image(drawing, out, TARGET, _points(((0, 0), (0, 0)), ((800, 0), (40, 0))))
    assert list(out.iterdir()) == []


def test_a_file_that_only_claims_to_be_a_png_is_refused(tmp_path: Path) -> None:
    drawing = tmp_path / "fake.png"
    drawing.write_bytes(b"<html>not a picture</html>")
    with pytest.raises(ImageImportError, match="is not a PNG"):
        import_image(
            drawing, tmp_path / "o", TARGET, _points(((0, 0), (0, 0)), ((600, 0), (60, 0)))
        )


def test_one_page_of_a_pdf_is_rendered_to_png_at_the_dpi_its_points_use(tmp_path: Path) -> None:
    pytest.importorskip("pypdfium2")
    # An A4 page (595×842 pt) and a landscape one; page 2 is 720×360 pt = 1500×750 px at 150 dpi.
    drawing = write_pdf(tmp_path / "set.pdf", [(595, 842), (720, 360)])
    out = tmp_path / "plans"
    points = _points(((0, 0), (0, 0)), ((1500, 0), (75, 0)))
    summary = import_image(drawing, out, TARGET, points, page=2)
    assert summary.ok, summary.as_text()
    assert summary.image == "set-p2.png"
    assert summary.size_px == (1500.0, 750.0)
    assert summary.floor_size_m == (75.0, 37.5)
    assert (out / "set-p2.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ImageImportError, match="has 2 page"):
        import_image(drawing, out, TARGET, points, page=3)


def test_the_loader_refuses_a_hand_edited_degenerate_calibration(tmp_path: Path) -> None:
    out = tmp_path / "plans"
    points = _points(((0, 0), (0, 0)), ((600, 0), (60, 0)))
    import_image(write_png(tmp_path / "a.png", 600, 300), out, TARGET, points)
    school = _school(out)
    background = school["buildings"][0]["floors"][0]["background"]
    background["calibration"][1]["pixel"] = [0, 0]
    (out / "oak-ms.json").write_text(json.dumps(school))
    report = check_floorplans(out)
    assert not report.ok
    [finding] = [f for f in report.findings if f.severity == "error"]
    assert finding.feature == "floor oak-1 background"
    assert "same pixel" in finding.problem
    background["calibration"][1]["pixel"] = [600, 0]
    background["bounds"] = [0, 0, 60, 30]
    (out / "oak-ms.json").write_text(json.dumps(school))
    assert any("not both" in f.problem for f in check_floorplans(out).findings)


def test_points_are_parsed_strictly() -> None:
    assert parse_point(" 12.5,40=0,-3.25 ") == CalibrationPoint((12.5, 40.0), (0.0, -3.25))
    for bad in ("12,40", "12,40=1", "a,b=c,d", "1,2,3=4,5"):
        with pytest.raises(ValueError, match=r"PX,PY=X,Y|numbers"):
            parse_point(bad)


def test_the_command_prints_the_placement_and_exits_by_the_check(tmp_path: Path) -> None:
    drawing = write_png(tmp_path / "a.png", 600, 300)
    out = tmp_path / "plans"
    args = [COMMAND, "floorplan", "import-image", str(drawing), "--school", "oak-ms",
            "--building", "main", "--floor", "oak-1", "--name", "Ground floor",
            "--point", "0,0=0,0", "--point", "600,0=60,0", "--out", str(out), "--json"]  # fmt: skip
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["ok"] and summary["metres_per_pixel"] == pytest.approx(0.1)
    refused = [*args[:-7], "--point", "0,0=0,0", "--point", "0,0=60,0", "--out", str(out)]
    done = subprocess.run(refused, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert "same pixel" in done.stderr and "Traceback" not in done.stderr
