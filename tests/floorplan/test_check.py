"""``floorplan check``: every malformed plan gets findings naming file and feature, never a
traceback, and quickly — including fuzzed plans, absurd numbers and huge polygons."""

from __future__ import annotations

import copy
import json
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from dispatch_console.domain.models import Background
from dispatch_console.floorplan.backgrounds import drawable_image
from dispatch_console.floorplan.check import check_floorplans
from dispatch_console.floorplan.outlines import room_polygon
from tests.paths import SAMPLE_DISTRICT

LINCOLN = "lincoln-high.json"
COMMAND = str(Path(sys.executable).parent / "dispatch-console")


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "district"
    shutil.copytree(SAMPLE_DISTRICT, target)
    return target


def _school(root: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((root / LINCOLN).read_text())
    return data


def _write(root: Path, data: Any) -> None:
    (root / LINCOLN).write_text(json.dumps(data))


def _floor(data: dict[str, Any]) -> dict[str, Any]:
    floor: dict[str, Any] = data["buildings"][0]["floors"][0]
    return floor


def test_the_sample_district_is_usable_and_counted() -> None:
    report = check_floorplans(SAMPLE_DISTRICT)
    assert report.ok, report.as_text()
    assert report.counts["cameras"] == 15
    assert report.counts["walls"] > 0 and report.counts["openings"] > 0
    # The known warning: a camera configured shareable in a classroom.
    assert [f.feature for f in report.findings] == ["camera lhs-cam-07"]


def test_broken_json_is_one_finding_with_file_and_line(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / LINCOLN).write_text('{"id": "lincoln-hs",\n "name": }')
    report = check_floorplans(root)
    assert not report.ok
    [finding] = report.findings
    assert finding.file.endswith(LINCOLN) and finding.feature == "file"
    assert "line 2" in finding.problem


@pytest.mark.parametrize(
    ("change", "feature", "words"),
    [
        (lambda f: f["rooms"][0].update(outline=[[0, 0], [1e300, 0], [0, 5]]), "room lhs-101", "absurd"),  # noqa: E501
        (lambda f: f["cameras"][0].update(position=[float("nan"), 1]), "camera lhs-cam-01", "finite"),  # noqa: E501
        (lambda f: f["cameras"][0].pop("heading_deg"), "camera lhs-cam-01", 'missing field "heading_deg"'),  # noqa: E501
        (lambda f: f["cameras"][0].update(range_m=-3), "camera lhs-cam-01", "range_m"),
        (lambda f: f["cameras"][0].update(fov_deg="wide"), "camera lhs-cam-01", "fov_deg"),
        (lambda f: f["rooms"][0].update(kind="dungeon"), "room lhs-101", "unknown room kind"),
        (lambda f: f["walls"][0].update(path=[[3, 3]]), "wall lhs-main-1-wall-1", "at least 2"),
        (lambda f: f["openings"][0].update(ends=[[1, 1], [1, 1]]), "opening lhs-101-door", "same point"),  # noqa: E501
        (lambda f: f["openings"][0].update(kind="window"), "opening lhs-101-door", "kind"),
        (lambda f: f["cameras"][0].update(streams={"main": {"url": "rtsp://x"}}), "camera lhs-cam-01", "registry"),  # noqa: E501
        (lambda f: f["cameras"][0].update(streams={"third": {}}), "camera lhs-cam-01", "main and sub"),  # noqa: E501
        (lambda f: f.update(level=10**400), "floor lhs-main-1", "level"),
        (lambda f: f.update(background={"image": "../../etc/passwd", "bounds": [0, 0, 80, 62]}), "floor lhs-main-1", "relative to the plan"),  # noqa: E501
    ],
)  # fmt: skip
def test_each_kind_of_mistake_names_file_feature_and_problem(
    tmp_path: Path, change: Any, feature: str, words: str
) -> None:
    root = _copy(tmp_path)
    data = _school(root)
    change(_floor(data))
    _write(root, data)
    report = check_floorplans(root)
    matching = [f for f in report.findings if f.feature.startswith(feature) and words in f.problem]
    assert matching, report.as_text()
    assert all(f.file.endswith(LINCOLN) for f in matching)


def test_a_million_vertex_polygon_is_refused_fast(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    data = _school(root)
    _floor(data)["rooms"][0]["outline"] = [[i * 1e-4, (i % 2) * 1e-4] for i in range(1_000_000)]
    _write(root, data)
    started = time.perf_counter()
    report = check_floorplans(root)
    elapsed = time.perf_counter() - started
    assert elapsed < 5.0
    assert any(
        f.feature == "room lhs-101" and "1000000 points" in f.problem for f in report.findings
    )


def test_make_valid_results_of_every_type_get_a_verdict() -> None:
    square = ((0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0))
    assert room_polygon(square).polygon is not None and not room_polygon(square).warning
    # A bow tie repairs to a MultiPolygon: two rooms drawn as one.
    bow_tie = room_polygon(((0, 0), (4, 4), (4, 0), (0, 4)))
    assert bow_tie.polygon is None and "2 separate areas" in bow_tie.error
    # A square with a spike repairs to a polygon plus a line: the polygon is kept.
    spiked = room_polygon(((0, 0), (4, 0), (4, 4), (4, 8), (4, 4), (0, 4)))
    assert spiked.polygon is not None and "repaired" in spiked.warning
    assert spiked.polygon.area == pytest.approx(16)
    # Collinear corners repair to a line; one repeated point to a point.
    line = room_polygon(((0, 0), (2, 0), (4, 0)))
    assert line.polygon is None and "LineString" in line.error
    point = room_polygon(((1, 1), (1, 1), (1, 1), (1, 1)))
    assert point.polygon is None and "repairs to Point" in point.error
    # A ring that doubles back on itself: one polygon and a dangling line; the line goes.
    doubled = room_polygon(((0, 0), (4, 0), (4, 4), (2, 4), (2, 0.0), (2, 4), (0, 4)))
    assert doubled.polygon is not None and doubled.polygon.area == pytest.approx(16)
    assert "dropped 1 part(s) without area" in doubled.warning


_JUNK: list[Any] = [
    None, True, -1, 0, 1e308, -1e308, float("inf"), "", "x" * 500, [], [[]], {}, {"x": 1},
    [1, 2, 3], [[1, 2]] * 3, [["a", "b"]], 10**30,
]  # fmt: skip


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:4]):
            found += _paths(item, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], junk: Any) -> Any:
    if not path:
        return junk
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = junk
    return document


