"""The district client turns garbled or failing answers into typed errors, never leaking secrets.

A small stand-in HTTP server (the standard library's, on loopback) plays a broken district
server; sign-in is also checked against the real one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import AccessContext, EmergencyType
from dispatch_console.domain.totp import totp
from dispatch_console.services.district_client import DistrictClient, StreamTicket
from dispatch_console.services.errors import (
    BadServerAnswer,
    ConsoleError,
    ServerUnreachable,
    SignInFailed,
)
from tests.conftest import DistrictStack

TOKEN = "tok-SECRET-5f0c1e9a7b3d4c2e"  # must never show up in an error


@dataclass
class Answer:
    status: int
    body: bytes
    delay_s: float = 0.0
    content_type: str = "application/json"


@dataclass
class StandIn:
    url: str
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)
    authorizations: list[str | None] = field(default_factory=list)

    def answer(self, method: str, path: str, status: int, body: Any, **kw: Any) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.answers[(method, "/api/v1" + path)] = Answer(status, raw, **kw)


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A broken district server: each route answers what the test told it to."""
    state = StandIn(url="")

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            state.authorizations.append(self.headers.get("Authorization"))
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            answer = state.answers.get((self.command, path), Answer(404, b'{"detail": "no"}'))
            if answer.delay_s:
                time.sleep(answer.delay_s)
            try:
                self.send_response(answer.status)
                self.send_header("Content-Type", answer.content_type)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except OSError:
                pass  # the client gave up waiting (the timeout case)

        do_GET = do_POST = do_PUT = _reply

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def failure(
    standin: StandIn,
    call: Callable[[DistrictClient], Awaitable[object]],
    *,
    timeout_s: float = 5.0,
) -> ConsoleError:
    """Run one call with a signed-in client against the stand-in; return what it raised."""

    async def run() -> ConsoleError:
        client = DistrictClient(standin.url, timeout_s=timeout_s)
        client.use_token(TOKEN)
        try:
            await call(client)
        except ConsoleError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("the call succeeded on a garbled answer")

    error = asyncio.run(run())
    # The token went to the server (so it was there to leak) and into no part of the error.
    assert f"Bearer {TOKEN}" in standin.authorizations
    printed = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), error.detail, error.hint, printed):
        assert TOKEN not in text
    return error


def test_a_non_json_answer_is_a_bad_answer_naming_the_endpoint(standin: StandIn) -> None:
    standin.answer(
        "GET", "/district", 200, b"<html>Welcome to the hotel wifi</html>", content_type="text/html"
    )
    error = failure(standin, lambda c: c.district_document())
    assert isinstance(error, BadServerAnswer)
    assert "GET /district" in str(error)
    assert "HTTP 200" in str(error)
    assert "not JSON" in str(error)


def test_json_missing_fields_is_a_bad_answer_naming_the_field(standin: StandIn) -> None:
    standin.answer("GET", "/access", 200, {"grants": []})
    error = failure(standin, lambda c: c.access())
    assert isinstance(error, BadServerAnswer)
    assert 'no list "emergencies"' in str(error)

    standin.answer(
        "GET", "/access", 200, {"emergencies": [{"id": "em-1", "type": "lockdown"}], "grants": []}
    )
    error = failure(standin, lambda c: c.access())
    assert isinstance(error, BadServerAnswer)
    assert 'An emergency record has no text field "school_id"' in str(error)

    standin.answer("POST", "/streams/tickets", 200, {"expires_at": "2026-01-01T00:00:00.000Z"})
    error = failure(standin, lambda c: c.stream_ticket("jes-cam-01", "session-1"))
    assert isinstance(error, BadServerAnswer)
    assert "stream ticket" in str(error) and "no URL" in str(error)

    standin.answer("POST", "/emergencies", 201, {"emergency": {"id": "em-2"}, "grant": None})
    error = failure(
        standin,
        lambda c: c.declare_emergency("jefferson-es", EmergencyType.LOCKDOWN, "test basis"),
    )
    assert isinstance(error, BadServerAnswer)
    assert "emergency record" in str(error)


def test_pending_requests_are_parsed_and_a_garbled_one_is_named(standin: StandIn) -> None:
    request = {
        "id": "rq-1",
        "emergency_id": "em-1",
        "school_id": "jefferson-es",
        "agency": "Riverside PD",
        "requested_by": "Dana Reyes",
        "requested_at": "2026-11-23T12:00:00.000Z",
        "status": "pending",
    }

    async def access() -> AccessContext:
        client = DistrictClient(standin.url, timeout_s=5)
        client.use_token(TOKEN)
        try:
            return await client.access()
        finally:
            await client.aclose()

    standin.answer("GET", "/access", 200, {"emergencies": [], "grants": [], "requests": [request]})
    [parsed] = asyncio.run(access()).requests
    assert (parsed.id, parsed.emergency_id, parsed.status) == ("rq-1", "em-1", "pending")
    assert parsed.requested_at.isoformat() == "2026-11-23T12:00:00+00:00"
    # An older server without the list simply has no requests to show.
    standin.answer("GET", "/access", 200, {"emergencies": [], "grants": []})
    assert asyncio.run(access()).requests == ()

    garbled = {**request, "requested_at": "yesterday-ish"}
    standin.answer("GET", "/access", 200, {"emergencies": [], "grants": [], "requests": [garbled]})
    error = failure(standin, lambda c: c.access())
    assert isinstance(error, BadServerAnswer)
    assert 'An access request record has a bad time in "requested_at"' in str(error)


