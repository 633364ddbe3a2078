"""The district API, as the console sees it: typed calls, typed errors, no secrets in logs."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from dispatch_console import __version__
from dispatch_console.domain.audit_browser import SessionFilter
from dispatch_console.domain.emergency_location import location_fields
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Emergency,
    EmergencyLocation,
    EmergencyType,
    Grant,
    User,
)

from .codec import access_request_from_json, emergency_from_json, grant_from_json, user_from_json
from .errors import (
    AccessDenied,
    AuditNotRecorded,
    BadServerAnswer,
    ConsoleError,
    NotSignedIn,
    ServerUnreachable,
    SignInFailed,
)
from .sse import EventStreamError, EventStreamParser, ServerEvent

API = "/api/v1"
# The event stream sends a heartbeat every 15 s: silence this long means it is dead.
EVENTS_READ_TIMEOUT_S = 40.0
# Idle kept-alive connections are dropped after this, below common 5 s server timeouts.
IDLE_CONNECTION_S = 4.0


@dataclass(frozen=True)
class Declared:
    emergency: Emergency
    grant: Grant | None
    request_id: str | None


@dataclass(frozen=True)
class Decided:
    """A district approver's decision on an access request, and the grant it issued."""

    request: AccessRequest
    grant: Grant | None


@dataclass(frozen=True)
class StreamTicket:
    url: str
    expires_at: str

    def __repr__(self) -> str:  # the URL carries a one-time secret: keep it out of logs
        return f"StreamTicket(expires_at={self.expires_at!r})"


class AuditRejected(AuditNotRecorded):
    """The server refused a record for good (not a network problem); retrying won't help."""


class AuditStartMissing(AuditNotRecorded):
    """An end arrived before its start; deliver the start first and retry."""


class AuditRetryLater(AuditNotRecorded):
    """Not delivered, for a reason that passes (the server asked us to slow down)."""


class AuditUnexpectedAnswer(AuditRetryLater):
    """Not delivered: the answer is not the server's record of the session.

    Retried like any transient failure, but it also raises an alarm: something between the
    console and the district (a proxy, a captive portal, a wrong server) is answering in
    the server's place, and records would be lost if we believed it.
    """


# Answers that mean "the district read this record and refuses it": retrying cannot help.
_AUDIT_REFUSALS = frozenset({400, 403, 409, 413, 422})