def test_fuzzed_plans_produce_findings_only(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    original = _school(root)
    paths = _paths(original)
    rng = random.Random(11)
    slowest = 0.0
    for _ in range(150):
        mutated = copy.deepcopy(original)
        for _ in range(rng.randint(1, 4)):
            path = rng.choice(paths)
            try:
                mutated = _replace(mutated, path, copy.deepcopy(rng.choice(_JUNK)))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed this place
        (root / LINCOLN).write_text(json.dumps(mutated))
        started = time.perf_counter()
        report = check_floorplans(root)  # must not raise, whatever the file holds
        slowest = max(slowest, time.perf_counter() - started)
        for finding in report.findings:
            assert finding.file and finding.feature and finding.problem
            assert finding.severity in ("error", "warning")
    assert slowest < 3.0


def test_deeply_nested_json_is_a_finding(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / LINCOLN).write_text("[" * 100_000 + "]" * 100_000)
    report = check_floorplans(root)
    assert not report.ok and report.findings[0].file.endswith(LINCOLN)


def _with_background(tmp_path: Path, name: str, content: bytes) -> Path:
    root = _copy(tmp_path)
    (root / name).write_bytes(content)
    data = _school(root)
    _floor(data)["background"] = {"image": name, "bounds": [0, 0, 80, 62]}
    _write(root, data)
    return root


GOOD_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 800 620">'
    b'<rect x="0" y="0" width="800" height="620" fill="#eee"/></svg>'
)
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg">&lol2;</svg>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<svg xmlns="http://www.w3.org/2000/svg"><text>&xxe;</text></svg>'
)
LINKING_SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
    b'<image xlink:href="http://example.invalid/plan.png" width="10" height="10"/></svg>'
)


