"""What a video tile may honestly claim about its feed, decided from watchdogs.

libVLC never reports a stall (a frozen stream stays on screen looking live until TCP
closes, 59-150 s measured), never fails on random bytes, and lets a camera that never
answers sit in "opening" for over a minute. So a tile's state is not libVLC's state: it
is derived here from two clocks the UI feeds in — when the current attempt started and
when the last *new* picture arrived — plus the stream losses the player does report.

Pure: no Qt, no I/O, no clock of its own (every call takes ``now``, monotonic seconds),
so the rules below are unit-tested without a player.

Rules:

* ``CONNECTING`` until the first picture of the view; no picture within
  ``first_frame_timeout_s`` fails the view (a stream that never worked is not retried:
  the gateway already retries the camera itself, and a dispatcher needs the reason now).
* ``LIVE`` only while pictures keep coming: no new picture for ``stall_after_s`` is
  ``STALLED`` (the tile dims its picture), and for ``stall_reconnect_after_s`` counts as
  a lost stream.
* A stream lost after it was live is reconnected, within the same viewing session, with
  exponential back-off and jitter (``RECONNECTING``, or ``OFFLINE`` when the gateway says
  the camera is offline), up to ``max_attempts`` attempts in a row; then ``FAILED``.
* ``ENDED`` (access ended: revoked, expired, emergency ended) and ``FAILED`` are final.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "FIRST_FRAME_TIMEOUT_S",
    "MAX_RECONNECT_ATTEMPTS",
    "STALL_AFTER_S",
    "FeedHealth",
    "Lost",
    "TileState",
    "Watchdog",
    "format_age",
    "reconnect_delay",
]

STALL_AFTER_S = 2.0
# A stalled stream whose socket stays open is torn down and reopened after this long.
STALL_RECONNECT_AFTER_S = 6.0
# The bound for a dead, garbled or never-answering stream to fail its tile.
FIRST_FRAME_TIMEOUT_S = 5.0
MAX_RECONNECT_ATTEMPTS = 8
BACKOFF_FIRST_S = 0.5
BACKOFF_CAP_S = 8.0


class TileState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    STALLED = "stalled"
    RECONNECTING = "reconnecting"
    OFFLINE = "offline"
    ENDED = "ended"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in (TileState.ENDED, TileState.FAILED)


class Watchdog(StrEnum):
    """What a ``check`` found that the UI must act on."""

    NOTHING = "nothing"
    STALLED = "stalled"  # the state changed to STALLED: repaint dimmed
    NO_FIRST_FRAME = "no_first_frame"  # the attempt got no picture in time: treat as lost
    FROZEN = "frozen"  # stalled for too long: treat as lost


@dataclass(frozen=True)
class Lost:
    """The answer to a lost stream: retry after ``delay_s``, or give up (``retry`` False)."""

    retry: bool
    delay_s: float = 0.0


def reconnect_delay(attempt: int, jitter: float) -> float:
    """Seconds to wait before reconnect ``attempt`` (1-based).

    Doubling from 0.5 s, capped at 8 s, with "equal jitter": half the step fixed, half
    random (``jitter`` in [0, 1)), so consoles that lost the same gateway at the same
    moment do not all come back in the same instant, yet none retries at once in a loop.
    """
    if attempt < 1:
        raise ValueError("attempts count from 1")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    step = min(BACKOFF_CAP_S, BACKOFF_FIRST_S * float(2 ** (attempt - 1)))
    return step / 2 + step / 2 * jitter


@dataclass
class FeedHealth:
    """The state machine of one tile's feed (one viewing session, many attempts)."""

    stall_after_s: float = STALL_AFTER_S
    stall_reconnect_after_s: float = STALL_RECONNECT_AFTER_S
    first_frame_timeout_s: float = FIRST_FRAME_TIMEOUT_S
    max_attempts: int = MAX_RECONNECT_ATTEMPTS
    state: TileState = TileState.CONNECTING
    attempt: int = 0
    reason: str = ""
    attempt_started_at: float | None = None
    last_frame_at: float | None = None
    ever_live: bool = False
    # Seconds without a picture across every reconnect of this session (last picture
    # before the loss to the first one after): the audit session stays one session, and
    # this is the gap a reviewer may ask about.
    gaps_s: float = 0.0
    # The gap that closed with the last picture, if it closed one: (from, to, reason), on
    # the monotonic clock. The console reports it to the district in the same session.
    last_gap: tuple[float, float, str] | None = None
    _lost_at: float | None = None
    _lost_reason: str = ""

    # -- inputs ------------------------------------------------------------------------

    def started(self, now: float) -> None:
        """An attempt (the first play or a reconnect) has just been started."""
        if self.state.final:
            return
        self.attempt_started_at = now

    def frame(self, now: float) -> bool:
        """A new picture arrived; True if the state changed (to LIVE)."""
        if self.state.final:
            return False
        self.last_frame_at = now
        self.ever_live = True
        if self._lost_at is not None:
            self.gaps_s += now - self._lost_at
            self.last_gap = (self._lost_at, now, self._lost_reason)
            self._lost_at = None
        changed = self.state is not TileState.LIVE
        self.state = TileState.LIVE
        self.attempt = 0
        self.reason = ""
        return changed

    def check(self, now: float) -> Watchdog:
        """The watchdogs; call a few times a second."""
        if self.state in (TileState.LIVE, TileState.STALLED):
            assert self.last_frame_at is not None
            age = now - self.last_frame_at
            if age >= self.stall_reconnect_after_s:
                return Watchdog.FROZEN
            if age >= self.stall_after_s and self.state is TileState.LIVE:
                self.state = TileState.STALLED
                return Watchdog.STALLED
            return Watchdog.NOTHING
        started = self.attempt_started_at
        waiting = self.state in (TileState.CONNECTING, TileState.RECONNECTING, TileState.OFFLINE)
        if waiting and started is not None and now - started >= self.first_frame_timeout_s:
            self.attempt_started_at = None  # one verdict per attempt
            return Watchdog.NO_FIRST_FRAME
        return Watchdog.NOTHING

    def lost(self, now: float, reason: str, jitter: float) -> Lost:
        """The current attempt ended without a future (player error, hang-up, watchdog).

        A view that never showed a picture fails at once; one that was live reconnects
        with back-off until ``max_attempts`` attempts in a row have failed.
        """
        if self.state.final:
            return Lost(False)
        self.attempt_started_at = None
        if self._lost_at is None and self.ever_live:
            # The gap runs from the last picture shown, not from when the loss was noticed.
            self._lost_at = self.last_frame_at if self.last_frame_at is not None else now
            self._lost_reason = reason
        if not self.ever_live or self.attempt >= self.max_attempts:
            self.fail(reason)
            return Lost(False)
        self.attempt += 1
        if self.state is not TileState.OFFLINE:
            self.state = TileState.RECONNECTING
        self.reason = reason
        return Lost(True, reconnect_delay(self.attempt, jitter))

    def offline(self, reason: str) -> None:
        """The gateway says the camera is offline (its own words); still retried."""
        if self.state in (TileState.RECONNECTING, TileState.CONNECTING, TileState.OFFLINE):
            self.state = TileState.OFFLINE
            self.reason = reason

    def end(self, reason: str) -> None:
        """Access ended (grant revoked or expired, emergency ended, closed): final."""
        self.state = TileState.ENDED
        self.reason = reason

    def fail(self, reason: str) -> None:
        if not self.state.final:
            self.state = TileState.FAILED
            self.reason = reason

    # -- what the tile shows -------------------------------------------------------------

    def frame_age(self, now: float) -> float | None:
        return None if self.last_frame_at is None else max(0.0, now - self.last_frame_at)

    @property
    def is_live(self) -> bool:
        """True only while new pictures keep coming: the only time "LIVE" may be shown."""
        return self.state is TileState.LIVE

    def label(self, now: float) -> str:
        """The tile's state in words, as the overlay prints it."""
        state = self.state
        if state is TileState.CONNECTING:
            return "Connecting…"
        if state is TileState.LIVE:
            return "LIVE · audited"
        if state is TileState.STALLED:
            age = self.frame_age(now) or 0.0
            return f"STALLED — no new picture for {age:.0f} s"
        if state is TileState.RECONNECTING:
            return f"Reconnecting (attempt {self.attempt} of {self.max_attempts})…"
        if state is TileState.OFFLINE:
            return f"Offline: {self.reason} — retrying (attempt {self.attempt})"
        if state is TileState.ENDED:
            return f"Ended: {self.reason}" if self.reason else "Ended"
        return f"Failed: {self.reason}" if self.reason else "Failed"


def format_age(age_s: float | None) -> str:
    """The last picture's age as the overlay prints it ("no picture yet" before one)."""
    if age_s is None:
        return "no picture yet"
    if age_s < 0.5:
        # Steady while pictures keep coming, so a tile's footer is not redrawn for
        # every picture only because "0.0" became "0.1".
        return "last picture < 0.5 s ago"
    if age_s < 10:
        return f"last picture {age_s:.1f} s ago"
    if age_s < 120:
        return f"last picture {age_s:.0f} s ago"
    return f"last picture {age_s / 60:.0f} min ago"