class DistrictClient:
    """One signed-in connection to one district server."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float = 10.0,
        verify: ssl.SSLContext | bool = True,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``verify``: the TLS context from ``services.tls`` (OS store, CA bundle or pin).
        ``wall_clock``: this machine's clock (seconds since the epoch), for skew."""
        self.base_url = base_url.rstrip("/")
        self._token: str | None = None
        # A remembered sign-in's refresh token, when the user asked and the district
        # allowed it: for the keyring only, never logged.
        self._refresh_token: str | None = None
        self._wall_clock = wall_clock
        # The district's clock minus this machine's (seconds), from the last answer that
        # carried X-District-Time; None until one did. Event times are this machine's, so
        # a district reading them needs to know how far off it is.
        self.clock_skew_s: float | None = None
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            verify=verify,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            # An idle connection is dropped before a server or proxy with the common 5 s
            # keep-alive closes it, so no request goes out on a connection being closed.
            limits=httpx.Limits(keepalive_expiry=IDLE_CONNECTION_S),
            headers={"User-Agent": f"dispatch-console/{__version__}"},
        )

    @property
    def signed_in(self) -> bool:
        return self._token is not None

    @property
    def token(self) -> str | None:
        """The bearer token, for the keyring only: never log it."""
        return self._token

    @property
    def refresh_token(self) -> str | None:
        """The remembered sign-in's current refresh token (None: not remembered)."""
        return self._refresh_token

    def use_token(self, token: str) -> None:
        self._token = token

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(
        self, method: str, path: str, *, json: Any = None, params: Any = None, auth: bool = True
    ) -> tuple[int, Any]:
        response = await self._send(method, path, json=json, params=params, auth=auth)
        status = response.status_code
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
            if status < 500 and status != 401:
                raise BadServerAnswer(
                    f"{method} {path} answered HTTP {status} with something that is not JSON.",
                    "The server may be misconfigured or behind a captive proxy.",
                ) from None
        self._check_status(status, body, method, path, auth)
        return status, body

    def _check_status(self, status: int, body: Any, method: str, path: str, auth: bool) -> None:
        """A 401 ends the sign-in; a 5xx (or a proxy's error page) is an unreachable server."""
        if status == 401 and auth:
            self._token = None
            raise NotSignedIn("The district server ended this sign-in.", "Sign in again.")
        if status >= 500:
            # A proxy's HTML error page counts as the server being unreachable, too.
            raise ServerUnreachable(
                f"The district server failed on {method} {path} (HTTP {status}): {_detail(body)}"
            )

    async def _get_text(self, path: str, params: Any, media_type: str) -> str:
        """A GET whose answer is a document (CSV, HTML) rather than JSON.

        Anything but a 200 of ``media_type`` is refused: a proxy's login page saved as the
        district's CSV would look like an export and hold nothing.
        """
        response = await self._send("GET", path, params=params)
        status = response.status_code
        try:
            body = response.json() if status != 200 and response.content else None
        except ValueError:
            body = None
        self._check_status(status, body, "GET", path, True)
        if status in (403, 404, 422):
            raise ConsoleError(_detail(body))
        kind = response.headers.get("content-type", "")
        if status != 200 or not kind.startswith(media_type):
            raise BadServerAnswer(
                f"GET {path} answered HTTP {status} ({kind or 'no type'}) instead of {media_type}.",
                "The server may be older than this console, or behind a proxy.",
            )
        return response.text

    async def _send(
        self, method: str, path: str, *, json: Any = None, params: Any = None, auth: bool = True
    ) -> httpx.Response:
        """One request with the bearer token; transport failures become ServerUnreachable."""
        headers = {}
        if auth:
            if self._token is None:
                raise NotSignedIn("This console is not signed in to the district server.")
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            sent = self._wall_clock()
            response = await self._http.request(
                method, API + path, json=json, params=params, headers=headers
            )
            self._note_skew(response.headers.get("X-District-Time"), sent, self._wall_clock())
        except httpx.TimeoutException:
            raise ServerUnreachable(
                f"The district server at {self.base_url} did not answer in time.",
                "Check the network; the console keeps trying.",
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"Cannot reach the district server at {self.base_url} ({type(exc).__name__}).",
                "Check the network or the server address in the settings.",
            ) from None
        return response

    def _note_skew(self, district_time: str | None, sent: float, received: float) -> None:
        """skew = the district's time - the midpoint of sending and receiving.

        The midpoint assumes the way there and back take equally long; the error is at
        most half the round trip, which on a district network is far below the 2 s that
        matter here.
        """
        if not district_time:
            return
        try:
            stamp = datetime.fromisoformat(district_time.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return  # not the district's header (a proxy's?): measure nothing
        self.clock_skew_s = stamp - (sent + received) / 2

    async def events(self, last_event_id: int | None) -> AsyncIterator[ServerEvent]:
        """The live event stream, from after ``last_event_id`` (or from now).

        Yields a ``connected`` event once the server has accepted the stream, then the
        server's events. Ends, or raises ServerUnreachable, NotSignedIn or BadServerAnswer,
        when the stream does; the caller reconnects.
        """
        if self._token is None:
            raise NotSignedIn("This console is not signed in to the district server.")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "text/event-stream"}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        timeout = httpx.Timeout(10.0, read=EVENTS_READ_TIMEOUT_S)
        try:
            async with self._http.stream(
                "GET", f"{API}/events", headers=headers, timeout=timeout
            ) as response:
                status = response.status_code
                if status == 401:
                    self._token = None
                    raise NotSignedIn("The district server ended this sign-in.", "Sign in again.")
                kind = response.headers.get("content-type", "")
                if status != 200 or not kind.startswith("text/event-stream"):
                    raise BadServerAnswer(
                        f"The live event stream answered HTTP {status} ({kind or 'no type'}) "
                        "instead of events.",
                        "The server may be older than this console, or behind a proxy.",
                    )
                yield ServerEvent(None, "connected", {})
                parser = EventStreamParser()
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is not None:
                        yield event
        except EventStreamError as exc:
            raise BadServerAnswer(f"The live event stream is garbled: {exc}.") from None
        except httpx.TimeoutException:
            raise ServerUnreachable(
                f"The live event stream went silent (no heartbeat for {EVENTS_READ_TIMEOUT_S:g} s)."
            ) from None
        except httpx.TransportError as exc:
            raise ServerUnreachable(
                f"The live event stream from {self.base_url} broke ({type(exc).__name__})."
            ) from None

    async def login(
        self, username: str, password: str, otp: str, *, remember: bool = False
    ) -> User:
        """Sign in; with ``remember`` the district may also hand out a refresh token
        (``refresh_token`` is None afterwards when it did not: not asked, or not allowed)."""
        status, body = await self._call(
            "POST",
            "/auth/login",
            json={"username": username, "password": password, "otp": otp, "remember": remember},
            auth=False,
        )
        return self._signed_in(status, body)

    async def resume(self, refresh_token: str) -> User:
        """Go on with a remembered sign-in: a new session, and a new refresh token in
        place of the one given (which the district has now retired)."""
        status, body = await self._call(
            "POST", "/auth/refresh", json={"refresh_token": refresh_token}, auth=False
        )
        return self._signed_in(status, body)

    def _signed_in(self, status: int, body: Any) -> User:
        if status != 200:
            raise SignInFailed(_detail(body))
        if not isinstance(body, dict) or not isinstance(body.get("token"), str):
            raise BadServerAnswer("The sign-in answer carries no token.")
        refresh = body.get("refresh_token")
        if refresh is not None and not isinstance(refresh, str):
            raise BadServerAnswer("The sign-in answer's refresh token is not text.")
        user = user_from_json(body.get("user"))
        self._token = body["token"]
        self._refresh_token = refresh
        return user

    async def logout(self, *, keep_remembered: bool = False) -> None:
        """End this sign-in on the server, so its token, tickets and streams end with it.

        ``keep_remembered``: the remembered sign-in it belongs to goes on (an exit at the
        end of a shift); otherwise it ends too (signing out).
        """
        if self._token is None:
            return
        try:
            params = {"keep_remembered": "true"} if keep_remembered else None
            await self._call("POST", "/auth/logout", params=params)
        finally:
            self._token = None
            if not keep_remembered:
                self._refresh_token = None

    async def district_document(self) -> dict[str, Any]:
        status, body = await self._call("GET", "/district")
        _expect(status, body, 200, "GET /district")
        if not isinstance(body, dict):
            raise BadServerAnswer("The district registry is not a JSON object.")
        return body

    async def floor_background(self, floor_id: str, max_bytes: int) -> tuple[bytes, str]:
        """A floor's drawing and its content type, as the district serves it.

        A body past ``max_bytes`` (the plan checker's own limit) is refused.
        """
        path = f"/floors/{quote(floor_id, safe='')}/background"
        response = await self._send("GET", path)
        self._check_status(response.status_code, None, "GET", path, True)
        if response.status_code != 200:
            raise BadServerAnswer(f"GET {path} answered HTTP {response.status_code}.")
        if len(response.content) > max_bytes:
            raise BadServerAnswer(
                f"GET {path} sent {len(response.content)} bytes; at most {max_bytes}."
            )
        return response.content, response.headers.get("content-type", "")

    async def access(self) -> AccessContext:
        status, body = await self._call("GET", "/access")
        _expect(status, body, 200, "GET /access")
        if not isinstance(body, dict):
            raise BadServerAnswer("The access state is not a JSON object.")
        emergencies = tuple(emergency_from_json(e) for e in _list(body, "emergencies"))
        grants = tuple(grant_from_json(g) for g in _list(body, "grants"))
        # Pending requests came later to the API: a server without them has none to show.
        raw_requests = _list(body, "requests") if "requests" in body else []
        requests = tuple(access_request_from_json(r) for r in raw_requests)
        problems = tuple(
            (str(p["camera_id"]), str(p["reason"]))
            for p in (_list(body, "camera_problems") if "camera_problems" in body else [])
            if isinstance(p, dict) and "camera_id" in p and "reason" in p
        )
        return AccessContext(emergencies, grants, requests, problems)

    async def declare_emergency(
        self,
        school_id: str,
        kind: EmergencyType,
        threat_basis: str,
        agency: str | None = None,
        location: EmergencyLocation | None = None,
    ) -> Declared:
        """``agency``: a district declarer's choice of police agency (police: their own);
        ``location``: the spot on the plan it was declared at, if any."""
        declaration: dict[str, object] = {
            "school_id": school_id,
            "type": kind.value,
            "threat_basis": threat_basis,
        }
        if agency:
            declaration["agency"] = agency
        if location is not None:
            declaration["location"] = location_fields(location)
        status, body = await self._call("POST", "/emergencies", json=declaration)
        if status in (400, 403, 404, 409, 422):
            raise ConsoleError(_detail(body))
        _expect(status, body, 201, "POST /emergencies")
        grant = body.get("grant")
        request = body.get("request")
        return Declared(
            emergency_from_json(body.get("emergency")),
            grant_from_json(grant) if grant else None,
            str(request["id"]) if isinstance(request, dict) and "id" in request else None,
        )

    async def audit_start(
        self, record: dict[str, object], stream: str | None = None
    ) -> dict[str, Any]:
        """Deliver a session's start; returns the server's record of it.

        Only that record counts as delivered: a proxy's empty 200 or ``{"status":"ok"}``
        once made sessions vanish while the outbox believed them stored. With ``stream``
        the same answer carries the session's stream link (or why there is none): one
        round trip on the click path instead of two.
        """
        session_id = str(record["session_id"])
        status, body = await self._audit_call("start", session_id, record, stream)
        if status in (200, 201):
            return _audit_record(body, session_id, "start", need_end=False)
        if status in _AUDIT_REFUSALS:
            raise AuditRejected(f"The district refused the session start: {_detail(body)}")
        raise _unexpected_audit_answer("start", status)

    async def audit_end(self, record: dict[str, object]) -> dict[str, Any]:
        """Deliver a session's end; returns the server's record, which must carry the end."""
        session_id = str(record["session_id"])
        status, body = await self._audit_call("end", session_id, record)
        if status == 200:
            return _audit_record(body, session_id, "end", need_end=True)
        if status == 404:
            raise AuditStartMissing(
                f"The district has not received this session's start yet ({_detail(body)})."
            )
        if status in _AUDIT_REFUSALS:
            raise AuditRejected(f"The district refused the session end: {_detail(body)}")
        raise _unexpected_audit_answer("end", status)

    async def audit_heartbeat(self, record: dict[str, object]) -> dict[str, Any]:
        """Tell the district a session is still open; returns the server's record of it.

        A 404 means the district holds no start for it: the start goes again first, as
        for an end.
        """
        session_id = str(record["session_id"])
        status, body = await self._audit_call("heartbeat", session_id, record)
        if status == 200:
            return _audit_record(body, session_id, "heartbeat", need_end=False)
        if status == 404:
            raise AuditStartMissing(
                f"The district has no start for this session's heartbeat ({_detail(body)})."
            )
        if status in _AUDIT_REFUSALS:
            raise AuditRejected(f"The district refused the session heartbeat: {_detail(body)}")
        raise _unexpected_audit_answer("heartbeat", status)

    async def _audit_call(
        self, part: str, session_id: str, record: dict[str, object], stream: str | None = None
    ) -> tuple[int, Any]:
        path = f"/audit/sessions/{session_id}/{part}"
        params = {"stream": stream} if stream is not None else None
        try:
            status, body = await self._call("PUT", path, json=record, params=params)
        except BadServerAnswer as exc:  # HTML or other non-JSON below 500
            raise AuditUnexpectedAnswer(
                f"The session {part} got an answer that is not JSON ({exc.detail}); something "
                "between this console and the district server answered in its place."
            ) from None
        if status == 429:
            raise AuditRetryLater(
                f"The district asked this console to slow down (HTTP 429) on the session {part}."
            )
        return status, body

    async def stream_ticket(
        self, camera_id: str, session_id: str, stream: str = "sub"
    ) -> StreamTicket:
        """A link for the session's ``stream`` ("sub", or "main" for a large tile)."""
        status, body = await self._call(
            "POST",
            "/streams/tickets",
            json={"camera_id": camera_id, "session_id": session_id, "stream": stream},
        )
        if status in (403, 409):
            raise AccessDenied(_detail(body))
        _expect(status, body, 200, "POST /streams/tickets")
        if not isinstance(body, dict) or not isinstance(body.get("url"), str):
            raise BadServerAnswer("The stream ticket answer carries no URL.")
        return StreamTicket(body["url"], str(body.get("expires_at", "")))

    async def _district_action(self, path: str, json: Any = None) -> Any:
        """An approver's action (end, revoke...); refusals carry the server's reason."""
        status, body = await self._call("POST", path, json=json)
        if status in (403, 404, 409, 422):
            raise ConsoleError(_detail(body))
        _expect(status, body, 200, f"POST {path}")
        return body

    async def end_emergency(self, emergency_id: str) -> Emergency:
        body = await self._district_action(f"/emergencies/{emergency_id}/end")
        return emergency_from_json(body)

    async def revoke_grant(self, grant_id: str) -> Grant:
        body = await self._district_action(f"/grants/{grant_id}/revoke")
        return grant_from_json(body)

    async def extend_grant(self, grant_id: str, minutes: int) -> Grant:
        body = await self._district_action(f"/grants/{grant_id}/extend", {"minutes": minutes})
        return grant_from_json(body)

    async def request_extension(self, grant_id: str) -> Grant:
        """Police ask the district to extend their agency's grant; the grant is unchanged
        until an approver extends it (the district desks are told at once)."""
        path = f"/grants/{grant_id}/extension-request"
        status, body = await self._call("POST", path)
        if status in (403, 404, 409):
            raise ConsoleError(_detail(body))
        _expect(status, body, 202, f"POST {path}")
        return grant_from_json(body)

    async def approve_request(
        self,
        request_id: str,
        *,
        minutes: int | None = None,
        buildings: tuple[str, ...] = (),
        cameras: tuple[str, ...] = (),
    ) -> Decided:
        """Approve; with no scope the grant covers the whole school for the default time."""
        terms: dict[str, Any] = {"buildings": list(buildings), "cameras": list(cameras)}
        if minutes is not None:
            terms["minutes"] = minutes
        return _decided(await self._district_action(f"/requests/{request_id}/approve", terms))

    async def revoke_agency(self, agency: str) -> list[Grant]:
        """Revoke every grant of one agency in force; the grants revoked (none: it had none)."""
        body = await self._district_action(f"/agencies/{quote(agency, safe='')}/revoke")
        if not isinstance(body, list):
            raise BadServerAnswer("The revoked grants are not a JSON list.")
        return [grant_from_json(g) for g in body]

    async def grants_to_review(self) -> list[Grant]:
        """Break-glass grants the district has not reviewed yet, oldest first."""
        status, body = await self._call("GET", "/grants/to-review")
        if status == 403:
            raise AccessDenied(_detail(body))
        _expect(status, body, 200, "GET /grants/to-review")
        if not isinstance(body, list):
            raise BadServerAnswer("The grants to review are not a JSON list.")
        return [grant_from_json(g) for g in body]

    async def review_grant(self, grant_id: str, note: str) -> Grant:
        return grant_from_json(
            await self._district_action(f"/grants/{grant_id}/review", {"note": note})
        )

    async def deny_request(self, request_id: str, reason: str = "") -> Decided:
        return _decided(
            await self._district_action(f"/requests/{request_id}/deny", {"reason": reason})
        )

    async def audit_sessions(
        self,
        *,
        active: bool | None = None,
        limit: int = 200,
        where: SessionFilter | None = None,
    ) -> list[dict[str, Any]]:
        """Viewing sessions, newest first; ``where``: the audit browser's filters."""
        params: dict[str, Any] = {**(where.params() if where else {}), "limit": limit}
        if active is not None:
            params["active"] = "true" if active else "false"
        status, body = await self._call("GET", "/audit/sessions", params=params)
        if status == 422:
            raise ConsoleError(_detail(body))
        _expect(status, body, 200, "GET /audit/sessions")
        return _objects(body, "The audit trail")

    async def audit_sessions_csv(self, where: SessionFilter | None = None) -> str:
        """The filtered sessions as the district's CSV, exactly as it sent them."""
        return await self._get_text(
            "/audit/sessions.csv", where.params() if where else {}, "text/csv"
        )

    async def audit_timeline(self, session_id: str) -> list[dict[str, Any]]:
        """Everything the district holds about one session ({at, kind, seq, detail}), in order."""
        path = f"/audit/sessions/{session_id}/timeline"
        status, body = await self._call("GET", path)
        if status in (403, 404):
            raise ConsoleError(_detail(body))
        _expect(status, body, 200, f"GET {path}")
        return _objects(body, "The session timeline", ("at", "kind", "detail"))

    async def audit_findings(self, limit: int = 500) -> list[dict[str, Any]]:
        """Audit findings, the live ones (which clear by themselves) first."""
        status, body = await self._call("GET", "/audit/findings", params={"limit": limit})
        if status == 403:
            raise AccessDenied(_detail(body))
        _expect(status, body, 200, "GET /audit/findings")
        return _objects(body, "The audit findings", ("at", "kind", "subject", "detail", "live"))

    async def audit_workstations(self) -> list[dict[str, Any]]:
        """Per workstation: the last record heard, open and silent sessions."""
        status, body = await self._call("GET", "/audit/workstations")
        if status == 403:
            raise AccessDenied(_detail(body))
        _expect(status, body, 200, "GET /audit/workstations")
        return _objects(
            body, "The workstation list", ("workstation_id", "open_sessions", "overdue_sessions")
        )

    async def audit_verify(self) -> dict[str, Any]:
        """The district's check of its whole audit chain ({ok, head_hash, first_problem...})."""
        status, body = await self._call("GET", "/audit/verify")
        if status == 403:
            raise AccessDenied(_detail(body))
        _expect(status, body, 200, "GET /audit/verify")
        if not isinstance(body, dict) or not isinstance(body.get("ok"), bool):
            raise BadServerAnswer("The audit verification carries no verdict.")
        return body

    async def emergency_report(self, emergency_id: str) -> str:
        """The per-emergency report for the district's board, as HTML."""
        return await self._get_text(f"/emergencies/{emergency_id}/report", None, "text/html")

    async def accounts(self) -> list[User]:
        """Every account (district approvers only): the audit browser's user filter."""
        status, body = await self._call("GET", "/users")
        if status == 403:
            raise AccessDenied(_detail(body))
        _expect(status, body, 200, "GET /users")
        if not isinstance(body, list):
            raise BadServerAnswer("The account list is not a JSON list.")
        return [user_from_json(u) for u in body]


