"""Row conversions more than one store needs: optional times, and the user of a row.

Times are stored as ISO 8601 UTC strings with millisecond precision and a "Z"
(``dispatch_console.domain.session.utc_ms``): the audit trail's one format, and one that
sorts correctly as text. The user mapping lives here because two stores read ``users``
rows: the accounts (account_store) and the sign-in tokens (sign_in_store, which finds
the user behind a token), and the account store also ends sign-ins; a shared module
keeps the two stores from importing each other.
"""

from __future__ import annotations

import json
from datetime import datetime

from dispatch_console.domain.models import Role, User
from dispatch_console.domain.session import parse_utc, utc_ms

from .storage import Row


def time_or_none(value: str | None) -> datetime | None:
    """A stored time, or None for an empty column."""
    return None if value is None else parse_utc(value)


def stamp_or_none(value: datetime | None) -> str | None:
    """A time as stored, or None for no time."""
    return None if value is None else utc_ms(value)


def user(row: Row) -> User:
    """The ``users`` row (all columns, or ``users.*`` of a join) as a domain User."""
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        agency=row["agency"],
        role=Role(row["role"]),
        schools=frozenset(json.loads(row["schools"])),
    )
