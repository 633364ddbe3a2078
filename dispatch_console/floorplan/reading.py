"""Reading untrusted floor-plan JSON field by field, collecting findings instead of failing.

A district's files come from CAD exports, scans and hand edits. Whatever is in them, the
reader must answer with findings (file, feature, what is wrong) and never a traceback,
and must answer quickly: the limits below bound the work any one file can cause.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

# A school's plan is a few megabytes at most; past this something is wrong with the file.
MAX_FILE_BYTES = 64 * 1024 * 1024
# Room outlines and walls drawn by hand or exported from CAD stay far below this. A
# million-vertex polygon is refused before shapely ever sees it.
MAX_VERTICES = 20_000
# Coordinates are metres in the floor's own frame: a campus fits in 100 km.
MAX_COORDINATE_M = 100_000.0


@dataclass(frozen=True)
class Problem:
    file: str
    feature: str
    message: str
    severity: str = "error"  # "error" stops loading; "warning" is shown and lived with

    def __str__(self) -> str:
        return f"{self.file}: {self.feature}: {self.message}"


class FloorPlanError(Exception):
    """The floor plans could not be loaded; every problem found is listed, not just the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"The floor plans have {len(problems)} problem(s):\n{lines}")


class Reader:
    """Collects problems while walking one file, so a user sees them all at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []

    def error(self, feature: str, message: str) -> None:
        self.problems.append(Problem(self.file, feature, message))

    def warn(self, feature: str, message: str) -> None:
        self.warnings.append(Problem(self.file, feature, message, "warning"))

    def field(
        self, obj: Mapping[str, Any], key: str, feature: str, convert: Callable[[Any], T]
    ) -> T | None:
        if key not in obj:
            self.error(feature, f'missing field "{key}"')
            return None
        return self.convert(obj[key], key, feature, convert)

    def optional(
        self, obj: Mapping[str, Any], key: str, feature: str, convert: Callable[[Any], T]
    ) -> T | None:
        if obj.get(key) is None:
            return None
        return self.convert(obj[key], key, feature, convert)

    def convert(self, value: Any, key: str, feature: str, convert: Callable[[Any], T]) -> T | None:
        try:
            return convert(value)
        except (TypeError, ValueError, OverflowError) as exc:
            self.error(feature, f'field "{key}" is invalid ({short_repr(value)}): {exc}')
            return None


def short_repr(value: Any, limit: int = 60) -> str:
    """A value as a finding quotes it: a million-vertex list must not become the message."""
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"an object with {len(value)} key(s)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError("expected a finite number")
    return result


def coordinate(value: Any) -> float:
    result = number(value)
    if abs(result) > MAX_COORDINATE_M:
        raise ValueError(f"coordinate {result:g} m is absurd (more than {MAX_COORDINATE_M:g} m)")
    return result


def integer(value: Any) -> int:
    result = number(value)
    if result != int(result):
        raise ValueError("expected a whole number")
    return int(result)


def point(value: Any) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ValueError("expected [x, y]")
    return coordinate(value[0]), coordinate(value[1])


def points(value: Any, minimum: int) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list) or len(value) < minimum:
        raise ValueError(f"expected at least {minimum} [x, y] points")
    if len(value) > MAX_VERTICES:
        raise ValueError(f"{len(value)} points; at most {MAX_VERTICES} are accepted")
    return tuple(point(v) for v in value)


def outline(value: Any) -> tuple[tuple[float, float], ...]:
    return points(value, 3)


def text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected non-empty text")
    return value.strip()


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def items(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def read_json(path: Path) -> Any:
    """Parse one file; any failure becomes a FloorPlanError naming the file."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise FloorPlanError(
                [Problem(str(path), "file", f"is {size} bytes; at most {MAX_FILE_BYTES} accepted")]
            )
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FloorPlanError([Problem(str(path), "file", "not found")]) from None
    except json.JSONDecodeError as exc:
        raise FloorPlanError(
            [Problem(str(path), "file", f"not valid JSON: {exc.msg} (line {exc.lineno})")]
        ) from None
    except RecursionError:
        raise FloorPlanError([Problem(str(path), "file", "is nested too deeply")]) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise FloorPlanError([Problem(str(path), "file", f"cannot be read: {exc}")]) from None