def _audit_record(body: Any, session_id: str, part: str, *, need_end: bool) -> dict[str, Any]:
    """The server's record of ``session_id``, or AuditUnexpectedAnswer if that is not it."""
    if not isinstance(body, dict) or body.get("session_id") != session_id:
        raise AuditUnexpectedAnswer(
            f"The answer to the session {part} is not the district's record of session "
            f"{session_id}; something between this console and the district server "
            "answered in its place."
        )
    if need_end and body.get("ended_at") is None:
        raise AuditUnexpectedAnswer(
            f"The district's record of session {session_id} does not carry its end."
        )
    return body


def stream_link_of(start_answer: dict[str, Any]) -> StreamTicket | None:
    """The stream link an audit start answer carries; AccessDenied with the server's
    reason when it refused one; None when the answer has neither (an older server, or a
    start delivered earlier without asking)."""
    refusal = start_answer.get("stream_refusal")
    if isinstance(refusal, str) and refusal:
        raise AccessDenied(refusal)
    link = start_answer.get("stream_link")
    if isinstance(link, dict) and isinstance(link.get("url"), str):
        return StreamTicket(link["url"], str(link.get("expires_at", "")))
    return None


def _unexpected_audit_answer(part: str, status: int) -> AuditUnexpectedAnswer:
    return AuditUnexpectedAnswer(
        f"The session {part} got HTTP {status}, which the district API never answers to it; "
        "something between this console and the district server answered in its place."
    )


