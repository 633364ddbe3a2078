"""What the district desk says about requests arriving, who watches which camera, and
which agencies hold grants: pure rules, so the words and their conditions are tested
without a window, and the widgets only render them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .models import AccessRequest, Emergency, Grant, User
from .policy import declares_on_behalf, is_police, may_approve, may_declare
from .session import parse_utc


def notified_of_requests(user: User) -> bool:
    """Who is alerted (notification and sound) when police ask for access: those who can
    answer. Everyone else on a district desk sees the request in the list only."""
    return may_approve(user)


def waiting_for(duration: timedelta) -> str:
    """How long someone has waited, read at a glance: "under a minute", "4 min", "1 h 05 min"."""
    minutes = max(int(duration.total_seconds() // 60), 0)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


@dataclass(frozen=True)
class RequestNotice:
    """The notification for one police request: a title and lines, the same on the
    desktop and on the desk's own card (whose waiting line moves on)."""

    request_id: str
    emergency_id: str
    title: str
    who: str  # "Dana Reyes, Riverside Police Department"
    what: str  # "Lockdown at Jefferson Elementary"
    why: str  # "Threat basis: …"
    waiting: str  # "Waiting 4 min (since 14:02)"

    @property
    def body(self) -> str:
        return "\n".join((self.who, self.what, self.why, self.waiting))


# A threat basis is typed by a person under stress: long ones are cut for a desktop
# bubble (the full text is on the card's tooltip and in the emergency list).
MAX_BASIS_CHARS = 160


def request_notice(
    request: AccessRequest,
    emergency: Emergency | None,
    school_name: str,
    now: datetime,
    clock: str,
) -> RequestNotice:
    """What the desk shows when police ask for a school's cameras.

    ``clock`` is the request's time as the desk's wall clock reads it ("14:02"): the
    caller formats it (time zones are the desk's business, not the rule's).
    """
    kind = emergency.type.label if emergency is not None else "Emergency"
    basis = emergency.threat_basis.strip() if emergency is not None else ""
    if len(basis) > MAX_BASIS_CHARS:
        basis = basis[: MAX_BASIS_CHARS - 1].rstrip() + "…"
    return RequestNotice(
        request_id=request.id,
        emergency_id=request.emergency_id,
        title=f"Police ask for the cameras at {school_name}",
        who=f"{request.requested_by}, {request.agency}",
        what=f"{kind} at {school_name}",
        why=f"Threat basis: {basis}" if basis else "Threat basis: not stated",
        waiting=f"Waiting {waiting_for(now - request.requested_at)} (since {clock})",
    )


@dataclass(frozen=True)
class Watcher:
    """Someone watching a camera now, as the district's audit trail records it."""

    name: str
    agency: str
    since: datetime | None


def watchers_by_camera(sessions: Iterable[Mapping[str, Any]]) -> dict[str, tuple[Watcher, ...]]:
    """Open viewing sessions grouped by camera, earliest first; ended ones are left out
    (the server's ``active`` filter is not trusted to have been applied)."""
    found: dict[str, list[Watcher]] = {}
    for session in sessions:
        if session.get("ended_at") is not None or not session.get("camera_id"):
            continue
        started = session.get("started_at")
        try:
            since = parse_utc(str(started)) if started else None
        except ValueError:
            since = None
        watcher = Watcher(
            str(session.get("user_name") or "someone"), str(session.get("agency") or ""), since
        )
        found.setdefault(str(session["camera_id"]), []).append(watcher)
    return {
        camera: tuple(sorted(watchers, key=lambda w: (w.since is None, w.since or 0, w.name)))
        for camera, watchers in found.items()
    }


def watched_text(watchers: Sequence[Watcher], now: datetime) -> str:
    """The pin's tooltip line: who watches it now, their agency and for how long."""
    parts = []
    for w in watchers:
        agency = f" ({w.agency})" if w.agency else ""
        since = f", for {waiting_for(now - w.since)}" if w.since is not None else ""
        parts.append(f"{w.name}{agency}{since}")
    return "Watched now by " + "; ".join(parts)


def agencies_with_grants(grants: Iterable[Grant], now: datetime) -> dict[str, int]:
    """Police agencies holding grants in force, with how many: the "Revoke all of …"
    choices. Alphabetical, so the menu does not jump about as grants come and go."""
    counts: dict[str, int] = {}
    for grant in grants:
        if grant.is_in_force(now):
            counts[grant.agency] = counts.get(grant.agency, 0) + 1
    return dict(sorted(counts.items()))


@dataclass(frozen=True)
class DeclareOffer:
    """Whether the desk offers "Declare emergency" at a school, and in whose name."""

    shown: bool
    label: str
    # The agency the district declares for (None: the user's own, as police).
    on_behalf_of: str | None = None
    # Why the control is shown but cannot be used (no agency to declare for).
    blocked: str = ""


def declare_offer(user: User, school_id: str, agency: str | None) -> DeclareOffer:
    """The declare control for this user at this school; ``agency`` is the police agency a
    district declarer has chosen (None when none is known to choose from)."""
    if not may_declare(user, school_id):
        return DeclareOffer(False, "")
    if not declares_on_behalf(user):
        return DeclareOffer(True, "Declare emergency")
    if not agency:
        return DeclareOffer(
            True,
            "Declare for a police agency",
            blocked="No police agency is known to this desk: police accounts are listed "
            "by the district's account list.",
        )
    return DeclareOffer(True, f"Declare for {agency}", on_behalf_of=agency)


def police_agencies(
    accounts: Iterable[User], grants: Iterable[Grant], requests: Iterable[AccessRequest]
) -> tuple[str, ...]:
    """The police agencies a district declarer may declare for: those with police accounts,
    and any a grant or request already names. Alphabetical."""
    names = {u.agency for u in accounts if is_police(u)}
    names |= {g.agency for g in grants} | {r.agency for r in requests}
    return tuple(sorted(n for n in names if n))


@dataclass(frozen=True)
class ReviewItem:
    """One break-glass grant waiting for the district's review, as the list shows it."""

    grant_id: str
    headline: str  # "Riverside Police Department at Lincoln High"
    detail: str  # "opened 14:02 by the break-glass policy, 40 min ago · in force until 15:02"


def review_item(grant: Grant, school_name: str, now: datetime, clock: str) -> ReviewItem:
    """``clock``: the grant's start on the desk's wall clock ("14:02")."""
    state = "in force" if grant.is_in_force(now) else "ended"
    if grant.revoked_at is not None:
        state = "revoked"
    return ReviewItem(
        grant.id,
        f"{grant.agency} at {school_name}",
        f"Break-glass access opened at {clock}, {waiting_for(now - grant.granted_at)} ago"
        f" · {state} · not reviewed yet",
    )
