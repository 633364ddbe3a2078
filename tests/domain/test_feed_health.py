"""A tile claims "live" only while new pictures keep coming; losses reconnect with back-off."""

from __future__ import annotations

import pytest

from dispatch_console.domain.feed_health import (
    MAX_RECONNECT_ATTEMPTS,
    FeedHealth,
    TileState,
    Watchdog,
    format_age,
    reconnect_delay,
)


def live_health(now: float = 0.0) -> FeedHealth:
    health = FeedHealth()
    health.started(now)
    assert health.frame(now + 0.1)
    return health


def test_connecting_until_the_first_picture_then_live() -> None:
    health = FeedHealth()
    health.started(0.0)
    assert health.state is TileState.CONNECTING
    assert not health.is_live
    assert health.check(1.0) is Watchdog.NOTHING
    assert health.frame(1.2)
    assert health.is_live
    assert health.label(1.3) == "LIVE · audited"
    assert not health.frame(1.3)  # still live: no change


def test_no_first_picture_in_five_seconds_fails_the_view_without_retrying() -> None:
    health = FeedHealth()
    health.started(0.0)
    assert health.check(4.9) is Watchdog.NOTHING
    assert health.check(5.0) is Watchdog.NO_FIRST_FRAME
    assert health.check(5.5) is Watchdog.NOTHING  # one verdict per attempt
    lost = health.lost(5.0, "no picture within 5 s", jitter=0.5)
    assert not lost.retry
    assert health.state is TileState.FAILED
    assert health.label(6.0) == "Failed: no picture within 5 s"


def test_two_seconds_without_a_new_picture_is_stalled_never_live() -> None:
    health = live_health()
    assert health.check(2.0) is Watchdog.NOTHING
    assert health.check(2.1) is Watchdog.STALLED
    assert health.state is TileState.STALLED and not health.is_live
    assert health.label(4.1) == "STALLED — no new picture for 4 s"
    assert health.check(3.0) is Watchdog.NOTHING  # reported once
    assert health.frame(3.5)  # pictures again: live again
    assert health.is_live


def test_a_frozen_stream_counts_as_lost() -> None:
    health = live_health()
    health.check(3.0)
    assert health.check(6.1) is Watchdog.FROZEN


def test_a_dropped_live_stream_reconnects_with_growing_delays_then_fails() -> None:
    health = live_health()
    delays = []
    for attempt in range(1, MAX_RECONNECT_ATTEMPTS + 1):
        lost = health.lost(10.0 + attempt, "hung up", jitter=0.0)
        assert lost.retry
        assert health.state is TileState.RECONNECTING and health.attempt == attempt
        delays.append(lost.delay_s)
        health.started(10.5 + attempt)
    assert delays == sorted(delays) and delays[0] == 0.25 and delays[-1] == 4.0
    assert health.label(30.0) == (
        f"Reconnecting (attempt {MAX_RECONNECT_ATTEMPTS} of {MAX_RECONNECT_ATTEMPTS})…"
    )
    assert not health.lost(40.0, "hung up", jitter=0.0).retry
    assert health.state is TileState.FAILED


def test_a_picture_after_a_reconnect_is_live_again_and_counts_the_gap() -> None:
    health = live_health()
    health.lost(10.0, "hung up", jitter=0.3)
    health.started(10.5)
    assert health.check(16.0) is Watchdog.NO_FIRST_FRAME  # the attempt timed out
    health.lost(16.0, "no picture", jitter=0.3)
    assert health.attempt == 2
    health.started(17.0)
    assert health.frame(17.5)
    assert health.is_live and health.attempt == 0
    assert health.gaps_s == pytest.approx(17.4)  # from the last picture (0.1) to 17.5
    # The gap the audit record gets: from the last picture, with the first loss's reason.
    assert health.last_gap == (pytest.approx(0.1), 17.5, "hung up")


def test_offline_is_the_gateways_word_and_still_retries() -> None:
    health = live_health()
    health.lost(5.0, "hung up", jitter=0.0)
    health.offline("Camera unreachable (connection refused)")
    assert health.state is TileState.OFFLINE
    assert "Camera unreachable" in health.label(6.0)
    assert health.lost(7.0, "refused", jitter=0.0).retry
    assert health.state is TileState.OFFLINE


def test_ended_is_final() -> None:
    health = live_health()
    health.end("the district revoked access")
    assert not health.frame(1.0)
    assert health.state is TileState.ENDED
    assert not health.lost(2.0, "cut", jitter=0.0).retry
    assert health.label(2.0) == "Ended: the district revoked access"


@pytest.mark.parametrize("jitter", [0.0, 0.5, 0.999])
def test_backoff_doubles_to_a_cap_with_bounded_jitter(jitter: float) -> None:
    for attempt in range(1, 12):
        step = min(8.0, 0.5 * 2 ** (attempt - 1))
        delay = reconnect_delay(attempt, jitter)
        assert step / 2 <= delay < step or delay == step / 2
    assert reconnect_delay(1, 0.0) != reconnect_delay(1, 0.9)


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        reconnect_delay(0, 0.1)
    with pytest.raises(ValueError):
        reconnect_delay(1, 1.0)


def test_age_text() -> None:
    assert format_age(None) == "no picture yet"
    assert format_age(0.04) == "last picture < 0.5 s ago"
    assert format_age(0.74) == "last picture 0.7 s ago"
    assert format_age(42) == "last picture 42 s ago"
    assert format_age(600) == "last picture 10 min ago"
