"""The district's floor plans and cameras, and liveness."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter

from dispatch_console.district.context import (
    API_PREFIX,
)
from dispatch_console.district.deps import (
    Ctx,
    CurrentUser,
    errors,
)
from dispatch_console.district.schemas import (
    HealthOut,
)

log = logging.getLogger(__name__)

router = APIRouter()


@router.get(
    f"{API_PREFIX}/district",
    summary="The district's schools, floor plans and cameras",
    response_model=dict[str, Any],
    responses=errors(401),
)
def get_district(ctx: Ctx, user: CurrentUser) -> dict[str, Any]:
    return ctx.document


@router.get(f"{API_PREFIX}/health", summary="Liveness and version", response_model=HealthOut)
def health(ctx: Ctx) -> HealthOut:
    return HealthOut(status="ok", version=ctx.version)
