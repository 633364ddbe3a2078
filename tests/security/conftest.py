"""A real district server on loopback for the security promises, and a hostile client.

Each test gets its own SQLite copy of the seeded demo accounts, a clock it can move, and
a real stream gateway linked to it, pulling the session's camera simulator. Requests go
over real HTTP (httpx, or raw sockets where the point is bytes the client library would
not send).
"""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console.district.db import Database
from dispatch_console.district.launch import DistrictStack
from dispatch_console.district.seed import demo_account, seed_demo
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain.totp import totp
from tests.clock import FakeClock
from tests.district.test_server import API, District
from tests.gateway.harness import TEST_SECRET, ThreadedGateway
from tests.paths import SAMPLE_DISTRICT
from tests.postgres import HTTP_TESTS_ENGINE


@pytest.fixture(scope="session")
def seeded_security_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed once (scrypt is deliberately slow) and copy the file for every test."""
    path = tmp_path_factory.mktemp("security-seed") / "district.db"
    db = Database(path)
    seed_demo(db)
    db.close()
    return path


@dataclass
class Stack(District):
    """The test_server District helper, plus the database behind it."""

    db: Database | None = None

    def fresh_login(self, username: str, password: str | None = None) -> httpx.Response:
        """A sign-in with the code of the clock's current step (no caching)."""
        account = demo_account(username)
        return self.http.post(
            f"{API}/auth/login",
            json={
                "username": username,
                "password": account.password if password is None else password,
                "otp": totp(account.totp_secret, self.clock().timestamp()),
            },
        )


StackFactory = Callable[..., Stack]


@pytest.fixture
def make_stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    seeded_security_db: Path,
    district_stack: DistrictStack,
) -> Iterator[StackFactory]:
    """Start a server with ``create_app`` options of the test's choosing.

    Its database is a copy of the seeded SQLite file, or with
    ``DISTRICT_TEST_DATABASE=postgresql`` a copy on the throwaway PostgreSQL cluster.
    """
    with ExitStack() as cleanup:

        def database() -> str:
            if HTTP_TESTS_ENGINE == "postgresql":
                cluster = request.getfixturevalue("pg_cluster")
                template = request.getfixturevalue("pg_seeded")
                return str(cleanup.enter_context(cluster.database(template=template)))
            db_path = tmp_path / f"district-{len(list(tmp_path.glob('district-*.db')))}.db"
            shutil.copy(seeded_security_db, db_path)
            return str(db_path)

        def start(**options: Any) -> Stack:
            db = Database(database())
            cleanup.callback(db.close)
            clock = FakeClock()
            options.setdefault("camsim_url", district_stack.camsim_url)
            options.setdefault("gateway_secret", TEST_SECRET)
            app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, clock=clock, **options)
            server = cleanup.enter_context(ThreadedServer(app))
            gateway_url = ""
            if options["gateway_secret"] is not None:
                gateway_url = cleanup.enter_context(ThreadedGateway(server.url)).url
            http = cleanup.enter_context(httpx.Client(base_url=server.url, timeout=10))
            return Stack(server.url, clock, http, app, gateway_url=gateway_url, db=db)

        yield start


@pytest.fixture
def district(make_stack: StackFactory) -> Stack:
    return make_stack()


def send_json_text(http: httpx.Client, method: str, path: str, text: str, **kw: Any) -> Any:
    """Send JSON text exactly as written (e.g. with a lone surrogate escape in it)."""
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    return http.request(method, path, content=text.encode("ascii"), headers=headers, **kw)


def raw_http(
    url: str, request: bytes, body_chunks: Sequence[bytes] = (), timeout: float = 5
) -> bytes:
    """Send raw bytes on a fresh socket and return whatever the server answers."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        for chunk in body_chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server closed on us: expected once it refused
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not data:
                break
            answer += data
            if b"\r\n\r\n" in answer and _complete(answer):
                break
        return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def read_stream_until_closed(url: str, on_first_bytes: Callable[[], None], limit_s: float) -> float:
    """Open a gateway stream, call ``on_first_bytes`` once, and time how long it then lasts."""
    with httpx.stream("GET", url, timeout=20) as response:
        assert response.status_code == 200, response.read()
        chunks = response.iter_bytes()
        assert next(chunks)
        on_first_bytes()
        started = time.monotonic()
        try:
            for _ in chunks:
                if time.monotonic() - started > limit_s:
                    break
        except httpx.HTTPError:
            pass  # a cut stream may end mid-chunk
        return time.monotonic() - started
