"""The reference district API: the security boundary for police access to school cameras.

The console's locks are a convenience; this server is what actually decides. It signs a
stream link only when the viewing session's audit start is already stored ("no audit
record, no video") and the shared access policy (``dispatch_console.domain.policy``) allows
the viewer right now, and it tells its stream gateways to cut the stream the moment that
stops being true (``gateway_links``).

The audit record is the server's, not the client's: who (user, name, agency, role), which
camera (name, school, building, floor, room kind), which grant was in force and its
threat basis all come from the server's own tables, and ``started_at`` is the server's
receive time, with the client's time kept beside it. A field the client sends is checked
against that truth, never stored on trust.

Everything time-dependent reads one clock, ``ServerContext.clock``, so tests can move
time (expire grants, lift lockouts) without sleeping.

Layout: this module builds the app; ``routes/`` holds one router per resource (accounts,
registry, access, audit, streams, gateways, events), which only translate HTTP;
``context`` the shared state and the database-backed access helpers; ``schemas`` the
request and response models; ``deps`` who is calling and with which rights.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request

from dispatch_console import __version__
from dispatch_console.domain.session import utc_ms
from dispatch_console.floorplan.loader import district_document, district_from_document

from . import auth, sign_in_store, ticket_store
from .audit_log import MIN_RETENTION_DAYS
from .backgrounds import background_files, with_background_links
from .context import (
    API_PREFIX,
    AUDIT_STARTS_PER_MINUTE,
    SERVER_TIME_HEADER,
    Clock,
    GrantClock,
    ServerContext,
    app_context,
    sources_from_camsim,
    system_clock,
)
from .db import Database
from .events import EventHub
from .gateway_links import GatewayLinks
from .limits import (
    MAX_GATEWAY_BODY_BYTES,
    BodyLimit,
    known_query_only,
)
from .problems import (
    COMMON_ERRORS,
    install_problem_handlers,
    install_problem_openapi,
)
from .remembered import DEFAULT_REMEMBER_DAYS, MAX_REMEMBER_DAYS
from .routes import (
    access,
    accounts,
    audit,
    audit_review,
    events,
    floors,
    gateways,
    registry,
    selftest,
    streams,
)
from .routes.floors import Backgrounds

__all__ = ["app_context", "create_app"]

log = logging.getLogger(__name__)


def create_app(
    *,
    db: Database,
    floorplans_dir: Path | str,
    camsim_url: str | None = None,
    camera_sources: dict[str, dict[str, str]] | None = None,
    gateway_secret: bytes | None = None,
    clock: Clock = system_clock,
    sign_in_failures_per_address: int = auth.ADDRESS_FAILURES,
    allow_totp_reuse: bool = False,
    audit_starts_per_minute: int = AUDIT_STARTS_PER_MINUTE,
    audit_retention_days: int | None = None,
    remember_days: int = DEFAULT_REMEMBER_DAYS,
) -> FastAPI:
    """Build the district API. Raises FloorPlanError if the floor plans are not valid.

    The floor plans are validated once here so a broken district file stops the server at
    start-up with every problem listed, instead of failing later during an emergency.
    Stream sources come from ``camera_sources`` (the registry's), else from the camera
    simulator at ``camsim_url``. Without ``gateway_secret`` no gateway can connect and no
    stream links are issued.
    ``allow_totp_reuse`` is for the test suite's shared server only (see auth.sign_in).
    ``audit_retention_days`` (at least 365) purges the audit trail past it now and daily.
    ``remember_days`` (0 to 30) lets users ask to be remembered that long (remembered.py).
    """
    if not 0 <= remember_days <= MAX_REMEMBER_DAYS:
        raise ValueError(
            f"remembered sign-ins of {remember_days} days: choose 0 (never) to "
            f"{MAX_REMEMBER_DAYS} days"
        )
    if audit_retention_days is not None and audit_retention_days < MIN_RETENTION_DAYS:
        raise ValueError(
            f"audit retention of {audit_retention_days} days is below the minimum of "
            f"{MIN_RETENTION_DAYS} days (one year)"
        )
    document = district_document(floorplans_dir)
    district = district_from_document(document)
    drawings = Backgrounds(
        Path(floorplans_dir), background_files(district, document, Path(floorplans_dir))
    )
    document = with_background_links(document, drawings.files)
    for warning in district.warnings:
        log.warning("floor plans: %s", warning)
    if allow_totp_reuse:
        log.warning("one-time codes may be reused: a test-suite setting, never for real use")
    ctx = ServerContext(
        db=db,
        district=district,
        document=document,
        clock=clock,
        gateway_secret=gateway_secret,
        throttle=auth.AddressThrottle(limit=sign_in_failures_per_address),
        allow_totp_reuse=allow_totp_reuse,
        audit_starts_per_minute=audit_starts_per_minute,
        remember_for=timedelta(days=remember_days) if remember_days else None,
    )
    if camera_sources is not None:
        ctx.camera_sources = camera_sources
    elif camsim_url:
        ctx.camera_sources = sources_from_camsim(district, camsim_url)
    ctx.links = GatewayLinks(lambda: ctx.camera_sources)
    ctx.events = EventHub(db, ctx.now)
    sign_in_store.purge_expired(db, ctx.now())
    ticket_store.purge_ended(db, ctx.now())

    app = FastAPI(
        title="Dispatch Console — district API",
        version=__version__,
        description="Emergency-only police access to school cameras: accounts, emergencies, "
        "access requests and grants, viewing-session audit, and the stream gateway. "
        "Every error is an RFC 9457 problem document (application/problem+json).",
        responses=COMMON_ERRORS,
        dependencies=[Depends(known_query_only)],
    )
    app.state.ctx = ctx
    app.state.backgrounds = drawings
    app.add_middleware(
        BodyLimit,
        larger={
            f"{API_PREFIX}/gateway/{part}": MAX_GATEWAY_BODY_BYTES
            for part in ("relays", "check", "status")
        },
    )
    install_problem_handlers(app)

    @app.middleware("http")
    async def reevaluate_after_changes(request: Request, call_next: Any) -> Any:
        # Any change (revoke, end, sign-out, session end ...) may end someone's access:
        # the gateways hear about it now, not at the next periodic evaluation.
        response = await call_next(request)
        if request.method != "GET":
            ctx.links.poke()
        # The district's clock, to the millisecond, on every answer: consoles measure
        # their skew from it (HTTP's Date header has whole seconds only).
        response.headers[SERVER_TIME_HEADER] = utc_ms(ctx.now())
        return response

    ctx.audit_retention_days = audit_retention_days
    ctx.purge_past_retention()
    ctx.grant_clock = GrantClock(ctx)
    for routes in (
        accounts,
        registry,
        access,
        audit,
        audit_review,
        streams,
        gateways,
        events,
        selftest,
        floors,
    ):
        app.include_router(routes.router)
    install_problem_openapi(app)
    return app
