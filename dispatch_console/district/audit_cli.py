"""``dispatch-console district audit``: verify the trail, purge past retention.

``verify`` reads the database without writing (a read-only connection, or on PostgreSQL a
read-only snapshot transaction), so it can run against a live server's database or a copy
handed to an auditor; it exits 1 and names the
first broken record when the trail does not hold. ``purge`` refuses less than a year and
records itself in the chain and in the administrators' log.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from . import audit_log, audit_store, storage
from .db import Database
from .migrations import SchemaError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch-console district audit",
        description="Check the district's audit trail, or purge it past retention.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser(
        "verify", help="check the whole trail; name the first broken record (exit 1)"
    )
    verify.add_argument(
        "--db", required=True, help="the district server's database: a file, or a postgresql:// URL"
    )
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    purge = sub.add_parser("purge", help="remove records older than the retention period")
    purge.add_argument("--db", required=True)
    purge.add_argument(
        "--retention-days",
        type=int,
        required=True,
        help=f"keep this many days (at least {audit_log.MIN_RETENTION_DAYS})",
    )
    purge.add_argument(
        "--actor", default=f"cli:{getpass.getuser()}", help="who runs this (for the log)"
    )
    purge.add_argument("--json", action="store_true")
    return parser


def _verify_text(report: audit_log.VerifyReport, db_path: str) -> str:
    lines = [
        f"Audit trail in {db_path}: "
        + ("VERIFIED" if report.ok else "BROKEN")
        + f" ({report.records} records, {report.sessions} sessions)",
    ]
    if report.head_seq is not None:
        lines.append(
            f"Head: record {report.head_seq}, hash {report.head_hash} "
            "(keep it outside this server: a later verify must reach the same hash)"
        )
    if report.first_seq not in (None, 1):
        lines.append(f"The log starts at record {report.first_seq} (an earlier purge).")
    if not report.ok:
        lines.append(f"First problem: {report.first_problem}")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if (missing := storage.absent(args.db, "district audit")) is not None:
            print(missing, file=sys.stderr)
            return 2
        db = Database(args.db, migrate=False)
    except (SchemaError, storage.StorageUnavailable) as exc:
        print(f"district audit: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "verify":
            report = db.read(audit_log.verify)
            print(
                json.dumps(report.as_json(), indent=2)
                if args.json
                else _verify_text(report, storage.describe(args.db))
            )
            return 0 if report.ok else 1
        try:
            result = audit_store.purge_past_retention(
                db, retention_days=args.retention_days, now=datetime.now(UTC), actor=args.actor
            )
        except audit_log.PurgeRefused as exc:
            print(f"district audit: {exc}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print(
                f"Purged {result['purged_records']} records ({result['purged_sessions']} "
                f"sessions) older than {result['cutoff']}; the trail still verifies from "
                f"record {result.get('first_kept', '-')}."
            )
        return 0
    finally:
        db.close()