def _decided(body: Any) -> Decided:
    if not isinstance(body, dict):
        raise BadServerAnswer("The decision on the access request is not a JSON object.")
    grant = body.get("grant")
    return Decided(
        access_request_from_json(body.get("request")), grant_from_json(grant) if grant else None
    )


def _detail(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("detail"), str):
        return str(body["detail"])
    if isinstance(body, dict) and isinstance(body.get("detail"), list):
        return "; ".join(str(d.get("msg", d)) for d in body["detail"] if isinstance(d, dict))
    return "no reason given"


def _expect(status: int, body: Any, wanted: int, what: str) -> None:
    if status != wanted:
        raise BadServerAnswer(f"{what} answered HTTP {status}: {_detail(body)}")


def _objects(body: Any, what: str, keys: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A JSON list of objects that each carry ``keys``; BadServerAnswer otherwise."""
    if not isinstance(body, list):
        raise BadServerAnswer(f"{what} is not a JSON list.")
    for item in body:
        if not isinstance(item, dict) or any(k not in item for k in keys):
            raise BadServerAnswer(f"{what} holds an entry without {', '.join(keys) or 'fields'}.")
    return body


def _list(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if not isinstance(value, list):
        raise BadServerAnswer(f'The answer has no list "{key}".')
    return value
