"""Audit delivery under faults: a lying proxy, a lost start, a busy backlog, a full disk.

Each test reproduces a defect found by driving the console from outside (issue 7) and
fails on the code before its fix. Counts are checked on the real district server: lost,
duplicated and left-open sessions must all be 0.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import AccessContext, Emergency, EmergencyType, EndReason
from dispatch_console.domain.session import ViewingSession, end_session, utc_ms
from dispatch_console.domain.totp import totp
from dispatch_console.services.audit_outbox import AuditOutbox
from dispatch_console.services.audit_shipper import AuditShipper
from dispatch_console.services.console import Console, ViewAlreadyOpen
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.errors import AuditNotRecorded
from tests.conftest import DistrictStack, eventually, signed_in_client
from tests.services.test_audit_shipper import JEFFERSON_CAMERAS, demo_user, new_session

# What a lying proxy answers instead of forwarding: (status, content type, body).
LIES: list[tuple[int, str, bytes]] = [
    (500, "text/html", b"<html><body>Bad gateway</body></html>"),
    (200, "text/html", b"<html><body>Welcome to the guest network</body></html>"),
    (200, "application/json", b""),
    (200, "application/json", b'{"status":"ok"}'),
    (429, "application/json", b'{"detail":"slow down"}'),
    (204, "application/json", b""),
]


class LyingProxy:
    """A real HTTP proxy on loopback that answers every other request itself.

    The lies cycle through 500, an HTML 200, an empty 200, ``{"status":"ok"}``, 429 and
    204: what captive portals, load balancers and misconfigured proxies really send.
    """

    def __init__(
        self,
        upstream: str,
        turns: Iterator[tuple[int, str, bytes] | None] | None = None,
        *,
        only_paths: str = "",
        on_forward: Callable[[str, str, bytes, int], None] | None = None,
    ) -> None:
        """``on_forward(method, path, body, status)`` hears of every forwarded request."""
        self.upstream = upstream.rstrip("/")
        self.lying = True
        self.lies_told = 0
        if turns is None:
            turns = itertools.cycle([None, *itertools.chain.from_iterable((x, None) for x in LIES)])
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    lying = proxy.lying and only_paths in self.path
                    lie = next(turns) if lying else None
                if lie is not None:
                    proxy.lies_told += 1
                    status, content_type, raw = lie
                else:
                    headers = {
                        k: v
                        for k, v in self.headers.items()
                        if k.lower() in ("authorization", "content-type")
                    }
                    answer = httpx.request(
                        self.command, proxy.upstream + self.path, content=body, headers=headers
                    )
                    status, raw = answer.status_code, answer.content
                    if on_forward is not None:
                        on_forward(self.command, self.path, body, status)
                    content_type = answer.headers.get("content-type", "application/json")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                if status != 204:
                    self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if status != 204:
                    self.wfile.write(raw)

            do_GET = do_POST = do_PUT = _reply

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LyingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def lying_proxy(district_stack: DistrictStack) -> Iterator[LyingProxy]:
    with LyingProxy(district_stack.server_url) as proxy:
        yield proxy


async def audit_counts(auditor: DistrictClient, sessions: list[ViewingSession]) -> dict[str, int]:
    """Lost, duplicated and left-open sessions, as the district server holds them."""
    ids = [s.session_id for s in sessions]
    rows = [r for r in await auditor.audit_sessions(limit=1000) if r["session_id"] in ids]
    seen = [r["session_id"] for r in rows]
    return {
        "lost": len(set(ids) - set(seen)),
        "duplicated": len(seen) - len(set(seen)),
        "left_open": sum(1 for r in rows if r["ended_at"] is None),
    }


def test_a_lying_proxy_loses_no_session_and_turns_none_into_a_permanent_rejection(
    district_stack: DistrictStack, lying_proxy: LyingProxy, tmp_path: Path
) -> None:
    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        assert dispatcher.token is not None
        behind_proxy = DistrictClient(lying_proxy.url)
        behind_proxy.use_token(dispatcher.token)
        outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
        shipper = AuditShipper(outbox, behind_proxy)
        user = demo_user("dispatcher")
        try:
            now = datetime.now(UTC) - timedelta(seconds=30)
            sessions = []
            for n in range(12):
                start = now + timedelta(seconds=n)
                session = new_session(user, JEFFERSON_CAMERAS[n % 2], start, "ws-lying-proxy")
                await outbox.record_start(session)
                await outbox.record_heartbeat(session, utc_ms(start + timedelta(milliseconds=500)))
                await outbox.record_end(
                    end_session(session, EndReason.CLOSED_BY_USER, start + timedelta(seconds=1))
                )
                sessions.append(session)
            # Every flush stops at the first lie; each lie is retried, never believed.
            for _ in range(200):
                if await shipper.flush():
                    break
            assert lying_proxy.lies_told >= len(LIES)
            assert await outbox.counts() == {"pending": 0, "rejected": 0}
            assert await audit_counts(auditor, sessions) == {
                "lost": 0,
                "duplicated": 0,
                "left_open": 0,
            }
            # Retried through lies, the workstation's chain still reached the district
            # whole: every link held once, none altered, forked or missing.
            with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
                (chain,) = db.execute("SELECT chain_id FROM chain").fetchone()
            findings = await district_findings(district_stack.server_url, auditor)
            mine = [f for f in findings if chain in f["subject"] or chain in f["detail"]]
            assert not mine, mine
        finally:
            outbox.close()
            for c in (behind_proxy, dispatcher, auditor):
                await c.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("lie", LIES, ids=[f"{st}-{body[:12]!r}" for st, _, body in LIES])
def test_an_answer_in_the_servers_place_is_retried_and_only_a_foreign_one_alarms(
    district_stack: DistrictStack, tmp_path: Path, lie: tuple[int, str, bytes]
) -> None:
    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        assert dispatcher.token is not None
        with LyingProxy(district_stack.server_url, itertools.repeat(lie)) as proxy:
            behind_proxy = DistrictClient(proxy.url)
            behind_proxy.use_token(dispatcher.token)
            outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
            shipper = AuditShipper(outbox, behind_proxy)
            try:
                user = demo_user("dispatcher")
                await outbox.record_start(
                    new_session(user, JEFFERSON_CAMERAS[0], datetime.now(UTC))
                )
                assert await shipper.flush() is False
                assert await outbox.counts() == {"pending": 1, "rejected": 0}
                status = lie[0]
                if status in (429, 500):  # the server's own ways to say "later"
                    assert shipper.alarm is None
                else:
                    assert shipper.alarm is not None
                    assert "answered in its place" in shipper.alarm
            finally:
                outbox.close()
                await behind_proxy.aclose()
        await dispatcher.aclose()

    asyncio.run(scenario())


def test_an_end_whose_start_the_server_lacks_sends_the_start_again(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"

    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        outbox = AuditOutbox(path)
        shipper = AuditShipper(outbox, dispatcher)
        try:
            now = datetime.now(UTC)
            session = new_session(demo_user("dispatcher"), JEFFERSON_CAMERAS[0], now)
            await outbox.record_start(session)
            await outbox.record_end(
                end_session(session, EndReason.CLOSED_BY_USER, now + timedelta(seconds=1))
            )
            # What a lying proxy used to leave behind: the start believed delivered.
            with sqlite3.connect(path) as db:
                db.execute("UPDATE outbox SET delivered_at = 'x' WHERE kind = 'start'")
            assert await shipper.flush() is True
            assert await outbox.counts() == {"pending": 0, "rejected": 0}
            assert await audit_counts(auditor, [session]) == {
                "lost": 0,
                "duplicated": 0,
                "left_open": 0,
            }
        finally:
            outbox.close()
            for c in (dispatcher, auditor):
                await c.aclose()

    asyncio.run(scenario())


def test_the_shipper_survives_an_error_nobody_foresaw_and_says_so(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    class BrokenOnce(DistrictClient):
        failures = 1

        async def audit_start(
            self, record: dict[str, object], stream: str | None = None
        ) -> dict[str, Any]:
            if self.failures:
                self.failures -= 1
                raise sqlite3.OperationalError("database or disk is full")
            return await super().audit_start(record, stream)

    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        assert dispatcher.token is not None
        client = BrokenOnce(district_stack.server_url)
        client.use_token(dispatcher.token)
        outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
        shipper = AuditShipper(outbox, client, jitter=lambda: 0.0)
        problems: list[str | None] = []
        shipper.problem_listeners.append(problems.append)
        try:
            user = demo_user("dispatcher")
            session = new_session(user, JEFFERSON_CAMERAS[0], datetime.now(UTC))
            await outbox.record_start(session)
            shipper.start()

            async def delivered() -> bool:
                return (await outbox.counts())["pending"] == 0

            await eventually(delivered, 5, "delivery after the shipper's crash")
            await eventually(lambda: shipper.problem is None, 5, "the problem cleared")
            assert problems[0] is not None and "disk is full" in problems[0]
            assert problems[-1] is None
        finally:
            await shipper.stop()
            outbox.close()
            for c in (client, dispatcher):
                await c.aclose()

    asyncio.run(scenario())


def test_delivery_resumes_at_once_when_the_district_answers_again(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    outage = (503, "text/html", b"<html>Service unavailable</html>")

    async def scenario() -> None:
        dispatcher = await signed_in_client(district_stack.server_url, "dispatcher")
        assert dispatcher.token is not None
        with LyingProxy(district_stack.server_url, itertools.repeat(outage)) as proxy:
            client = DistrictClient(proxy.url)
            client.use_token(dispatcher.token)
            outbox = AuditOutbox(tmp_path / "outbox.sqlite3")
            shipper = AuditShipper(outbox, client, jitter=lambda: 0.5)
            try:
                began = datetime.now(UTC) - timedelta(seconds=40)
                session = new_session(
                    demo_user("dispatcher"), JEFFERSON_CAMERAS[0], began, "ws-resume-at-once"
                )
                await outbox.record_start(session)
                # The console went on beating through the outage, then the view closed.
                beats = [utc_ms(began + timedelta(seconds=15 * n)) for n in (1, 2)]
                for at in beats:
                    await outbox.record_heartbeat(session, at)
                await outbox.record_end(
                    end_session(session, EndReason.CLOSED_BY_USER, began + timedelta(seconds=35))
                )
                shipper.start()
                # 0.5 + 1 + 2 s of failures: the next timed retry is 4 s away.
                await eventually(lambda: proxy.lies_told >= 4, 10, "four failed attempts")
                # New sessions kick the shipper; their failures must not stretch the delay.
                for _ in range(5):
                    shipper.kick()
                    await asyncio.sleep(0.05)
                proxy.lying = False
                shipper.connection_restored()  # what the access poll does when it sees it
                t0 = time.monotonic()

                async def delivered() -> bool:
                    return (await outbox.counts())["pending"] == 0

                # The next timed retry was 4 s away: well before it means "at once".
                await eventually(delivered, 2.5, "delivery right after the district returned")
                assert time.monotonic() - t0 < 2.5
                # The backlog reached the district whole: heartbeats kept, chain unbroken.
                rows = [
                    r
                    for r in await dispatcher.audit_sessions(limit=1000)
                    if r["session_id"] == session.session_id
                ]
                assert rows and rows[0]["last_heartbeat_at"] == beats[-1]
                assert rows[0]["end_reason"] == "closed_by_user"
                auditor = await signed_in_client(district_stack.server_url, "safety")
                try:
                    with sqlite3.connect(tmp_path / "outbox.sqlite3") as db:
                        (chain,) = db.execute("SELECT chain_id FROM chain").fetchone()
                    findings = await district_findings(district_stack.server_url, auditor)
                    assert not [f for f in findings if chain in f["subject"] + f["detail"]]
                finally:
                    await auditor.aclose()
            finally:
                await shipper.stop()
                outbox.close()
                await client.aclose()
        await dispatcher.aclose()

    asyncio.run(scenario())


# -- the console ---------------------------------------------------------------------------

CAMERA = "jes-cam-04"


async def safety_console(server_url: str, outbox_path: Path) -> Console:
    """The district safety officer's console: standing (audited) access, no emergency."""
    account = demo_account("safety")
    console = Console(DistrictClient(server_url), AuditOutbox(outbox_path), workstation_id="ws-f")
    await console.sign_in(
        account.username, account.password, totp(account.totp_secret, time.time())
    )
    await console.start()
    return console


