"""What every route shares: the server context, its clock, and the access rules
that need the database (grants in force, the streams to cut, prewarm).

The rules themselves are the policy module's; these functions gather what it needs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI

from dispatch_console import __version__
from dispatch_console.domain.models import (
    AccessContext,
    District,
    Grant,
    User,
)
from dispatch_console.domain.policy import (
    DISTRICT_ONLY,
    agency_audience,
    can_view,
    is_police,
    scope_cameras,
)
from dispatch_console.domain.session import utc_ms

from . import (
    account_store,
    audit_store,
    auth,
    emergency_store,
    event_store,
    session_store,
    sign_in_store,
    ticket_store,
)
from .db import Database
from .events import EventHub
from .gateway_links import GatewayLinks
from .limits import (
    CLOCK_SKEW,
)
from .ticket_store import Ticket

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
# A stream link opens streams for a minute (libVLC's retry, a reconnect); what keeps a
# stream going after that is the pushed cut and the gateway's lease, not the link.
TICKET_LIFETIME = timedelta(seconds=60)
# Streams whose session ended this recently are still checked (their cut may be pending).
RECENTLY_ENDED = timedelta(minutes=2)
MAX_EXTENSION_MINUTES = 240
BREAK_GLASS_APPROVER = "break-glass policy"
# A start whose client time is older than this by the server's clock was delivered late
# (after an outage); it needs the session's own evidence, and is flagged.
LATE_START = CLOCK_SKEW
# No outbox holds a record this long; older client times are not believable.
MAX_LATE_START = timedelta(days=366)
# How far the session id's UUIDv7 time may be from the client's start time.
ID_TIME_TOLERANCE = timedelta(seconds=1)
# Per user: a console opening every camera that covers a spot starts a dozen at once.
AUDIT_STARTS_PER_MINUTE = 60
MAX_OPEN_SESSIONS = 64
# The end's duration must agree with its own start and end times, to this tolerance.
DURATION_TOLERANCE_MS = 1000
# Every answer carries the district's time (UTC, milliseconds) for skew measurement.
SERVER_TIME_HEADER = "X-District-Time"
MAX_DURATION_MS = 366 * 24 * 3600 * 1000
# Desks are told this long before a grant expires, so police can ask for more time.
GRANT_EXPIRY_NOTICE = timedelta(minutes=5)
# Expiries further back than this are not announced any more (a server down that long).
EXPIRED_NOTICE_WINDOW = timedelta(hours=1)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class ServerContext:
    """Everything the routes share. ``clock`` is replaceable so tests can move time."""

    db: Database
    district: District
    document: dict[str, Any]
    clock: Clock = system_clock
    version: str = __version__
    # The secret shared with the stream gateways (signs stream links); None: no video.
    gateway_secret: bytes | None = field(default=None, repr=False)
    # Camera id -> {"sub": url, "main": url}: the registry's stream sources. Only gateways
    # ever see them (they may name credentials-protected cameras).
    camera_sources: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)
    links: GatewayLinks = field(default_factory=lambda: GatewayLinks(dict), repr=False)
    events: EventHub | None = field(default=None, repr=False)
    # Announces grant expiries (see GrantClock); set by create_app.
    grant_clock: GrantClock | None = field(default=None, repr=False)
    throttle: auth.AddressThrottle = field(default_factory=auth.AddressThrottle)
    allow_totp_reuse: bool = False
    # How long a remembered sign-in lasts (None: the district does not allow remembering).
    remember_for: timedelta | None = None
    audit_starts_per_minute: int = AUDIT_STARTS_PER_MINUTE
    max_open_sessions: int = MAX_OPEN_SESSIONS
    # Purge the audit trail past this many days, daily (None: keep everything).
    audit_retention_days: int | None = None

    def purge_past_retention(self) -> None:
        """The daily purge, if the district configured a retention; never fails a request."""
        if self.audit_retention_days is None:
            return
        try:
            result = audit_store.purge_past_retention(
                self.db,
                retention_days=self.audit_retention_days,
                now=self.now(),
                actor=f"server (retention {self.audit_retention_days} days)",
            )
        except Exception:
            log.exception("the audit purge past retention failed; it is retried tomorrow")
            return
        if result["purged_records"]:
            log.info("audit purge past retention: %s", result)

    def now(self) -> datetime:
        return self.clock()

    def announce(
        self, kind: str, audience: str, subject: str, data: dict[str, Any] | None = None
    ) -> None:
        """Tell the desks (see events.py); a failure to store it never fails the change.

        Inside a write transaction the event is stored in it (a savepoint, so a failed
        store is undone alone) and announced when it commits.
        """
        if self.events is None:
            return
        try:
            self.events.publish(kind, audience, subject, data)
        except Exception:
            log.exception("could not store the %s event for %s", kind, subject)


# ---------------------------------------------------------------------------------------
# Access rules that belong to the server (the viewing rules live in domain.policy).


def announce_grant(ctx: ServerContext, kind: str, grant: Grant) -> None:
    ctx.announce(
        kind,
        agency_audience(grant.agency),
        grant.id,
        {
            "school_id": grant.school_id,
            "emergency_id": grant.emergency_id,
            "expires_at": utc_ms(grant.expires_at),
        },
    )


# How often the audit findings that only time reveals (gaps, unreported streams) are looked for.
AUDIT_SWEEP_S = 10.0
# How often a configured retention is applied.
AUDIT_PURGE_S = 24 * 3600.0


class GrantClock:
    """Announces what no request does: a grant about to expire, and one that expired,
    and the audit findings that appear as time passes (``audit_store.sweep``).

    Called by every event stream before it looks for events, at most once a second in
    all; each grant's notice is announced once (the stored events say whether it was).
    """

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx
        self._lock = threading.Lock()
        self._last = 0.0
        self._last_sweep = 0.0
        # The first purge runs at start-up (create_app); the next a day later.
        self._last_purge = time.monotonic()

    def tick(self) -> None:
        with self._lock:
            if time.monotonic() - self._last < 1.0:
                return
            self._last = time.monotonic()
            ctx, db = self._ctx, self._ctx.db
            now = ctx.now()
            for grant in in_force_grants(ctx, now):
                if grant.expires_at - now <= GRANT_EXPIRY_NOTICE and not event_store.has(
                    db, "grant.expiring", grant.id
                ):
                    announce_grant(ctx, "grant.expiring", grant)
            for grant in emergency_store.grants_expired_between(
                db, now - EXPIRED_NOTICE_WINDOW, now
            ):
                if not event_store.has(db, "grant.expired", grant.id):
                    announce_grant(ctx, "grant.expired", grant)
            if time.monotonic() - self._last_purge >= AUDIT_PURGE_S:
                self._last_purge = time.monotonic()
                ctx.purge_past_retention()
            if time.monotonic() - self._last_sweep >= AUDIT_SWEEP_S:
                self._last_sweep = time.monotonic()
                for finding in audit_store.sweep(db, now):
                    ctx.announce("audit.finding", DISTRICT_ONLY, finding["subject"], finding)


def in_force_grants(ctx: ServerContext, now: datetime, school_id: str | None = None) -> list[Grant]:
    """Grants unrevoked, unexpired, and whose emergency is still active."""
    grants = emergency_store.unexpired_grants(ctx.db, now, school_id)
    active = {e.id for e in emergency_store.open_emergencies(ctx.db, school_id) if e.is_active(now)}
    return [g for g in grants if g.emergency_id in active and g.is_in_force(now)]


def access_context(
    ctx: ServerContext, user: User, school_id: str | None, now: datetime
) -> AccessContext:
    """What the policy sees for this user: police see only their own agency's grants.

    The policy checks the agency itself too (``can_view``); filtering here also keeps
    other agencies' grants out of what police are shown.
    """
    emergencies = tuple(
        e for e in emergency_store.open_emergencies(ctx.db, school_id) if e.is_active(now)
    )
    grants = tuple(
        g
        for g in emergency_store.unexpired_grants(ctx.db, now, school_id)
        if not is_police(user) or g.agency == user.agency
    )
    return AccessContext(emergencies, grants)


def stream_denial(ctx: ServerContext, ticket: Ticket) -> str | None:
    """Why this ticket holder may no longer watch, or None while they still may."""
    now = ctx.now()
    if not sign_in_store.token_live(ctx.db, ticket.token_hash, now):
        return (
            "Your sign-in has ended (signed out, locked, disabled or expired); "
            "sign in again to watch."
        )
    user = account_store.user_by_id(ctx.db, ticket.user_id)
    if user is None:
        return "The account no longer exists."
    try:
        camera = ctx.district.camera(ticket.camera_id)
    except KeyError:
        return f"The camera {ticket.camera_id} is no longer in the district's registry."
    session = session_store.get(ctx.db, ticket.session_id)
    if session is None or session["ended_at"] is not None:
        return "The viewing session has ended."
    decision = can_view(user, camera, access_context(ctx, user, camera.school_id, now), now)
    if not decision.allowed:
        return decision.reason
    if decision.grant is not None and session["grant_id"] not in (None, decision.grant.id):
        return "The grant this viewing session was recorded under is no longer in force."
    return None


def streams_to_cut(ctx: ServerContext) -> list[tuple[str, str]]:
    """Every authorised stream whose viewer may no longer watch, with the reason."""
    now = ctx.now()
    cuts = []
    for ticket in ticket_store.authorizations(ctx.db, now - RECENTLY_ENDED):
        reason = stream_denial(ctx, ticket)
        if reason is not None:
            cuts.append((ticket.session_id, reason))
    return cuts


def prewarm(ctx: ServerContext, grant: Grant) -> None:
    """Have the gateways connect the school's shareable cameras now, for the grant's life.

    Opening a camera takes one to two seconds; done at grant time, the dispatcher's first
    click is served from the gateway's cache.
    """
    cameras = [c.id for c in scope_cameras(ctx.district.school(grant.school_id), grant)]
    hold_s = max(0.0, (grant.expires_at - ctx.now()).total_seconds())
    ctx.links.prewarm(cameras, hold_s)


def sources_from_camsim(district: District, camsim_url: str) -> dict[str, dict[str, str]]:
    """Stream sources for the simulator's cameras: RTSP when it offers it, else HTTP-TS."""
    base = camsim_url.rstrip("/")
    sources: dict[str, dict[str, str]] = {}
    for camera in district.cameras():
        cam = quote(camera.id, safe="")
        if base.startswith(("rtsp://", "rtsps://")):
            sources[camera.id] = {
                "sub": f"{base}/cameras/{cam}",
                "main": f"{base}/cameras/{cam}/main",
            }
        else:
            sources[camera.id] = {
                "sub": f"{base}/cameras/{cam}.ts",
                "main": f"{base}/cameras/{cam}/main.ts",
            }
    return sources


def app_context(app: FastAPI) -> ServerContext:
    """The context of an app built by create_app (tests use it to move the clock)."""
    ctx = app.state.ctx
    assert isinstance(ctx, ServerContext)
    return ctx
