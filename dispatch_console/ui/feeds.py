"""Open feeds: one player per viewing session, watched by watchdogs, reconnected on loss.

libVLC says little about a live stream: nothing when it freezes, nothing when a camera
never answers, nothing for random bytes. So every feed's state comes from
``domain.feed_health.FeedHealth`` driven by one shared watchdog timer (time to first
picture, age of the last picture) and by what the player does report (an error, a
hang-up). This class only wires those clocks and signals to the domain's rules and
carries out what they decide:

* a view that never showed a picture fails with a reason within 5 s (the console then
  asks the gateway why, and records the session as ``stream_failed``);
* a stream lost after it was live reconnects within the **same viewing session** (no new
  audit record): a fresh link for that session from the district (which re-checks
  access), then play, with exponential back-off and jitter; the gateway's word decides
  *offline* vs *reconnecting*; when access has ended the console closes the view with
  the access reason instead;
* a view closed for any reason leaves its cell saying why (ended: grant revoked ... /
  failed: reason), with no picture kept.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer

from dispatch_console.domain.feed_health import FeedHealth, TileState, Watchdog
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import ViewingSession
from dispatch_console.services.console import Console
from dispatch_console.services.errors import AccessDenied, ConsoleError, NotSignedIn, StreamFailed
from dispatch_console.video.gateway_probe import probe_gateway
from dispatch_console.video.player import VideoPlayer

from .operations import OperationRunner
from .video_grid import VideoGrid

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL_MS = 250

# How a closed view's cell explains itself.
_ENDED_TEXT = {
    EndReason.GRANT_EXPIRED: "the access grant expired",
    EndReason.GRANT_REVOKED: "the district revoked access",
    EndReason.EMERGENCY_ENDED: "the emergency was ended",
    EndReason.SIGNED_OUT: "the sign-in ended",
    EndReason.APPLICATION_EXIT: "the console closed",
    EndReason.GRID_FULL: "the grid was full",
}


@dataclass
class Feed:
    """One open view's playback: its player, its health and its current link."""

    session: ViewingSession
    player: VideoPlayer
    url: str
    size_hint: tuple[int, int] | None
    health: FeedHealth = field(default_factory=FeedHealth)
    retry_timer: QTimer | None = None
    reconnects: int = 0


# A fresh stream link for the same viewing session (None: refused, access ended).
LinkSource = Callable[[ViewingSession, str], Coroutine[Any, Any, str | None]]


