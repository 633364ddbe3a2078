"""Robustness promises, spoken as raw HTTP: malformed input is the client's error (4xx,
never a 500), bodies and fields have size limits enforced before parsing, ticket URLs do
not follow the Host header, and an acknowledged audit record is on disk."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from dispatch_console.district.db import Database
from dispatch_console.district.limits import MAX_BODY_BYTES
from tests.district.test_server import start_record
from tests.security.conftest import API, Stack, StackFactory, raw_http, send_json_text

pytestmark = pytest.mark.timeout(60)

SURROGATE = "\\ud800"  # as JSON text: a lone surrogate escape


def _start_text(district: Stack, who: dict[str, str], **raw: str) -> tuple[str, str]:
    """A start record as JSON text, with some values replaced by raw JSON snippets."""
    me = district.http.get(f"{API}/auth/me", headers=who).json()
    record: dict[str, Any] = start_record(me, "lhs-cam-02", district.clock())
    text = json.dumps(record)
    for key, snippet in raw.items():
        text = text.replace(f'"{key}": {json.dumps(record[key])}', f'"{key}": {snippet}')
    return record["session_id"], text


def _assert_client_error(answer: Any, what: str) -> None:
    assert 400 <= answer.status_code < 500, f"{what}: {answer.status_code} {answer.text}"
    assert answer.headers["content-type"] == "application/problem+json", what
    assert "Traceback" not in answer.text, what


@pytest.mark.parametrize(
    "when",
    [
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00Z",
    ],
)
def test_extreme_timestamps_are_client_errors(district: Stack, when: str) -> None:
    police = district.login("dispatcher")
    session_id, text = _start_text(district, police, started_at=json.dumps(when))
    answer = send_json_text(
        district.http, "PUT", f"{API}/audit/sessions/{session_id}/start", text, headers=police
    )
    _assert_client_error(answer, when)
    # The same for an end, once a real start is stored.
    assert district.start_session(police, "lhs-cam-02").status_code == 201
    session = district.http.get(f"{API}/audit/sessions", headers=police).json()[0]
    end = {"session_id": session["session_id"], "ended_at": when, "duration_ms": None}
    end["end_reason"] = "closed_by_user"
    url = f"{API}/audit/sessions/{session['session_id']}/end"
    _assert_client_error(district.http.put(url, headers=police, json=end), when)


def test_huge_durations_are_client_errors(district: Stack) -> None:
    police = district.login("dispatcher")
    started = district.start_session(police, "lhs-cam-02").json()
    text = json.dumps(
        {
            "session_id": started["session_id"],
            "ended_at": started["client_started_at"],
            "duration_ms": 10**30,
            "end_reason": "closed_by_user",
        }
    )
    url = f"{API}/audit/sessions/{started['session_id']}/end"
    _assert_client_error(send_json_text(district.http, "PUT", url, text, headers=police), "10^30")


def test_lone_surrogates_are_client_errors(district: Stack) -> None:
    police = district.login("dispatcher")
    login = f'{{"username": "dispatcher{SURROGATE}", "password": "x", "otp": "123456"}}'
    _assert_client_error(send_json_text(district.http, "POST", f"{API}/auth/login", login), "login")
    declare = (
        '{"school_id": "lincoln-hs", "type": "active_threat", '
        f'"threat_basis": "a man with a gun {SURROGATE}"}}'
    )
    answer = send_json_text(district.http, "POST", f"{API}/emergencies", declare, headers=police)
    _assert_client_error(answer, "threat basis")
    ticket = f'{{"camera_id": "lhs-cam-02", "session_id": "{SURROGATE}"}}'
    answer = send_json_text(district.http, "POST", f"{API}/streams/tickets", ticket, headers=police)
    _assert_client_error(answer, "ticket session id")
    session_id, text = _start_text(district, police, camera_name=f'"Hall {SURROGATE}"')
    url = f"{API}/audit/sessions/{session_id}/start"
    _assert_client_error(send_json_text(district.http, "PUT", url, text, headers=police), "camera")


def test_every_text_field_has_a_maximum_length(district: Stack) -> None:
    spec = district.http.get("/openapi.json").json()
    request_models = set()
    for path_item in spec["paths"].values():
        for operation in path_item.values():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:  # a model, or an optional one (anyOf the model and null)
                for variant in body["schema"].get("anyOf", [body["schema"]]):
                    if "$ref" in variant:
                        request_models.add(variant["$ref"].rsplit("/", 1)[1])
            for parameter in operation.get("parameters", []):
                schema = parameter["schema"]
                if schema.get("type") == "string" and "enum" not in schema:
                    assert "maxLength" in schema, (operation["summary"], parameter["name"])
    assert {
        "LoginIn", "DeclareIn", "AuditStartIn", "AuditEndIn", "TicketIn", "ApproveIn", "ReviewIn"
    } <= request_models  # fmt: skip
    for name in request_models:
        for field, schema in spec["components"]["schemas"][name]["properties"].items():
            variants = schema.get("anyOf", [schema])
            for variant in variants:
                if variant.get("type") == "array":
                    assert "maxItems" in variant, f"{name}.{field} has no maximum size"
                    variant = variant["items"]
                if variant.get("type") == "string" and "enum" not in variant:
                    assert "maxLength" in variant, f"{name}.{field} has no maximum length"
    # And the server holds to it: a 3,000-character threat basis or a 60,000-character
    # session id is refused, not stored.
    police = district.login("dispatcher")
    long_basis = {"school_id": "lincoln-hs", "type": "lockdown", "threat_basis": "x" * 3000}
    answer = district.http.post(f"{API}/emergencies", headers=police, json=long_basis)
    _assert_client_error(answer, "threat basis")
    long_id = "s" * 60_000
    answer = district.http.post(
        f"{API}/streams/tickets",
        headers=police,
        json={"camera_id": "lhs-cam-02", "session_id": long_id},
    )
    _assert_client_error(answer, "session id")


def test_a_declared_oversized_body_is_refused_before_it_is_read(district: Stack) -> None:
    declared = 50 * 1024 * 1024
    head = (
        f"POST {API}/auth/login HTTP/1.1\r\nHost: district\r\nContent-Type: application/json\r\n"
        f"Content-Length: {declared}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    answer = raw_http(district.url, head + b'{"username": "', timeout=5)
    # Answered at once, without waiting for (or reading) the 50 MB.
    assert time.monotonic() - started < 2
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"application/problem+json" in answer


def test_an_oversized_chunked_body_is_refused_while_it_streams(district: Stack) -> None:
    head = (
        f"POST {API}/auth/login HTTP/1.1\r\nHost: district\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()

    def chunk(piece: bytes) -> bytes:
        return f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    # 4 MiB offered in chunks with no Content-Length; the server must stop at 64 KiB.
    pieces = [chunk(b'{"username": "')] + [chunk(b"x" * 16384)] * 256
    answer = raw_http(district.url, head, pieces, timeout=5)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert str(MAX_BODY_BYTES).encode() in answer


def test_a_body_within_the_limit_is_still_read(district: Stack) -> None:
    head = (
        f"POST {API}/auth/login HTTP/1.1\r\nHost: district\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    body = b'{"username": "nobody", "password": "x", "otp": "000000"}'
    chunk = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    answer = raw_http(district.url, head + chunk)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]


def test_an_odd_stream_name_is_a_client_error(district: Stack) -> None:
    police = district.login("dispatcher")
    for stream in (f'"{SURROGATE}"', '"mainx"', "7", '"' + "m" * 5000 + '"'):
        body = f'{{"camera_id": "lhs-cam-02", "session_id": "s", "stream": {stream}}}'
        answer = send_json_text(
            district.http, "POST", f"{API}/streams/tickets", body, headers=police
        )
        _assert_client_error(answer, f"stream {stream[:20]}")


def test_stream_links_point_at_a_linked_gateway_never_the_host_header(
    make_stack: StackFactory,
) -> None:
    district = make_stack()
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    session = district.start_session(police, "lhs-cam-02").json()
    body = {"camera_id": "lhs-cam-02", "session_id": session["session_id"]}
    forged = {**police, "Host": "evil.example:9999"}
    answer = district.http.post(f"{API}/streams/tickets", headers=forged, json=body)
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith(f"{district.gateway_url}/streams/"), url
    assert "evil.example" not in url


def test_only_a_gateway_holding_the_secret_can_link(district: Stack) -> None:
    """A link would learn the cameras' sources and could announce itself as the place
    consoles are sent to: without the key it gets nothing."""
    for headers in ({}, {"Authorization": "Bearer " + "0" * 64}):
        answer = district.http.get(
            f"{API}/gateway/events",
            params={"public_url": "http://evil.example:1"},
            headers=headers,
        )
        assert answer.status_code == 401, answer.text
        check = district.http.post(
            f"{API}/gateway/check", json={"session_ids": []}, headers=headers
        )
        assert check.status_code == 401


def test_a_server_without_a_gateway_secret_issues_no_stream_links(
    make_stack: StackFactory,
) -> None:
    district = make_stack(gateway_secret=None)
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    session = district.start_session(police, "lhs-cam-02").json()
    answer = district.ticket(police, "lhs-cam-02", session["session_id"])
    assert answer.status_code == 503 and "relays no video" in answer.json()["detail"]


def test_the_audit_store_acknowledges_only_durable_writes(district: Stack) -> None:
    assert district.db is not None
    assert district.db.synchronous() == 2  # FULL: fsync before an acknowledgement
    fresh = Database(":memory:")
    try:
        assert fresh.synchronous() == 2
    finally:
        fresh.close()
