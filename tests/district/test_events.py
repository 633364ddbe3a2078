"""The live event stream, read over a raw socket as any client would (not our own).

A reader thread parses the text/event-stream as it arrives; each test acts on the
server through the API and checks what each desk was told, and what it was not.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from dispatch_console.district import events
from dispatch_console.district.db import Database
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from tests.clock import FakeClock
from tests.district.test_server import API, District
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(60)


@dataclass
class Event:
    id: int | None
    kind: str
    data: dict[str, Any]


@dataclass
class Listener:
    """One desk's event stream, parsed in a thread as it arrives."""

    url: str
    headers: dict[str, str]
    last_event_id: int | None = None
    events: queue.Queue[Event | None] = field(default_factory=queue.Queue)
    status: int = 0
    comments: int = 0
    opened: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self.opened.wait(10), "the event stream did not answer"

    def _run(self) -> None:
        """Raw HTTP/1.0 on a socket (the answer then ends with the connection, unchunked),
        so that close() can hang up from the test's thread at once."""
        host, _, port = self.url.removeprefix("http://").partition(":")
        lines = [f"GET {API}/events HTTP/1.0", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.last_event_id is not None:
            lines.append(f"Last-Event-ID: {self.last_event_id}")
        try:
            self._sock = socket.create_connection((host, int(port)), timeout=30)
            self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
            stream = self._sock.makefile("rb")
            self.status = int(stream.readline().split()[1])
            while stream.readline() not in (b"\r\n", b""):
                pass  # the headers
            self.opened.set()
            fields: dict[str, str] = {}
            for raw in stream:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if "event" in fields:
                        event_id = int(fields["id"]) if "id" in fields else None
                        self.events.put(
                            Event(event_id, fields["event"], json.loads(fields["data"]))
                        )
                    fields = {}
                elif line.startswith(":"):
                    self.comments += 1  # a heartbeat
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value.removeprefix(" ")
        except OSError:
            pass
        finally:
            self.opened.set()
            self.events.put(None)  # the stream ended

    def next(self, kind: str, within: float = 10.0) -> Event:
        """The next event of this kind (skipping others); fails after ``within`` s."""
        deadline = time.monotonic() + within
        while True:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {kind} event within {within} s") from None
            if event is None:
                raise AssertionError(f"the stream ended before a {kind} event")
            if event.kind == kind:
                return event

    def kinds_within(self, seconds: float) -> list[str]:
        """Every event kind heard in the next ``seconds`` (None marks the end)."""
        heard: list[str] = []
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                event = self.events.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            heard.append("<end>" if event is None else event.kind)
            if event is None:
                break
        return heard

    def close(self) -> None:
        """Hang up, as a desk that closes does (the server must notice)."""
        sock = getattr(self, "_sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(5)
        if sock is not None:
            sock.close()


@pytest.fixture
def db_path(district_database: str) -> str:
    return district_database


def _serve(db_path: str, clock: FakeClock) -> tuple[ThreadedServer, Database]:
    db = Database(db_path)
    app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, clock=clock, allow_totp_reuse=True)
    server = ThreadedServer(app)
    server.start()
    return server, db


@pytest.fixture
def events_district(db_path: str) -> Iterator[District]:
    clock = FakeClock()
    server, db = _serve(db_path, clock)
    with httpx.Client(base_url=server.url, timeout=5) as http:
        yield District(server.url, clock, http, server.app)
    server.stop()
    db.close()


def listen(district: District, username: str, last_event_id: int | None = None) -> Listener:
    listener = Listener(district.url, district.login(username), last_event_id)
    assert listener.status == 200
    return listener


def test_the_stream_needs_a_valid_sign_in(events_district: District) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        answer = events_district.http.get(f"{API}/events", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"].startswith("application/problem+json")
    answer = events_district.http.get(
        f"{API}/events",
        headers={**events_district.login("dispatcher"), "Last-Event-ID": "'; DROP TABLE--"},
    )
    assert answer.status_code == 422
    assert "Last-Event-ID" in answer.json()["detail"]


def test_a_police_desk_hears_the_approval_at_once(
    events_district: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = events_district
    police = listen(d, "dispatcher")
    safety = listen(d, "safety")
    try:
        declared = d.declare(d.login("dispatcher"), "lockdown")
        request_id = declared["request"]["id"]
        assert police.next("request.pending").data["subject"] == request_id
        assert safety.next("request.pending").data["subject"] == request_id
        # Pushed as it happens: with the streams' own look for new events slowed to once
        # a minute, only the push can bring it in time.
        monkeypatch.setattr(events, "POLL_S", 60.0)
        answer = d.http.post(f"{API}/requests/{request_id}/approve", headers=d.login("safety"))
        assert answer.status_code == 200, answer.text
        grant = police.next("grant.issued", within=10)
        assert grant.data["subject"] == answer.json()["grant"]["id"]
        assert grant.data["school_id"] == "lincoln-hs"
        assert grant.id is not None
    finally:
        police.close()
        safety.close()


def test_police_do_not_hear_who_is_watching(events_district: District) -> None:
    d = events_district
    d.declare(d.login("dispatcher"), "active_threat")  # a break-glass grant at once
    police = listen(d, "dispatcher")
    safety = listen(d, "safety")
    try:
        answer = d.start_session(d.login("dispatcher"), "lhs-cam-02")
        assert answer.status_code == 201, answer.text
        viewing = safety.next("viewing.started")
        assert viewing.data["camera_id"] == "lhs-cam-02"
        assert viewing.data["agency"]
        other = d.declare(d.login("safety"), "lockdown", school="jefferson-es")
        ended = d.http.post(
            f"{API}/emergencies/{other['emergency']['id']}/end", headers=d.login("safety")
        )
        assert ended.status_code == 200, ended.text
        police.next("emergency.ended")  # police do hear emergencies ...
        assert "viewing.started" not in police.kinds_within(0.5)  # ... but not viewing
    finally:
        police.close()
        safety.close()


def test_a_desk_resumes_after_a_server_restart(db_path: str) -> None:
    clock = FakeClock()
    server, db = _serve(db_path, clock)
    http = httpx.Client(base_url=server.url, timeout=5)
    d = District(server.url, clock, http, server.app)
    police = listen(d, "dispatcher")
    d.declare(d.login("dispatcher"), "lockdown")
    heard = police.next("request.pending")
    assert heard.id is not None
    police.close()
    token = d.login("dispatcher")
    http.close()
    server.stop()
    db.close()

    # The same database, a new process-lifetime: the desk comes back with its last id.
    server, db = _serve(db_path, clock)
    try:
        with httpx.Client(base_url=server.url, timeout=5) as http:
            d = District(server.url, clock, http, server.app, tokens={"dispatcher": token})
            missed = d.declare(d.login("safety"), "lockdown", school="jefferson-es")
            resumed = listen(d, "dispatcher", last_event_id=heard.id)
            try:
                declared = resumed.next("emergency.declared")
                assert declared.data["subject"] == missed["emergency"]["id"]
                assert declared.id is not None and declared.id > heard.id
            finally:
                resumed.close()
    finally:
        server.stop()
        db.close()


def test_a_desk_too_far_behind_is_told_to_resync(events_district: District) -> None:
    d = events_district
    d.declare(d.login("dispatcher"), "lockdown")
    ahead = listen(d, "dispatcher", last_event_id=10**9)  # an id this server never sent
    try:
        assert ahead.next("resync").id is not None
    finally:
        ahead.close()


def test_signing_out_ends_the_stream(events_district: District) -> None:
    d = events_district
    police = listen(d, "dispatcher")
    try:
        police.next("ready")
        answer = d.http.post(f"{API}/auth/logout", headers=d.login("dispatcher"))
        assert answer.status_code in (200, 204)
        police.next("signed_out", within=5)
        assert police.kinds_within(2) == ["<end>"]
    finally:
        police.close()


def test_desks_are_told_before_a_grant_expires_and_when_it_has(
    events_district: District,
) -> None:
    d = events_district
    declared = d.declare(d.login("dispatcher"), "active_threat")
    grant_id = declared["grant"]["id"]
    police = listen(d, "dispatcher")
    try:
        police.next("ready")
        d.clock.advance(minutes=56)
        assert police.next("grant.expiring").data["subject"] == grant_id
        d.clock.advance(minutes=5)
        assert police.next("grant.expired").data["subject"] == grant_id
        assert "grant.expiring" not in police.kinds_within(1.5)  # told once
    finally:
        police.close()


def test_a_desk_hears_heartbeats_while_only_events_it_may_not_hear_happen(
    events_district: District, monkeypatch: pytest.MonkeyPatch
) -> None:
    """District-only events wake every stream; a police stream that sends nothing must
    still send its heartbeat, or the desk would take the silence for a dead stream."""
    monkeypatch.setattr(events, "HEARTBEAT_S", 0.5)
    monkeypatch.setattr(events, "POLL_S", 0.1)
    d = events_district
    police = listen(d, "dispatcher")
    try:
        police.next("ready")
        safety = d.login("safety")
        started = time.monotonic()
        while time.monotonic() - started < 2.0:
            answer = d.start_session(safety, "lhs-cam-02")  # standing access: district only
            assert answer.status_code == 201, answer.text
            time.sleep(0.05)
        assert police.comments >= 2
        assert "viewing.started" not in police.kinds_within(0.3)
    finally:
        police.close()
