"""The video grid's job on the desk: open a camera (policy first, then an audited session,
then its tile), replace a feed when the grid is full, close a tile, say why a view ended,
and keep the user's grid (layout and remembered cameras) saved.

The players themselves are ``FeedManager``'s (ui/feeds.py); this class only calls its
public API, as the controller did.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from dispatch_console.domain.models import Camera, EndReason
from dispatch_console.domain.session import ViewingSession
from dispatch_console.services.console import Console, OpenedView
from dispatch_console.services.grid_store import GridStore

from .feeds import FeedManager
from .grid_memory import GridMemory
from .main_window import MainWindow
from .operations import OperationRunner

_END_MESSAGES = {
    EndReason.GRANT_EXPIRED: "The access grant expired: the feed was closed.",
    EndReason.GRANT_REVOKED: "The district revoked access: the feed was closed.",
    EndReason.EMERGENCY_ENDED: "The emergency was ended: the feed was closed.",
    EndReason.STREAM_FAILED: "The stream failed and its viewing session was closed.",
}


class VideoPresenter(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        runner: OperationRunner,
        feeds: FeedManager,
        *,
        grid_store: GridStore | None,
        closing: Callable[[], bool],
        reveal: Callable[[Camera], None],
        views_changed: Callable[[], None],
        video_shown: Callable[[], None],
    ) -> None:
        """``reveal``: show a camera opened from outside the plan; ``views_changed``: a
        view opened or ended (the pins say which are open); ``video_shown``: a tile plays."""
        super().__init__(window)
        self.console = console
        self.window = window
        self.runner = runner
        self.feeds = feeds
        self._closing = closing
        self._reveal = reveal
        self._views_changed = views_changed
        self._video_shown = video_shown
        window.map.camera_clicked.connect(self.open_camera)
        # A pin dropped on a tile, or a click on a remembered camera: the same open path.
        window.grid.camera_dropped.connect(self.open_camera)
        window.grid.reopen_requested.connect(self.open_camera)
        # Where each camera being opened was asked to go (camera id -> tile position).
        self._wanted_positions: dict[str, int] = {}
        # The user's grid (layout, cameras by tile, detached window), saved per user.
        self.grid_memory = (
            GridMemory(window.grid_home, grid_store, runner, self.describe_camera, self)
            if grid_store is not None
            else None
        )
        console.view_closing_listeners.append(self._stop_player)
        console.view_ended_listeners.append(self._on_view_ended)

    def describe_camera(self, camera_id: str) -> tuple[str, str] | None:
        """A remembered camera's title and "school · floor" (None: not in this district)."""
        district = self.console.district
        if district is None:
            return None
        try:
            camera = district.camera(camera_id)
            school = district.school(camera.school_id)
        except KeyError:
            return None
        floor = next(
            (f.name for b in school.buildings for f in b.floors if f.id == camera.floor_id), ""
        )
        return camera.display_name, " · ".join(p for p in (school.name, floor) if p)

    def open_camera(self, camera_id: str, position: int | None = None) -> None:
        """Open a camera (a pin click, a pin dropped on tile ``position``, a placeholder's
        click): policy first, then an audited session, then its tile."""
        district = self.console.district
        if district is None or self._closing():
            return
        try:
            camera = district.camera(camera_id)
        except KeyError:
            self.window.show_message(f"There is no camera {camera_id!r} here.", "warning")
            return
        grid = self.window.grid
        open_sid = next(
            (sid for sid, s in self.console.views.items() if s.camera_id == camera_id), None
        )
        if open_sid is not None:
            at = grid.position_of(open_sid)
            if position is not None and at is not None and at != position:
                grid.swap(at, position)  # dropped again elsewhere: it moves, still playing
                return
            self.window.show_message(f"{camera.name} is already open in the grid.")
            return
        decision = self.console.decision(camera)
        if not decision:
            reason = decision.reason
            if camera.name not in reason:
                reason = f"{camera.name}: {reason}"
            self.window.show_message(reason, "warning")
            return
        self._reveal(camera)
        occupant = grid.session_at(position) if position is not None else None
        if occupant is not None or (position is None and grid.free_tiles() - self._opening() <= 0):
            # A full grid (or a tile with a feed, for a dropped pin) asks before it
            # replaces a feed: that tile's, else the selected one, else the last.
            old = grid.tile(occupant) if occupant is not None else grid.replacement_candidate()
            if old is None or not grid.confirm_replace(
                grid.layout_box.currentText(), old.title, camera.display_name
            ):
                self.window.show_message(
                    "The video grid is full: close a feed or choose a larger layout.", "warning"
                )
                return

            target = grid.position_of(old.session_id)

            def then_open(_ended: object) -> None:
                if target is not None:
                    self._wanted_positions[camera_id] = target
                self.runner.run(self.console.open_view(camera_id), self._play)

            self.runner.run(
                self.console.close_view(old.session_id, EndReason.CLOSED_BY_USER), then_open
            )
            return
        if position is not None:
            self._wanted_positions[camera_id] = position
        self.runner.run(self.console.open_view(camera_id), self._play)

    def open_many(self, cameras: list[Camera]) -> list[Camera]:
        """Open the cameras not open yet, as many as the grid has free tiles for; the
        ones left out (the grid is full)."""
        already = {s.camera_id for s in self.console.views.values()}
        wanted = [c for c in cameras if c.id not in already]
        free = max(self.window.grid.free_tiles() - self._opening(), 0)
        for camera in wanted[:free]:
            self.runner.run(self.console.open_view(camera.id), self._play)
        return wanted[free:]

    def _opening(self) -> int:
        """Views whose audit start is under way but have no tile yet."""
        return sum(1 for sid in self.console.views if self.window.grid.tile(sid) is None)

    def _play(self, opened: OpenedView) -> None:
        session = opened.session
        if session.session_id not in self.console.views:  # closed while it was opening
            return
        position = self._wanted_positions.pop(session.camera_id, None)
        if not self.feeds.play(session, opened.ticket.url, position):
            self.runner.run(self.console.close_view(session.session_id, EndReason.GRID_FULL))
            return
        tile = self.window.grid.tile(session.session_id)
        if tile is not None:
            tile.close_requested.connect(self.close_view)
        self._video_shown()
        self._views_changed()

    def close_view(self, session_id: str) -> None:
        self.runner.run(self.console.close_view(session_id, EndReason.CLOSED_BY_USER))

    def _stop_player(self, session: ViewingSession) -> None:
        """Stop the picture before the session's end is stamped: no frame after the end."""
        self.feeds.stop(session)

    def _on_view_ended(self, session: ViewingSession) -> None:
        reason = session.end_reason
        why = self.console.failure_reasons.pop(session.session_id, None)
        # Stops the player if it still runs, and leaves the cell saying why it ended.
        self.feeds.ended(session, why)
        self._views_changed()
        if reason is EndReason.STREAM_FAILED and why:
            # The gateway's own words: offline, credentials refused, not video ...
            self.window.show_message(f"{session.camera_name}: {why}", "warning")
        elif reason in _END_MESSAGES and not self._closing():
            self.window.show_message(f"{session.camera_name}: {_END_MESSAGES[reason]}", "warning")

    def restore_grid(self) -> None:
        if self.grid_memory is not None:
            self.grid_memory.restore()  # placeholders only: nothing plays by itself

    def save_grid(self) -> None:
        if self.grid_memory is not None:
            self.grid_memory.save_now()  # with the detached window's last placement
            self.grid_memory.enabled = False
