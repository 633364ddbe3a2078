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
  failed: reason), with no picture kept;
* a tile plays the camera's sub stream; when it becomes large (maximized, 1×1, the large
  tile of "1 large + n") it switches to the main stream **with no black gap**: a second
  player opens the main stream's link (same viewing session, same audit record) while
  the first keeps its picture on screen, and only its first decoded picture swaps them.
  The gateway keeps one stream per session, so the sub stream stops when the main one
  connects: the tile holds the sub stream's last picture for that gap (its age shown).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QImage

from dispatch_console.domain.feed_health import FeedHealth, TileState, Watchdog
from dispatch_console.domain.grid_layout import Stream
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.picture_size import DEFAULT_PIXEL_BUDGET, DecodeLimit
from dispatch_console.domain.session import ViewingSession
from dispatch_console.services.console import Console
from dispatch_console.services.errors import AccessDenied, ConsoleError, NotSignedIn, StreamFailed
from dispatch_console.video.gateway_probe import probe_gateway
from dispatch_console.video.player import VideoPlayer

from .operations import OperationRunner
from .video_grid import VideoGrid

log = logging.getLogger(__name__)

WATCHDOG_INTERVAL_MS = 250
# A switch to the main stream that shows no picture within this long is abandoned (the
# tile stays on its stream), and main is not tried again for that feed for a while.
SWITCH_TIMEOUT_MS = 5000
MAIN_RETRY_AFTER_S = 30.0
# Decode at the tile's size (libVLC scales on its own threads): a 6×6 tile shows about
# 270×150, and copying, converting and painting 640×360 for it 540 times a second is
# much of the grid's cost. The size is chosen when a stream opens (or switches between
# sub and main), within these bounds in pixels; a layout switch keeps it, because
# changing it means reopening the stream, which a layout switch never does.
MIN_DECODE_PIXELS = 192 * 108
SUB_DECODE_PIXELS = DEFAULT_PIXEL_BUDGET

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
    stream: Stream = "sub"
    limit: DecodeLimit = field(default_factory=DecodeLimit)  # what the player decodes into
    switch: Switch | None = None
    main_refused_until: float = 0.0
    last_frame_at: float | None = None  # perf_counter() of the last picture on screen
    # Seconds without a new picture during each finished stream switch (old stream's
    # last picture to the new one's first): the tile held the old picture meanwhile.
    switch_gaps_s: list[float] = field(default_factory=list)


@dataclass
class Switch:
    """A switch under way: the new stream's player, until its first picture."""

    stream: Stream
    started_at: float
    limit: DecodeLimit = field(default_factory=DecodeLimit)
    player: VideoPlayer | None = None  # None while the link is being asked for
    url: str = ""
    timer: QTimer | None = None


