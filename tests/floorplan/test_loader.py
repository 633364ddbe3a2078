"""Loading floor plans: the sample district, and bad files reported with file and feature."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from dispatch_console.domain.models import RoomKind
from dispatch_console.floorplan.loader import FloorPlanError, load_district
from tests.paths import SAMPLE_DISTRICT


def test_sample_district_meets_the_brief() -> None:
    district = load_district(SAMPLE_DISTRICT)
    lincoln = district.school("lincoln-hs")
    floors = [f for b in lincoln.buildings for f in b.floors]
    assert len(floors) >= 2
    kinds = {r.kind for f in floors for r in f.rooms}
    for wanted in ("classroom", "hallway", "cafeteria", "gym", "entrance", "office", "restroom"):
        assert RoomKind(wanted) in kinds
    assert len(lincoln.cameras()) >= 8
    classroom = district.camera("lhs-cam-07")
    assert classroom.room_kind is RoomKind.CLASSROOM
    assert any("lhs-cam-07" in w and "never be shared" in w for w in district.warnings)


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "district"
    shutil.copytree(SAMPLE_DISTRICT, target)
    return target


def _edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_malformed_json_names_the_file_and_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "lincoln-high.json").write_text('{"id": "lincoln-hs",\n "name": }')
    with pytest.raises(FloorPlanError) as caught:
        load_district(root)
    assert "lincoln-high.json" in str(caught.value)
    assert "line 2" in str(caught.value)


def test_camera_outside_every_room_is_an_error_naming_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def move(data: Any) -> None:
        data["buildings"][0]["floors"][0]["cameras"][0]["position"] = [500, 500]

    _edit(root / "lincoln-high.json", move)
    with pytest.raises(FloorPlanError) as caught:
        load_district(root)
    assert "camera lhs-cam-01" in str(caught.value)
    assert "outside every room" in str(caught.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def break_things(data: Any) -> None:
        floor = data["buildings"][0]["floors"][0]
        floor["rooms"][0]["kind"] = "ballroom"
        floor["rooms"][1]["outline"] = [[0, 0], [1, 1]]
        del floor["cameras"][1]["heading_deg"]

    _edit(root / "lincoln-high.json", break_things)
    with pytest.raises(FloorPlanError) as caught:
        load_district(root)
    problems = [str(p) for p in caught.value.problems]
    assert any("room lhs-101" in p and "ballroom" in p for p in problems)
    assert any("room lhs-102" in p and "outline" in p for p in problems)
    assert any("camera lhs-cam-02" in p and "heading_deg" in p for p in problems)


def test_self_intersecting_room_is_reported(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def bow_tie(data: Any) -> None:
        # A hallway drawn with two corners swapped: a bow tie. make_valid splits it.
        data["buildings"][0]["floors"][0]["rooms"][7]["outline"] = [
            [0, 20],
            [80, 26],
            [80, 20],
            [0, 26],
        ]

    _edit(root / "lincoln-high.json", bow_tie)
    with pytest.raises(FloorPlanError) as caught:
        load_district(root)
    assert "room lhs-hall-1" in str(caught.value)
    assert "not a usable polygon" in str(caught.value)


def test_duplicate_ids_are_reported(tmp_path: Path) -> None:
    root = _copy(tmp_path)

    def duplicate(data: Any) -> None:
        cameras = data["buildings"][0]["floors"][0]["cameras"]
        cameras[1]["id"] = cameras[0]["id"]

    _edit(root / "lincoln-high.json", duplicate)
    with pytest.raises(FloorPlanError, match="id used twice"):
        load_district(root)
