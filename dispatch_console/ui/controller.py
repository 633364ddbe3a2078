"""Wires one Console (the Qt-free workflow) to one MainWindow: the composition of the
desk's presenters and the wiring of their signals.

Each job has its presenter: the plan column (``MapPresenter``), emergencies and access
(``AccessPresenter``), the video grid (``VideoPresenter``), the watch board
(``BoardPresenter``), and the district desk's, request, audit and emergency-location
presenters. The access state lives in a store (``domain.access_store``): each refresh is
a pure transition whose change set the presenters follow, each redrawing only what the
change touches. What stays here: sign-in again, the idle lock, the audit status, failures
and exit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject, QTimer

from dispatch_console.domain.access_store import AccessChanges, AccessStore
from dispatch_console.domain.audit_health import AuditHealth
from dispatch_console.domain.models import Floor
from dispatch_console.domain.policy import idle_lock_due
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.services.console import Console
from dispatch_console.services.drawing_cache import DrawingCache
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.grid_store import GridStore
from dispatch_console.services.platform_paths import user_cache_dir
from dispatch_console.video.player import VideoPlayer

from .access_presenter import AccessPresenter
from .audit_presenter import AuditPresenter
from .board_presenter import BoardPresenter
from .district_desk import DistrictDeskPresenter
from .emergency_spot import EmergencySpotPresenter
from .feeds import FeedManager
from .grant_dialogs import GrantTermsDialog, NoteDialog
from .grid_memory import GridMemory
from .idle_lock import IdleWatcher
from .main_window import MainWindow
from .map_presenter import MapPresenter
from .map_view import PinState
from .notifications import AlertChoices, Sound
from .operations import OperationRunner
from .request_presenter import RequestPresenter
from .sign_in import SignInWindow
from .video_presenter import VideoPresenter

log = logging.getLogger(__name__)


class ConsoleController(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        runner: OperationRunner,
        *,
        player_factory: Callable[[], VideoPlayer],
        board_refresh_ms: int = 30000,
        access_panel_refresh_ms: int = 15000,
        idle_lock_after: timedelta | None = None,
        audit_health_refresh_ms: int = 1000,
        alerts: AlertChoices | None = None,
        alert_sound: Sound | None = None,
        grid_store: GridStore | None = None,
    ) -> None:
        super().__init__(window)
        self.console = console
        self.window = window
        self.runner = runner
        # Players, watchdogs and reconnects of the open feeds (see ui/feeds.py).
        self.feeds = FeedManager.for_console(
            console, window.grid, runner, player_factory, parent=self
        )
        # Visible areas per floor, built when a floor is first shown and kept.
        self.visibility = VisibilityIndex()
        # Floor drawings the plan names, fetched once per version into the cache folder.
        self.drawings = DrawingCache(console.client, user_cache_dir() / "drawings")
        # The access state as the presenters see it: each refresh is a transition.
        self.store = AccessStore()
        self._closing = False
        # Whether the window went because the user signed out (the app then asks for a
        # sign-in again) rather than exited.
        self.signed_out = False
        runner.failed.connect(self._show_failure)
        # The plan column: schools, floors, overview, breadcrumb, pins, banner, search.
        self.map = MapPresenter(
            console,
            window,
            self.visibility,
            self.drawings,
            closing=lambda: self._closing,
            open_cameras=lambda cameras: self.video.open_many(cameras),
        )
        # Opening, replacing and closing feeds; the user's grid kept per user.
        self.requests: RequestPresenter  # set below; the video presenter's FERPA notice
        self.video = VideoPresenter(
            console,
            window,
            runner,
            self.feeds,
            grid_store=grid_store,
            closing=lambda: self._closing,
            reveal=self.map.reveal,
            views_changed=self.map.refresh_pins,
            video_shown=lambda: self.requests.show_ferpa_notice(),
        )
        # Emergencies and access: rows, decisions, declaring, the district's forms.
        self.access = AccessPresenter(
            console,
            window,
            runner,
            self.store,
            sync=self.sync_access,
            current_school=lambda: school.id if (school := self.map.school()) else None,
        )
        # The district desk's watch board.
        self.board = BoardPresenter(console, window, runner, refresh_ms=board_refresh_ms)
        self.store.subscribe(self.map.on_access_changes)
        self.store.subscribe(self.access.on_access_changes)
        window.close_requested.connect(self.shutdown)
        window.sign_out_requested.connect(self.sign_out)
        console.access_listeners.append(self._on_access_changed)
        console.connection_listeners.append(self._on_connection_changed)
        console.shipper.problem_listeners.append(self.window.show_audit_problem)
        console.audit_stop_listeners.append(self._on_audit_stop)
        # The status bar's audit state: the oldest record's age moves on by itself.
        self._audit_health_timer = QTimer(self)
        self._audit_health_timer.setInterval(audit_health_refresh_ms)
        self._audit_health_timer.timeout.connect(self.refresh_audit_health)
        console.sign_in_lost_listeners.append(self._ask_to_sign_in_again)
        if console.live is not None:
            console.live.problem_listeners.append(self._on_live_updates_problem)
        # The district desk's audit browser and live audit findings (ui/audit_presenter).
        self.audit = AuditPresenter(console, window, runner) if window.board is not None else None
        # The district desk's alerts, review list, agencies and "who watches what" badges.
        self.district_desk = (
            DistrictDeskPresenter(
                console,
                window,
                runner,
                review=lambda grant: self.access.ask_review(grant.id, grant),
                alerts=alerts or AlertChoices(),
                sound=alert_sound,
            )
            if window.board is not None
            else None
        )
        # The request's state: police school list, "Ask to extend", the FERPA notice.
        self.requests = RequestPresenter(console, window, runner, open_school=self.map.open_school)
        # The emergency's location: chosen on the map, marked, its covering cameras offered.
        self.spot = EmergencySpotPresenter(
            console,
            window,
            self.visibility,
            open_school=self.map.open_school,
            open_covering=self.map.open_cameras_covering,
        )
        self.access.spot = self.spot
        self.sign_in_window: SignInWindow | None = None
        # The idle lock (None: never): after this long without input the desk covers
        # itself, ends its feeds as "locked" and asks for the password and code again.
        self.locked = False
        self._idle_lock_after: timedelta | None = None
        self.idle_watcher: IdleWatcher | None = None
        self.set_idle_lock(idle_lock_after)
        window.unlock_requested.connect(self._ask_to_unlock)
        # Waiting times and expiries move on even when the access state does not.
        self._access_panel_timer = QTimer(self)
        self._access_panel_timer.setInterval(access_panel_refresh_ms)
        self._access_panel_timer.timeout.connect(self._tick)

    # -- start-up -------------------------------------------------------------------------

    def show_console(self) -> None:
        """Fill the window from the loaded console state."""
        user = self.console.user
        district = self.console.district
        if user is None or district is None:
            raise RuntimeError("show_console needs a signed-in console with its district")
        role = user.role.value.replace("_", " ")
        self.window.who.setText(f"{user.display_name} — {role}, {user.agency}")
        self.map.fill_schools()
        self.map.show_overview()  # the map starts at the district's schools and their state
        self.video.restore_grid()  # placeholders only: nothing plays by itself
        for warning in district.warnings:
            log.warning("floor plan: %s", warning)
        self.access.refresh_panel()
        self.requests.refresh()
        self._access_panel_timer.start()
        self.refresh_audit_health()
        self._audit_health_timer.start()
        self.board.start()
        if self.district_desk is not None:
            self.district_desk.start()

    def redraw(self) -> None:
        """Render again what colours itself from the theme (after View → Dark theme)."""
        self.sync_access()
        self.map.redraw()
        self.access.show_rows()

    # -- the access store -----------------------------------------------------------------

    def sync_access(self) -> AccessChanges:
        """Bring the store up to the console's access state; the presenters hear what
        changed and redraw that only."""
        user = self.console.user
        if user is None:
            return AccessChanges()
        return self.store.apply(self.console.access, user, datetime.now(UTC))

    def _on_access_changed(self) -> None:
        self.sync_access()

    def _tick(self) -> None:
        """The panel's timer: countdowns and waiting times move on by themselves."""
        changes = self.sync_access()
        if not (changes.statuses_changed or changes.decided):
            self.access.show_rows()
        if not (changes.schools or changes.statuses_changed):
            self.map.refresh_navigation()

    # -- what tests, shortcuts and the app reach through the controller --------------------

    @property
    def grid_memory(self) -> GridMemory | None:
        return self.video.grid_memory

    @property
    def grant_dialog(self) -> GrantTermsDialog | None:
        return self.access.grant_dialog

    @property
    def review_dialog(self) -> NoteDialog | None:
        return self.access.review_dialog

    @property
    def deny_dialog(self) -> NoteDialog | None:
        return self.access.deny_dialog

    def open_camera(self, camera_id: str, position: int | None = None) -> None:
        self.video.open_camera(camera_id, position)

    def open_cameras_covering(self, x: float, y: float) -> None:
        self.map.open_cameras_covering(x, y)

    def close_view(self, session_id: str) -> None:
        self.video.close_view(session_id)

    def pin_states(self, floor: Floor) -> dict[str, PinState]:
        return self.map.pin_states(floor)

    # -- connection and live updates ------------------------------------------------------

    def _on_connection_changed(self, problem: str | None) -> None:
        self.window.show_connection_problem(problem)
        if problem is None:
            self.window.show_message("Connection to the district server restored.")

    def _on_live_updates_problem(self, problem: str | None) -> None:
        live = self.console.live
        self.window.show_live_updates_problem(problem, live.max_backoff_s if live else 0)

    # -- idle lock -------------------------------------------------------------------------

    def set_idle_lock(self, after: timedelta | None) -> None:
        """Lock the desk after this long without input (None: never)."""
        self._idle_lock_after = after
        if after is None:
            if self.idle_watcher is not None:
                self.idle_watcher.stop()
                self.idle_watcher = None
            return
        if self.idle_watcher is None:
            self.idle_watcher = IdleWatcher(self._must_lock, self)
            self.idle_watcher.idle.connect(self.lock)
        self.idle_watcher.reset()

    def _must_lock(self, idle: timedelta) -> bool:
        if self.locked or self._closing or self.console.user is None:
            return False
        watching = self.console.watching_an_active_emergency()
        return idle_lock_due(idle, self._idle_lock_after, watching)

    def lock(self) -> None:
        """Cover the desk, end its feeds as "locked", and ask for the sign-in again."""
        if self.locked or self._closing:
            return
        self.locked = True
        minutes = (self._idle_lock_after or timedelta()).total_seconds() / 60
        log.info("desk locked after %g minute(s) without input", minutes)
        self.window.show_locked(
            "This desk locked itself after a period without use. Open video was closed "
            "and recorded as locked. Sign in again to go on."
        )
        self.runner.run(self.console.lock(), None, lambda _error: None)
        self._ask_to_unlock()

    def _ask_to_unlock(self) -> None:
        if self.locked:
            self._ask_for_sign_in("Unlock")

    def _ask_to_sign_in_again(self) -> None:
        """The district ended the sign-in: ask again in place, keeping the incident view."""
        self.window.show_message(
            "Your sign-in has ended (expired or ended by the district): open feeds were "
            "closed and recorded. Sign in again to go on.",
            "warning",
            timeout_ms=60000,
        )
        self._ask_for_sign_in("Sign in again")

    def _ask_for_sign_in(self, title: str) -> None:
        """The same user's password and code again, in one prompt whichever asked for it
        (an ended sign-in or the idle lock); success also lifts the lock."""
        user = self.console.user
        if self._closing or user is None:
            return
        if self.sign_in_window is None:
            prompt = SignInWindow(self.console.client.base_url)
            prompt.username.setText(user.username)
            prompt.username.setReadOnly(True)
            prompt.remember.hide()  # a remembered sign-in stays remembered
            prompt.submitted.connect(self._sign_in_again)
            prompt.cancelled.connect(self._sign_in_declined)
            self.sign_in_window = prompt
        self.sign_in_window.setWindowTitle(f"Dispatch Console — {title}")
        self.sign_in_window.show()
        self.sign_in_window.raise_()
        self.sign_in_window.password.setFocus()

    def _sign_in_again(self, username: str, password: str, code: str, _remember: bool) -> None:
        prompt = self.sign_in_window
        if prompt is None:
            return

        def signed_in(_user: object) -> None:
            prompt.finish()
            self.sign_in_window = None
            if not self.locked:
                self.window.show_message("Signed in again.")
                return
            self.locked = False
            self.window.show_locked(None)
            if self.idle_watcher is not None:
                self.idle_watcher.reset()
            self.window.show_message("Unlocked.")

        def failed(error: ConsoleError) -> None:
            prompt.show_error(f"{error.title}: {error.detail} {error.hint}".strip())

        self.runner.run(self.console.sign_in_again(username, password, code), signed_in, failed)

    def _sign_in_declined(self) -> None:
        self.sign_in_window = None
        if self.locked:
            return  # the cover stays; its Unlock… button asks again
        self.window.show_message(
            "Not signed in: access changes are not received and no feed can open.", "warning"
        )

    # -- failures and exit ----------------------------------------------------------------

    def _show_failure(self, title: str, message: str) -> None:
        self.window.show_message(f"{title}: {message}", "error")

    def refresh_audit_health(self) -> None:
        """Ask the console for the audit state and show it.

        Not through the runner: a damaged outbox would otherwise pop an error every
        second; opening a feed already says so, and the status keeps its last text.
        """

        def show(task: asyncio.Task[AuditHealth]) -> None:
            if task.cancelled():
                return
            error = task.exception()
            if error is None:
                self.window.show_audit_health(task.result())
            else:
                log.warning("audit health not read: %s", error)

        asyncio.ensure_future(self.console.audit_health()).add_done_callback(show)

    def _on_audit_stop(self, _session_id: str, why: str) -> None:
        self.window.show_message(why, "error")

    def sign_out(self) -> None:
        """End every session as signed out, end the sign-in (a remembered one too, on the
        district and in the keyring), then let the window go."""
        self.shutdown(sign_out=True)

    def shutdown(self, *, sign_out: bool = False) -> None:
        """End every session as an application exit, report it, then let the window go.

        An exit keeps a remembered sign-in for the next start; ``sign_out`` does not.
        """
        if self._closing:
            return
        self._closing = True
        self.signed_out = sign_out
        if self.sign_in_window is not None:
            self.sign_in_window.finish()
            self.sign_in_window = None
        self.board.stop()
        self._access_panel_timer.stop()
        self._audit_health_timer.stop()
        self.set_idle_lock(None)  # the event filter goes with the window

        def finished(_result: object = None) -> None:
            self.video.save_grid()  # with the detached window's last placement
            self.window.grid_home.close_window()
            self.window.allow_close()
            self.window.close()

        def failed(error: ConsoleError) -> None:
            log.warning("exit: %s", error)
            finished()

        self.runner.run(self.console.shutdown(sign_out=sign_out), finished, failed)
