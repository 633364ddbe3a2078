"""Provisioning from the command line, as the district's IT runs it, against a live server.

The command writes to the server's database file while the server runs; the tests then
sign in, or watch a stream, over raw HTTP as any client would.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from dispatch_console.district import storage
from dispatch_console.domain.totp import totp
from tests.district.test_server import API, District, _open_stream, district  # noqa: F401

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct-horse-battery-9"


def user_command(db: Path | str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dispatch_console", "district", "user", "--db", str(db),
         "--actor", "it:jordan", *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def enrolled_secret(output: str) -> str:
    uri = next(w for w in output.split() if w.startswith("otpauth://"))
    parts = urlsplit(uri)
    assert parts.netloc == "totp" and "Dispatch%20Console:" in parts.path
    query = parse_qs(parts.query)
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    return query["secret"][0]


def sign_in(d: District, username: str, secret: str, password: str = PASSWORD) -> httpx.Response:
    return d.http.post(
        f"{API}/auth/login",
        json={"username": username, "password": password,
              "otp": totp(secret, datetime.now(UTC).timestamp())},
    )  # fmt: skip


def db_file(d: District) -> str:
    """The server's database as ``--db`` takes it: the SQLite file, or the PostgreSQL URL."""
    target = str(d.app.state.ctx.db.path)
    assert storage.is_postgres(target) or Path(target).is_file()
    return target


def test_an_added_account_signs_in_with_its_enrolled_code(district: District) -> None:  # noqa: F811
    db = db_file(district)
    added = user_command(
        db, "add", "officer.kim", "--name", "Alex Kim", "--role", "police_dispatcher",
        "--agency", "Riverside Police Department", "--password-stdin", "--qr",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "██" in added.stdout  # the QR code, for a phone to scan
    secret = enrolled_secret(added.stdout)
    answer = sign_in(district, "officer.kim", secret)
    assert answer.status_code == 200, answer.text
    assert answer.json()["user"]["role"] == "police_dispatcher"
    again = user_command(
        db, "add", "officer.kim", "--name", "X", "--role", "police_dispatcher",
        "--agency", "Y", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert again.returncode == 1 and "already exists" in again.stderr


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--role", "school_admin"], "needs at least one --school"),
        (["--role", "police_dispatcher", "--school", "lincoln-hs"], "Only school administrators"),
    ],
)
def test_roles_and_schools_must_agree(district: District, extra: list[str], says: str) -> None:  # noqa: F811
    answer = user_command(
        db_file(district), "add", "someone", "--name", "S", "--agency", "Riverside USD",
        "--password-stdin", *extra, stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert answer.returncode == 1 and says in answer.stderr


def test_a_short_password_is_refused(district: District) -> None:  # noqa: F811
    answer = user_command(
        db_file(district), "add", "short", "--name", "S", "--role", "facilities",
        "--agency", "Riverside USD", "--password-stdin", stdin="tooshort\n",
    )  # fmt: skip
    assert answer.returncode == 1 and "at least 12 characters" in answer.stderr


def test_disabling_a_user_cuts_their_stream_and_is_logged(district: District) -> None:  # noqa: F811
    police = district.login("dispatcher")
    district.declare(police, "active_threat")
    url = _open_stream(district, police, "lhs-cam-05")
    with httpx.stream("GET", url, timeout=20) as response:
        assert response.status_code == 200
        chunks = response.iter_bytes()
        assert next(chunks)
        disabled = user_command(db_file(district), "disable", "dispatcher")
        assert disabled.returncode == 0, disabled.stderr
        cut_at = time.monotonic()
        for _ in chunks:
            assert time.monotonic() - cut_at < 5, "the stream went on after disabling"
    assert district.http.get(f"{API}/auth/me", headers=police).status_code == 401
    listed = json.loads(user_command(db_file(district), "list", "--json").stdout)
    assert {"username": "dispatcher", "state": "disabled"}.items() <= next(
        u for u in listed if u["username"] == "dispatcher"
    ).items()
    logged = json.loads(user_command(db_file(district), "log", "--json").stdout)
    assert logged[0]["action"] == "user.disable" and logged[0]["actor"] == "it:jordan"
    assert logged[0]["subject"] == "dispatcher"


def test_reset_totp_ends_the_old_code_and_its_sign_ins(district: District) -> None:  # noqa: F811
    db = db_file(district)
    added = user_command(
        db, "add", "sup.lee", "--name", "Pat Lee", "--role", "police_supervisor",
        "--agency", "Riverside Police Department", "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    old = enrolled_secret(added.stdout)
    token = sign_in(district, "sup.lee", old).json()["token"]
    reset = user_command(db, "reset-totp", "sup.lee")
    assert reset.returncode == 0, reset.stderr
    new = enrolled_secret(reset.stdout)
    assert new != old
    me = district.http.get(f"{API}/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert sign_in(district, "sup.lee", new).status_code == 200
    actions = [a["action"] for a in json.loads(user_command(db, "log", "--json").stdout)]
    assert actions[:2] == ["user.reset_totp", "user.add"]


def test_unknown_accounts_and_databases_get_a_clear_message(
    district: District,  # noqa: F811
    tmp_path: Path,
) -> None:
    missing = user_command(db_file(district), "unlock", "nobody")
    assert missing.returncode == 1 and "no account 'nobody'" in missing.stderr
    nowhere = user_command(tmp_path / "none.db", "list")
    assert nowhere.returncode == 2 and "no database" in nowhere.stderr
