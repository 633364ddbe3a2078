"""The result of one self-test check, and how results are shown.

Every check says pass, fail or skipped, what it saw, and for anything but a pass what
to do about it: IT reads this on a workstation, often over the phone with a dispatcher.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    # The check could not run here for a stated reason (never counted as a pass).
    SKIPPED = "skipped"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    hint: str = ""
    duration_ms: int = 0


def passed(name: str, detail: str) -> CheckResult:
    return CheckResult(name, Status.PASS, detail)


def failed(name: str, detail: str, hint: str) -> CheckResult:
    return CheckResult(name, Status.FAIL, detail, hint)


def skipped(name: str, detail: str, hint: str = "") -> CheckResult:
    return CheckResult(name, Status.SKIPPED, detail, hint)


def all_passed(results: Sequence[CheckResult]) -> bool:
    """True when nothing failed (skips are reported, but are not failures)."""
    return not any(r.status is Status.FAIL for r in results)


def as_text(results: Sequence[CheckResult], version: str) -> str:
    lines = [f"dispatch-console {version} self-test"]
    width = max((len(r.name) for r in results), default=0)
    for r in results:
        lines.append(f"  {r.status.value.upper():7} {r.name:{width}}  {r.detail}")
        if r.hint:
            lines.append(f"  {'':7} {'':{width}}  hint: {r.hint}")
    verdict = "all checks passed" if all_passed(results) else "SOME CHECKS FAILED"
    lines.append(verdict)
    return "\n".join(lines)


def as_json(results: Sequence[CheckResult], version: str) -> str:
    return json.dumps(
        {
            "version": version,
            "ok": all_passed(results),
            "checks": [{**asdict(r), "status": r.status.value} for r in results],
        },
        indent=2,
    )
