"""The IMDF importer on a small hand-written sample (tests/floorplan/imdf_sample/).

The sample follows the IMDF specification: a venue, one building, two levels, units of
several categories (one not in the specification: "makerspace"), openings with and
without doors, a drywall unit, a fixture, localized names and extra properties.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from dispatch_console.domain.models import RoomKind
from dispatch_console.domain.policy import COMMON_AREAS
from dispatch_console.floorplan.imdf import ImdfError, import_imdf
from dispatch_console.floorplan.loader import load_district
from dispatch_console.floorplan.visibility import FloorVisibility
from tests.paths import ROOT

SAMPLE = Path(__file__).parent / "imdf_sample"
SCHEMA = json.loads((ROOT / "floorplans" / "floorplan.schema.json").read_text())
COMMAND = str(Path(sys.executable).parent / "dispatch-console")


def test_the_sample_imports_with_the_expected_summary(tmp_path: Path) -> None:
    summary = import_imdf(SAMPLE, tmp_path)
    assert summary.ok, summary.as_text()
    assert summary.venue == "Harbor View Middle School"
    assert summary.buildings == ["Main Building"]
    assert summary.levels == 2
    assert dict(summary.units_by_category) == {
        "auditorium": 1,
        "classroom": 4,
        "lobby": 1,
        "makerspace": 1,
        "office": 1,
        "restroom.female": 1,
        "restroom.male": 1,
        "stairs": 1,
        "walkway": 2,
    }
    assert dict(summary.units_by_privacy) == {"common": 5, "private": 8}
    assert summary.unknown_categories == ["makerspace"]
    assert summary.openings == 11
    assert summary.skipped["fixture"] == 1


def test_the_imported_plan_loads_with_rooms_walls_and_doors(tmp_path: Path) -> None:
    import_imdf(SAMPLE, tmp_path)
    district = load_district(tmp_path)
    [school] = district.schools
    [building] = school.buildings
    ground, upper = building.floors
    assert (ground.name, ground.level) == ("Ground Floor", 0)
    assert (upper.name, upper.level) == ("Primer piso", 1)  # only a Spanish name given
    rooms = {r.name: r for r in ground.rooms}
    assert rooms["Main Corridor"].kind is RoomKind.HALLWAY
    assert rooms["Entrance Lobby"].kind is RoomKind.ENTRANCE
    assert rooms["Girls' Restroom"].kind is RoomKind.RESTROOM
    # Unknown category: private, whatever it is called.
    assert rooms["Maker Lab"].kind is RoomKind.OTHER
    assert rooms["Maker Lab"].kind not in COMMON_AREAS
    # A unit with no name gets its category as a name.
    assert "Classroom" in {r.name for r in upper.rooms}
    # Metres in the floor's frame: Room 101 is 12 m × 10 m, 2 m in from the corner.
    xs = [p[0] for p in rooms["Room 101"].outline]
    ys = [p[1] for p in rooms["Room 101"].outline]
    assert (min(xs), max(xs), min(ys), max(ys)) == pytest.approx((2, 14, 2, 12), abs=0.05)
    assert len(ground.openings) == 7 and ground.walls


def test_imported_walls_block_views_and_doors_let_them_through(tmp_path: Path) -> None:
    from dataclasses import replace

    from dispatch_console.domain.models import Camera

    import_imdf(SAMPLE, tmp_path)
    ground = load_district(tmp_path).schools[0].buildings[0].floors[0]
    # In the corridor (y 12..16 in the floor's frame), looking north at Room 101's door.
    camera = Camera(
        "c", "Corridor", "s", "b", ground.id, (7, 15), 270, 60, 20, "r", RoomKind.HALLWAY
    )
    visibility = FloorVisibility(replace(ground, cameras=(camera,)))
    assert visibility.covering((7, 8)) == [camera]  # through the door (x 6..8 at y 12)
    assert visibility.covering((11.5, 6)) == []  # inside Room 101, behind its wall


def test_a_zip_imports_like_the_folder_and_output_matches_the_schema(tmp_path: Path) -> None:
    archive = tmp_path / "venue.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for file in SAMPLE.iterdir():
            zipped.write(file, file.name)
    folder_summary = import_imdf(SAMPLE, tmp_path / "a")
    zip_summary = import_imdf(archive, tmp_path / "b")
    assert (
        zip_summary.as_json()["units_by_category"] == folder_summary.as_json()["units_by_category"]
    )
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for produced in (tmp_path / "b").glob("*.json"):
        errors = list(validator.iter_errors(json.loads(produced.read_text())))
        assert errors == [], f"{produced.name}: {errors[0].message}"


def test_an_archive_without_levels_or_units_is_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "venue.geojson").write_text('{"type": "FeatureCollection", "features": []}')
    with pytest.raises(ImdfError, match="no level"):
        import_imdf(tmp_path / "in", tmp_path / "out")
    (tmp_path / "in" / "unit.geojson").write_text("{not json")
    with pytest.raises(ImdfError, match=r"unit\.geojson is not valid GeoJSON"):
        import_imdf(tmp_path / "in", tmp_path / "out")
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ImdfError, match=r"neither an IMDF folder nor a readable \.zip"):
        import_imdf(tmp_path / "bad.zip", tmp_path / "out")


def test_the_command_prints_a_json_summary(tmp_path: Path) -> None:
    result = subprocess.run(
        [COMMAND, "floorplan", "import-imdf", str(SAMPLE), "--out", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["units_by_privacy"] == {"common": 5, "private": 8}
    assert summary["openings"] == 11 and summary["levels"] == 2
    assert (tmp_path / "district.json").is_file()
    text = subprocess.run(
        [COMMAND, "floorplan", "import-imdf", str(SAMPLE), "--out", str(tmp_path / "t")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "unknown categories (imported as private): makerspace" in text.stdout
    failed = subprocess.run(
        [COMMAND, "floorplan", "import-imdf", str(tmp_path / "missing"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert failed.returncode == 1 and "not found" in failed.stderr


def test_the_schema_accepts_the_sample_plans_and_rejects_broken_ones() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    sample = ROOT / "floorplans" / "riverside"
    for file in sample.glob("*.json"):
        assert list(validator.iter_errors(json.loads(file.read_text()))) == [], file.name
    school = json.loads((sample / "lincoln-high.json").read_text())
    camera = school["buildings"][0]["floors"][0]["cameras"][0]
    camera["streams"] = {"main": {"codec": "h264", "width": 1920, "height": 1080}}
    assert validator.is_valid(school)
    camera["streams"]["sub"] = {"url": "rtsp://camera/sub"}  # addresses stay out of plans
    assert not validator.is_valid(school)
    del camera["streams"]
    school["buildings"][0]["floors"][0]["rooms"][0]["kind"] = "dungeon"
    assert not validator.is_valid(school)