class FeedManager(QObject):
    """Plays, watches and reconnects the feeds of one console's open views.

    What it needs from the rest of the console comes in as three functions, so the
    watchdogs and reconnects can be driven against real streams without a district:
    ``fresh_link`` (a new link for the same session), ``give_up(session_id)`` (the feed
    cannot be saved: record it) and ``size_hint(camera_id)`` (the plan's stream size).
    ``for_console`` binds them to a :class:`Console`.
    """

    def __init__(
        self,
        grid: VideoGrid,
        runner: OperationRunner,
        player_factory: Callable[[], VideoPlayer],
        *,
        fresh_link: LinkSource,
        give_up: Callable[[str], None],
        size_hint: Callable[[str], tuple[int, int] | None] = lambda _camera_id: None,
        health_factory: Callable[[], FeedHealth] = FeedHealth,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.grid = grid
        self.runner = runner
        self._player_factory = player_factory
        self._fresh_link = fresh_link
        self._give_up = give_up
        self._size_hint = size_hint
        self._health_factory = health_factory
        self.feeds: dict[str, Feed] = {}
        self._jitter = random.Random()
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(WATCHDOG_INTERVAL_MS)
        self._watchdog.timeout.connect(self._check_all)

    @property
    def players(self) -> dict[str, VideoPlayer]:
        return {sid: feed.player for sid, feed in self.feeds.items()}

    # -- opening --------------------------------------------------------------------------

    @classmethod
    def for_console(
        cls,
        console: Console,
        grid: VideoGrid,
        runner: OperationRunner,
        player_factory: Callable[[], VideoPlayer],
        parent: QObject | None = None,
    ) -> FeedManager:
        def give_up(session_id: str) -> None:
            # The console asks the gateway why and checks access first, so the audit
            # record says "grant revoked" rather than "stream failed" when that is why.
            runner.run(console.stream_failed(session_id))

        return cls(
            grid,
            runner,
            player_factory,
            fresh_link=lambda session, url: _console_link(console, session, url),
            give_up=give_up,
            size_hint=lambda camera_id: _plan_size(console, camera_id),
            parent=parent,
        )

    def play(self, session: ViewingSession, url: str) -> bool:
        """Show an opened view in the next free tile; False if the grid filled meanwhile."""
        if self.grid.is_full():
            return False
        place = " · ".join(p for p in (session.school_name, session.floor_name) if p)
        tile = self.grid.add_tile(session.session_id, session.camera_name, place)
        # The player is not a child of the tile: libVLC may still be releasing it on a
        # worker thread after the tile is gone.
        player = self._player_factory()
        feed = Feed(session, player, url, self._size_hint(session.camera_id))
        feed.health = self._health_factory()
        self.feeds[session.session_id] = feed
        sid = session.session_id
        player.frame_ready.connect(tile.set_frame)
        player.frame_ready.connect(lambda _image, sid=sid: self._on_frame(sid))
        player.failed.connect(lambda message, sid=sid: self._lost(sid, message))
        tile.set_health(feed.health)
        self._start(feed)
        if not self._watchdog.isActive():
            self._watchdog.start()
        return True

    def _start(self, feed: Feed) -> None:
        feed.health.started(time.monotonic())
        feed.player.play(feed.url, size_hint=feed.size_hint)

    # -- what the player and the watchdogs say --------------------------------------------

    def _on_frame(self, session_id: str) -> None:
        feed = self.feeds.get(session_id)
        if feed is None:
            return
        was = feed.health.state
        if feed.health.frame(time.monotonic()) and was is not TileState.CONNECTING:
            log.info(
                "feed %s live again after reconnecting (gaps so far %.1f s)",
                session_id,
                feed.health.gaps_s,
            )

    def _check_all(self) -> None:
        now = time.monotonic()
        for session_id, feed in list(self.feeds.items()):
            verdict = feed.health.check(now)
            if verdict is Watchdog.NO_FIRST_FRAME:
                seconds = feed.health.first_frame_timeout_s
                self._lost(
                    session_id,
                    f"No picture within {seconds:g} s: the stream is not video the console "
                    "can decode, or the camera gateway is not sending any",
                )
            elif verdict is Watchdog.FROZEN:
                seconds = feed.health.stall_reconnect_after_s
                self._lost(session_id, f"No new picture for {seconds:g} s")
            tile = self.grid.tile(session_id)
            if tile is not None and session_id in self.feeds:
                tile.set_health(feed.health)  # the clock and the picture's age move on
        if not self.feeds:
            self._watchdog.stop()

    def _lost(self, session_id: str, reason: str) -> None:
        feed = self.feeds.get(session_id)
        if feed is None or feed.health.state.final:
            return
        if feed.player.is_playing:
            feed.player.stop()
        decision = feed.health.lost(time.monotonic(), reason, self._jitter.random())
        tile = self.grid.tile(session_id)
        if not decision.retry:
            if tile is not None:
                tile.set_status(f"Failed: {reason}")
                tile.set_health(feed.health)
            self._give_up(session_id)
            return
        log.warning(
            "feed %s lost (%s): reconnect attempt %d in %.2f s",
            session_id,
            reason,
            feed.health.attempt,
            decision.delay_s,
        )
        if tile is not None:
            tile.set_health(feed.health)
        self.runner.run(self._ask_gateway(session_id, feed.url))
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(lambda sid=session_id: self._reconnect(sid))
        feed.retry_timer = timer
        timer.start(int(decision.delay_s * 1000))

    async def _ask_gateway(self, session_id: str, url: str) -> None:
        verdict = await probe_gateway(url)
        feed = self.feeds.get(session_id)
        if feed is not None and verdict.offline and verdict.reason:
            feed.health.offline(verdict.reason)
            tile = self.grid.tile(session_id)
            if tile is not None:
                tile.set_health(feed.health)

    # -- reconnecting within the same viewing session -------------------------------------

    def _reconnect(self, session_id: str) -> None:
        feed = self.feeds.get(session_id)
        if feed is None or feed.health.state.final:
            return

        def replay(url: str | None) -> None:
            self._replay(session_id, url)

        self.runner.run(self._fresh_link(feed.session, feed.url), replay)

    def _replay(self, session_id: str, url: str | None) -> None:
        feed = self.feeds.get(session_id)
        if feed is None or feed.health.state.final:
            return
        if url is None:
            # Access was refused but the view is still open (the refresh failed):
            # count it as a failed attempt.
            self._lost(session_id, "The district refused a new stream link")
            return
        feed.url = url
        feed.reconnects += 1
        self._start(feed)

    # -- closing --------------------------------------------------------------------------

    def stop(self, session: ViewingSession) -> None:
        """Stop the picture before the session's end is stamped: no frame after the end."""
        feed = self.feeds.pop(session.session_id, None)
        if feed is None:
            return
        if feed.retry_timer is not None:
            feed.retry_timer.stop()
        feed.player.frame_ready.disconnect()
        feed.player.failed.disconnect()
        feed.player.stop()
        feed.player.deleteLater()

    def ended(self, session: ViewingSession, why: str | None) -> None:
        """The view's end is recorded: free its tile, leaving a note that says why."""
        self.stop(session)
        reason = session.end_reason
        if reason is EndReason.STREAM_FAILED:
            state, text = (
                TileState.FAILED,
                f"{session.camera_name}\nFailed: {why or 'stream failed'}",
            )
        elif reason is EndReason.CLOSED_BY_USER or reason is None:
            state, text = TileState.ENDED, ""
        else:
            state = TileState.ENDED
            text = f"{session.camera_name}\nEnded: {_ENDED_TEXT.get(reason, reason.value)}"
        self.grid.remove_tile(session.session_id, text, state)


async def _console_link(console: Console, session: ViewingSession, last_url: str) -> str | None:
    """A new link for the same session; None when the district refuses (access ended).

    The link is signed for one minute and names the session, so the gateway admits it as
    the same viewing session: no second audit record. If the district cannot be reached,
    the previous link is tried again (it may still be within its minute; the gateway
    decides).
    """
    try:
        ticket = await console.fresh_stream_link(session)
    except (AccessDenied, NotSignedIn, StreamFailed) as exc:
        log.warning("no new link for %s: %s", session.session_id, exc.detail)
        try:
            await console.refresh_access()  # closes the view, with the reason, if it ended
        except ConsoleError as refresh_error:
            log.warning("access check failed: %s", refresh_error.detail)
        return None
    except ConsoleError as exc:
        log.warning("district unreachable for a new link (%s); reusing the last", exc.detail)
        return last_url
    return ticket.url


def _plan_size(console: Console, camera_id: str) -> tuple[int, int] | None:
    """The sub-stream's size as the district's plan states it, if it does."""
    district = console.district
    if district is None:
        return None
    camera = district.camera(camera_id)
    profile = next((s for s in camera.streams if s.name == "sub"), None)
    if profile is None or profile.width <= 0 or profile.height <= 0:
        return None
    return profile.width, profile.height
