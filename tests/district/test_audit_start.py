"""The audit start's writes are one transaction: the record, its place in the
workstation's chain, its event and its stream authorisation are stored together, with
one commit, or not at all.

The server runs in this process (so a part can be made to fail) with no gateway and no
simulator: a gateway serving every school is pretended, so a start with ``?stream=``
goes all the way to its stream authorisation.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dispatch_console.district import (
    audit_store,
    event_store,
    session_store,
    storage,
    ticket_store,
)
from dispatch_console.district.context import ServerContext
from dispatch_console.district.db import Database
from dispatch_console.district.seed import demo_account
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import app_context, create_app
from dispatch_console.domain.audit_chain import next_link
from dispatch_console.domain.totp import totp
from tests.clock import FakeClock
from tests.district.test_server import API, start_record
from tests.gateway.harness import TEST_SECRET
from tests.paths import SAMPLE_DISTRICT

GATEWAY = "http://gateway.test"


@dataclass
class Server:
    http: httpx.Client
    ctx: ServerContext
    who: dict[str, str]

    @property
    def db(self) -> Database:
        return self.ctx.db

    def record(self) -> dict[str, Any]:
        """A start on a camera the grant covers, as the console makes it."""
        me = self.http.get(f"{API}/auth/me", headers=self.who).json()
        return start_record(me, "lhs-cam-04", self.ctx.now())

    def send(
        self, record: dict[str, Any], chain: str, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """Send the start, first in its workstation's chain, asking for its stream link."""
        link = next_link(chain, None, "start", record)
        return self.http.put(
            f"{API}/audit/sessions/{record['session_id']}/start?stream=sub",
            headers={**self.who, **(headers or {})},
            json={**record, "chain": link.wire()},
        )

    def start(self) -> tuple[str, httpx.Response]:
        record = self.record()
        return record["session_id"], self.send(record, f"ws-{uuid.uuid4().hex}")

    def stored(self, session_id: str) -> dict[str, bool]:
        """What the district holds of this session, part by part."""
        db = self.db
        return {
            "record": session_store.get(db, session_id) is not None,
            "log": bool(db.rows("SELECT 1 FROM audit_log WHERE subject = ?", (session_id,))),
            "link": bool(
                db.rows("SELECT 1 FROM workstation_links WHERE session_id = ?", (session_id,))
            ),
            "event": event_store.has(db, "viewing.started", session_id),
            "ticket": ticket_store.authorization(db, session_id) is not None,
        }


@pytest.fixture
def server(district_database: str) -> Iterator[Server]:
    db = Database(district_database)
    clock = FakeClock()
    app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, gateway_secret=TEST_SECRET, clock=clock)
    ctx = app_context(app)
    ctx.links.gateway_for = lambda school_id: GATEWAY  # type: ignore[method-assign]
    with ThreadedServer(app) as running, httpx.Client(base_url=running.url, timeout=10) as http:
        account = demo_account("dispatcher")
        login = http.post(
            f"{API}/auth/login",
            json={
                "username": account.username,
                "password": account.password,
                "otp": totp(account.totp_secret, clock().timestamp()),
            },
        )
        assert login.status_code == 200, login.text
        who = {"Authorization": f"Bearer {login.json()['token']}"}
        declared = http.post(
            f"{API}/emergencies",
            headers=who,
            json={"school_id": "lincoln-hs", "type": "active_threat", "threat_basis": "test"},
        )
        assert declared.status_code == 201, declared.text
        yield Server(http, ctx, who)
    db.close()


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise OSError("disk I/O error (injected)")