# A fresh stream link for the same viewing session and the named stream (None: refused,
# access ended).
LinkSource = Callable[[ViewingSession, str, Stream], Coroutine[Any, Any, str | None]]


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
        size_hint: Callable[[str, Stream], tuple[int, int] | None] = lambda _c, _s: None,
        health_factory: Callable[[], FeedHealth] = FeedHealth,
        main_streams: bool = True,
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
        # False: every tile stays on the sub stream (a workstation too weak for main).
        self.main_streams = main_streams
        self.feeds: dict[str, Feed] = {}
        self._jitter = random.Random()
        # Told (session id, lost at, back at, why; monotonic seconds) when a feed shows a
        # picture again after a reconnect: the gap goes into the session's audit record.
        self.gap_listeners: list[Callable[[str, float, float, str], None]] = []
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(WATCHDOG_INTERVAL_MS)
        self._watchdog.timeout.connect(self._check_all)
        grid.streams_changed.connect(self.choose_streams)

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

        feeds = cls(
            grid,
            runner,
            player_factory,
            fresh_link=lambda session, url, stream: _console_link(console, session, url, stream),
            give_up=give_up,
            size_hint=lambda camera_id, stream: _plan_size(console, camera_id, stream),
            parent=parent,
        )

        def report_gap(session_id: str, lost: float, back: float, reason: str) -> None:
            runner.run(console.record_picture_gap(session_id, lost, back, reason))

        feeds.gap_listeners.append(report_gap)
        return feeds

    def play(self, session: ViewingSession, url: str, position: int | None = None) -> bool:
        """Show an opened view (its sub stream) at ``position`` if that tile is free, else
        in the next free tile; False if the grid filled meanwhile."""
        if self.grid.free_position_for(session.camera_id, position) is None:
            return False
        place = " · ".join(p for p in (session.school_name, session.floor_name) if p)
        tile = self.grid.add_tile(
            session.session_id,
            session.camera_name,
            place,
            camera_id=session.camera_id,
            position=position,
        )
        # The player is not a child of the tile: libVLC may still be releasing it on a
        # worker thread after the tile is gone.
        player = self._player_factory()
        feed = Feed(session, player, url, self._size_hint(session.camera_id, "sub"))
        feed.health = self._health_factory()
        feed.limit = self._limit_for(session.session_id, "sub")
        player.set_decode_limit(feed.limit)
        self.feeds[session.session_id] = feed
        self._connect(feed, player)
        tile.set_health(feed.health)
        self._start(feed)
        if not self._watchdog.isActive():
            self._watchdog.start()
        return True

    def _connect(self, feed: Feed, player: VideoPlayer) -> None:
        """The feed's current player drives its tile and its health."""
        sid = feed.session.session_id
        tile = self.grid.tile(sid)
        if tile is not None:
            player.frame_ready.connect(tile.set_frame)
        player.frame_ready.connect(lambda _image, sid=sid: self._on_frame(sid))
        player.failed.connect(
            lambda message, sid=sid, player=player: self._player_failed(sid, player, message)
        )

    def _start(self, feed: Feed) -> None:
        feed.health.started(time.monotonic())
        feed.player.play(feed.url, size_hint=feed.size_hint)

    # -- what the player and the watchdogs say --------------------------------------------

    def _on_frame(self, session_id: str) -> None:
        feed = self.feeds.get(session_id)
        if feed is None:
            return
        feed.last_frame_at = time.perf_counter()
        was = feed.health.state
        if feed.health.frame(time.monotonic()):
            if was is not TileState.CONNECTING:
                log.info(
                    "feed %s live again after reconnecting (gaps so far %.1f s)",
                    session_id,
                    feed.health.gaps_s,
                )
                gap, feed.health.last_gap = feed.health.last_gap, None
                if gap is not None:
                    for listener in list(self.gap_listeners):
                        listener(session_id, *gap)
            self._choose_stream(feed)  # live now: a large tile may move to main

    def _player_failed(self, session_id: str, player: VideoPlayer, message: str) -> None:
        feed = self.feeds.get(session_id)
        if feed is None or feed.player is not player:
            return
        switch = feed.switch
        if switch is not None and switch.player is not None:
            # The gateway keeps one stream per session: opening the new stream hung up
            # the old one. Its last picture stays on screen; the switch decides next.
            log.info("feed %s: the %s stream ended for the switch", session_id, feed.stream)
            return
        self._lost(session_id, message)

    # -- sub and main streams --------------------------------------------------------------

    def choose_streams(self) -> None:
        """Tiles may have grown or shrunk: each live feed moves to its tile's stream."""
        for feed in list(self.feeds.values()):
            self._choose_stream(feed)

    def _limit_for(self, session_id: str, stream: Stream) -> DecodeLimit:
        """What to decode into for this feed's tile as it is now: no larger than the tile
        shows it (unscaled painting), within the stream's pixel bounds."""
        box = self.grid.decode_box(session_id)
        shown = box[0] * box[1] if box is not None else 0
        if stream == "main":
            return DecodeLimit(max(SUB_DECODE_PIXELS, shown), box)
        if shown < MIN_DECODE_PIXELS:
            box = None  # a tile too small to see detail in keeps the smallest useful size
        pixels = min(SUB_DECODE_PIXELS, shown or SUB_DECODE_PIXELS)
        return DecodeLimit(max(MIN_DECODE_PIXELS, pixels), box)

    def _choose_stream(self, feed: Feed) -> None:
        sid = feed.session.session_id
        wanted: Stream = self.grid.stream_for(sid) if self.main_streams else "sub"
        switch = feed.switch
        if switch is not None:
            if switch.stream == wanted:
                return
            self._cancel_switch(feed)
        if feed.health.state is not TileState.LIVE:
            return  # a feed that is not live switches once it is again
        if wanted == feed.stream:
            return
        if wanted == "main" and time.monotonic() < feed.main_refused_until:
            return
        self._start_switch(feed, wanted, self._limit_for(sid, wanted))

    def _start_switch(self, feed: Feed, stream: Stream, limit: DecodeLimit) -> None:
        sid = feed.session.session_id
        switch = Switch(stream, time.perf_counter(), limit)
        feed.switch = switch
        tile = self.grid.tile(sid)
        if tile is not None and stream != feed.stream:
            tile.set_stream(feed.stream, stream)
        log.info("feed %s: switching %s -> %s (%s)", sid, feed.stream, stream, limit)
        # No previous link to fall back on: the current one is for the other stream.
        self.runner.run(
            self._fresh_link(feed.session, "", stream),
            lambda url: self._switch_link(sid, switch, url),
        )

    def _switch_link(self, session_id: str, switch: Switch, url: str | None) -> None:
        feed = self.feeds.get(session_id)
        if feed is None or feed.switch is not switch:
            return
        if url is None:
            self._switch_failed(session_id, switch, "the district refused the stream's link")
            return
        player = self._player_factory()
        # Decode at the tile's size: not the camera's 1080p for a big tile, not 640×360
        # for a small one.
        player.set_decode_limit(switch.limit)
        switch.player, switch.url = player, url
        player.frame_ready.connect(
            lambda image, sid=session_id, switch=switch: self._switch_frame(sid, switch, image)
        )
        player.failed.connect(
            lambda message, sid=session_id, switch=switch: self._switch_failed(sid, switch, message)
        )
        timer = QTimer(self)
        timer.setSingleShot(True)
        timer.timeout.connect(
            lambda sid=session_id, switch=switch: self._switch_failed(
                sid, switch, f"no picture within {SWITCH_TIMEOUT_MS / 1000:g} s"
            )
        )
        switch.timer = timer
        timer.start(SWITCH_TIMEOUT_MS)
        player.play(url, size_hint=self._size_hint(feed.session.camera_id, switch.stream))

    def _switch_frame(self, session_id: str, switch: Switch, image: object) -> None:
        """The new stream's first decoded picture: only now does it replace the old."""
        feed = self.feeds.get(session_id)
        if feed is None or feed.switch is not switch or switch.player is None:
            return
        now = time.perf_counter()
        gap = now - feed.last_frame_at if feed.last_frame_at is not None else 0.0
        old, new = feed.player, switch.player
        self._release(old)
        new.frame_ready.disconnect()
        new.failed.disconnect()
        if switch.timer is not None:
            switch.timer.stop()
        feed.player, feed.url, feed.stream, feed.switch = new, switch.url, switch.stream, None
        feed.limit = switch.limit
        feed.size_hint = self._size_hint(feed.session.camera_id, switch.stream)
        feed.switch_gaps_s.append(gap)
        self._connect(feed, new)
        tile = self.grid.tile(session_id)
        if tile is not None and isinstance(image, QImage):
            tile.set_frame(image)
            tile.set_stream(feed.stream)
        self._on_frame(session_id)
        log.info(
            "feed %s on the %s stream after %.2f s (%.3f s without a new picture)",
            session_id,
            feed.stream,
            now - switch.started_at,
            gap,
        )

    def _switch_failed(self, session_id: str, switch: Switch, reason: str) -> None:
        feed = self.feeds.get(session_id)
        if feed is None or feed.switch is not switch:
            return
        log.warning("feed %s: no switch to the %s stream: %s", session_id, switch.stream, reason)
        self._cancel_switch(feed)
        if switch.stream == "main":
            feed.main_refused_until = time.monotonic() + MAIN_RETRY_AFTER_S
        if not feed.player.is_playing:
            # The old stream was hung up for the switch: get it back (same session).
            self._lost(session_id, f"The {switch.stream} stream did not start ({reason})")

    def _cancel_switch(self, feed: Feed) -> None:
        switch, feed.switch = feed.switch, None
        if switch is None:
            return
        if switch.timer is not None:
            switch.timer.stop()
        if switch.player is not None:
            self._release(switch.player)
        tile = self.grid.tile(feed.session.session_id)
        if tile is not None:
            tile.set_stream(feed.stream)

    @staticmethod
    def _release(player: VideoPlayer) -> None:
        player.frame_ready.disconnect()
        player.failed.disconnect()
        player.stop()
        player.deleteLater()

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
        self._cancel_switch(feed)
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

        self.runner.run(self._fresh_link(feed.session, feed.url, feed.stream), replay)

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
        self._cancel_switch(feed)
        self._release(feed.player)

    def ended(self, session: ViewingSession, why: str | None) -> None:
        """The view's end is recorded: free its tile, leaving a note that says why.

        Unless the user closed it (or replaced it), the camera stays in its cell as a
        placeholder: one click asks to reopen it, under whatever access holds then.
        """
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
        keep = reason not in (EndReason.CLOSED_BY_USER, EndReason.GRID_FULL, None)
        self.grid.remove_tile(session.session_id, text, state, keep_placeholder=keep)


