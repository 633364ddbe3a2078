"""Demo accounts for the reference district: one per role, so the demo shows both desks.

The secrets here are public by design: they exist so the demo console and the tests can
sign in (the TOTP codes are computed from the fixed base32 secrets below). A real district
provisions its own accounts and never runs with ``--seed-demo``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dispatch_console.domain.models import Role, User

from . import account_store
from .auth import create_user
from .db import Database

POLICE_AGENCY = "Riverside Police Department"
DISTRICT_AGENCY = "Riverside Unified School District"

# Fixed base32 TOTP secrets (160 bits each), one per demo account.
DISPATCHER_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
SUPERVISOR_TOTP_SECRET = "KRUGKIDROVUWG2ZAMJZG653OEBTG66BA"
SAFETY_TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
SCHOOL_ADMIN_TOTP_SECRET = "MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U"
FACILITIES_TOTP_SECRET = "ORSXG5DJNZTWM2LMNRUW4Z3TMVRXEZLU"


@dataclass(frozen=True)
class DemoAccount:
    user: User
    password: str
    totp_secret: str

    @property
    def username(self) -> str:
        return self.user.username


DEMO_ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        User(
            id="user-dispatcher",
            username="dispatcher",
            display_name="Dana Reyes",
            agency=POLICE_AGENCY,
            role=Role.POLICE_DISPATCHER,
        ),
        password="dispatch-demo-1",
        totp_secret=DISPATCHER_TOTP_SECRET,
    ),
    DemoAccount(
        User(
            id="user-supervisor",
            username="supervisor",
            display_name="Morgan Lee",
            agency=POLICE_AGENCY,
            role=Role.POLICE_SUPERVISOR,
        ),
        password="supervisor-demo-1",
        totp_secret=SUPERVISOR_TOTP_SECRET,
    ),
    DemoAccount(
        User(
            id="user-safety",
            username="safety",
            display_name="Sam Ortiz",
            agency=DISTRICT_AGENCY,
            role=Role.DISTRICT_SAFETY_OFFICER,
        ),
        password="safety-demo-1",
        totp_secret=SAFETY_TOTP_SECRET,
    ),
    DemoAccount(
        User(
            id="user-lincoln-admin",
            username="lincoln-admin",
            display_name="Priya Shah",
            agency=DISTRICT_AGENCY,
            role=Role.SCHOOL_ADMIN,
            schools=frozenset({"lincoln-hs"}),
        ),
        password="lincoln-demo-1",
        totp_secret=SCHOOL_ADMIN_TOTP_SECRET,
    ),
    DemoAccount(
        User(
            id="user-facilities",
            username="facilities",
            display_name="Chris Novak",
            agency=DISTRICT_AGENCY,
            role=Role.FACILITIES,
        ),
        password="facilities-demo-1",
        totp_secret=FACILITIES_TOTP_SECRET,
    ),
)


def demo_account(username: str) -> DemoAccount:
    """Look up a demo account by user name (KeyError if there is none)."""
    for account in DEMO_ACCOUNTS:
        if account.username == username:
            return account
    raise KeyError(username)


def seed_demo(db: Database, now: datetime | None = None) -> list[str]:
    """Insert the demo accounts that are missing; returns the user names added."""
    moment = datetime.now(UTC) if now is None else now
    added = []
    for account in DEMO_ACCOUNTS:
        # Checked first so a restart does not pay for five scrypt hashes it will not use.
        if account_store.user_record(db, account.username) is not None:
            continue
        if create_user(db, account.user, account.password, account.totp_secret, moment):
            added.append(account.username)
    return added
