"""Wires one Console (the Qt-free workflow) to one MainWindow.

It translates clicks into console operations and console state into what the widgets
draw. Every decision comes from the console (and so from the domain policy); this class
only chooses how to show it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer

from dispatch_console.domain.access_board import EmergencyStatus, decided_since
from dispatch_console.domain.audit_health import AuditHealth
from dispatch_console.domain.models import (
    Emergency,
    EmergencyType,
    EndReason,
    Floor,
    Grant,
    School,
)
from dispatch_console.domain.policy import (
    AccessAction,
    grant_in_force,
    idle_lock_due,
    police_shareable,
)
from dispatch_console.domain.session import ViewingSession, parse_utc
from dispatch_console.floorplan.camera_search import find_cameras
from dispatch_console.floorplan.coverage import cameras_covering
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.services.console import Console, OpenedView
from dispatch_console.services.district_client import Decided
from dispatch_console.services.drawing_cache import DrawingCache
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.grid_store import GridStore
from dispatch_console.services.platform_paths import user_cache_dir
from dispatch_console.services.sse import ServerEvent
from dispatch_console.video.player import VideoPlayer

from .audit_presenter import AuditPresenter
from .district_desk import DistrictDeskPresenter
from .district_overview import DISTRICT_LINK, school_summaries
from .emergency_panel import Banner
from .emergency_spot import EmergencySpotPresenter
from .feeds import FeedManager
from .grant_dialogs import BuildingChoice, GrantTermsDialog, NoteDialog, deny_dialog, review_dialog
from .grid_memory import GridMemory
from .idle_lock import IdleWatcher
from .main_window import MainWindow
from .map_view import PinLook, PinState
from .notifications import AlertChoices, Sound
from .operations import OperationRunner
from .request_presenter import RequestPresenter
from .sign_in import SignInWindow

log = logging.getLogger(__name__)

_END_MESSAGES = {
    EndReason.GRANT_EXPIRED: "The access grant expired: the feed was closed.",
    EndReason.GRANT_REVOKED: "The district revoked access: the feed was closed.",
    EndReason.EMERGENCY_ENDED: "The emergency was ended: the feed was closed.",
    EndReason.STREAM_FAILED: "The stream failed and its viewing session was closed.",
}


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
        grid_store: GridStore | None = None,
        alerts: AlertChoices | None = None,
        alert_sound: Sound | None = None,
    ) -> None:
        super().__init__(window)
        self.console = console
        self.window = window
        self.runner = runner
        # Players, watchdogs and reconnects of the open feeds (see ui/feeds.py).
        self.feeds = FeedManager.for_console(
            console, window.grid, runner, player_factory, parent=self
        )
        self._floors: list[Floor] = []
        # Visible areas per floor, built when a floor is first shown and kept.
        self.visibility = VisibilityIndex()
        # Floor drawings the plan names, fetched once per version into the cache folder.
        self.drawings = DrawingCache(console.client, user_cache_dir() / "drawings")
        self._statuses: tuple[EmergencyStatus, ...] = ()
        self._at_overview = False  # the map column shows the district overview
        self._closing = False
        runner.failed.connect(self._show_failure)
        window.school.currentIndexChanged.connect(self._on_school_changed)
        window.floors.currentChanged.connect(self._on_floor_changed)
        window.map.camera_clicked.connect(self.open_camera)
        # A pin dropped on a tile, or a click on a remembered camera: the same open path.
        window.grid.camera_dropped.connect(self.open_camera)
        window.grid.reopen_requested.connect(self.open_camera)
        # Where each camera being opened was asked to go (camera id -> tile position).
        self._wanted_positions: dict[str, int] = {}
        # The user's grid (layout, cameras by tile, detached window), saved per user.
        self.grid_memory = (
            GridMemory(window.grid_home, grid_store, runner, self._describe_camera, self)
            if grid_store is not None
            else None
        )
        window.map.spot_chosen.connect(self.open_cameras_covering)
        window.search.returnPressed.connect(self._on_search)
        window.floor_up.activated.connect(lambda: self._step_floor(+1))
        window.floor_down.activated.connect(lambda: self._step_floor(-1))
        window.overview.school_chosen.connect(self._open_school)
        window.breadcrumb.chosen.connect(self._on_breadcrumb)
        window.overview_key.activated.connect(self._show_overview)
        window.emergency.declare_requested.connect(self._on_declare)
        window.access.action_requested.connect(self._on_access_action)
        window.close_requested.connect(self.shutdown)
        console.access_listeners.append(self._on_access_changed)
        console.connection_listeners.append(self._on_connection_changed)
        console.shipper.problem_listeners.append(self.window.show_audit_problem)
        console.audit_stop_listeners.append(self._on_audit_stop)
        # The status bar's audit state: the oldest record's age moves on by itself.
        self._audit_health_timer = QTimer(self)
        self._audit_health_timer.setInterval(audit_health_refresh_ms)
        self._audit_health_timer.timeout.connect(self.refresh_audit_health)
        console.view_closing_listeners.append(self._stop_player)
        console.view_ended_listeners.append(self._on_view_ended)
        console.sign_in_lost_listeners.append(self._ask_to_sign_in_again)
        if console.live is not None:
            console.live.problem_listeners.append(self._on_live_updates_problem)
            console.live.event_listeners.append(self._on_live_event)
        # The district desk's audit browser and live audit findings (ui/audit_presenter).
        self.audit = AuditPresenter(console, window, runner) if window.board is not None else None
        # The district desk's alerts, review list, agencies and "who watches what" badges.
        self.district_desk = (
            DistrictDeskPresenter(
                console,
                window,
                runner,
                review=lambda grant: self._ask_review(grant.id, grant),
                alerts=alerts or AlertChoices(),
                sound=alert_sound,
            )
            if window.board is not None
            else None
        )
        # The request's state: police school list, "Ask to extend", the FERPA notice.
        self.requests = RequestPresenter(console, window, runner, open_school=self._open_school)
        # The emergency's location: chosen on the map, marked, its covering cameras offered.
        self.spot = EmergencySpotPresenter(
            console,
            window,
            self.visibility,
            open_school=self._open_school,
            open_covering=self.open_cameras_covering,
        )
        self.sign_in_window: SignInWindow | None = None
        # The idle lock (None: never): after this long without input the desk covers
        # itself, ends its feeds as "locked" and asks for the password and code again.
        self.locked = False
        self._idle_lock_after: timedelta | None = None
        self.idle_watcher: IdleWatcher | None = None
        self.set_idle_lock(idle_lock_after)
        window.unlock_requested.connect(self._ask_to_unlock)
        # The district desk's open forms (kept so tests and shortcuts can reach them).
        self.grant_dialog: GrantTermsDialog | None = None
        self.review_dialog: NoteDialog | None = None
        self.deny_dialog: NoteDialog | None = None
        # Why the district denied a request, by emergency, as the live event said.
        self._denial_reasons: dict[str, str] = {}
        self._board_timer = QTimer(self)
        self._board_timer.setInterval(board_refresh_ms)
        self._board_timer.timeout.connect(self._refresh_board)
        # Waiting times and expiries move on even when the access state does not.
        self._access_panel_timer = QTimer(self)
        self._access_panel_timer.setInterval(access_panel_refresh_ms)
        self._access_panel_timer.timeout.connect(self._refresh_access_panel)
        self._access_panel_timer.timeout.connect(self._refresh_navigation)

    # -- start-up -------------------------------------------------------------------------

    def show_console(self) -> None:
        """Fill the window from the loaded console state."""
        user = self.console.user
        district = self.console.district
        if user is None or district is None:
            raise RuntimeError("show_console needs a signed-in console with its district")
        role = user.role.value.replace("_", " ")
        self.window.who.setText(f"{user.display_name} — {role}, {user.agency}")
        self.window.school.blockSignals(True)
        for school in district.schools:
            self.window.school.addItem(school.name, school.id)
        self.window.school.blockSignals(False)
        self._on_school_changed(0)
        self._show_overview()  # the map starts at the district's schools and their state
        if self.grid_memory is not None:
            self.grid_memory.restore()  # placeholders only: nothing plays by itself
        for warning in district.warnings:
            log.warning("floor plan: %s", warning)
        self._refresh_access_panel()
        self.requests.refresh()
        self._access_panel_timer.start()
        self.refresh_audit_health()
        self._audit_health_timer.start()
        if self.window.board is not None:
            self._board_timer.start()
            self._refresh_board()
        if self.district_desk is not None:
            self.district_desk.start()

    def redraw(self) -> None:
        """Render again what colours itself from the theme (after View → Dark theme)."""
        self._on_access_changed()

    # -- map ------------------------------------------------------------------------------

    def _school(self) -> School | None:
        district = self.console.district
        school_id = self.window.school.currentData()
        if district is None or not isinstance(school_id, str):
            return None
        return district.school(school_id)

    def _on_school_changed(self, _index: int) -> None:
        school = self._school()
        if school is None:
            return
        self.window.emergency.set_school(school.id, school.name)
        self._floors = [f for b in school.buildings for f in b.floors]
        tabs = self.window.floors
        tabs.blockSignals(True)
        while tabs.count():
            tabs.removeTab(0)
        multiple_buildings = len(school.buildings) > 1
        for building in school.buildings:
            for floor in building.floors:
                label = f"{building.name} · {floor.name}" if multiple_buildings else floor.name
                tabs.addTab(label)
        tabs.setCurrentIndex(0)
        tabs.blockSignals(False)
        self._on_floor_changed(0)
        self._update_banner()

    def _on_floor_changed(self, index: int) -> None:
        if 0 <= index < len(self._floors):
            floor = self._floors[index]
            visible = self.visibility.floor(floor)
            areas = {camera.id: visible.outline(camera.id) for camera in floor.cameras}
            self.window.map.show_floor(floor, self.pin_states(floor), areas)
            self._fetch_drawing(floor)
            self._at_overview = False
            self.window.show_overview(False)
            self._refresh_navigation()

    def _fetch_drawing(self, floor: Floor) -> None:
        """Fetch the floor's drawing off the GUI thread; the map shows it when it is here
        (if the floor is still shown), and the plan stays usable without it meanwhile."""
        if floor.background is None or not floor.background.sha256:
            return

        def show(task: asyncio.Future[Path | None]) -> None:
            if task.cancelled() or self._closing:
                return
            error = task.exception()
            path = None if error is not None else task.result()
            if path is not None:
                self.window.map.show_drawing(floor, path)
            else:
                note = error or self.drawings.notes.get(floor.id, "")
                log.info("floor %s: drawing not shown: %s", floor.id, note)

        asyncio.ensure_future(self.drawings.drawing(floor)).add_done_callback(show)

    def _show_overview(self) -> None:
        self._at_overview = True
        self.window.show_overview(True)
        self._refresh_navigation()
        self.window.overview.schools.setFocus()

    def _open_school(self, school_id: str) -> None:
        """From the overview: the school's plan, where the map last was if it is that school."""
        index = self.window.school.findData(school_id)
        if index != self.window.school.currentIndex():
            self.window.school.setCurrentIndex(index)  # shows its first floor
            return
        self._at_overview = False
        self.window.show_overview(False)
        self._refresh_navigation()

    def _on_breadcrumb(self, target: str) -> None:
        """A breadcrumb part: the district overview, or a school's or building's first floor."""
        kind, _, target_id = target.partition(":")
        if kind == DISTRICT_LINK:
            self._show_overview()
        elif kind == "school":
            self._open_school(target_id)
            self.window.floors.setCurrentIndex(0)
        elif kind == "building":
            first = next(
                (i for i, f in enumerate(self._floors) if self._building_of(f) == target_id),
                None,
            )
            if first is not None:
                self.window.floors.setCurrentIndex(first)

    def _building_of(self, floor: Floor) -> str | None:
        school = self._school()
        if school is None:
            return None
        return next((b.id for b in school.buildings if floor in b.floors), None)

    def _refresh_navigation(self) -> None:
        """The overview and the breadcrumb, from the access state as it is now."""
        district = self.console.district
        if district is None or self.console.user is None:
            return
        summaries = school_summaries(district, self.console.emergency_statuses())
        self.window.overview.show_schools(district.name, summaries)
        school, floor = self._school(), self.window.map.floor
        if self._at_overview or school is None or floor is None:
            self.window.breadcrumb.show_path([(district.name, "")])
            return
        building = next(b for b in school.buildings if floor in b.floors)
        summary = next(s for s in summaries if s.school_id == school.id)
        self.window.breadcrumb.show_path(
            [
                (district.name, DISTRICT_LINK),
                (school.name, f"school:{school.id}"),
                (building.name, f"building:{building.id}"),
                (floor.name, ""),
            ],
            summary.state,
            summary.level,
        )

    def _step_floor(self, step: int) -> None:
        """Page Up / Page Down: the next floor up or down (tabs run from the lowest)."""
        tabs = self.window.floors
        index = tabs.currentIndex() + step
        if 0 <= index < tabs.count():
            tabs.setCurrentIndex(index)

    # -- "which cameras see this spot" and search -------------------------------------

    def open_cameras_covering(self, x: float, y: float) -> None:
        """Open every camera this user may watch that sees the spot, nearest first."""
        floor = self.window.map.floor
        user = self.console.user
        if floor is None or user is None or self._closing:
            return
        self.window.map.mark_spot((x, y))
        covering = cameras_covering(
            self.visibility, floor, (x, y), user, self.console.access, datetime.now(UTC)
        )
        if not covering:
            self.window.show_message(
                "No camera you may open sees that spot (walls considered).", "warning"
            )
            return
        already = {s.camera_id for s in self.console.views.values()}
        wanted = [c for c in covering if c.id not in already]
        free = self.window.grid.free_tiles() - self._opening()
        opening, left_out = wanted[: max(free, 0)], wanted[max(free, 0) :]
        for camera in opening:
            self.runner.run(self.console.open_view(camera.id), self._play)
        names = ", ".join(c.display_name for c in covering)
        text = f"{len(covering)} camera(s) see that spot, nearest first: {names}."
        if left_out:
            text += f" The grid is full: {', '.join(c.name for c in left_out)} not opened."
        self.window.show_message(text, "warning" if left_out else "info")

    def _on_search(self) -> None:
        district = self.console.district
        query = self.window.search.text()
        if district is None or not query.strip():
            return
        found = find_cameras(district, query)
        if not found:
            self.window.show_message(f"No camera matches {query.strip()!r}.", "warning")
            return
        camera = found[0]
        school_index = self.window.school.findData(camera.school_id)
        if school_index != self.window.school.currentIndex():
            self.window.school.setCurrentIndex(school_index)
        floor_index = next(i for i, f in enumerate(self._floors) if f.id == camera.floor_id)
        self.window.floors.setCurrentIndex(floor_index)
        self.window.map.centre_on_camera(camera.id)
        more = f" ({len(found) - 1} more match)" if len(found) > 1 else ""
        self.window.show_message(f"Found {camera.display_name}{more}.")

    def pin_states(self, floor: Floor) -> dict[str, PinState]:
        open_cameras = {s.camera_id for s in self.console.views.values()}
        offline = dict(self.console.access.camera_problems)
        states = {}
        for camera in floor.cameras:
            decision = self.console.decision(camera)
            reason = decision.reason
            if camera.id in open_cameras:
                look = PinLook.OPEN
            elif decision.allowed and camera.id in offline:
                # The gateway's own words, as it reported them to the district.
                look, reason = PinLook.OFFLINE, f"Offline: {offline[camera.id]}"
            elif decision.allowed:
                look = PinLook.UNLOCKED
            else:
                look = PinLook.NEVER if decision.permanent else PinLook.LOCKED
            states[camera.id] = PinState(look, reason)
        return states

    def _refresh_pins(self) -> None:
        floor = self.window.map.floor
        if floor is not None:
            self.window.map.set_pins(self.pin_states(floor))

    def _on_connection_changed(self, problem: str | None) -> None:
        self.window.show_connection_problem(problem)
        if problem is None:
            self.window.show_message("Connection to the district server restored.")

    def _on_access_changed(self) -> None:
        self._refresh_pins()
        self._update_banner()
        self._refresh_access_panel()
        self._refresh_navigation()

    def _update_banner(self) -> None:
        school = self._school()
        if school is None:
            return
        now = datetime.now(UTC)
        access = self.console.access
        emergency = next(
            (e for e in access.emergencies if e.school_id == school.id and e.is_active(now)),
            None,
        )
        grant = grant_in_force(access, school.id, now)
        if emergency is None:
            text = f"{school.name}: no emergency declared."
            if self.console.is_police:
                text += " Live video is locked."
            self.window.emergency.show_banner(Banner(text, "neutral"))
            return
        text = f"{emergency.type.label.upper()} at {school.name}"
        if grant is not None:
            until = grant.expires_at.astimezone().strftime("%H:%M")
            text += f" — police access granted until {until}"
            if grant.break_glass:
                text += " (break-glass, flagged for district review)"
            self.window.emergency.show_banner(Banner(text, "emergency"))
        elif any(r.emergency_id == emergency.id and r.is_pending for r in access.requests):
            text += " — waiting for the district to approve police access"
            self.window.emergency.show_banner(Banner(text, "emergency"))
        else:
            text += " — no police access (denied, or the grant ended)"
            self.window.emergency.show_banner(Banner(text, "emergency"))

    # -- emergencies ----------------------------------------------------------------------

    def _on_declare(self, school_id: str, kind: str, threat_basis: str) -> None:
        self.window.emergency.declare.setEnabled(False)

        def done(declared: object) -> None:
            self.window.emergency.declare.setEnabled(True)
            self.spot.clear()  # the declared emergency carries it now
            self.window.show_message("Emergency declared. " + self._grant_text(), "warning")

        agency = self.window.emergency.chosen_agency()  # a district declarer's choice
        location = self.spot.location_for(school_id)  # "Declare emergency here…"
        self.runner.run(
            self.console.declare_emergency(
                school_id, EmergencyType(kind), threat_basis, agency, location
            ),
            done,
            lambda _error: self.window.emergency.declare.setEnabled(True),
        )

    def _grant_text(self) -> str:
        school = self._school()
        if school and grant_in_force(self.console.access, school.id, datetime.now(UTC)):
            return "Police access is granted: shareable cameras are unlocked."
        return "Police access waits for the district's approval."

    # -- emergencies and access (the district safety office acts, police watch) -----------

    def _refresh_access_panel(self) -> None:
        district = self.console.district
        if district is None or self.console.user is None:
            return
        names = {school.id: school.name for school in district.schools}
        statuses = self.console.emergency_statuses()
        if self.console.is_police:
            # The dispatcher who waited hears the district's answer without looking.
            for status, granted in decided_since(self._statuses, statuses):
                school = names.get(status.emergency.school_id, status.emergency.school_id)
                if granted and status.grant is not None:
                    until = status.grant.expires_at.astimezone().strftime("%H:%M")
                    text = f"The district approved police access at {school} until {until}."
                    self.window.show_message(text, "info")
                else:
                    reason = self._denial_reasons.pop(status.emergency.id, "")
                    self.window.show_message(
                        f"The district denied police access at {school}"
                        + (f": {reason}" if reason else "."),
                        "warning",
                        timeout_ms=60000,
                    )
        self._statuses = statuses
        self.window.access.show_statuses(statuses, names)

    def _on_access_action(self, action: str, target_id: str) -> None:
        kind = AccessAction(action)
        if kind is AccessAction.APPROVE_SCOPED:
            self._ask_grant_terms(target_id)
            return
        if kind is AccessAction.REVIEW:
            self._ask_review(target_id)
            return
        if kind is AccessAction.DENY:
            self._ask_deny_reason(target_id)
            return
        console = self.console
        operation: Coroutine[Any, Any, object]
        if kind is AccessAction.APPROVE:
            operation = console.approve_request(target_id)
        elif kind is AccessAction.EXTEND:
            operation = console.extend_grant(target_id)
        elif kind is AccessAction.REVOKE:
            operation = console.revoke_grant(target_id)
        else:
            operation = console.end_emergency(target_id)
        self._run_access_action(kind, operation)

    def _run_access_action(
        self, kind: AccessAction, operation: Coroutine[Any, Any, object]
    ) -> None:
        def done(result: object) -> None:
            self._refresh_access_panel()  # re-enables the row's buttons
            text, level = self._action_message(kind, result)
            self.window.show_message(text, level)

        self.runner.run(operation, done, lambda _error: self._refresh_access_panel())

    def _ask_grant_terms(self, request_id: str) -> None:
        """Approve… : which buildings or cameras, for how long (the dialog's choices are
        the cameras the policy lets police see)."""
        request = next((r for r in self.console.access.requests if r.id == request_id), None)
        district = self.console.district
        if request is None or district is None:
            self._refresh_access_panel()
            return
        school = district.school(request.school_id)
        choices = [
            BuildingChoice(
                building.id,
                building.name,
                tuple(
                    (c.id, c.name)
                    for floor in building.floors
                    for c in floor.cameras
                    if police_shareable(c)
                ),
            )
            for building in school.buildings
        ]
        dialog = GrantTermsDialog(school.name, choices, self.window)
        self.grant_dialog = dialog

        def approve() -> None:
            terms = dialog.terms()
            self._run_access_action(
                AccessAction.APPROVE,
                self.console.approve_request(
                    request_id,
                    minutes=terms.minutes,
                    buildings=terms.buildings,
                    cameras=terms.cameras,
                ),
            )

        dialog.accepted.connect(approve)
        dialog.rejected.connect(self._refresh_access_panel)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _ask_review(self, grant_id: str, grant: Grant | None = None) -> None:
        """``grant``: from the to-review list, which keeps grants no longer in force."""
        grant = grant or next((g for g in self.console.access.grants if g.id == grant_id), None)
        district = self.console.district
        if grant is None or district is None:
            self._refresh_access_panel()
            return
        emergency = next(
            (e for e in self.console.access.emergencies if e.id == grant.emergency_id), None
        )
        when = grant.granted_at.astimezone().strftime("%H:%M")
        description = (
            f"Break-glass grant to {grant.agency} at {district.school(grant.school_id).name}, "
            f"opened {when}"
            + (f" for: {emergency.threat_basis}" if emergency else "")
            + ". Record what the district's review found."
        )
        dialog = review_dialog(description, self.window)
        self.review_dialog = dialog
        dialog.accepted.connect(
            lambda: self._run_access_action(
                AccessAction.REVIEW, self.console.review_grant(grant_id, dialog.text())
            )
        )
        dialog.rejected.connect(self._refresh_access_panel)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _ask_deny_reason(self, request_id: str) -> None:
        """Deny… : the dispatcher who asked is told why, in the district's words."""
        request = next((r for r in self.console.access.requests if r.id == request_id), None)
        district = self.console.district
        if request is None or district is None:
            self._refresh_access_panel()
            return
        waited = request.requested_at.astimezone().strftime("%H:%M")
        dialog = deny_dialog(
            f"{request.requested_by} ({request.agency}) asked at {waited} for the cameras at "
            f"{district.school(request.school_id).name}. Say why the district denies it.",
            self.window,
        )
        self.deny_dialog = dialog
        dialog.accepted.connect(
            lambda: self._run_access_action(
                AccessAction.DENY, self.console.deny_request(request_id, dialog.text())
            )
        )
        dialog.rejected.connect(self._refresh_access_panel)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _action_message(self, kind: AccessAction, result: object) -> tuple[str, str]:
        school = ""
        if isinstance(result, Decided):
            school = result.request.school_id
        elif isinstance(result, Grant | Emergency):
            school = result.school_id
        district = self.console.district
        with contextlib.suppress(KeyError):
            school = district.school(school).name if district else school
        grant = result.grant if isinstance(result, Decided) else result
        until = grant.expires_at.astimezone().strftime("%H:%M") if isinstance(grant, Grant) else ""
        if kind is AccessAction.APPROVE:
            return f"Police access approved at {school} until {until}.", "info"
        if kind is AccessAction.DENY:
            return f"Police access denied at {school}.", "info"
        if kind is AccessAction.EXTEND:
            return f"Police access at {school} extended until {until}.", "info"
        if kind is AccessAction.REVOKE:
            return f"Police access at {school} revoked: open police feeds close now.", "warning"
        if kind is AccessAction.REVIEW:
            return f"Review of the break-glass grant at {school} recorded.", "info"
        return f"Emergency ended at {school}: police access ended with it.", "warning"

    # -- video ----------------------------------------------------------------------------

    def _describe_camera(self, camera_id: str) -> tuple[str, str] | None:
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
        if district is None or self._closing:
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
        if self._at_overview:  # opened from outside the plan (the demo's autoplay): show where
            self._open_school(camera.school_id)
            floors = [f.id for f in self._floors]
            self.window.floors.setCurrentIndex(floors.index(camera.floor_id))
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
        self.requests.show_ferpa_notice()  # police video on screen: the FERPA notice with it
        self._refresh_pins()

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
        self._refresh_pins()
        if reason is EndReason.STREAM_FAILED and why:
            # The gateway's own words: offline, credentials refused, not video ...
            self.window.show_message(f"{session.camera_name}: {why}", "warning")
        elif reason in _END_MESSAGES and not self._closing:
            self.window.show_message(f"{session.camera_name}: {_END_MESSAGES[reason]}", "warning")

    # -- district board -------------------------------------------------------------------

    # -- live updates ---------------------------------------------------------------------

    def _on_live_updates_problem(self, problem: str | None) -> None:
        live = self.console.live
        self.window.show_live_updates_problem(problem, live.max_backoff_s if live else 0)

    def _on_live_event(self, event: ServerEvent) -> None:
        # The board lists viewing sessions: it reads them again when one starts or ends
        # (and after a reconnect), instead of every two seconds.
        if event.kind.startswith("viewing.") or event.kind in ("connected", "resync"):
            self._refresh_board()
        if event.kind == "request.denied" and event.data.get("reason"):
            emergency_id = str(event.data.get("emergency_id", ""))
            self._denial_reasons[emergency_id] = str(event.data["reason"])
        if event.kind == "grant.expiring":
            names = (
                {s.id: s.name for s in self.console.district.schools}
                if (self.console.district)
                else {}
            )
            school_id = str(event.data.get("school_id", ""))
            school = names.get(school_id, school_id)
            until = parse_utc(str(event.data["expires_at"])).astimezone().strftime("%H:%M")
            if self.console.is_police:
                text = (
                    f"Police access at {school} ends at {until}. If you still need the "
                    "cameras, ask the district to extend it now."
                )
            else:
                text = f"The police grant at {school} ends at {until}."
            self.window.show_message(text, "warning", timeout_ms=60000)

    def _refresh_board(self) -> None:
        board = self.window.board
        if board is None or self.runner.busy > 4:
            return
        self.runner.run(self.console.client.audit_sessions(limit=50), board.show_sessions)

    # -- sign-in ended ---------------------------------------------------------------------

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
            prompt.submitted.connect(self._sign_in_again)
            prompt.cancelled.connect(self._sign_in_declined)
            self.sign_in_window = prompt
        self.sign_in_window.setWindowTitle(f"Dispatch Console — {title}")
        self.sign_in_window.show()
        self.sign_in_window.raise_()
        self.sign_in_window.password.setFocus()

    def _sign_in_again(self, username: str, password: str, code: str) -> None:
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

    def shutdown(self) -> None:
        """End every session as an application exit, report it, then let the window go."""
        if self._closing:
            return
        self._closing = True
        if self.sign_in_window is not None:
            self.sign_in_window.finish()
            self.sign_in_window = None
        self._board_timer.stop()
        self._access_panel_timer.stop()
        self._audit_health_timer.stop()
        self.set_idle_lock(None)  # the event filter goes with the window

        def finished(_result: object = None) -> None:
            if self.grid_memory is not None:
                self.grid_memory.save_now()  # with the detached window's last placement
                self.grid_memory.enabled = False
            self.window.grid_home.close_window()
            self.window.allow_close()
            self.window.close()

        def failed(error: ConsoleError) -> None:
            log.warning("exit: %s", error)
            finished()

        self.runner.run(self.console.shutdown(), finished, failed)
