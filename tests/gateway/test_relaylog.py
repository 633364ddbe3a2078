"""The relay log and its reporter, in-process against a district made of an httpx handler.

These pin the delivery rules the district's reconciliation relies on (at least once,
batched, retried, bounded) with a controllable clock and no video; the end-to-end tests
with a real gateway process are in test_relays.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from dispatch_console.gateway.relaylog import (
    ISOLATION_POSTS,
    MAX_PER_POST,
    MAX_POST_BYTES,
    RELAYS_PATH,
    RelayLog,
    RelayReporter,
)

pytestmark = pytest.mark.timeout(30)

KEY = "link-key-for-tests"
UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


class District:
    """The relays endpoint: records every post, answers as told."""

    def __init__(self) -> None:
        self.posts: list[list[dict[str, Any]]] = []
        self.accepted: dict[str, dict[str, Any]] = {}
        self.answer: Callable[[], int] = lambda: 204
        self.refuse: set[str] = set()  # sessions whose relays it answers 422
        self.body_limit: int | None = 64 * 1024  # as district.limits.MAX_BODY_BYTES
        self.oversized = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "POST" and request.url.path == RELAYS_PATH
        assert request.headers["authorization"] == f"Bearer {KEY}"
        if self.body_limit is not None and len(request.content) > self.body_limit:
            self.oversized += 1
            return httpx.Response(413)
        relays = json.loads(request.content)["relays"]
        assert 0 < len(relays) <= MAX_PER_POST
        self.posts.append(relays)
        if any(item["session_id"] in self.refuse for item in relays):
            detail = {"detail": "started_at is in the future by the district's clock"}
            return httpx.Response(422, json=detail)
        status = self.answer()
        if status == 204:
            for item in relays:
                self.accepted[item["relay_id"]] = item
        return httpx.Response(status)


def _reporter(
    district: District, relays: RelayLog, max_post_bytes: int = MAX_POST_BYTES
) -> RelayReporter:
    return RelayReporter(
        "http://district.test",
        KEY,
        relays,
        transport=httpx.MockTransport(district.handle),
        batch_window_s=0.01,
        backoff_first_s=0.01,
        backoff_max_s=0.05,
        max_post_bytes=max_post_bytes,
    )


async def _until(check: Callable[[], bool], within_s: float = 5.0) -> None:
    for _ in range(int(within_s / 0.005)):
        if check():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not within {within_s} s")


def test_a_relay_is_reported_new_then_its_bytes_then_its_end() -> None:
    async def run() -> None:
        district = District()
        relays = RelayLog(refresh_s=0.5)
        reporter = _reporter(district, relays)
        task = asyncio.create_task(reporter.run_forever())
        try:
            relay = relays.open("session-1", "lhs-cam-02", "sub")
            relays.sent(relay, 1000)
            await _until(lambda: relay.relay_id in district.accepted)
            first = district.accepted[relay.relay_id]
            assert first == {
                "relay_id": relay.relay_id,
                "session_id": "session-1",
                "camera_id": "lhs-cam-02",
                "stream": "sub",
                "started_at": first["started_at"],
                "ended_at": None,
                "bytes": 1000,
            }
            assert UTC_MS.match(first["started_at"])
            # More bytes are not reported at once (one post per refresh at most)...
            relays.sent(relay, 5000)
            await asyncio.sleep(0.1)
            assert district.accepted[relay.relay_id]["bytes"] == 1000
            # ...but are within the refresh interval.
            await _until(lambda: district.accepted[relay.relay_id]["bytes"] == 6000, 2)
            # A relay with no new bytes is not posted again.
            posts = len(district.posts)
            await asyncio.sleep(1.2)
            assert len(district.posts) == posts
            relays.sent(relay, 10)
            relays.end(relay)
            await _until(lambda: district.accepted[relay.relay_id]["ended_at"] is not None)
            last = district.accepted[relay.relay_id]
            assert last["bytes"] == 6010 and UTC_MS.match(last["ended_at"])
            assert last["started_at"] <= last["ended_at"]
            assert len(relays) == 0  # acknowledged and ended: forgotten
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_relays_opened_together_share_a_post() -> None:
    async def run() -> None:
        district = District()
        relays = RelayLog()
        reporter = _reporter(district, relays)
        reporter._batch_window_s = 0.2
        task = asyncio.create_task(reporter.run_forever())
        try:
            opened = [relays.open(f"s{i}", "lhs-cam-02", "sub") for i in range(3)]
            await _until(lambda: len(district.accepted) == 3)
            assert len(district.posts) == 1
            assert [r["relay_id"] for r in district.posts[0]] == [r.relay_id for r in opened]
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_open_relays_with_news_ride_along_in_any_post() -> None:
    """One post carries every relay with news, so many viewers' refreshes fall into step."""

    async def run() -> None:
        district = District()
        relays = RelayLog(refresh_s=60.0)
        reporter = _reporter(district, relays)
        task = asyncio.create_task(reporter.run_forever())
        try:
            first = relays.open("s1", "lhs-cam-02", "sub")
            await _until(lambda: first.relay_id in district.accepted)
            relays.sent(first, 500)  # not due by itself for a minute...
            second = relays.open("s2", "lhs-cam-02", "sub")  # ...but this post goes now
            await _until(lambda: second.relay_id in district.accepted)
            assert [(r["relay_id"], r["bytes"]) for r in district.posts[-1]] == [
                (first.relay_id, 500),
                (second.relay_id, 0),
            ]
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_a_failing_district_gets_the_same_relays_later() -> None:
    """500s, then an unreachable district, then one that works: nothing is lost, nothing
    is renamed, and the district's answer-lost case is a replay of the same relay_id."""

    async def run() -> None:
        district = District()
        answers = iter([500, 503, 0, 0, 204])

        def answer() -> int:
            status = next(answers, 204)
            if status == 0:
                raise httpx.ConnectError("connection refused")
            return status

        district.answer = answer
        relays = RelayLog()
        reporter = _reporter(district, relays)
        task = asyncio.create_task(reporter.run_forever())
        try:
            relay = relays.open("session-1", "lhs-cam-02", "main")
            relays.sent(relay, 42)
            relays.end(relay)
            await _until(lambda: relay.relay_id in district.accepted)
            assert len(district.posts) == 5  # four refused or unreachable, then taken
            assert {p[0]["relay_id"] for p in district.posts} == {relay.relay_id}
            assert district.accepted[relay.relay_id]["ended_at"] == relay.ended_at
            assert relays.state()["unreported"] == 0 and relays.problem is None
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_while_the_district_fails_the_state_says_why() -> None:
    async def run() -> None:
        district = District()
        district.answer = lambda: 500
        relays = RelayLog()
        reporter = _reporter(district, relays)
        task = asyncio.create_task(reporter.run_forever())
        try:
            relays.open("session-1", "lhs-cam-02", "sub")
            await _until(lambda: len(district.posts) >= 3)
            state = relays.state()
            assert state["unreported"] == 1 and state["open"] == 1
            assert state["problem"] == "the district answered 500"
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_a_relay_the_district_refuses_is_held_aside_not_blocking_the_rest() -> None:
    async def run() -> None:
        district = District()
        district.refuse = {"bad"}
        relays = RelayLog()
        reporter = _reporter(district, relays)
        reporter._backoff_max_s = 0.3  # the hold before a refused relay is tried again
        sessions = ["a", "b", "bad", "c", "d", "e"]
        opened = {name: relays.open(name, "lhs-cam-02", "sub") for name in sessions}
        for relay in opened.values():
            relays.end(relay)
        task = asyncio.create_task(reporter.run_forever())
        try:
            await _until(lambda: len(district.accepted) == 5)
            assert "bad" not in {r["session_id"] for r in district.accepted.values()}
            assert relays.state()["refused"] == 1 and relays.state()["unreported"] == 1
            district.refuse = set()  # the district's clock caught up
            await _until(lambda: opened["bad"].relay_id in district.accepted)
            assert len(relays) == 0 and relays.dropped_unreported == 0
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_many_refused_relays_cost_a_bounded_number_of_posts() -> None:
    async def run() -> None:
        district = District()
        district.refuse = {f"s{i}" for i in range(200)}
        relays = RelayLog()
        reporter = _reporter(district, relays)
        reporter._backoff_max_s = 60.0
        for i in range(200):
            relays.end(relays.open(f"s{i}", "lhs-cam-02", "sub"))
        assert await reporter.post(relays.due())
        assert len(district.posts) <= 1 + ISOLATION_POSTS + 2
        assert relays.state()["refused"] == 200 and len(relays) == 200
        assert relays.due() == []  # held: not posted again before the hold ends
        await reporter.aclose()

    asyncio.run(run())


