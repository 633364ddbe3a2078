"""``dispatch-console floorplan check``: every finding about a floor-plan folder or file.

A facilities office runs this before handing plans to the district server, so it reports
everything at once (file, feature, what is wrong) and never stops at a traceback: broken
JSON, absurd coordinates and huge polygons are findings like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shapely import STRtree
from shapely.geometry import LineString

from dispatch_console.domain.models import District, Floor

from .backgrounds import check_background
from .loader import FloorPlanError, Problem, district_document, validate_document
from .reading import read_json

# An opening farther than this from every wall does not cut anything: likely misplaced.
OPENING_TOLERANCE_M = 0.5


@dataclass(frozen=True)
class Finding:
    file: str
    feature: str
    problem: str
    severity: str  # "error" or "warning"

    def as_json(self) -> dict[str, str]:
        return {
            "file": self.file,
            "feature": self.feature,
            "problem": self.problem,
            "severity": self.severity,
        }

    def __str__(self) -> str:
        return f"{self.severity}: {self.file}: {self.feature}: {self.problem}"


@dataclass
class CheckReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "counts": self.counts,
            "findings": [f.as_json() for f in self.findings],
        }

    def as_text(self) -> str:
        lines = [str(f) for f in self.findings]
        counts = ", ".join(f"{n} {what}" for what, n in self.counts.items())
        verdict = "OK" if self.ok else "NOT USABLE"
        lines.append(
            f"{self.path}: {verdict} — {self.errors} error(s), {self.warnings} warning(s)"
            + (f"; {counts}" if counts else "")
        )
        return "\n".join(lines)


def _finding(problem: Problem) -> Finding:
    return Finding(problem.file, problem.feature, problem.message, problem.severity)


def _document(path: Path) -> dict[str, Any]:
    """A district document from a folder, its district.json, or one school's file."""
    if path.is_dir():
        return district_document(path)
    if path.name == "district.json":
        return district_document(path.parent)
    school = read_json(path)
    if isinstance(school, dict):
        school = {**school, "source": str(path)}
    return {"id": "(single file)", "name": path.stem, "schools": [school], "source": str(path)}


def _counts(district: District) -> dict[str, int]:
    floors = [f for s in district.schools for b in s.buildings for f in b.floors]
    return {
        "schools": len(district.schools),
        "buildings": sum(len(s.buildings) for s in district.schools),
        "floors": len(floors),
        "rooms": sum(len(f.rooms) for f in floors),
        "walls": sum(len(f.walls) for f in floors),
        "openings": sum(len(f.openings) for f in floors),
        "cameras": sum(len(f.cameras) for f in floors),
    }


def _stray_openings(floor: Floor) -> list[str]:
    if not floor.walls or not floor.openings:
        return []
    tree = STRtree([LineString(w.path) for w in floor.walls])
    stray = []
    for opening in floor.openings:
        # Walls may run through the opening or stop at its ends: either touches it.
        nearest = tree.query_nearest(LineString(opening.ends), max_distance=OPENING_TOLERANCE_M)
        if len(nearest) == 0:
            stray.append(opening.id)
    return stray


def _floor_findings(district: District, sources: dict[str, str]) -> list[Finding]:
    findings: list[Finding] = []
    for school in district.schools:
        file = sources.get(school.id, school.id)
        for building in school.buildings:
            for floor in building.floors:
                for opening_id in _stray_openings(floor):
                    findings.append(
                        Finding(
                            file,
                            f"opening {opening_id}",
                            f"is farther than {OPENING_TOLERANCE_M} m from every wall of "
                            f"floor {floor.id}, so it opens nothing",
                            "warning",
                        )
                    )
                outside = [
                    c.id
                    for c in floor.cameras
                    if not -1 <= c.position[0] <= floor.width_m + 1
                    or not -1 <= c.position[1] <= floor.height_m + 1
                ]
                for camera_id in outside:
                    findings.append(
                        Finding(
                            file,
                            f"camera {camera_id}",
                            f"stands outside the floor's {floor.width_m:g}×{floor.height_m:g} m "
                            "extent",
                            "warning",
                        )
                    )
                if floor.background is not None:
                    errors, warnings = check_background(Path(file), floor.background)
                    feature = f"floor {floor.id} background"
                    findings += [Finding(file, feature, e, "error") for e in errors]
                    findings += [Finding(file, feature, w, "warning") for w in warnings]
    return findings


def check_floorplans(path: Path | str) -> CheckReport:
    """Check a floor-plan folder, its district.json, or a single school file."""
    target = Path(path)
    report = CheckReport(str(target))
    if not target.exists():
        report.findings.append(Finding(str(target), "file", "not found", "error"))
        return report
    try:
        document = _document(target)
    except FloorPlanError as exc:
        report.findings += [_finding(p) for p in exc.problems]
        return report
    validation = validate_document(document, str(target))
    report.findings += [_finding(p) for p in validation.problems]
    report.findings += [_finding(p) for p in validation.warnings]
    if validation.district is not None:
        sources = {
            str(raw.get("id")): str(raw.get("source"))
            for raw in document.get("schools", [])
            if isinstance(raw, dict)
        }
        report.findings += _floor_findings(validation.district, sources)
        report.counts = _counts(validation.district)
    return report
