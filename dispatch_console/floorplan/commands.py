"""``dispatch-console floorplan check | import-imdf | import-image``: the office's tools.

Each prints text for people or, with ``--json``, one JSON document for scripts. Exit
status: 0 usable, 1 findings that make the plans unusable (or an import that failed),
2 wrong usage.
"""

from __future__ import annotations

import argparse
import json
import sys

from .check import check_floorplans
from .image_import import FloorTarget, ImageImportError, import_image, parse_point
from .imdf import ImdfError, import_imdf
from .pdf_pages import DEFAULT_DPI


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


def _import_image(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console floorplan import-image",
        description="Put a floor-plan drawing (PNG, JPEG, SVG or one page of a PDF) under a "
        "floor, placed by two points known on both the drawing (pixels, x right, y down) "
        "and the floor (metres). Writes the drawing, the school file and district.json into "
        "--out, keeping what is already there, then checks the result.",
    )
    parser.add_argument("image", help="the drawing: .png, .jpg, .svg or .pdf")
    parser.add_argument("--school", required=True, help="school id")
    parser.add_argument("--building", required=True, help="building id")
    parser.add_argument("--floor", required=True, help="floor id")
    parser.add_argument("--name", required=True, help="the floor's name, e.g. 'Ground floor'")
    parser.add_argument("--level", type=int, help="storey number (default 0, or kept)")
    parser.add_argument("--school-name", default="", help="for a new school file")
    parser.add_argument("--building-name", default="", help="for a new building")
    parser.add_argument(
        "--point",
        action="append",
        default=[],
        metavar="PX,PY=X,Y",
        help="a pixel on the drawing and where it is on the floor in metres; give two",
    )
    parser.add_argument("--page", type=int, help="PDF page, from 1 (default 1)")
    parser.add_argument(
        "--dpi",
        type=float,
        default=DEFAULT_DPI,
        help=f"PDF rendering; --point pixels are pixels at this dpi (default {DEFAULT_DPI:g})",
    )
    parser.add_argument("--out", default=".", help="the plan folder (default: here)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    target = FloorTarget(
        args.school,
        args.building,
        args.floor,
        args.name,
        args.level,
        args.school_name,
        args.building_name,
    )
    try:
        points = [parse_point(p) for p in args.point]
        summary = import_image(args.image, args.out, target, points, page=args.page, dpi=args.dpi)
    except (ImageImportError, ValueError) as exc:
        if args.json:
            print(json.dumps({"source": args.image, "ok": False, "error": str(exc)}, indent=1))
        else:
            print(f"floorplan import-image: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.as_json(), indent=1) if args.json else summary.as_text())
    return 0 if summary.ok else 1


def main(argv: list[str]) -> int:
    commands = {"check": _check, "import-imdf": _import_imdf, "import-image": _import_image}
    if not argv or argv[0] not in commands:
        print(
            "usage: dispatch-console floorplan check PATH [--json]\n"
            "       dispatch-console floorplan import-imdf PATH --out DIR [--json]\n"
            "       dispatch-console floorplan import-image IMAGE --school ID --building ID "
            "--floor ID --name NAME --point PX,PY=X,Y --point PX,PY=X,Y [--page N] "
            "[--out DIR] [--json]",
            file=sys.stderr,
        )
        return 2
    return commands[argv[0]](argv[1:])
