"""``dispatch-console floorplan check | import-imdf``: the facilities office's two tools.

Both print text for people or, with ``--json``, one JSON document for scripts. Exit
status: 0 usable, 1 findings that make the plans unusable (or an import that failed),
2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from .check import check_floorplans
from .imdf import ImdfError, import_imdf


def _check(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console floorplan check",
        description="Check a floor-plan folder (with district.json), a district.json or one "
        "school file, and report every finding with file, feature and problem.",
    )
    parser.add_argument("path")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    report = check_floorplans(args.path)
    print(json.dumps(report.as_json(), indent=1) if args.json else report.as_text())
    return 0 if report.ok else 1


def _import_imdf(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console floorplan import-imdf",
        description="Convert an IMDF archive (folder or .zip of GeoJSON files) into our "
        "floor-plan format: rooms from units, walls from their edges, doors from openings. "
        "Unknown unit categories are imported as private rooms.",
    )
    parser.add_argument("path", help="IMDF folder or .zip")
    parser.add_argument("--out", required=True, help="folder for district.json and the school")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    try:
        summary = import_imdf(args.path, args.out)
    except ImdfError as exc:
        if args.json:
            print(json.dumps({"source": args.path, "ok": False, "error": str(exc)}, indent=1))
        else:
            print(f"floorplan import-imdf: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.as_json(), indent=1) if args.json else summary.as_text())
    return 0 if summary.ok else 1


def main(argv: list[str]) -> int:
    commands = {"check": _check, "import-imdf": _import_imdf}
    if not argv or argv[0] not in commands:
        print(
            "usage: dispatch-console floorplan check PATH [--json]\n"
            "       dispatch-console floorplan import-imdf PATH --out DIR [--json]",
            file=sys.stderr,
        )
        return 2
    return commands[argv[0]](argv[1:])