def test_a_backlog_goes_in_posts_the_district_accepts() -> None:
    """Under its 64 KiB body limit, so a few hundred relays a post, whatever the backlog."""

    async def run() -> None:
        district = District()
        relays = RelayLog()
        reporter = _reporter(district, relays)
        for i in range(3000):
            relays.end(relays.open(f"session-{i:06d}", "lhs-cam-02", "main"))
            relays.sent(relays.unacknowledged()[-1], 2**40)  # the widest byte counts
        task = asyncio.create_task(reporter.run_forever())
        try:
            await _until(lambda: len(district.accepted) == 3000, 20)
            assert district.oversized == 0
            assert 10 <= len(district.posts) <= 20, [len(p) for p in district.posts]
            assert len(relays) == 0
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_never_more_than_ten_thousand_relays_a_post() -> None:
    async def run() -> None:
        district = District()
        district.body_limit = None
        relays = RelayLog(cap=30_000)
        reporter = _reporter(district, relays, max_post_bytes=2**40)
        for i in range(MAX_PER_POST + 2500):
            relays.end(relays.open(f"s{i}", "lhs-cam-02", "sub"))
        task = asyncio.create_task(reporter.run_forever())
        try:
            await _until(lambda: len(district.accepted) == MAX_PER_POST + 2500, 20)
            assert [len(p) for p in district.posts] == [MAX_PER_POST, 2500]
        finally:
            task.cancel()
            await reporter.aclose()

    asyncio.run(run())


