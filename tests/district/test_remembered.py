"""Remembered sign-ins ("Keep me signed in") against the real district server, in raw
HTTP: rotation, reuse detection, the absolute limit, sign-out, and the account actions
that must end them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dispatch_console.district.db import Database
from dispatch_console.district.seed import DEMO_ACCOUNTS, demo_account, seed_demo
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain.totp import totp
from tests.clock import FakeClock
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(60)

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"


@dataclass
class Server:
    http: httpx.Client
    clock: FakeClock
    db_path: Path

    def login(self, username: str = "dispatcher", *, remember: bool = True) -> httpx.Response:
        # Each sign-in uses a fresh one-time code: the server refuses a used step.
        self.clock.advance(seconds=31)
        account = demo_account(username)
        return self.http.post(
            LOGIN,
            json={
                "username": username,
                "password": account.password,
                "otp": totp(account.totp_secret, self.clock().timestamp()),
                "remember": remember,
            },
        )

    def refresh(self, token: str) -> httpx.Response:
        return self.http.post(REFRESH, json={"refresh_token": token})

    def me(self, token: str) -> int:
        return self.http.get(ME, headers={"Authorization": f"Bearer {token}"}).status_code


def start(tmp_path: Path, **options: int) -> tuple[Database, FakeClock, ThreadedServer]:
    db_path = tmp_path / "district.db"
    db = Database(db_path)
    assert seed_demo(db) == [a.username for a in DEMO_ACCOUNTS]
    clock = FakeClock()
    app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, clock=clock, **options)
    return db, clock, ThreadedServer(app)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    db, clock, threaded = start(tmp_path, remember_days=7)
    with threaded as running, httpx.Client(base_url=running.url, timeout=5) as http:
        yield Server(http, clock, tmp_path / "district.db")
    db.close()


def _stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_remembered_sign_in_gets_a_refresh_token_only_when_asked(server: Server) -> None:
    plain = server.login(remember=False).json()
    assert plain["refresh_token"] is None and plain["refresh_expires_at"] is None
    body = server.login().json()
    assert isinstance(body["refresh_token"], str) and len(body["refresh_token"]) >= 40
    until = _stamp(body["refresh_expires_at"])
    assert abs(until - (server.clock() + timedelta(days=7))) < timedelta(seconds=1)


def test_refresh_rotates_and_the_refresh_token_is_stored_only_as_its_hash(
    server: Server,
) -> None:
    first = server.login().json()
    second = server.refresh(first["refresh_token"])
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["user"]["username"] == "dispatcher"
    assert body["refresh_token"] != first["refresh_token"]
    assert body["token"] != first["token"] and server.me(body["token"]) == 200
    # The limit is the first sign-in's, however often the sign-in is refreshed.
    assert body["refresh_expires_at"] == first["refresh_expires_at"]
    raw = server.db_path.read_bytes() + Path(f"{server.db_path}-wal").read_bytes()
    for token in (first["refresh_token"], body["refresh_token"]):
        assert token.encode() not in raw


def test_a_refresh_token_used_twice_ends_the_whole_remembered_sign_in(server: Server) -> None:
    stolen = server.login().json()["refresh_token"]
    legit = server.refresh(stolen).json()  # the real workstation refreshed first
    again = server.refresh(stolen)  # the copy is presented
    assert again.status_code == 401
    assert "used from two places" in again.json()["detail"]
    # Every sign-in the family made ends, and its newest refresh token too.
    assert server.me(legit["token"]) == 401
    assert server.refresh(legit["refresh_token"]).status_code == 401


def test_a_remembered_sign_in_ends_at_its_limit_and_sessions_never_outlive_it(
    server: Server,
) -> None:
    first = server.login().json()
    server.clock.advance(days=6, hours=20)
    late = server.refresh(first["refresh_token"]).json()
    # 4 hours left: the new session ends with the remembered sign-in, not 12 hours on.
    assert _stamp(late["expires_at"]) == _stamp(first["refresh_expires_at"])
    server.clock.advance(hours=5)
    expired = server.refresh(late["refresh_token"])
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]


def test_sign_out_ends_the_remembered_sign_in_unless_asked_to_keep_it(server: Server) -> None:
    kept = server.login().json()
    bye = server.http.post(
        "/api/v1/auth/logout",
        params={"keep_remembered": "true"},
        headers={"Authorization": f"Bearer {kept['token']}"},
    )
    assert bye.status_code == 204 and server.me(kept["token"]) == 401
    after_exit = server.refresh(kept["refresh_token"])
    assert after_exit.status_code == 200  # an exit at the end of a shift keeps it
    session = after_exit.json()
    signed_out = server.http.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {session['token']}"}
    )
    assert signed_out.status_code == 204
    gone = server.refresh(session["refresh_token"])
    assert gone.status_code == 401 and "not known" in gone.json()["detail"]


@pytest.mark.parametrize("action", ["disable", "unlock"])
def test_account_actions_that_end_sign_ins_end_remembered_ones(server: Server, action: str) -> None:
    remembered = server.login("dispatcher").json()["refresh_token"]
    safety = server.login("safety", remember=False).json()["token"]
    if action == "unlock":
        # Five failed sign-ins lock the account, which ends its sign-ins.
        for _ in range(5):
            server.http.post(
                LOGIN, json={"username": "dispatcher", "password": "wrong", "otp": "000000"}
            )
        refused = server.refresh(remembered)
        assert refused.status_code == 401
        # Unlocking does not bring the remembered sign-in back.
        server.http.post(
            "/api/v1/users/user-dispatcher/unlock", headers={"Authorization": f"Bearer {safety}"}
        )
    else:
        done = server.http.post(
            "/api/v1/users/user-dispatcher/disable", headers={"Authorization": f"Bearer {safety}"}
        )
        assert done.status_code == 200, done.text
    assert server.refresh(remembered).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"refresh_token": ""},
        {"refresh_token": 12345},
        {"refresh_token": "x" * 100_000},
        {"refresh_token": "\u0000abc"},
        {"refresh_token": ["a"]},
    ],
)
def test_hostile_refresh_bodies_get_a_problem_never_a_session(
    server: Server, body: dict[str, object]
) -> None:
    answer = server.http.post(REFRESH, json=body)
    assert answer.status_code in (401, 413, 422), answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert "token" not in answer.json() or answer.json().get("token") is None


def test_guessing_refresh_tokens_is_throttled_per_address(server: Server) -> None:
    answers = [server.refresh(f"guess-{n}").status_code for n in range(25)]
    assert answers[:20] == [401] * 20
    assert 429 in answers[20:]


def test_a_district_that_does_not_allow_remembering_hands_out_no_refresh_token(
    tmp_path: Path,
) -> None:
    db, clock, threaded = start(tmp_path, remember_days=0)
    with threaded as running, httpx.Client(base_url=running.url, timeout=5) as http:
        body = Server(http, clock, tmp_path / "district.db").login().json()
        assert body["token"] and body["refresh_token"] is None
    db.close()
    with pytest.raises(ValueError, match="0 \\(never\\) to 30 days"):
        create_app(db=Database(":memory:"), floorplans_dir=SAMPLE_DISTRICT, remember_days=31)