async def _console_link(
    console: Console, session: ViewingSession, last_url: str, stream: Stream = "sub"
) -> str | None:
    """A new link for the same session; None when the district refuses (access ended).

    The link is signed for one minute and names the session, so the gateway admits it as
    the same viewing session: no second audit record. If the district cannot be reached,
    the previous link (``last_url``; "" for none) is tried again (it may still be within
    its minute; the gateway decides).
    """
    try:
        ticket = await console.fresh_stream_link(session, stream)
    except (AccessDenied, NotSignedIn, StreamFailed) as exc:
        log.warning("no new link for %s: %s", session.session_id, exc.detail)
        try:
            await console.refresh_access()  # closes the view, with the reason, if it ended
        except ConsoleError as refresh_error:
            log.warning("access check failed: %s", refresh_error.detail)
        return None
    except ConsoleError as exc:
        log.warning("district unreachable for a new link (%s); reusing the last", exc.detail)
        return last_url or None
    return ticket.url


def _plan_size(console: Console, camera_id: str, stream: Stream) -> tuple[int, int] | None:
    """The stream's picture size as the district's plan states it, if it does."""
    district = console.district
    if district is None:
        return None
    camera = district.camera(camera_id)
    profile = next((s for s in camera.streams if s.name == stream), None)
    if profile is None or profile.width <= 0 or profile.height <= 0:
        return None
    return profile.width, profile.height