def test_over_the_cap_only_the_oldest_ended_unacknowledged_relays_go_and_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    relays = RelayLog(cap=3)
    live = relays.open("live", "c", "sub")  # open: never dropped
    old = relays.open("old", "c", "sub")
    relays.end(old)
    newer = relays.open("newer", "c", "sub")
    relays.end(newer)
    with caplog.at_level(logging.ERROR, "dispatch_console.gateway.relaylog"):
        relays.open("newest", "c", "sub")
    assert len(relays) == 3
    assert relays.dropped_unreported == 1 and relays.state()["dropped_unreported"] == 1
    kept = {r["session_id"] for r in (x.as_json() for x in relays.unacknowledged())}
    assert kept == {"live", "newer", "newest"}
    assert live.ended_at is None
    assert any("never received" in r.getMessage() for r in caplog.records)


def test_the_cap_never_drops_open_relays() -> None:
    relays = RelayLog(cap=2)
    for i in range(4):
        relays.open(f"s{i}", "c", "sub")
    assert len(relays) == 4 and relays.dropped_unreported == 0


def test_on_shutdown_open_relays_are_ended_and_posted_once() -> None:
    async def run() -> None:
        district = District()
        relays = RelayLog()
        reporter = _reporter(district, relays)
        relay = relays.open("session-1", "lhs-cam-02", "sub")
        relays.sent(relay, 7)
        assert await reporter.final_report()
        assert district.accepted[relay.relay_id]["ended_at"] is not None
        assert district.accepted[relay.relay_id]["bytes"] == 7
        await reporter.aclose()

    asyncio.run(run())


def test_a_shutdown_post_that_fails_says_so(caplog: pytest.LogCaptureFixture) -> None:
    async def run() -> bool:
        district = District()
        district.answer = lambda: 500
        relays = RelayLog()
        reporter = _reporter(district, relays)
        relays.open("session-1", "lhs-cam-02", "sub")
        try:
            return await reporter.final_report()
        finally:
            await reporter.aclose()

    with caplog.at_level(logging.ERROR, "dispatch_console.gateway.relaylog"):
        assert asyncio.run(run()) is False
    assert any("not acknowledged" in r.getMessage() for r in caplog.records)


def test_the_shutdown_post_tries_each_relay_once_even_if_refused() -> None:
    async def run() -> tuple[bool, int, int]:
        district = District()
        district.refuse = {"bad"}
        relays = RelayLog()
        reporter = _reporter(district, relays)
        for name in ("a", "bad", "c", "d"):
            relays.open(name, "lhs-cam-02", "sub")
        try:
            return await reporter.final_report(), len(district.posts), len(relays)
        finally:
            await reporter.aclose()

    delivered, posts, left = asyncio.run(run())
    # One post of four, refused; halves of two (one refused); halves of one (one refused).
    assert (delivered, posts, left) == (False, 5, 1)
