"""``dispatch-console district user ...``: the district decides which accounts exist.

Police never enrol themselves: the district's IT adds each dispatcher, supervisor,
safety officer and school administrator, with their role, agency and (for school
administrators) schools, and hands over the second factor as an ``otpauth://`` URI (or
a QR code in the terminal). Disabling an account ends its sign-ins at once; a running
server then cuts its streams within a fraction of a second (it re-evaluates every
stream it authorised), and its desks close their feeds as "signed out".

Every action here is written to the database's append-only ``admin_actions`` log with
who ran it (``--actor``, by default the operating-system user) and is shown by
``user log``. The command works on the database file directly, so it also works while
the server runs (SQLite WAL lets both write).
"""

from __future__ import annotations

import argparse
import getpass
import json
import secrets
import sys
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from dispatch_console.domain.models import Role, User
from dispatch_console.domain.totp import new_secret, provisioning_uri

from . import account_store, storage
from .account_store import UserRecord
from .auth import create_user
from .db import Database
from .migrations import SchemaError

ISSUER = "Dispatch Console"
USER_COLUMNS = ("username", "name", "role", "agency", "schools", "state")
LOG_COLUMNS = ("at", "actor", "action", "subject", "detail")
MIN_PASSWORD = 12


class ProvisionError(Exception):
    """What went wrong, in a sentence for the operator (exit status 1)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _record(db: Database, username: str) -> UserRecord:
    record = account_store.user_record(db, username)
    if record is None:
        raise ProvisionError(f"There is no account {username!r}.")
    return record


def _state(record: UserRecord, now: datetime) -> str:
    if record.disabled_at is not None:
        return "disabled"
    if record.locked_until is not None and record.locked_until > now:
        return "locked"
    return "active"


def _enrolment(secret: str, username: str, show_qr: bool) -> str:
    uri = provisioning_uri(secret, username, ISSUER)
    text = f"one-time code enrolment (give it to the user only): {uri}"
    if show_qr:
        try:
            import qrcode  # type: ignore[import-untyped]
        except ImportError:
            return text + "\n(no QR code: install the 'qrcode' package, or type the URI in)"
        code = qrcode.QRCode(border=1)
        code.add_data(uri)
        lines: list[str] = []
        for row in code.get_matrix():
            lines.append("".join("██" if cell else "  " for cell in row))
        text += "\n" + "\n".join(lines)
    return text


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != password:
            raise ProvisionError("The two passwords differ.")
    if len(password) < MIN_PASSWORD:
        raise ProvisionError(f"A password needs at least {MIN_PASSWORD} characters.")
    return password


def add(db: Database, args: argparse.Namespace, actor: str) -> str:
    role = Role(args.role)
    schools = frozenset(args.school or ())
    if role is Role.SCHOOL_ADMIN and not schools:
        raise ProvisionError("A school administrator needs at least one --school.")
    if role is not Role.SCHOOL_ADMIN and schools:
        raise ProvisionError("Only school administrators are tied to --school.")
    password = _read_password(args)
    secret = new_secret(secrets.token_bytes(20))
    user = User(
        id=f"u-{uuid.uuid4().hex[:12]}",
        username=args.username,
        display_name=args.name,
        agency=args.agency,
        role=role,
        schools=schools,
    )
    if not create_user(db, user, password, secret, _now()):
        raise ProvisionError(f"An account {args.username!r} already exists.")
    detail = f"role {role.value}, agency {args.agency}"
    if schools:
        detail += f", schools {', '.join(sorted(schools))}"
    account_store.record_admin_action(db, _now(), actor, "user.add", args.username, detail)
    return f"added {args.username} ({detail})\n" + _enrolment(secret, args.username, args.qr)


def set_enabled(db: Database, username: str, actor: str, enabled: bool) -> str:
    record = _record(db, username)
    account_store.set_disabled(db, record.user.id, None if enabled else _now())
    action = "user.enable" if enabled else "user.disable"
    account_store.record_admin_action(db, _now(), actor, action, username)
    if enabled:
        return f"enabled {username}"
    return f"disabled {username}: every sign-in ended; open streams are cut by the server"


def unlock(db: Database, username: str, actor: str) -> str:
    record = _record(db, username)
    account_store.unlock_user(db, record.user.id)
    account_store.record_admin_action(db, _now(), actor, "user.unlock", username)
    return f"unlocked {username}"


def reset_totp(db: Database, username: str, actor: str, show_qr: bool) -> str:
    record = _record(db, username)
    secret = new_secret(secrets.token_bytes(20))
    account_store.set_totp_secret(db, record.user.id, secret)
    account_store.record_admin_action(db, _now(), actor, "user.reset_totp", username)
    return (
        f"new one-time code secret for {username}; the old one and every sign-in ended\n"
        + _enrolment(secret, username, show_qr)
    )


def listing(db: Database) -> list[dict[str, Any]]:
    now = _now()
    return [
        {
            "username": r.user.username,
            "name": r.user.display_name,
            "role": r.user.role.value,
            "agency": r.user.agency,
            "schools": sorted(r.user.schools),
            "state": _state(r, now),
        }
        for r in sorted(account_store.user_records(db), key=lambda r: r.user.username)
    ]


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    cells = [[str(row[c]) if not isinstance(row[c], list) else ",".join(row[c]) for c in columns]
             for row in rows]  # fmt: skip
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch-console district user",
        description="Provision the district's accounts (every action is logged).",
    )
    parser.add_argument(
        "--db", required=True, help="the district server's database: a file, or a postgresql:// URL"
    )
    parser.add_argument(
        "--actor", default=f"cli:{getpass.getuser()}", help="who runs this (for the log)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_p = sub.add_parser("add", help="add an account and print its one-time code enrolment")
    add_p.add_argument("username")
    add_p.add_argument("--name", required=True, help="full name, as records show it")
    add_p.add_argument("--role", required=True, choices=[r.value for r in Role])
    add_p.add_argument("--agency", required=True)
    add_p.add_argument("--school", action="append", help="school id (school admins; repeat)")
    add_p.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add_p.add_argument("--qr", action="store_true", help="also print the enrolment as a QR code")
    for name, text in (
        ("disable", "disable an account: its sign-ins end and its streams are cut"),
        ("enable", "enable a disabled account"),
        ("unlock", "lift a lockout after failed sign-ins"),
    ):
        sub.add_parser(name, help=text).add_argument("username")
    reset = sub.add_parser("reset-totp", help="re-enrol the one-time code (lost phone)")
    reset.add_argument("username")
    reset.add_argument("--qr", action="store_true")
    for name, text in (("list", "list the accounts"), ("log", "the provisioning log")):
        sub.add_parser(name, help=text).add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        if (missing := storage.absent(args.db, "district user")) is not None:
            print(missing, file=sys.stderr)
            return 2
        db = Database(args.db, migrate=False)
    except (SchemaError, storage.StorageUnavailable) as exc:
        print(f"district user: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "list":
            rows = listing(db)
            print(json.dumps(rows, indent=2) if args.json else _table(rows, USER_COLUMNS))
        elif args.command == "log":
            actions = account_store.admin_actions(db)
            print(json.dumps(actions, indent=2) if args.json else _table(actions, LOG_COLUMNS))
        elif args.command == "add":
            print(add(db, args, args.actor))
        elif args.command in ("disable", "enable"):
            print(set_enabled(db, args.username, args.actor, args.command == "enable"))
        elif args.command == "unlock":
            print(unlock(db, args.username, args.actor))
        else:
            print(reset_totp(db, args.username, args.actor, args.qr))
    except ProvisionError as exc:
        print(f"district user: {exc}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0
