"""Shared fixtures: isolation from the developer's machine, the district stack, a qasync loop.

The district server and the camera simulator run once per test session as real child
processes on free loopback ports, exactly as the demo runs them. Tests that declare
emergencies share that server, so each test uses its own school or filters by the ids it
created.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import keyring
import pytest
import qasync
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError
from PySide6.QtWidgets import QApplication

from dispatch_console.district.db import Database
from dispatch_console.district.launch import DistrictStack, start_district_stack
from dispatch_console.district.seed import demo_account, seed_demo
from dispatch_console.domain.totp import totp
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.ui.gc_guard import GarbageCollectionGuard
from tests.paths import SAMPLE_DISTRICT
from tests.postgres import HTTP_TESTS_ENGINE, Cluster, start_cluster

T = TypeVar("T")


class MemoryKeyring(KeyringBackend):
    """The real keyring API over a dict, so tests never touch the developer's keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)


@pytest.fixture(autouse=True)
def isolated_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    backend = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(backend)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    for key in list(os.environ):
        if key.startswith("DISPATCH_"):
            monkeypatch.delenv(key)
    # Never this machine's /etc/dispatch-console, user settings or log folder.
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg-state"))
    monkeypatch.setenv("DISPATCH_SYSTEM_CONFIG", str(tmp_path / "etc" / "config.toml"))
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture(scope="session")
def district_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistrictStack]:
    """Camera simulator, district server and stream gateway, as the demo runs them."""
    data = tmp_path_factory.mktemp("district")
    stack = start_district_stack(
        data,
        SAMPLE_DISTRICT,
        # Many tests sign the same demo account in within one 30 s TOTP step.
        server_args=["--insecure-allow-totp-reuse"],
    )
    try:
        yield stack
    finally:
        stack.stop()


class LoopRunner:
    """Runs coroutines on a qasync loop, so Qt events and asyncio tasks both progress."""

    def __init__(self, loop: qasync.QEventLoop) -> None:
        self.loop = loop
        self.errors: list[dict[str, Any]] = []

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
        return self.loop.run_until_complete(asyncio.wait_for(coro, timeout))  # type: ignore[no-any-return]


@pytest.fixture(scope="session", autouse=True)
def qt_safe_garbage_collection(qapp: QApplication) -> Iterator[None]:
    """As in the application: the cyclic collector runs only from its own Qt timer, never
    inside another object's event handler (a crash seen in a qasync timerEvent)."""
    collector = GarbageCollectionGuard()
    yield
    collector.stop()


@pytest.fixture(scope="session")
def session_loop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """One qasync loop for the whole run, as the application has one for its lifetime.

    A loop per test left its closed loops' Qt timer objects to the garbage collector,
    which could free one inside its own timerEvent while a later test spun Qt's event
    loop (a segfault, seen about once in five runs).
    """
    # As in the application: closing a window must not stop the loop under the test.
    qapp.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(qapp)
    yield loop
    loop.close()  # also joins the loop's worker threads (asyncio.to_thread)


@pytest.fixture
def qloop(session_loop: qasync.QEventLoop) -> Iterator[LoopRunner]:
    """The shared qasync loop for one test; any unhandled loop error fails the test."""
    asyncio.set_event_loop(session_loop)
    runner = LoopRunner(session_loop)
    session_loop.set_exception_handler(lambda _loop, context: runner.errors.append(context))
    yield runner

    async def cancel_leftovers() -> None:
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    session_loop.run_until_complete(cancel_leftovers())
    _drop_pending_timers(session_loop)
    session_loop.set_exception_handler(None)
    asyncio.set_event_loop(None)
    assert not runner.errors, f"unhandled errors on the event loop: {runner.errors}"


def _drop_pending_timers(loop: qasync.QEventLoop) -> None:
    """Kill the Qt timers behind the loop's leftover (mostly cancelled) timer handles.

    Between tests the loop is not running, but its Qt timers still fire whenever a later
    test spins Qt's event loop (qtbot.waitSignal), running asyncio handles outside their
    loop; that ended in a segfault inside qasync's timerEvent about once in six runs.
    The application never sees this: its loop runs for as long as Qt does.
    """
    timer = loop._timer
    callbacks = timer._SimpleTimer__callbacks  # qasync private state; fails loudly if renamed
    for timer_id in list(callbacks):
        timer.killTimer(timer_id)
    callbacks.clear()


async def eventually(
    predicate: Callable[[], bool | Awaitable[bool]], within: float = 10.0, what: str = ""
) -> None:
    """Wait (without blocking Qt) until ``predicate`` holds; fail with ``what`` otherwise."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what or predicate}")
        await asyncio.sleep(0.02)


async def signed_in_client(server_url: str, username: str) -> DistrictClient:
    """A direct API client signed in with a demo account (to check what the server holds)."""
    account = demo_account(username)
    client = DistrictClient(server_url)
    await client.login(account.username, account.password, totp(account.totp_secret, time.time()))
    return client


@pytest.fixture(scope="session")
def seeded_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed once (scrypt is deliberately slow) and copy the file for every test."""
    path = tmp_path_factory.mktemp("seed") / "district.db"
    db = Database(path)
    seed_demo(db)
    db.close()
    return path


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """A throwaway PostgreSQL cluster (tests/postgres.py), started at the first test asking."""
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def pg_seeded(pg_cluster: Cluster) -> Iterator[str]:
    """A PostgreSQL database with the demo accounts, copied per test as a template."""
    name = pg_cluster.create_database()
    db = Database(pg_cluster.url(name))
    seed_demo(db)
    db.close()
    yield name
    pg_cluster.drop_database(name)


@pytest.fixture
def district_database(
    request: pytest.FixtureRequest, tmp_path: Path, seeded_db: Path
) -> Iterator[str]:
    """The seeded database a district test's server opens: a copy of the SQLite file, or,
    with ``DISTRICT_TEST_DATABASE=postgresql``, a copy on the throwaway PostgreSQL cluster
    (to run the district's HTTP tests on the second engine:
    ``DISTRICT_TEST_DATABASE=postgresql pytest tests/district/test_server.py ...``)."""
    if HTTP_TESTS_ENGINE != "postgresql":
        path = tmp_path / "district.db"
        path.write_bytes(seeded_db.read_bytes())
        yield str(path)
        return
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    with cluster.database(template=request.getfixturevalue("pg_seeded")) as url:
        yield url
