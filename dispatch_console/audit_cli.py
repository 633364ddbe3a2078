"""``dispatch-console audit verify``: check this workstation's audit outbox chain.

A district's counsel will ask whether the workstation's own record of who looked at
which camera could have been edited after the fact. Each outbox record carries the hash
of the one before it; this command recomputes the chain from its anchor (the first kept
record after pruning) to its head and names the first record that was altered, moved
or removed. It only reads the files.

    dispatch-console audit verify [--outbox PATH] [--json]

Without ``--outbox`` it checks every user's outbox in the console's data folder (the
``data_dir`` setting). Exit status: 0 every chain holds, 1 a chain is broken, 2 an
outbox could not be read or none was found.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from dispatch_console.services.audit_outbox import OutboxVerification, outbox_paths, verify_outbox
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.settings import ConfigError, Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch-console audit", description="Check this workstation's audit trail."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="check the outbox hash chain and name the first bad record"
    )
    verify.add_argument(
        "--outbox",
        type=Path,
        action="append",
        help="an outbox file (repeatable); default: every outbox in the data folder",
    )
    verify.add_argument("--json", action="store_true", help="one JSON document on stdout")
    return parser


def _default_outboxes() -> tuple[list[Path], str]:
    try:
        data_dir = Settings.from_env().data_dir
    except ConfigError as exc:
        return [], f"the settings cannot be read: {exc}"
    found = outbox_paths(data_dir)
    return found, "" if found else f"no audit outbox in {data_dir}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``audit verify``; returns the exit status (0 holds, 1 broken, 2 unreadable)."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    paths: list[Path] = list(args.outbox or [])
    problem = ""
    if not paths:
        paths, problem = _default_outboxes()
    reports: list[OutboxVerification] = []
    errors: list[dict[str, str]] = []
    for path in paths:
        try:
            reports.append(verify_outbox(path))
        except ConsoleError as exc:
            errors.append({"path": str(path), "error": exc.detail})
    if problem:
        errors.append({"path": "", "error": problem})
    status = 2 if errors else (0 if all(r.ok for r in reports) else 1)
    if args.json:
        print(
            json.dumps(
                {"ok": status == 0, "outboxes": [r.as_json() for r in reports], "errors": errors},
                indent=2,
            )
        )
    else:
        for report in reports:
            print(report.text())
        for error in errors:
            print(f"error: {error['error']}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
