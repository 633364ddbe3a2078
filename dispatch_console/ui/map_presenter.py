"""The plan column: the school list, floors and their tabs, the district overview and the
breadcrumb, the pins and the banner, search, and "which cameras see this spot".

Follows the access store's change sets: a change redraws the pins only when it touches
the school (or a camera) the map shows, and the banner only when it touches that school.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCore import QObject

from dispatch_console.domain.access_store import AccessChanges
from dispatch_console.domain.models import Camera, Floor, School
from dispatch_console.domain.school_banner import school_banner
from dispatch_console.floorplan.camera_search import find_cameras
from dispatch_console.floorplan.coverage import cameras_covering
from dispatch_console.floorplan.visibility import VisibilityIndex
from dispatch_console.services.console import Console
from dispatch_console.services.drawing_cache import DrawingCache

from .district_overview import DISTRICT_LINK, school_summaries
from .emergency_panel import Banner
from .main_window import MainWindow
from .map_view import PinLook, PinState

log = logging.getLogger(__name__)


class MapPresenter(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        visibility: VisibilityIndex,
        drawings: DrawingCache,
        *,
        closing: Callable[[], bool],
        open_cameras: Callable[[list[Camera]], list[Camera]],
    ) -> None:
        """``open_cameras``: opens what fits in the grid, returns what did not fit."""
        super().__init__(window)
        self.console = console
        self.window = window
        self.visibility = visibility
        self.drawings = drawings
        self._closing = closing
        self._open_cameras = open_cameras
        self.floors: list[Floor] = []
        self.at_overview = False  # the map column shows the district overview
        window.school.currentIndexChanged.connect(self._on_school_changed)
        window.floors.currentChanged.connect(self._on_floor_changed)
        window.map.spot_chosen.connect(self.open_cameras_covering)
        window.search.returnPressed.connect(self._on_search)
        window.floor_up.activated.connect(lambda: self._step_floor(+1))
        window.floor_down.activated.connect(lambda: self._step_floor(-1))
        window.overview.school_chosen.connect(self.open_school)
        window.breadcrumb.chosen.connect(self._on_breadcrumb)
        window.overview_key.activated.connect(self.show_overview)

    # -- the access store's changes ----------------------------------------------------

    def on_access_changes(self, changes: AccessChanges) -> None:
        school, floor = self.school(), self.window.map.floor
        if (
            school is not None
            and floor is not None
            and changes.pins_stale(school.id, [c.id for c in floor.cameras])
        ):
            self.refresh_pins()
        if school is not None and changes.banner_stale(school.id):
            self.update_banner()
        if changes.schools or changes.statuses_changed:
            self.refresh_navigation()

    def redraw(self) -> None:
        self.refresh_pins()
        self.update_banner()
        self.refresh_navigation()

    # -- schools and floors --------------------------------------------------------------

    def school(self) -> School | None:
        district = self.console.district
        school_id = self.window.school.currentData()
        if district is None or not isinstance(school_id, str):
            return None
        return district.school(school_id)

    def fill_schools(self) -> None:
        district = self.console.district
        if district is None:
            return
        self.window.school.blockSignals(True)
        for school in district.schools:
            self.window.school.addItem(school.name, school.id)
        self.window.school.blockSignals(False)
        self._on_school_changed(0)

    def _on_school_changed(self, _index: int) -> None:
        school = self.school()
        if school is None:
            return
        self.window.emergency.set_school(school.id, school.name)
        self.floors = [f for b in school.buildings for f in b.floors]
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
        self.update_banner()

    def _on_floor_changed(self, index: int) -> None:
        if 0 <= index < len(self.floors):
            floor = self.floors[index]
            visible = self.visibility.floor(floor)
            areas = {camera.id: visible.outline(camera.id) for camera in floor.cameras}
            self.window.map.show_floor(floor, self.pin_states(floor), areas)
            self._fetch_drawing(floor)
            self.at_overview = False
            self.window.show_overview(False)
            self.refresh_navigation()

    def _fetch_drawing(self, floor: Floor) -> None:
        """Fetch the floor's drawing off the GUI thread; the map shows it when it is here
        (if the floor is still shown), and the plan stays usable without it meanwhile."""
        if floor.background is None or not floor.background.sha256:
            return

        def show(task: asyncio.Future[Path | None]) -> None:
            if task.cancelled() or self._closing():
                return
            error = task.exception()
            path = None if error is not None else task.result()
            if path is not None:
                self.window.map.show_drawing(floor, path)
            else:
                note = error or self.drawings.notes.get(floor.id, "")
                log.info("floor %s: drawing not shown: %s", floor.id, note)

        asyncio.ensure_future(self.drawings.drawing(floor)).add_done_callback(show)

    def show_overview(self) -> None:
        self.at_overview = True
        self.window.show_overview(True)
        self.refresh_navigation()
        self.window.overview.schools.setFocus()

    def open_school(self, school_id: str) -> None:
        """From the overview: the school's plan, where the map last was if it is that school."""
        index = self.window.school.findData(school_id)
        if index != self.window.school.currentIndex():
            self.window.school.setCurrentIndex(index)  # shows its first floor
            return
        self.at_overview = False
        self.window.show_overview(False)
        self.refresh_navigation()

    def reveal(self, camera: Camera) -> None:
        """A camera opened from outside the plan (the demo's autoplay): show where it is."""
        if not self.at_overview:
            return
        self.open_school(camera.school_id)
        floors = [f.id for f in self.floors]
        self.window.floors.setCurrentIndex(floors.index(camera.floor_id))

    def _on_breadcrumb(self, target: str) -> None:
        """A breadcrumb part: the district overview, or a school's or building's first floor."""
        kind, _, target_id = target.partition(":")
        if kind == DISTRICT_LINK:
            self.show_overview()
        elif kind == "school":
            self.open_school(target_id)
            self.window.floors.setCurrentIndex(0)
        elif kind == "building":
            first = next(
                (i for i, f in enumerate(self.floors) if self._building_of(f) == target_id),
                None,
            )
            if first is not None:
                self.window.floors.setCurrentIndex(first)

    def _building_of(self, floor: Floor) -> str | None:
        school = self.school()
        if school is None:
            return None
        return next((b.id for b in school.buildings if floor in b.floors), None)

    def refresh_navigation(self) -> None:
        """The overview and the breadcrumb, from the access state as it is now."""
        district = self.console.district
        if district is None or self.console.user is None:
            return
        summaries = school_summaries(district, self.console.emergency_statuses())
        self.window.overview.show_schools(district.name, summaries)
        school, floor = self.school(), self.window.map.floor
        if self.at_overview or school is None or floor is None:
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

    # -- the banner ----------------------------------------------------------------------

    def update_banner(self) -> None:
        school = self.school()
        if school is None:
            return
        banner = school_banner(
            school.id, school.name, self.console.access, self.console.is_police, datetime.now(UTC)
        )
        self.window.emergency.show_banner(Banner(banner.text, banner.tone))

    # -- pins ----------------------------------------------------------------------------

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

    def refresh_pins(self) -> None:
        floor = self.window.map.floor
        if floor is not None:
            self.window.map.set_pins(self.pin_states(floor))

    # -- "which cameras see this spot" and search -------------------------------------

    def open_cameras_covering(self, x: float, y: float) -> None:
        """Open every camera this user may watch that sees the spot, nearest first."""
        floor = self.window.map.floor
        user = self.console.user
        if floor is None or user is None or self._closing():
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
        left_out = self._open_cameras(covering)
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
        floor_index = next(i for i, f in enumerate(self.floors) if f.id == camera.floor_id)
        self.window.floors.setCurrentIndex(floor_index)
        self.window.map.centre_on_camera(camera.id)
        more = f" ({len(found) - 1} more match)" if len(found) > 1 else ""
        self.window.show_message(f"Found {camera.display_name}{more}.")