async def close_console(console: Console) -> None:
    await console.shutdown()
    console.outbox.close()
    await console.client.aclose()


def test_opening_a_feed_waits_for_its_own_start_not_the_backlog(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def scenario() -> None:
        console = await safety_console(district_stack.server_url, tmp_path / "o.sqlite3")
        try:
            # A backlog flush that takes its time (after an outage) holds the flush lock.
            async with console.shipper._flush_lock:
                opened = await asyncio.wait_for(console.open_view(CAMERA), 5)
            assert opened.session.session_id in console.views
            await console.close_view(opened.session.session_id, EndReason.CLOSED_BY_USER)
        finally:
            await close_console(console)

    asyncio.run(scenario())


def test_two_clicks_on_one_pin_open_one_view(district_stack: DistrictStack, tmp_path: Path) -> None:
    async def scenario() -> None:
        console = await safety_console(district_stack.server_url, tmp_path / "o.sqlite3")
        try:
            results = await asyncio.gather(
                console.open_view(CAMERA), console.open_view(CAMERA), return_exceptions=True
            )
            assert sum(isinstance(r, ViewAlreadyOpen) for r in results) == 1
            assert len(console.views) == 1
        finally:
            await close_console(console)

    asyncio.run(scenario())


def test_a_session_end_that_cannot_be_written_is_kept_and_retried(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def scenario() -> None:
        console = await safety_console(district_stack.server_url, tmp_path / "o.sqlite3")
        ended: list[ViewingSession] = []
        console.view_ended_listeners.append(ended.append)
        try:
            session = (await console.open_view(CAMERA)).session
            # Fill the outbox's disk: cap the file at its size and use up the last page.
            db = console.outbox._conn()
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
            # Small rows far past the chain's head pack its last page full; they count as
            # delivered so the shipper leaves them alone.
            with pytest.raises(sqlite3.OperationalError, match="full"):
                for n in range(10_000):
                    db.execute(
                        "INSERT INTO outbox (seq, session_id, kind, payload, created_at, "
                        "delivered_at, prev, hash) "
                        "VALUES (?, 'filler', 'heartbeat', '{}', '', 'x', '', '')",
                        (1_000_000 + n,),
                    )
            with pytest.raises(AuditNotRecorded):
                await console.close_view(session.session_id, EndReason.CLOSED_BY_USER)
            assert session.session_id in console.views  # the tile stays: not ended yet
            assert ended == []
            await asyncio.sleep(1.5)  # retried meanwhile, and still failing
            assert ended == []
            db.execute("DELETE FROM outbox WHERE session_id = 'filler'")  # space returns
            await eventually(lambda: bool(ended), 5, "the end written once space returned")
            assert ended[0].end_reason is EndReason.CLOSED_BY_USER
            assert console.views == {}
            assert (await console.outbox.counts())["rejected"] == 0
        finally:
            await close_console(console)

    asyncio.run(scenario())


def test_the_console_signs_out_of_the_district_when_it_exits(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def scenario() -> None:
        console = await safety_console(district_stack.server_url, tmp_path / "o.sqlite3")
        token = console.client.token
        assert token is not None
        await close_console(console)
        async with httpx.AsyncClient(base_url=district_stack.server_url) as http:
            answer = await http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 401

    asyncio.run(scenario())


def test_a_slow_older_access_answer_never_overwrites_a_newer_one(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def scenario() -> None:
        console = await safety_console(district_stack.server_url, tmp_path / "o.sqlite3")
        real_access = console.client.access
        stale = AccessContext(
            emergencies=(
                Emergency(
                    id="em-long-over",
                    school_id="jefferson-es",
                    type=EmergencyType.LOCKDOWN,
                    threat_basis="An emergency that has since ended",
                    declared_by="Sam Ortiz",
                    declared_at=datetime.now(UTC) - timedelta(minutes=5),
                ),
            )
        )
        answers: list[AccessContext | None] = [stale, None]  # the older answer is slow

        async def access() -> AccessContext:
            answer = answers.pop(0)
            if answer is not None:
                await asyncio.sleep(0.3)
                return answer
            return await real_access()

        fresh = await real_access()
        console.client.access = access  # type: ignore[method-assign]
        try:
            await asyncio.gather(console.refresh_access(), console.refresh_access())
            assert console.access == fresh != stale
        finally:
            console.client.access = real_access  # type: ignore[method-assign]
            await close_console(console)

    asyncio.run(scenario())


def test_the_player_stops_before_the_sessions_end_is_stamped(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    async def scenario() -> None:
        console = await safety_console(district_stack.server_url, tmp_path / "o.sqlite3")
        stopped_at: list[datetime] = []
        console.view_closing_listeners.append(lambda _s: stopped_at.append(datetime.now(UTC)))
        try:
            session = (await console.open_view(CAMERA)).session
            ended = await console.close_view(session.session_id, EndReason.CLOSED_BY_USER)
            assert ended is not None and ended.ended_at is not None
            # The end is stamped at or after the moment the picture was stopped.
            assert len(stopped_at) == 1
            stamped = datetime.fromisoformat(ended.ended_at.replace("Z", "+00:00"))
            assert stamped >= stopped_at[0].replace(
                microsecond=stopped_at[0].microsecond // 1000 * 1000
            )
        finally:
            await close_console(console)

    asyncio.run(scenario())


async def district_findings(server_url: str, auditor: DistrictClient) -> list[dict[str, Any]]:
    """The district's audit findings, read as its desk reads them."""
    assert auditor.token is not None
    async with httpx.AsyncClient(base_url=server_url) as http:
        answer = await http.get(
            "/api/v1/audit/findings", headers={"Authorization": f"Bearer {auditor.token}"}
        )
    assert answer.status_code == 200, answer.text
    return list(answer.json())
