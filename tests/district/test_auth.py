"""Sign-in against the real district server: password + TOTP, lockout, token lifetime."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from dispatch_console.district.auth import (
    SIGN_IN_FAILED,
    hash_password,
    token_hash,
    verify_password,
)
from dispatch_console.district.db import Database
from dispatch_console.district.seed import DEMO_ACCOUNTS, demo_account, seed_demo
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain.totp import totp
from tests.clock import FakeClock
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(30)

LOGIN = "/api/v1/auth/login"


@dataclass
class Server:
    http: httpx.Client
    clock: FakeClock
    db_path: Path

    def login(
        self, username: str = "dispatcher", password: str | None = None, otp: str | None = None
    ) -> httpx.Response:
        account = demo_account(username)
        return self.http.post(
            LOGIN,
            json={
                "username": username,
                "password": account.password if password is None else password,
                "otp": totp(account.totp_secret, self.clock().timestamp()) if otp is None else otp,
            },
        )


@pytest.fixture(scope="module")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seed") / "district.db"
    db = Database(path)
    assert seed_demo(db) == [a.username for a in DEMO_ACCOUNTS]
    assert seed_demo(db) == []  # idempotent
    db.close()
    return path


@pytest.fixture
def server(tmp_path: Path, seeded_db: Path) -> Iterator[Server]:
    db_path = tmp_path / "district.db"
    shutil.copy(seeded_db, db_path)
    db = Database(db_path)
    clock = FakeClock()
    app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, clock=clock)
    with ThreadedServer(app) as running, httpx.Client(base_url=running.url, timeout=5) as http:
        yield Server(http, clock, db_path)
    db.close()


def test_sign_in_returns_token_and_user(server: Server) -> None:
    response = server.login("dispatcher")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {
        "id": "user-dispatcher",
        "username": "dispatcher",
        "display_name": "Dana Reyes",
        "agency": "Riverside Police Department",
        "role": "police_dispatcher",
        "schools": [],
    }
    expires = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert abs(expires - (server.clock() + timedelta(hours=12))) < timedelta(seconds=1)
    me = server.http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.json()["username"] == "dispatcher"
    admin = server.login("lincoln-admin").json()["user"]
    assert admin["schools"] == ["lincoln-hs"] and admin["role"] == "school_admin"


def test_token_is_stored_only_as_its_hash(server: Server) -> None:
    token = server.login().json()["token"]
    raw = server.db_path.read_bytes() + Path(f"{server.db_path}-wal").read_bytes()
    assert token.encode() not in raw
    assert token_hash(token).encode() in raw


def test_wrong_password_code_or_user_all_get_the_same_answer(server: Server) -> None:
    at = server.clock().timestamp()
    valid = {totp(demo_account("dispatcher").totp_secret, at + step) for step in (-30, 0, 30)}
    wrong_code = next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
    answers = [
        server.login(password="wrong"),
        server.login(otp=wrong_code),
        server.http.post(LOGIN, json={"username": "nobody", "password": "x", "otp": "123456"}),
    ]
    for response in answers:
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json() == {
            "type": "about:blank",
            "title": "Unauthorized",
            "status": 401,
            "detail": SIGN_IN_FAILED,
        }


def test_five_failures_lock_the_account_for_fifteen_minutes(server: Server) -> None:
    for _ in range(4):
        assert server.login(password="guess").status_code == 401
    fifth = server.login(password="guess")
    assert fifth.status_code == 423
    # Even the right password is refused while locked, and the answer says until when.
    locked = server.login()
    assert locked.status_code == 423
    until = (server.clock() + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M")
    assert "locked" in locked.json()["detail"] and until in locked.json()["detail"]
    # Other accounts are unaffected.
    assert server.login("safety").status_code == 200

    server.clock.advance(minutes=14)
    assert server.login().status_code == 423
    server.clock.advance(minutes=2)
    assert server.login().status_code == 200


def test_success_resets_the_failure_count(server: Server) -> None:
    for _ in range(4):
        assert server.login(password="guess").status_code == 401
    assert server.login().status_code == 200
    for _ in range(4):
        assert server.login(password="guess").status_code == 401


def test_tokens_expire_after_twelve_hours(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.login().json()['token']}"}
    assert server.http.get("/api/v1/access", headers=headers).status_code == 200
    server.clock.advance(hours=12, seconds=1)
    expired = server.http.get("/api/v1/access", headers=headers)
    assert expired.status_code == 401
    assert "sign in again" in expired.json()["detail"]


def test_sign_out_ends_the_token(server: Server) -> None:
    headers = {"Authorization": f"Bearer {server.login().json()['token']}"}
    assert server.http.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert server.http.get("/api/v1/access", headers=headers).status_code == 401


def test_password_hashes_are_salted_per_user() -> None:
    first, salt1 = hash_password("same password")
    second, salt2 = hash_password("same password")
    assert salt1 != salt2 and first != second
    assert verify_password("same password", first, salt1)
    assert not verify_password("other password", first, salt1)
