"""The gateway's log of relayed streams reaches the district, whatever the district does.

A real gateway process, a camera simulator and a real district app, with the district's
relays endpoint played by ``RelayDesk`` (which can refuse, lose its answers, or be made
unreachable by ``Outage``). What is checked is what the district's reconciliation needs:
each viewer connection that got video is one relay under the signed link's session,
camera and stream, reported within about a second, its bytes rising while it lasts, its
end after the viewer goes, and the same relay_id however many times it is posted.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console.district import audit_store
from dispatch_console.district.db import Database
from dispatch_console.district.launch import camsim_rtsp, start_process, stop_process
from dispatch_console.district.limits import MAX_BODY_BYTES
from dispatch_console.district.seed import seed_demo
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain import stream_tokens
from dispatch_console.domain.session import parse_utc
from dispatch_console.domain.stream_tokens import StreamClaims, link_key
from dispatch_console.gateway.relaylog import RelayLog, RelayReporter
from tests.gateway.flow import Viewer
from tests.gateway.harness import TEST_SECRET, Outage, RelayDesk, ThreadedGateway
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(120)

CAMERA = "lhs-cam-02"  # served by the module's gateway (lincoln-hs)
OTHER_CAMERA = "jes-cam-01"  # served by a second gateway a test stops (jefferson-es)


@dataclass
class RelayRig:
    server_url: str
    desk: RelayDesk  # not installed in front of the real district's endpoint
    outage: Outage  # the gateway reaches the district through it
    gateway: ThreadedGateway
    db: Database

    def relay_state(self, gateway: ThreadedGateway | None = None) -> dict[str, Any]:
        answer = httpx.get(
            f"{(gateway or self.gateway).url}/metrics",
            headers={"Authorization": f"Bearer {link_key(TEST_SECRET)}"},
        )
        assert answer.status_code == 200
        state: dict[str, Any] = answer.json()["relays"]
        return state


def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.05)
    return result


def _relay_rig(tmp: Path, desk: RelayDesk | None) -> Iterator[RelayRig]:
    """Camera simulator, district app (its relays endpoint played by ``desk`` if given)
    and a gateway serving lincoln-hs that reaches the district through an ``Outage``."""
    camsim, camsim_url = start_process(
        [
            "camsim", "--port", "0", "--floorplans", str(SAMPLE_DISTRICT),
            "--gop", "1", "--cameras", f"{CAMERA},{OTHER_CAMERA}",
        ],
        "CAMSIM_URL",
    )  # fmt: skip
    try:
        base = camsim_rtsp(camsim_url)
        assert base, "the simulator serves no RTSP (GStreamer's RTSP server missing?)"
        db = Database(tmp / "district.db")
        seed_demo(db)
        app = create_app(
            db=db,
            floorplans_dir=SAMPLE_DISTRICT,
            camsim_url=base,
            gateway_secret=TEST_SECRET,
            allow_totp_reuse=True,
        )
        if desk is not None:
            desk.install(app)
        with ThreadedServer(app) as server:
            outage = Outage(server.url)
            try:
                args = ("--relay-refresh", "1", "--schools", "lincoln-hs")
                with ThreadedGateway(outage.url, extra_args=args) as gateway:
                    yield RelayRig(server.url, desk or RelayDesk(), outage, gateway, db)
            finally:
                outage.down()
        db.close()
        assert desk is None or not desk.problems, desk.problems  # posts kept to the contract
    finally:
        stop_process(camsim)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayRig]:
    yield from _relay_rig(tmp_path_factory.mktemp("relays"), RelayDesk())


@pytest.fixture(scope="module")
def police(rig: RelayRig) -> Iterator[Viewer]:
    viewer = Viewer(rig.server_url)
    viewer.declare("lincoln-hs")
    yield viewer
    viewer.close()


def _view(url: str, seconds: float) -> datetime:
    """Watch a stream for ``seconds`` as a player would, then hang up; when video began."""
    with httpx.stream("GET", url, timeout=20) as answer:
        assert answer.status_code == 200, answer.read()
        chunks = answer.iter_raw()
        assert next(chunks)
        began = datetime.now(UTC)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            assert next(chunks)
    return began


def _ended(desk: RelayDesk, session_id: str) -> dict[str, Any] | None:
    relays = desk.for_session(session_id)
    return relays[0] if len(relays) == 1 and relays[0]["ended_at"] is not None else None


def test_a_relayed_stream_is_reported_with_its_session_rising_bytes_and_end(
    rig: RelayRig, police: Viewer
) -> None:
    session_id = police.start_session(CAMERA)
    url = police.stream_url(CAMERA, session_id)
    counts: list[int] = []
    with httpx.stream("GET", url, timeout=20) as answer:
        assert answer.status_code == 200
        chunks = answer.iter_raw()
        assert next(chunks)
        began = datetime.now(UTC)
        deadline = time.monotonic() + 20
        while len(counts) < 3:  # three byte counts reported while the viewer watches
            assert next(chunks)
            relays = rig.desk.for_session(session_id)
            if relays:
                assert len(relays) == 1, relays
                if not counts:
                    reported_after = datetime.now(UTC) - began
                    assert relays[0]["ended_at"] is None
                if not counts or relays[0]["bytes"] > counts[-1]:
                    counts.append(relays[0]["bytes"])
            assert time.monotonic() < deadline, f"byte counts reported: {counts}"
        left = datetime.now(UTC)
    assert reported_after < timedelta(seconds=2), reported_after
    assert 0 < counts[0] < counts[1] < counts[2], counts

    relay = _until(lambda: _ended(rig.desk, session_id), 5, "the relay's end")
    assert (relay["session_id"], relay["camera_id"], relay["stream"]) == (
        session_id,
        CAMERA,
        "sub",
    )
    started, ended = parse_utc(relay["started_at"]), parse_utc(relay["ended_at"])
    assert abs(started - began) < timedelta(seconds=1), (started, began)
    assert left - timedelta(seconds=1) < ended < left + timedelta(seconds=3), (ended, left)
    assert relay["bytes"] >= counts[-1]
    posted = [item for _, item in rig.desk.posted(session_id)]
    assert all(p["bytes"] <= q["bytes"] for p, q in itertools.pairwise(posted))
    assert {p["started_at"] for p in posted} == {relay["started_at"]}
    # Acknowledged and ended: nothing of it is left to report.
    _until(lambda: rig.relay_state()["unreported"] == 0, 5, "an empty relay log")


def test_a_reconnect_in_the_same_session_is_a_second_relay(rig: RelayRig, police: Viewer) -> None:
    session_id = police.start_session(CAMERA)
    for _ in range(2):
        _view(police.stream_url(CAMERA, session_id), 0.3)

    def both_ended() -> list[dict[str, Any]] | None:
        relays = rig.desk.for_session(session_id)
        return relays if len(relays) == 2 and all(r["ended_at"] for r in relays) else None

    relays = _until(both_ended, 5, "two ended relays")
    assert relays[0]["relay_id"] != relays[1]["relay_id"]
    assert relays[0]["ended_at"] <= relays[1]["started_at"]


def test_a_district_that_answers_500_gets_the_relay_later_under_the_same_id(
    rig: RelayRig, police: Viewer
) -> None:
    session_id = police.start_session(CAMERA)
    rig.desk.answer = 500
    try:
        _view(police.stream_url(CAMERA, session_id), 0.5)
        # Refused at least twice, the end included: the gateway keeps it and retries.
        _until(
            lambda: (
                len(refused := rig.desk.posted(session_id)) >= 2
                and refused[-1][1]["ended_at"] is not None
            ),
            20,
            "two refused posts, the relay's end in the last",
        )
        state = rig.relay_state()
        assert state["unreported"] >= 1 and state["problem"] == "the district answered 500"
        assert not rig.desk.for_session(session_id)
    finally:
        rig.desk.answer = 204
    relay = _until(lambda: _ended(rig.desk, session_id), 40, "the relay after the outage")
    assert {item["relay_id"] for _, item in rig.desk.posted(session_id)} == {relay["relay_id"]}
    _until(lambda: rig.relay_state()["problem"] is None, 5, "the problem cleared")


def test_a_lost_answer_is_replayed_with_the_same_relay_id(rig: RelayRig, police: Viewer) -> None:
    """The district stored the post but the gateway never heard: it posts the same relay
    again, and the district keeps one relay, not two."""
    session_id = police.start_session(CAMERA)
    rig.desk.keep_but_fail = True
    try:
        _view(police.stream_url(CAMERA, session_id), 0.3)
        _until(
            lambda: sum(1 for _, r in rig.desk.posted(session_id) if r["ended_at"]) >= 2,
            20,
            "the ended relay posted twice",
        )
    finally:
        rig.desk.keep_but_fail = False
    _until(lambda: rig.relay_state()["unreported"] == 0, 40, "the replay acknowledged")
    ids = {item["relay_id"] for _, item in rig.desk.posted(session_id)}
    assert len(ids) == 1 and len(rig.desk.for_session(session_id)) == 1


def test_an_unreachable_district_gets_the_relay_once_it_is_back(
    rig: RelayRig, police: Viewer
) -> None:
    session_id = police.start_session(CAMERA)
    url = police.stream_url(CAMERA, session_id)  # the console reaches the district directly
    rig.outage.down()
    try:
        _view(url, 1.0)
        _until(
            lambda: "could not be reached" in (rig.relay_state()["problem"] or ""),
            10,
            "the gateway noticing the outage",
        )
        assert rig.relay_state()["unreported"] >= 1
        assert not rig.desk.posted(session_id)
    finally:
        rig.outage.up()
    relay = _until(lambda: _ended(rig.desk, session_id), 40, "the relay after the outage")
    assert relay["camera_id"] == CAMERA and relay["bytes"] > 0


def test_a_stopping_gateway_ends_its_open_relays_and_reports_them(rig: RelayRig) -> None:
    viewer = Viewer(rig.server_url, "supervisor")
    safety = Viewer(rig.server_url, "safety")
    declared = viewer.declare("jefferson-es")
    try:
        with ThreadedGateway(rig.outage.url, extra_args=("--schools", "jefferson-es")) as other:
            session_id = viewer.start_session(OTHER_CAMERA)
            url = viewer.stream_url(OTHER_CAMERA, session_id)
            assert url.startswith(other.url), (url, other.url)
            with httpx.stream("GET", url, timeout=20) as answer:
                assert answer.status_code == 200
                chunks = answer.iter_raw()
                assert next(chunks)
                _until(lambda: rig.desk.for_session(session_id), 5, "the open relay")
                assert next(chunks)
                other.stop()  # SIGTERM while the viewer is still watching
                relay = _ended(rig.desk, session_id)
                assert relay is not None, rig.desk.for_session(session_id)
        assert relay["camera_id"] == OTHER_CAMERA and relay["bytes"] > 0
    finally:
        viewer.end_emergency(declared["emergency"]["id"], as_user=safety)
        viewer.close()
        safety.close()


# -- against the district's own endpoint -------------------------------------------------


@pytest.fixture
def real(tmp_path: Path) -> Iterator[RelayRig]:
    yield from _relay_rig(tmp_path, None)


def _stored(db: Database, session_id: str) -> dict[str, Any] | None:
    rows = db.query(
        "SELECT * FROM gateway_relays WHERE session_id = ? AND ended_at IS NOT NULL",
        (session_id,),
    )
    return dict(rows[0]) if rows else None


def test_the_district_reconciles_relays_and_finds_a_stream_no_session_explains(
    real: RelayRig,
) -> None:
    """The real endpoint and store: an audited viewing is a relay under its session and no
    finding; a stream opened with a link for a session no console reported (as a forged
    or leaked link would be) becomes an ``unreported_stream`` finding after the grace."""
    police = Viewer(real.server_url)
    try:
        police.declare("lincoln-hs")
        session_id = police.start_session(CAMERA)
        began = _view(police.stream_url(CAMERA, session_id), 1.5)
        claims = StreamClaims(
            user_id="nobody",
            camera_id=CAMERA,
            session_id=f"unreported-{uuid.uuid4().hex}",
            grant_id=None,
            stream="sub",
            expires_at=time.time() + 60,
            grant_until=None,
        )
        token = stream_tokens.sign(stream_tokens.signing_key(TEST_SECRET), claims)
        _view(f"{real.gateway.url}/streams/{CAMERA}/sub.ts?token={token}", 0.5)
    finally:
        police.close()
    audited = _until(lambda: _stored(real.db, session_id), 5, "the audited relay stored")
    forged = _until(lambda: _stored(real.db, claims.session_id), 5, "the other relay stored")
    assert audited["camera_id"] == CAMERA and audited["bytes"] > 0
    assert abs(parse_utc(audited["started_at"]) - began) < timedelta(seconds=1)
    assert real.relay_state()["unreported"] == 0
    later = datetime.now(UTC) + audit_store.RELAY_GRACE + timedelta(seconds=1)
    found = {
        (f["kind"], f["subject"])
        for f in audit_store.findings(real.db, later)
        if f["kind"] in ("unreported_stream", "relay_camera_mismatch", "streamed_after_end")
    }
    assert found == {("unreported_stream", forged["relay_id"])}, found


def test_the_district_takes_a_backlog_in_posts_under_its_body_limit_and_once(
    tmp_path: Path,
) -> None:
    """A backlog far over the district's 64 KiB body limit (as after an outage) reaches
    its real endpoint whole, and a replay of it adds nothing."""
    db = Database(tmp_path / "district.db")
    seed_demo(db)
    app = create_app(db=db, floorplans_dir=SAMPLE_DISTRICT, gateway_secret=TEST_SECRET)

    async def deliver(url: str) -> tuple[bool, bool, int]:
        relays = RelayLog()
        reporter = RelayReporter(url, link_key(TEST_SECRET), relays)
        backlog = []
        for i in range(1000):
            relay = relays.open(f"backlog-{i:04d}", CAMERA, "main")
            relays.sent(relay, 10**9)
            relays.end(relay)
            backlog.append(relay)
        try:
            first = await reporter.post(relays.due())
            again = await reporter.post(backlog)  # every relay once more, as a replay would
        finally:
            await reporter.aclose()
        return first, again, reporter.posts

    try:
        with ThreadedServer(app) as server:
            first, again, posts = asyncio.run(deliver(server.url))
        assert first and again
        assert posts >= 2 * (1000 * 200 // MAX_BODY_BYTES)  # many posts, none refused
        rows = db.query(
            "SELECT COUNT(*) AS n, MIN(bytes) AS least FROM gateway_relays"
            " WHERE session_id LIKE 'backlog-%' AND ended_at IS NOT NULL"
        )
        assert (rows[0]["n"], rows[0]["least"]) == (1000, 10**9)
    finally:
        db.close()
