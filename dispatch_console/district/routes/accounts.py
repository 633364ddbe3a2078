"""Sign-in, sign-out, and the district's account actions (unlock, disable, enable)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from dispatch_console.district import account_store, auth, remembered
from dispatch_console.district.account_store import UserRecord
from dispatch_console.district.context import (
    API_PREFIX,
    ServerContext,
)
from dispatch_console.district.deps import (
    Approver,
    Credentials,
    Ctx,
    CurrentUser,
    PathId,
    errors,
    fail,
)
from dispatch_console.district.problems import (
    Problem,
)
from dispatch_console.district.schemas import (
    AccountOut,
    LoginIn,
    LoginOut,
    RefreshIn,
    UserOut,
    account_out,
    user_out,
)
from dispatch_console.domain.models import User
from dispatch_console.domain.session import utc_ms

log = logging.getLogger(__name__)

router = APIRouter()

# Sign-in and refresh failures share the per-address limit (auth.AddressThrottle).
_THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {
        "model": Problem,
        "description": "Too many failed sign-ins from this address; see Retry-After.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    },
}


def _reserve_attempt(ctx: ServerContext, request: Request, now: datetime) -> tuple[str, datetime]:
    """Count this attempt against the client's address (429 past the limit); the caller
    releases it when the attempt succeeds."""
    address = request.client.host if request.client else "unknown"
    try:
        return address, ctx.throttle.reserve(address, now)
    except auth.TooManyAttempts as exc:
        fail(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)})


@router.post(
    f"{API_PREFIX}/auth/login",
    summary="Sign in with password and one-time code",
    response_model=LoginOut,
    responses={**errors(401, 423), **_THROTTLED},
)
def login(ctx: Ctx, body: LoginIn, request: Request) -> LoginOut:
    now = ctx.now()
    address, attempt = _reserve_attempt(ctx, request, now)
    try:
        result = auth.sign_in(
            ctx.db,
            body.username,
            body.password,
            body.otp,
            now,
            allow_totp_reuse=ctx.allow_totp_reuse,
            remember_for=ctx.remember_for if body.remember else None,
        )
    except auth.AccountLocked as exc:
        log.warning("sign-in refused: account locked (from %s)", address)
        fail(423, str(exc))
    except auth.SignInFailed as exc:
        fail(401, str(exc))
    ctx.throttle.release(address, attempt)
    refresh = result.remembered
    return LoginOut(
        token=result.token,
        expires_at=utc_ms(result.expires_at),
        user=user_out(result.user),
        refresh_token=refresh.token if refresh else None,
        refresh_expires_at=utc_ms(refresh.expires_at) if refresh else None,
    )


@router.post(
    f"{API_PREFIX}/auth/refresh",
    summary="Go on with a remembered sign-in: a new session and a new refresh token",
    response_model=LoginOut,
    responses={**errors(401), **_THROTTLED},
)
def refresh(ctx: Ctx, body: RefreshIn, request: Request) -> LoginOut:
    """The presented refresh token is retired; presenting it again ends the whole
    remembered sign-in (remembered.py). Failures count like failed sign-ins per address."""
    now = ctx.now()
    address, attempt = _reserve_attempt(ctx, request, now)
    outcome = remembered.refresh(ctx.db, body.refresh_token, now, auth.TOKEN_LIFETIME)
    if isinstance(outcome, remembered.RefreshRefused):
        log.info("remembered sign-in refused (%s) from %s", outcome.name.lower(), address)
        fail(401, f"{outcome.value} Sign in with your password and one-time code.")
    ctx.throttle.release(address, attempt)
    return LoginOut(
        token=outcome.session_token,
        expires_at=utc_ms(outcome.session_expires_at),
        user=user_out(outcome.user),
        refresh_token=outcome.remembered.token,
        refresh_expires_at=utc_ms(outcome.remembered.expires_at),
    )


@router.post(
    f"{API_PREFIX}/auth/logout",
    summary="End this sign-in: its token, unused stream tickets and open streams",
    status_code=204,
    responses=errors(401),
)
def logout(
    ctx: Ctx,
    user: CurrentUser,
    credentials: Credentials,
    keep_remembered: Annotated[
        bool,
        Query(
            description="Keep the remembered sign-in this session belongs to (a console "
            "closing at the end of a shift); by default it ends too."
        ),
    ] = False,
) -> Response:
    if credentials is not None:
        auth.sign_out(ctx.db, credentials.credentials, keep_remembered=keep_remembered)
    return Response(status_code=204)


@router.get(
    f"{API_PREFIX}/auth/me",
    summary="Who this token belongs to",
    response_model=UserOut,
    responses=errors(401),
)
def me(ctx: Ctx, user: CurrentUser) -> UserOut:
    return user_out(user)


@router.get(
    f"{API_PREFIX}/users",
    summary="Accounts with their lockout state (district approvers)",
    response_model=list[AccountOut],
    responses=errors(401, 403),
)
def users(ctx: Ctx, user: Approver) -> list[AccountOut]:
    now = ctx.now()
    return [account_out(r, now) for r in account_store.user_records(ctx.db)]


def _account(ctx: ServerContext, user_id: str) -> UserRecord:
    record = account_store.user_record_by_id(ctx.db, user_id)
    if record is None:
        fail(404, f"There is no account {user_id!r}.")
    return record


def _after_action(ctx: ServerContext, by: User, target: UserRecord, action: str) -> AccountOut:
    """Log an account action in the provisioning log (as the CLI does) and answer with
    the account as it is now."""
    account_store.record_admin_action(
        ctx.db, ctx.now(), by.display_name, f"user.{action}", target.user.username
    )
    log.info("account %s: %s by %s", target.user.username, action, by.username)
    return account_out(_account(ctx, target.user.id), ctx.now())


@router.post(
    f"{API_PREFIX}/users/{{user_id}}/unlock",
    summary="Lift a lockout after failed sign-ins now (district approvers)",
    response_model=AccountOut,
    responses=errors(401, 403, 404),
)
def unlock(ctx: Ctx, user_id: PathId, user: Approver) -> AccountOut:
    target = _account(ctx, user_id)
    account_store.unlock_user(ctx.db, user_id)
    return _after_action(ctx, user, target, "unlock")


@router.post(
    f"{API_PREFIX}/users/{{user_id}}/disable",
    summary="Disable an account: its sign-ins, tickets and streams end now",
    response_model=AccountOut,
    responses=errors(401, 403, 404, 409),
)
def disable(ctx: Ctx, user_id: PathId, user: Approver) -> AccountOut:
    target = _account(ctx, user_id)
    if user_id == user.id:
        fail(409, "You cannot disable your own account; ask another approver.")
    account_store.set_disabled(ctx.db, user_id, ctx.now())
    return _after_action(ctx, user, target, "disable")


@router.post(
    f"{API_PREFIX}/users/{{user_id}}/enable",
    summary="Enable a disabled account again (district approvers)",
    response_model=AccountOut,
    responses=errors(401, 403, 404),
)
def enable(ctx: Ctx, user_id: PathId, user: Approver) -> AccountOut:
    target = _account(ctx, user_id)
    account_store.set_disabled(ctx.db, user_id, None)
    return _after_action(ctx, user, target, "enable")
