"""FastAPI dependencies (who is calling, with which rights) and the small helpers every
route uses to refuse with a problem document.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dispatch_console.domain.models import (
    User,
)
from dispatch_console.domain.policy import (
    may_approve,
)

from . import auth
from .context import (
    ServerContext,
    app_context,
)
from .problems import (
    Problem,
)

log = logging.getLogger(__name__)


def fail(status: int, detail: str, headers: dict[str, str] | None = None) -> NoReturn:
    raise HTTPException(status_code=status, detail=detail, headers=headers)


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": Problem} for code in codes}


def uuid7_time(session_id: str) -> datetime | None:
    """The time inside a UUIDv7 session id (RFC 9562), or None for any other id."""
    try:
        value = uuid.UUID(session_id)
    except ValueError:
        return None
    if value.version != 7:
        return None
    try:
        return datetime.fromtimestamp((value.int >> 80) / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------
# Dependencies (module level, so FastAPI can resolve their annotations).

bearer = HTTPBearer(auto_error=False, description="The token from POST /auth/login.")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def request_context(request: Request) -> ServerContext:
    return app_context(request.app)


def current_user(request: Request, credentials: Credentials) -> User:
    """The signed-in caller; 401 with a sentence saying what to do otherwise."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            401,
            "Sign in first: this request needs a bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    ctx = request_context(request)
    try:
        user = auth.user_for_token(ctx.db, credentials.credentials, ctx.now())
    except UnicodeEncodeError:
        user = None
    if user is None:
        raise HTTPException(
            401,
            "Your sign-in has expired or is not valid; sign in again.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]
# An id in the path, bounded like the ids in bodies.
PathId = Annotated[str, PathParam(min_length=1, max_length=128)]


def approver(user: CurrentUser) -> User:
    """The caller, if the policy lets their role approve, revoke and end."""
    if not may_approve(user):
        fail(403, "Only district approvers may do this.")
    return user


Approver = Annotated[User, Depends(approver)]


Ctx = Annotated[ServerContext, Depends(request_context)]


async def raw_json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object exactly as sent (parsed, not validated).

    A workstation's chain hash covers the body it sent; re-serialising the validated
    model could differ from it (defaults filled in, fields this server does not know).
    """
    try:
        value = await request.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


RawBody = Annotated[dict[str, Any], Depends(raw_json_body)]
