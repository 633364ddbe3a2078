"""Error answers as RFC 9457 problem details, and an OpenAPI description that says so.

Every error the district API gives is ``application/problem+json`` with ``type``,
``title``, ``status`` and ``detail``. ``detail`` stays a sentence a dispatcher can act on
(the console shows it as it is); a 422 adds ``errors``, the list of fields that were
wrong. The published schema documents these answers on every operation, including the
400, 413 and 422 that any request can earn, so a client generated from it is not surprised.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ProblemField(BaseModel):
    """One field a 422 found wrong."""

    loc: list[str | int] = Field(description='Where: e.g. ["body", "started_at"].')
    msg: str = Field(description="What is wrong with it.")
    type: str = Field(description="A short machine-readable kind of error.")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(
        default="about:blank",
        description='A URI naming the kind of problem; "about:blank" means the status says it.',
    )
    title: str = Field(description='The status\'s short name, e.g. "Locked".')
    status: int = Field(description="The HTTP status code, repeated for convenience.")
    detail: str = Field(description="What went wrong, as a sentence a dispatcher can act on.")
    errors: list[ProblemField] | None = Field(
        default=None, description="422 only: each field that was not valid."
    )


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_body(status: int, detail: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    content: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        content["errors"] = errors
    return json.dumps(content, ensure_ascii=False).encode("utf-8")


def problem_response(
    status: int,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    errors: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content=json.loads(problem_body(status, detail, errors)),
        headers=headers,
        media_type=PROBLEM_MEDIA_TYPE,
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    fields = []
    for error in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in error.get("loc", ())]
        fields.append(
            {"loc": loc, "msg": str(error.get("msg", "invalid")), "type": str(error.get("type"))}
        )
    return fields


def _sentence(fields: list[dict[str, Any]]) -> str:
    parts = []
    for field in fields:
        where = ".".join(str(p) for p in field["loc"] if p != "body")
        parts.append(f"{where}: {field['msg']}" if where else field["msg"])
    return "The request is not valid: " + "; ".join(parts)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error answer of ``app`` a problem document."""

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _title(exc.status_code)
        headers = dict(exc.headers) if exc.headers else None
        return problem_response(exc.status_code, detail, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = _field_errors(exc)
        return problem_response(422, _sentence(fields), errors=fields)

    @app.exception_handler(Exception)
    async def _server_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500,
            "The district server failed on this request; it has been logged. Try again, "
            "and call the district if it keeps failing.",
        )


# Errors any operation can give: a body that is not JSON (400), too large (413), not
# valid (422).
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request body is not readable JSON."},
    413: {"model": Problem, "description": "The request body is larger than 64 KiB."},
    422: {"model": Problem, "description": "A field is missing, too long or not valid."},
}


def install_problem_openapi(app: FastAPI) -> None:
    """Describe every 4xx/5xx answer as ``application/problem+json`` in /openapi.json."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                for code, response in operation.get("responses", {}).items():
                    if str(code)[:1] not in ("4", "5"):
                        continue
                    content = response.get("content", {})
                    if "application/json" in content:
                        content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
