"""The reference district server over real HTTP: emergencies, grants, audit, stream links.

Each test runs the real FastAPI app under uvicorn on a loopback socket, with its own SQLite
file and a clock the test can move, and a real stream gateway linked to it, pulling the
session's camera simulator.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dispatch_console.district.db import Database
from dispatch_console.district.launch import DistrictStack
from dispatch_console.district.seed import demo_account
from dispatch_console.district.serve import READY_PREFIX, ThreadedServer
from dispatch_console.district.server import app_context, create_app
from dispatch_console.domain.session import utc_ms, uuid7
from dispatch_console.domain.totp import totp
from dispatch_console.floorplan.loader import load_district
from tests.clock import FakeClock
from tests.gateway.harness import TEST_SECRET, ThreadedGateway
from tests.paths import SAMPLE_DISTRICT

REGISTRY = load_district(SAMPLE_DISTRICT)

# The first test here may start the session's district stack (simulator, server, gateway).
pytestmark = pytest.mark.timeout(90)

API = "/api/v1"


@dataclass
class District:
    url: str
    clock: FakeClock
    http: httpx.Client
    app: FastAPI
    tokens: dict[str, dict[str, str]] = field(default_factory=dict)
    gateway_url: str = ""

    def login(self, username: str) -> dict[str, str]:
        """Sign in once per user (a one-time code signs in only once), then reuse it."""
        if username in self.tokens:
            return self.tokens[username]
        account = demo_account(username)
        response = self.http.post(
            f"{API}/auth/login",
            json={
                "username": username,
                "password": account.password,
                "otp": totp(account.totp_secret, self.clock().timestamp()),
            },
        )
        assert response.status_code == 200, response.text
        self.tokens[username] = {"Authorization": f"Bearer {response.json()['token']}"}
        return self.tokens[username]

    def declare(self, who: dict[str, str], kind: str, school: str = "lincoln-hs") -> Any:
        response = self.http.post(
            f"{API}/emergencies",
            headers=who,
            json={
                "school_id": school,
                "type": kind,
                "threat_basis": "Caller reports a man with a gun",
            },
        )
        assert response.status_code == 201, response.text
        return response.json()

    def start_session(self, who: dict[str, str], camera_id: str, **overrides: Any) -> Any:
        me = self.http.get(f"{API}/auth/me", headers=who).json()
        record = start_record(me, camera_id, self.clock())
        record.update(overrides)
        return self.http.put(
            f"{API}/audit/sessions/{record['session_id']}/start", headers=who, json=record
        )

    def ticket(self, who: dict[str, str], camera_id: str, session_id: str) -> httpx.Response:
        return self.http.post(
            f"{API}/streams/tickets",
            headers=who,
            json={"camera_id": camera_id, "session_id": session_id},
        )


def start_record(user: dict[str, Any], camera_id: str, now: datetime) -> dict[str, Any]:
    """A start as the console makes it: a UUIDv7 id from its own start time."""
    camera = REGISTRY.camera(camera_id)
    school = REGISTRY.school(camera.school_id)
    return {
        "session_id": str(uuid7(int(now.timestamp() * 1000))),
        "user_id": user["id"],
        "user_name": user["display_name"],
        "agency": user["agency"],
        "role": user["role"],
        "workstation_id": "ws-test",
        "app_version": "0.1.0",
        "camera_id": camera_id,
        "camera_name": camera.name,
        "school_id": school.id,
        "school_name": school.name,
        "building_id": camera.building_id,
        "building_name": school.building(camera.building_id).name,
        "floor_id": camera.floor_id,
        "floor_name": school.floor(camera.floor_id).name,
        "emergency_id": None,
        "grant_id": None,
        "threat_basis": "Caller reports a man with a gun",
        "started_at": utc_ms(now),
    }


@pytest.fixture
def district(district_database: str, district_stack: DistrictStack) -> Iterator[District]:
    db = Database(district_database)
    clock = FakeClock()
    app = create_app(
        db=db,
        floorplans_dir=SAMPLE_DISTRICT,
        camsim_url=district_stack.camsim_url,
        gateway_secret=TEST_SECRET,
        clock=clock,
    )
    assert app_context(app).clock is clock
    with (
        ThreadedServer(app) as server,
        ThreadedGateway(server.url) as gateway,
        httpx.Client(base_url=server.url, timeout=5) as http,
    ):
        yield District(server.url, clock, http, app, gateway_url=gateway.url)
    db.close()


def test_health_and_openapi_describe_every_route(district: District) -> None:
    health = district.http.get(f"{API}/health").json()
    assert health["status"] == "ok" and health["version"]
    spec = district.http.get("/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
    assert f"{API}/streams/tickets" in spec["paths"]


def test_everything_but_login_needs_a_token(district: District) -> None:
    response = district.http.get(f"{API}/access")
    assert response.status_code == 401
    assert "sign in" in response.json()["detail"].lower()
    bad = district.http.get(f"{API}/access", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_district_document_is_served(district: District) -> None:
    doc = district.http.get(f"{API}/district", headers=district.login("dispatcher")).json()
    assert doc["id"] == "riverside-usd"
    assert {s["id"] for s in doc["schools"]} == {"lincoln-hs", "jefferson-es"}


def test_active_threat_issues_a_break_glass_grant(district: District) -> None:
    police = district.login("dispatcher")
    declared = district.declare(police, "active_threat")
    grant = declared["grant"]
    assert declared["request"] is None
    assert grant["agency"] == "Riverside Police Department"
    assert grant["break_glass"] is True and grant["needs_review"] is True
    assert grant["approved_by"] == "break-glass policy"
    assert grant["granted_at"].endswith("Z") and len(grant["granted_at"]) == 24
    access = district.http.get(f"{API}/access", headers=police).json()
    assert [g["id"] for g in access["grants"]] == [grant["id"]]
    assert [e["id"] for e in access["emergencies"]] == [declared["emergency"]["id"]]
    assert set(access["emergencies"][0]) >= {
        "id",
        "school_id",
        "type",
        "threat_basis",
        "declared_by",
        "declared_at",
        "ended_at",
    }

    # The grant is time-boxed: 61 minutes later nothing is in force.
    district.clock.advance(minutes=61)
    assert district.http.get(f"{API}/access", headers=police).json()["grants"] == []


def test_threat_basis_is_required(district: District) -> None:
    response = district.http.post(
        f"{API}/emergencies",
        headers=district.login("dispatcher"),
        json={"school_id": "lincoln-hs", "type": "lockdown", "threat_basis": "   "},
    )
    assert response.status_code == 422
    assert "threat basis" in response.json()["detail"]
    unknown = district.http.post(
        f"{API}/emergencies",
        headers=district.login("dispatcher"),
        json={"school_id": "nowhere", "type": "lockdown", "threat_basis": "x"},
    )
    assert unknown.status_code == 404


def test_lockdown_waits_for_a_district_approver(district: District) -> None:
    police = district.login("dispatcher")
    safety = district.login("safety")
    declared = district.declare(police, "lockdown")
    assert declared["grant"] is None
    request = declared["request"]
    assert request["status"] == "pending" and request["agency"] == "Riverside Police Department"
    assert district.http.get(f"{API}/access", headers=police).json()["grants"] == []

    session = district.start_session(police, "lhs-cam-02").json()
    refused = district.ticket(police, "lhs-cam-02", session["session_id"])
    assert refused.status_code == 403
    assert "not granted" in refused.json()["detail"]

    # Police may not approve their own request.
    own = district.http.post(f"{API}/requests/{request['id']}/approve", headers=police)
    assert own.status_code == 403

    approved = district.http.post(f"{API}/requests/{request['id']}/approve", headers=safety)
    assert approved.status_code == 200, approved.text
    grant = approved.json()["grant"]
    assert grant["approved_by"] == "Sam Ortiz" and grant["break_glass"] is False
    again = district.http.post(f"{API}/requests/{request['id']}/deny", headers=safety)
    assert again.status_code == 409

    assert district.ticket(police, "lhs-cam-02", session["session_id"]).status_code == 200

    # Ending the emergency ends its grant too.
    ended = district.http.post(
        f"{API}/emergencies/{declared['emergency']['id']}/end", headers=safety
    )
    assert ended.status_code == 200 and ended.json()["ended_at"]
    access = district.http.get(f"{API}/access", headers=police).json()
    assert access == {
        "emergencies": [],
        "grants": [],
        "requests": [],
        "holds": [],
        "camera_problems": [],
    }
    assert district.ticket(police, "lhs-cam-02", session["session_id"]).status_code == 403


def test_police_never_get_a_classroom_camera(district: District) -> None:
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    session = district.start_session(police, "lhs-cam-07").json()
    refused = district.ticket(police, "lhs-cam-07", session["session_id"])
    assert refused.status_code == 403
    assert "classroom" in refused.json()["detail"]
    assert "private room" in refused.json()["detail"]


def test_no_audit_record_no_video(district: District) -> None:
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    refused = district.ticket(police, "lhs-cam-02", str(uuid.uuid4()))
    assert refused.status_code == 409
    assert "No audit record, no video" in refused.json()["detail"]
    # A session recorded for another camera does not open this one either.
    other = district.start_session(police, "lhs-cam-01").json()
    assert district.ticket(police, "lhs-cam-02", other["session_id"]).status_code == 409


def test_no_emergency_no_video(district: District) -> None:
    police = district.login("dispatcher")
    session = district.start_session(police, "lhs-cam-02").json()
    refused = district.ticket(police, "lhs-cam-02", session["session_id"])
    assert refused.status_code == 403
    assert "no emergency" in refused.json()["detail"]
    # The district's safety officer has standing (audited) access.
    safety = district.login("safety")
    own = district.start_session(safety, "lhs-cam-07").json()
    assert district.ticket(safety, "lhs-cam-07", own["session_id"]).status_code == 200


def test_audit_start_and_end_are_idempotent(district: District) -> None:
    police = district.login("dispatcher")
    me = district.http.get(f"{API}/auth/me", headers=police).json()
    started = district.clock()
    record = start_record(me, "lhs-cam-02", started)
    url = f"{API}/audit/sessions/{record['session_id']}"
    end = {
        "session_id": record["session_id"],
        "ended_at": utc_ms(started + timedelta(minutes=5)),
        "duration_ms": 300000,
        "end_reason": "closed_by_user",
    }

    early_end = {**end, "ended_at": utc_ms(started), "duration_ms": 0}
    early = district.http.put(f"{url}/end", headers=police, json=early_end)
    assert early.status_code == 404
    assert "no recorded start" in early.json()["detail"]

    assert district.http.put(f"{url}/start", headers=police, json=record).status_code == 201
    # A replay later on still answers 200 with the stored record, though the server's own
    # receive time would differ by now: replays are judged on what the client sent.
    district.clock.advance(seconds=3)
    replayed = district.http.put(f"{url}/start", headers=police, json=record)
    assert replayed.status_code == 200
    assert replayed.json()["started_at"] == utc_ms(started)
    changed = {**record, "camera_id": "lhs-cam-03"}
    conflict = district.http.put(f"{url}/start", headers=police, json=changed)
    assert conflict.status_code == 409

    someone_else = {**record, "session_id": str(uuid7()), "user_id": "user-safety"}
    forged = district.http.put(
        f"{API}/audit/sessions/{someone_else['session_id']}/start",
        headers=police,
        json=someone_else,
    )
    assert forged.status_code == 403

    active = district.http.get(f"{API}/audit/sessions?active=true", headers=police).json()
    assert [s["session_id"] for s in active] == [record["session_id"]]

    district.clock.advance(minutes=6)
    first = district.http.put(f"{url}/end", headers=police, json=end)
    assert first.status_code == 200 and first.json()["end_reason"] == "closed_by_user"
    later = {
        **end,
        "ended_at": utc_ms(started + timedelta(minutes=6)),
        "duration_ms": 360000,
        "end_reason": "application_exit",
    }
    replay = district.http.put(f"{url}/end", headers=police, json=later)
    assert replay.status_code == 200
    assert replay.json()["end_reason"] == "closed_by_user"
    assert replay.json()["ended_at"] == utc_ms(started + timedelta(minutes=5))

    listed = district.http.get(f"{API}/audit/sessions?active=false", headers=police).json()
    assert len(listed) == 1
    stored = listed[0]
    for key in ("session_id", "user_id", "workstation_id", "camera_id", "school_id"):
        assert stored[key] == record[key], key
    assert stored["client_started_at"] == record["started_at"]
    assert stored["duration_ms"] == 300000 and stored["start_received_at"].endswith("Z")
    # The approver sees everyone's sessions; another officer sees only their own.
    assert (
        len(district.http.get(f"{API}/audit/sessions", headers=district.login("safety")).json())
        == 1
    )
    assert (
        district.http.get(f"{API}/audit/sessions", headers=district.login("supervisor")).json()
        == []
    )


def _open_stream(district: District, police: dict[str, str], camera_id: str) -> str:
    session = district.start_session(police, camera_id).json()
    response = district.ticket(police, camera_id, session["session_id"])
    assert response.status_code == 200, response.text
    url: str = response.json()["url"]
    assert url.startswith(f"{district.gateway_url}/streams/{camera_id}/sub.ts?token=")
    return url


def test_a_stream_link_opens_its_own_camera_one_stream_at_a_time(district: District) -> None:
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    url = _open_stream(district, police, "lhs-cam-02")

    with httpx.stream("GET", url, timeout=20) as first:
        assert first.status_code == 200
        assert first.headers["content-type"] == "video/mp2t"
        chunks = first.iter_bytes()
        assert next(chunks).startswith(b"\x47")  # MPEG-TS
        # The same link opens again (libVLC's second attempt, a reconnect) and replaces
        # the first stream: one viewing session is one stream at a time.
        with httpx.stream("GET", url, timeout=20) as second:
            assert second.status_code == 200
            assert next(second.iter_bytes())
            ended_at = time.monotonic()
            for _ in chunks:
                assert time.monotonic() - ended_at < 3, "the replaced stream goes on"

    # A link is for its own camera only.
    other = url.replace("/lhs-cam-02/", "/lhs-cam-01/")
    refused = httpx.get(other, timeout=5)
    assert refused.status_code == 403 and "another camera" in refused.json()["detail"]
    # (Its expiry after a minute is tested in tests/domain/test_stream_tokens.py.)


def test_revoking_the_grant_closes_an_open_stream(district: District) -> None:
    police = district.login("dispatcher")
    grant = district.declare(police, "active_threat")["grant"]
    url = _open_stream(district, police, "lhs-cam-04")
    safety = district.login("safety")

    with httpx.stream("GET", url, timeout=20) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        assert next(chunks)
        revoked = district.http.post(f"{API}/grants/{grant['id']}/revoke", headers=safety)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        revoked_at = time.monotonic()
        for _ in chunks:
            assert time.monotonic() - revoked_at < 3, "stream still open after revocation"
        closed_after = time.monotonic() - revoked_at
    assert closed_after < 1.0
    # And the link cannot open it again.
    again = httpx.get(url, timeout=5)
    assert again.status_code == 403


def test_serve_main_prints_its_url_once(tmp_path: Path) -> None:
    code = (
        "import sys; from dispatch_console.district.serve import main; "
        "raise SystemExit(main(sys.argv[1:]))"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--db", str(tmp_path / "d.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.startswith(f"{READY_PREFIX}=http://127.0.0.1:"), line
        url = line.strip().split("=", 1)[1]
        assert httpx.get(f"{url}{API}/health", timeout=5).json()["status"] == "ok"
    finally:
        child.terminate()
        child.wait(10)
    assert child.stdout.read() == ""  # exactly one line on stdout


def test_serve_main_refuses_broken_floor_plans(tmp_path: Path) -> None:
    from dispatch_console.district.serve import main

    broken = tmp_path / "plans"
    broken.mkdir()
    (broken / "district.json").write_text('{"id": "x", "name": "X", "schools": ["gone.json"]}')
    assert main(["--db", str(tmp_path / "d.db"), "--floorplans", str(broken)]) == 2


def test_launch_starts_the_server_as_a_child_and_reports_failures(tmp_path: Path) -> None:
    from dispatch_console.district.launch import start_process, stop_process

    args = ["district", "serve", "--port", "0", "--db", str(tmp_path / "d.db"), "--seed-demo"]
    child, url = start_process(args, READY_PREFIX, timeout=20)
    try:
        assert httpx.get(f"{url}{API}/health", timeout=5).status_code == 200
    finally:
        stop_process(child)
    assert child.poll() is not None

    with pytest.raises(RuntimeError, match="exited with code 2") as failure:
        start_process(["district", "serve", "--port", "0"], READY_PREFIX, timeout=20)
    assert "--db" in str(failure.value)  # the child's stderr tail explains why


def test_a_start_asking_for_its_stream_gets_the_link_in_the_same_answer(
    district: District,
) -> None:
    """One round trip on the click path: the start is stored, then the link is signed;
    a refused link never undoes the stored start."""
    police = district.login("dispatcher")
    me = district.http.get(f"{API}/auth/me", headers=police).json()

    locked = start_record(me, "lhs-cam-02", district.clock())
    answer = district.http.put(
        f"{API}/audit/sessions/{locked['session_id']}/start?stream=sub", headers=police, json=locked
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["stream_link"] is None
    assert "no emergency" in answer.json()["stream_refusal"]
    assert answer.json()["session_id"] == locked["session_id"]  # recorded all the same

    district.declare(police, "active_threat")
    record = start_record(me, "lhs-cam-04", district.clock())
    answer = district.http.put(
        f"{API}/audit/sessions/{record['session_id']}/start?stream=sub", headers=police, json=record
    )
    assert answer.status_code == 201, answer.text
    link = answer.json()["stream_link"]
    assert link["url"].startswith(f"{district.gateway_url}/streams/lhs-cam-04/sub.ts?token=")
    assert answer.json()["stream_refusal"] is None
    with httpx.stream("GET", link["url"], timeout=20) as stream:
        assert stream.status_code == 200
    # Without ?stream= the answer is the record alone, as before.
    plain = district.http.put(
        f"{API}/audit/sessions/{record['session_id']}/start", headers=police, json=record
    )
    assert plain.status_code == 200 and plain.json()["stream_link"] is None
