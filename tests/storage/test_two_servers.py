"""Two district server processes' worth of apps on one database serve one district.

Each app has its own ``Database`` (its own connection, as a second process would) and its
own HTTP server; nothing passes between them but the database. What one decides, the
other acts on: a grant issued through one lets the other sign the stream link, and a
desk listening to one hears of a change made through the other (events.py polls the
table, so no signal between processes is needed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from dispatch_console.district.db import Database
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from tests.clock import FakeClock
from tests.district.test_events import Listener
from tests.district.test_server import API, District
from tests.gateway.harness import TEST_SECRET, ThreadedGateway
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def two_servers(seeded_engine: str) -> Iterator[tuple[District, District]]:
    with ExitStack() as stack:
        servers = []
        for _ in range(2):
            db = Database(seeded_engine)
            stack.callback(db.close)
            clock = FakeClock()
            app = create_app(
                db=db,
                floorplans_dir=SAMPLE_DISTRICT,
                clock=clock,
                gateway_secret=TEST_SECRET,
                allow_totp_reuse=True,
            )
            server = stack.enter_context(ThreadedServer(app))
            http = stack.enter_context(httpx.Client(base_url=server.url, timeout=10))
            servers.append(District(server.url, clock, http, app))
        first, second = servers
        second.gateway_url = stack.enter_context(ThreadedGateway(second.url)).url
        yield first, second


def test_a_grant_made_on_one_server_is_honoured_by_the_other(
    two_servers: tuple[District, District],
) -> None:
    one, other = two_servers
    declared = one.declare(one.login("dispatcher"), "active_threat")
    emergency_id = declared["emergency"]["id"]
    police = other.login("dispatcher")  # its sign-in is stored where both servers look
    listed = other.http.get(f"{API}/access", headers=police).json()
    assert emergency_id in {e["id"] for e in listed["emergencies"]}
    session = other.start_session(police, "lhs-cam-02")
    assert session.status_code in (200, 201), session.text
    ticket = other.ticket(police, "lhs-cam-02", session.json()["session_id"])
    assert ticket.status_code == 200, ticket.text
    assert ticket.json()["url"].startswith(f"{other.gateway_url}/streams/lhs-cam-02/")
    # Revoked on the first server: the second refuses the next link.
    grant_id = declared["grant"]["id"]
    revoked = one.http.post(f"{API}/grants/{grant_id}/revoke", headers=one.login("safety"))
    assert revoked.status_code == 200, revoked.text
    again = other.ticket(police, "lhs-cam-02", session.json()["session_id"])
    assert again.status_code == 403, again.text


def test_a_desk_on_one_server_hears_a_change_made_on_the_other(
    two_servers: tuple[District, District],
) -> None:
    one, other = two_servers
    desk = Listener(other.url, other.login("safety"))
    try:
        assert desk.status == 200
        desk.next("ready")
        declared = one.declare(one.login("dispatcher"), "lockdown")
        heard = desk.next("request.pending", within=10)
        assert heard.data["subject"] == declared["request"]["id"]
    finally:
        desk.close()