def test_a_wrong_status_is_a_bad_answer_naming_the_endpoint(standin: StandIn) -> None:
    standin.answer("GET", "/audit/sessions", 418, {"detail": "I'm a teapot"})
    error = failure(standin, lambda c: c.audit_sessions())
    assert isinstance(error, BadServerAnswer)
    assert "GET /audit/sessions answered HTTP 418: I'm a teapot" in str(error)


def test_a_server_error_is_unreachable_naming_the_endpoint(standin: StandIn) -> None:
    standin.answer("GET", "/access", 500, {"detail": "database is locked"})
    error = failure(standin, lambda c: c.access())
    assert isinstance(error, ServerUnreachable)
    assert "GET /access" in str(error)
    assert "HTTP 500" in str(error)
    assert "database is locked" in str(error)


def test_a_slow_answer_beyond_the_timeout_is_unreachable(standin: StandIn) -> None:
    standin.answer("GET", "/access", 200, {"emergencies": [], "grants": []}, delay_s=1.5)
    started = time.monotonic()
    error = failure(standin, lambda c: c.access(), timeout_s=0.5)
    assert time.monotonic() - started < 1.4  # gave up at the timeout, not at the answer
    assert isinstance(error, ServerUnreachable)
    assert "did not answer in time" in str(error)
    assert standin.url in str(error)


def test_a_sign_in_answer_without_a_token_is_a_bad_answer(standin: StandIn) -> None:
    standin.answer("POST", "/auth/login", 200, {"user": {"id": "u"}})

    async def run() -> ConsoleError:
        client = DistrictClient(standin.url, timeout_s=2)
        try:
            await client.login("dispatcher", "pw-SECRET-123", "123456")
        except ConsoleError as exc:
            return exc
        finally:
            await client.aclose()
        raise AssertionError("signed in without a token")

    error = asyncio.run(run())
    assert isinstance(error, BadServerAnswer)
    assert "no token" in str(error)
    assert "pw-SECRET-123" not in str(error)


def test_a_wrong_password_against_the_real_server_is_sign_in_failed(
    district_stack: DistrictStack,
) -> None:
    # One failure on an account no other test signs in with: far from the lockout.
    account = demo_account("facilities")
    wrong = "not-" + account.password

    async def run() -> tuple[SignInFailed, bool]:
        client = DistrictClient(district_stack.server_url, timeout_s=5)
        try:
            with pytest.raises(SignInFailed) as caught:
                await client.login(account.username, wrong, totp(account.totp_secret, time.time()))
            return caught.value, client.signed_in
        finally:
            await client.aclose()

    error, signed_in = asyncio.run(run())
    assert not signed_in
    assert "wrong user name, password or one-time code" in str(error)
    assert wrong not in str(error)


def test_a_stream_ticket_keeps_its_secret_out_of_repr() -> None:
    secret = "Zk9xR2bS3cR3t-t1ck3t"
    ticket = StreamTicket(
        f"http://127.0.0.1:8000/gateway/jes-cam-01.ts?ticket={secret}", "2026-03-02T14:30:30.000Z"
    )
    for text in (repr(ticket), str(ticket), f"{ticket}", f"{ticket!r}", repr([ticket])):
        assert secret not in text
        assert "2026-03-02T14:30:30.000Z" in text
    assert ticket.url.endswith(secret)  # still usable by the player


def test_an_audit_csv_that_is_a_portal_page_is_a_bad_answer_not_an_export(
    standin: StandIn,
) -> None:
    standin.answer(
        "GET",
        "/audit/sessions.csv",
        200,
        b"<html>Sign in to the wifi</html>",
        content_type="text/html",
    )
    error = failure(standin, lambda c: c.audit_sessions_csv())
    assert isinstance(error, BadServerAnswer)
    assert "GET /audit/sessions.csv answered HTTP 200 (text/html) instead of text/csv" in str(error)


def test_an_unknown_emergency_report_says_the_servers_reason(standin: StandIn) -> None:
    standin.answer(
        "GET", "/emergencies/em-1/report", 404, {"detail": "There is no emergency em-1."}
    )
    error = failure(standin, lambda c: c.emergency_report("em-1"))
    assert type(error) is ConsoleError
    assert error.detail == "There is no emergency em-1."
    standin.answer(
        "GET",
        "/emergencies/em-2/report",
        502,
        b"<html>Bad gateway</html>",
        content_type="text/html",
    )
    assert isinstance(failure(standin, lambda c: c.emergency_report("em-2")), ServerUnreachable)


def test_garbled_findings_timelines_workstations_and_verdicts_are_bad_answers(
    standin: StandIn,
) -> None:
    standin.answer("GET", "/audit/findings", 200, [{"kind": "chain_gap"}])
    standin.answer("GET", "/audit/sessions/s1/timeline", 200, {"at": "now"})
    standin.answer("GET", "/audit/workstations", 200, ["ws-1"])
    standin.answer("GET", "/audit/verify", 200, {"ok": "yes"})
    calls: list[Callable[[DistrictClient], Awaitable[object]]] = [
        lambda c: c.audit_findings(),
        lambda c: c.audit_timeline("s1"),
        lambda c: c.audit_workstations(),
        lambda c: c.audit_verify(),
    ]
    for call in calls:
        assert isinstance(failure(standin, call), BadServerAnswer)


def test_the_audit_csv_is_returned_exactly_as_the_server_sent_it(standin: StandIn) -> None:
    body = 'session_id,camera_id\r\ns1,"Cafétéria, ""north"""\r\n'.encode()
    standin.answer("GET", "/audit/sessions.csv", 200, body, content_type="text/csv; charset=utf-8")

    async def run() -> str:
        client = DistrictClient(standin.url)
        client.use_token(TOKEN)
        try:
            return await client.audit_sessions_csv()
        finally:
            await client.aclose()

    assert asyncio.run(run()) == body.decode()
