"""Sign-in promises: lockout that holds under parallel guesses, one-time codes used once,
no hint about which names exist, a per-address limit, and a way back for the owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import httpx
import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.totp import totp
from tests.security.conftest import API, Stack, StackFactory

pytestmark = pytest.mark.timeout(60)

LOGIN = f"{API}/auth/login"


def wrong_password(district: Stack, username: str = "dispatcher") -> httpx.Response:
    return district.fresh_login(username, password="not-the-password")


def test_parallel_wrong_passwords_lock_the_account(make_stack: StackFactory) -> None:
    # A high per-address limit, so that every guess reaches the account's own counter.
    district = make_stack(sign_in_failures_per_address=1000)
    account = demo_account("dispatcher")
    body = {
        "username": "dispatcher",
        "password": "not-the-password",
        "otp": totp(account.totp_secret, district.clock().timestamp()),
    }

    def guess(_: int) -> int:
        with httpx.Client(base_url=district.url, timeout=30) as http:
            return http.post(LOGIN, json=body).status_code

    with ThreadPoolExecutor(max_workers=32) as pool:
        statuses = list(pool.map(guess, range(32)))

    # Exactly the first four failures are plain failures; the fifth locks, and every
    # guess after it, however parallel, meets the lock.
    assert statuses.count(401) == 4, statuses
    assert statuses.count(423) == 28, statuses
    assert district.fresh_login("dispatcher").status_code == 423


def test_a_totp_code_works_only_once(district: Stack) -> None:
    assert district.fresh_login("dispatcher").status_code == 200
    replayed = district.fresh_login("dispatcher")
    assert replayed.status_code == 401
    assert "Sign-in failed" in replayed.json()["detail"]
    # The code of the step before is refused too (RFC 6238 section 5.2: that step and any
    # earlier one), though it is still inside the drift window.
    account = demo_account("dispatcher")
    earlier = totp(account.totp_secret, district.clock().timestamp() - 30)
    answer = district.http.post(
        LOGIN, json={"username": "dispatcher", "password": account.password, "otp": earlier}
    )
    assert answer.status_code == 401
    # The next step's code is new, and works.
    district.clock.advance(seconds=30)
    assert district.fresh_login("dispatcher").status_code == 200


def test_unknown_and_real_names_get_the_same_lockout_answers(district: Stack) -> None:
    def five_failures(username: str) -> list[tuple[int, str]]:
        answers = []
        for _ in range(6):
            response = district.http.post(
                LOGIN, json={"username": username, "password": "guess", "otp": "000000"}
            )
            answers.append((response.status_code, response.json()["detail"]))
        return answers

    real = five_failures("supervisor")
    unknown = five_failures("nobody-by-this-name")
    assert [status for status, _ in real] == [401, 401, 401, 401, 423, 423]
    assert real == unknown


def test_failed_sign_ins_are_limited_per_address(make_stack: StackFactory) -> None:
    district = make_stack(sign_in_failures_per_address=6)
    # Guesses spread over several accounts, so no account locks before the address limit.
    for username in ("dispatcher", "supervisor", "facilities"):
        for _ in range(2):
            assert wrong_password(district, username).status_code == 401
    limited = wrong_password(district, "lincoln-admin")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins from this address" in limited.json()["detail"]
    # While limited, guesses no longer count against anyone's account, and even a right
    # password gets no answer about the account.
    for _ in range(5):
        assert wrong_password(district, "lincoln-admin").status_code == 429
    assert district.fresh_login("lincoln-admin").status_code == 429
    # The window passes: the address may try again, and the account was never locked.
    district.clock.advance(seconds=int(limited.headers["Retry-After"]) + 1)
    assert district.fresh_login("lincoln-admin").status_code == 200


def test_a_locked_account_owner_is_told_why(district: Stack) -> None:
    for _ in range(5):
        wrong_password(district)
    # The owner comes with the right password and code: the answer says what happened,
    # that it may not have been them, and who can unlock it.
    answer = district.fresh_login("dispatcher")
    assert answer.status_code == 423
    detail = answer.json()["detail"]
    until = (district.clock() + timedelta(minutes=15)).strftime("%Y-%m-%dT%H:%M")
    assert "locked after 5 failed sign-ins" in detail and until in detail
    assert "not yours" in detail and "safety office" in detail and "unlock" in detail


def test_an_approver_can_unlock_an_account(district: Stack) -> None:
    safety = district.login("safety")
    police = district.login("supervisor")
    for _ in range(5):
        wrong_password(district)
    assert district.fresh_login("dispatcher").status_code == 423
    accounts = {a["id"]: a for a in district.http.get(f"{API}/users", headers=safety).json()}
    assert accounts["user-dispatcher"]["locked_until"] is not None

    refused = district.http.post(f"{API}/users/user-dispatcher/unlock", headers=police)
    assert refused.status_code == 403
    assert district.http.get(f"{API}/users", headers=police).status_code == 403

    unlocked = district.http.post(f"{API}/users/user-dispatcher/unlock", headers=safety)
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until"] is None
    district.clock.advance(seconds=30)  # a new one-time code
    assert district.fresh_login("dispatcher").status_code == 200
    spec = district.http.get("/openapi.json").json()
    assert "post" in spec["paths"][f"{API}/users/{{user_id}}/unlock"]
