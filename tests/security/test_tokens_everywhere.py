"""Every endpoint refuses a missing, forged or expired token, and every approver-only one
refuses police: checked for each operation the server publishes, over raw HTTP.

The list of operations comes from the server's own OpenAPI description, so a route added
later is covered by the token checks at once (and needs a line here to be public).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from dispatch_console.district.auth import TOKEN_LIFETIME
from dispatch_console.district.db import Database
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from tests.clock import FakeClock
from tests.district.test_server import District
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(120)

# Open to anyone: signing in, and liveness.
PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),  # the refresh token is the credential
    ("GET", "/api/v1/health"),
    # A workstation's self-test before anyone signs in: gateway addresses and a probe
    # event stream, no school data (tests/district/test_audit_trail.py checks that).
    ("GET", "/api/v1/selftest"),
    ("GET", "/api/v1/events/probe"),
}
# District approvers only (the policy's may_approve).
APPROVER_ONLY = {
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users/{user_id}/unlock"),
    ("POST", "/api/v1/users/{user_id}/disable"),
    ("POST", "/api/v1/users/{user_id}/enable"),
    ("POST", "/api/v1/emergencies/{emergency_id}/end"),
    ("POST", "/api/v1/requests/{request_id}/approve"),
    ("POST", "/api/v1/requests/{request_id}/deny"),
    ("POST", "/api/v1/grants/{grant_id}/revoke"),
    ("POST", "/api/v1/schools/{school_id}/clear"),
    ("POST", "/api/v1/grants/{grant_id}/review"),
    ("GET", "/api/v1/grants/to-review"),
    ("POST", "/api/v1/grants/{grant_id}/extend"),
    ("POST", "/api/v1/agencies/{agency}/revoke"),
    ("GET", "/api/v1/audit/sessions.csv"),
    ("GET", "/api/v1/audit/findings"),
    ("GET", "/api/v1/audit/workstations"),
    ("GET", "/api/v1/audit/verify"),
    ("GET", "/api/v1/emergencies/{emergency_id}/report"),
}


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory, seeded_db: Path) -> Iterator[District]:
    path = tmp_path_factory.mktemp("tokens") / "district.db"
    shutil.copy(seeded_db, path)
    db = Database(path)
    clock = FakeClock()
    app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, clock=clock, allow_totp_reuse=True)
    with ThreadedServer(app) as server, httpx.Client(base_url=server.url, timeout=10) as http:
        yield District(server.url, clock, http, app)
    db.close()


def operations(district: District) -> list[tuple[str, str]]:
    spec = district.http.get("/openapi.json").json()
    found = [(m.upper(), p) for p, item in spec["paths"].items() for m in item]
    assert len(found) >= 20
    return found


def call(district: District, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    concrete = re.sub(r"\{[^}]+\}", "x-1", path)
    body = {} if method in ("POST", "PUT") else None
    return district.http.request(method, concrete, headers=headers, json=body)


def test_the_listed_public_and_approver_operations_still_exist(district: District) -> None:
    for method, path in PUBLIC | APPROVER_ONLY:
        assert (method, path) in operations(district), f"{method} {path} no longer exists"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer forged-token"}, {"Authorization": "Basic ZGlzcGF0Y2hlcg=="}],
    ids=["missing", "forged", "not-bearer"],
)
def test_every_operation_but_sign_in_refuses_without_a_valid_token(
    district: District, headers: dict[str, str]
) -> None:
    for method, path in operations(district):
        if (method, path) in PUBLIC:
            continue
        answer = call(district, method, path, headers)
        assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.headers.get("www-authenticate") == "Bearer", f"{method} {path}"


def test_every_approver_operation_refuses_police(district: District) -> None:
    police = district.login("dispatcher")
    for method, path in sorted(APPROVER_ONLY):
        answer = call(district, method, path, police)
        assert answer.status_code == 403, f"{method} {path}: {answer.status_code}"
        assert "approver" in answer.json()["detail"].lower()


def test_every_operation_refuses_an_expired_sign_in(district: District) -> None:
    district.tokens.clear()
    safety = district.login("safety")
    assert district.http.get("/api/v1/auth/me", headers=safety).status_code == 200
    district.clock.advance(seconds=TOKEN_LIFETIME.total_seconds() + 1)
    try:
        for method, path in operations(district):
            if (method, path) in PUBLIC:
                continue
            answer = call(district, method, path, safety)
            assert answer.status_code == 401, f"{method} {path}: {answer.status_code}"
    finally:
        district.clock.advance(seconds=-(TOKEN_LIFETIME.total_seconds() + 1))
        district.tokens.clear()
