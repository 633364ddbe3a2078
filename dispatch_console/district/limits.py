"""Input limits of the district API: request size, text fields, client timestamps.

The server is the security boundary, and it meets careless and hostile clients. Every
request body is capped before it is parsed, every text field has a maximum length and
must be valid Unicode text, and every time a client sends is checked before it is stored:
a zone-aware ISO 8601 time, normalised to UTC with milliseconds, not in the future beyond
a small clock skew. A malformed input is the client's error (4xx), never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import HTTPException, Request
from pydantic import AfterValidator, StringConstraints
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch_console.domain.session import utc_ms

# Large enough for any record the console sends (a start is about 1 KiB), small enough that
# a flood of big bodies cannot exhaust the server's memory.
MAX_BODY_BYTES = 64 * 1024

ID_MAX = 128
NAME_MAX = 200
THREAT_BASIS_MAX = 2000
SECRET_MAX = 1024
OTP_MAX = 16
TIME_MAX = 64

# Workstation clocks are NTP-synchronised; beyond this a client time "in the future" is
# wrong, not drift.
CLOCK_SKEW = timedelta(minutes=2)


def _unicode_text(value: str) -> str:
    """Refuse lone surrogates: they are not text, and SQLite cannot store them."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (it holds a lone surrogate)") from None
    return value


Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=ID_MAX),
    AfterValidator(_unicode_text),
]
Name = Annotated[str, StringConstraints(max_length=NAME_MAX), AfterValidator(_unicode_text)]
ThreatBasis = Annotated[
    str, StringConstraints(max_length=THREAT_BASIS_MAX), AfterValidator(_unicode_text)
]
Secret = Annotated[str, StringConstraints(max_length=SECRET_MAX), AfterValidator(_unicode_text)]
Otp = Annotated[str, StringConstraints(max_length=OTP_MAX), AfterValidator(_unicode_text)]
Timestamp = Annotated[
    str, StringConstraints(min_length=1, max_length=TIME_MAX), AfterValidator(_unicode_text)
]


class BadTime(ValueError):
    """A client time the server will not store; the message says what to send instead."""


def parse_client_time(text: str, field: str, now: datetime) -> datetime:
    """A client's time as an aware UTC datetime at millisecond precision, or BadTime.

    Needs a date, a time and a zone (``2026-03-02T14:30:00.123Z`` or ``+01:00``); a date
    alone or a time without zone is ambiguous in an audit record. Times more than
    CLOCK_SKEW ahead of the server are refused: they would sort above every real record.
    """
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadTime(
            f"{field} is not an ISO 8601 time; send e.g. 2026-03-02T14:30:00.123Z."
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise BadTime(
            f"{field} has no time zone; send UTC with a Z (e.g. 2026-03-02T14:30:00.123Z)."
        )
    try:
        utc = moment.astimezone(UTC)
        normalised = datetime.fromisoformat(utc_ms(utc).replace("Z", "+00:00"))
    except (OverflowError, ValueError):
        raise BadTime(f"{field} is outside the range of times the district records.") from None
    if normalised > now + CLOCK_SKEW:
        raise BadTime(
            f"{field} ({utc_ms(normalised)}) is in the future by the district's clock "
            f"({utc_ms(now)}); check this workstation's clock."
        )
    return normalised


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int = MAX_BODY_BYTES) -> None:
        super().__init__(
            413,
            f"The request body is larger than the district accepts ({limit} bytes).",
            headers={"Connection": "close"},
        )


# A gateway's lists (relays, open sessions, camera states): up to 10,000 entries each.
MAX_GATEWAY_BODY_BYTES = 8 * 1024 * 1024


class BodyLimit:
    """ASGI middleware: refuse bodies over ``max_bytes`` before anything parses them.

    A declared Content-Length over the limit is refused before a byte of the body is read.
    A body without one (chunked) is counted as it arrives and refused as soon as it passes
    the limit, so the server never holds more than the limit plus one chunk.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        larger: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths whose bodies are lists a gateway sends (10,000 relays or session ids).
        self.larger = larger or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.larger.get(scope.get("path", ""), self.max_bytes)
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > max_bytes:
                await _send_problem(send, _BodyTooLarge(max_bytes))
                return
        received = 0
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge(max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge as exc:
            if response_started:
                raise
            await _send_problem(send, exc)


async def _send_problem(send: Send, exc: HTTPException) -> None:
    # Imported here: problems.py builds on this module's limits.
    from .problems import problem_body

    body = problem_body(exc.status_code, str(exc.detail))
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    headers += [(k.lower().encode(), v.encode()) for k, v in (exc.headers or {}).items()]
    await send({"type": "http.response.start", "status": exc.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def known_query_only(request: Request) -> None:
    """Refuse a query parameter the operation does not take (422), naming it.

    Ignoring it would let a misspelt filter (``?scool_id=``) return the whole unfiltered
    trail as if filtered; an audit browser must not show that as an answer.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known: set[str] = set()
    pending = [dependant]
    while pending:
        node = pending.pop()
        known.update(param.alias for param in node.query_params)
        pending.extend(node.dependencies)
    unknown = sorted({key for key in request.query_params if key not in known})
    if unknown:
        takes = ", ".join(sorted(known)) or "no query parameters"
        raise HTTPException(
            422,
            f"Unknown query parameter {unknown[0]!r}; this operation takes {takes}.",
        )