def _background_findings(root: Path) -> list[str]:
    return [
        f"{f.severity}: {f.problem}"
        for f in check_floorplans(root).findings
        if f.feature == "floor lhs-main-1 background"
    ]


def test_a_plain_svg_background_passes(tmp_path: Path) -> None:
    assert _background_findings(_with_background(tmp_path, "plan.svg", GOOD_SVG)) == []


@pytest.mark.parametrize("content", [ENTITY_BOMB, EXTERNAL_ENTITY], ids=["bomb", "external"])
def test_svg_entities_are_refused_not_expanded(tmp_path: Path, content: bytes) -> None:
    findings = _background_findings(_with_background(tmp_path, "plan.svg", content))
    assert len(findings) == 1 and findings[0].startswith("error: SVG refused")


def test_svg_links_are_never_fetched_and_are_reported(tmp_path: Path) -> None:
    findings = _background_findings(_with_background(tmp_path, "plan.svg", LINKING_SVG))
    assert findings == [
        "warning: SVG refers to 1 outside resource(s); they are never fetched, so they will "
        "be missing from the drawing"
    ]


def test_an_image_that_is_not_what_its_name_says_is_an_error(tmp_path: Path) -> None:
    findings = _background_findings(_with_background(tmp_path, "plan.png", b"GIF89a...."))
    assert findings == ["error: image 'plan.png' is not a PNG file"]


def test_a_png_stretched_by_its_bounds_is_a_warning(tmp_path: Path) -> None:
    header = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + (400).to_bytes(4, "big") * 2
    findings = _background_findings(_with_background(tmp_path, "plan.png", header + b"\x00" * 8))
    assert len(findings) == 1 and "stretched" in findings[0]


def test_the_command_prints_json_findings_and_sets_the_exit_status(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    data = _school(root)
    _floor(data)["cameras"][0]["position"] = [500, 500]
    _write(root, data)
    result = subprocess.run(
        [COMMAND, "floorplan", "check", str(root), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is False
    assert {"file", "feature", "problem", "severity"} <= set(report["findings"][0])
    assert any(f["feature"] == "camera lhs-cam-01" for f in report["findings"])
    text = subprocess.run(
        [COMMAND, "floorplan", "check", str(SAMPLE_DISTRICT)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert text.returncode == 0 and "OK" in text.stdout.splitlines()[-1]


def test_a_single_school_file_can_be_checked(tmp_path: Path) -> None:
    report = check_floorplans(SAMPLE_DISTRICT / LINCOLN)
    assert report.ok and report.counts["schools"] == 1
    missing = check_floorplans(tmp_path / "nothing.json")
    assert [f.problem for f in missing.findings] == ["not found"]


def _drawable(root: Path, name: str) -> tuple[Path | None, str]:
    background = Background(name, (0.0, 0.0, 80.0, 62.0))
    return drawable_image(root / LINCOLN, background)


def test_the_map_draws_only_backgrounds_that_pass_the_check(tmp_path: Path) -> None:
    root = _with_background(tmp_path, "plan.svg", GOOD_SVG)
    assert _drawable(root, "plan.svg") == (root / "plan.svg", "")
    (root / "linking.svg").write_bytes(LINKING_SVG)
    (root / "bomb.svg").write_bytes(ENTITY_BOMB)
    (root / "page.pdf").write_bytes(b"%PDF-1.7\n")
    for name, why in [
        ("linking.svg", "outside resource"),
        ("bomb.svg", "SVG refused"),
        ("page.pdf", "export the page as PNG or SVG"),
        ("missing.png", "not found"),
        ("../escape.png", "relative to the plan"),
    ]:
        path, reason = _drawable(root, name)
        assert path is None and why in reason, (name, reason)