@pytest.mark.parametrize(
    ("module", "name"),
    [(audit_store, "accept_link"), (ticket_store, "insert")],
    ids=["chain link", "stream authorisation"],
)
def test_an_audit_start_is_stored_whole_or_not_at_all(
    server: Server, monkeypatch: pytest.MonkeyPatch, module: Any, name: str
) -> None:
    """A part failing after the record was written takes the record with it: the client
    gets the error (as before) and its retry finds nothing half made."""
    record = server.record()
    session_id = record["session_id"]
    with monkeypatch.context() as patched:
        patched.setattr(module, name, _boom)
        try:
            # uvicorn closes the connection after answering an unexpected error with 500
            # (so it is not kept for the retry), and the client may see the close before
            # the answer: either way, the start is not acknowledged.
            status = server.send(record, "ws-atomic", {"Connection": "close"}).status_code
        except httpx.TransportError:
            status = 500
    assert status == 500
    assert server.stored(session_id) == dict.fromkeys(
        ("record", "log", "link", "event", "ticket"), False
    )

    # The console sends the start again (same id, same chain place): all of it is stored.
    again = server.send(record, "ws-atomic")
    assert again.status_code == 201, again.text
    assert again.json()["stream_link"]["url"].startswith(f"{GATEWAY}/streams/lhs-cam-04/")
    assert all(server.stored(session_id).values()), server.stored(session_id)


def test_an_audit_start_whose_event_cannot_be_stored_is_still_recorded(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As before the transaction: a desk's event that cannot be stored never fails the
    change it tells of (the desks resync); the rest of the start stands."""
    monkeypatch.setattr(event_store, "append", _boom)
    session_id, answer = server.start()
    assert answer.status_code == 201, answer.text
    assert answer.json()["stream_link"] is not None
    assert server.stored(session_id) == {
        "record": True,
        "log": True,
        "link": True,
        "event": False,
        "ticket": True,
    }


def test_an_audit_start_with_its_stream_link_is_one_commit(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One commit (one fsync under synchronous=FULL) for the record, the chain link, the
    event and the stream authorisation (there were four); the desks' streams are woken
    after it, when a look for new events finds the start's."""
    commits = 0
    for engine in (storage.SqliteConnection, storage.PostgresConnection):
        committing = engine.commit

        def counted(conn: Any, committing: Any = committing) -> None:
            nonlocal commits
            commits += 1
            committing(conn)

        monkeypatch.setattr(engine, "commit", counted)
    hub = server.ctx.events
    assert hub is not None
    seen_when_woken: list[list[str]] = []

    def wake() -> None:
        found = event_store.after(server.db, 0, 10_000)  # a stream's look, from any thread
        seen_when_woken.append([e.subject for e in found if e.kind == "viewing.started"])

    monkeypatch.setattr(hub, "_wake", wake)
    session_id, answer = server.start()
    assert answer.status_code == 201, answer.text
    assert all(server.stored(session_id).values()), server.stored(session_id)
    assert commits == 1
    assert seen_when_woken == [[session_id]]


def test_a_stream_link_binds_its_grant_and_authorises_together_or_not_at_all(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /streams/tickets for a session recorded with no grant (a start delivered late
    under no grant in force, say): the session's binding to the grant now in force and
    the stream's authorisation are one transaction, so a failed authorisation leaves the
    session unbound and its retry binds and authorises."""
    record = server.record()
    session_id = record["session_id"]
    link = next_link(f"ws-{uuid.uuid4().hex}", None, "start", record)
    started = server.http.put(
        f"{API}/audit/sessions/{session_id}/start",
        headers=server.who,
        json={**record, "chain": link.wire()},
    )
    assert started.status_code == 201, started.text
    with server.db.transaction() as conn:  # as recorded under no grant
        conn.execute(
            "UPDATE audit_sessions SET grant_id = NULL WHERE session_id = ?", (session_id,)
        )
    body = {"camera_id": "lhs-cam-04", "session_id": session_id}

    def bound() -> bool:
        stored = session_store.get(server.db, session_id)
        return stored is not None and stored["grant_id"] is not None

    with monkeypatch.context() as patched:
        patched.setattr(ticket_store, "insert", _boom)
        try:
            status = server.http.post(
                f"{API}/streams/tickets", headers={**server.who, "Connection": "close"}, json=body
            ).status_code
        except httpx.TransportError:
            status = 500
    assert status == 500
    assert not bound()
    assert ticket_store.authorization(server.db, session_id) is None

    again = server.http.post(f"{API}/streams/tickets", headers=server.who, json=body)
    assert again.status_code == 200, again.text
    assert bound()
    assert ticket_store.authorization(server.db, session_id) is not None
