"""Remembers a user's video grid between sign-ins: layout, cameras by tile, and where the
detached grid window was (which screen, what size).

Cameras come back as placeholders only. Reopening video by itself at start-up would
start audited viewing sessions nobody asked for, possibly under a grant that has ended;
each placeholder says so and reopens with one click through the console's open path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, QTimer

from dispatch_console.domain.grid_layout import SavedGrid
from dispatch_console.services.grid_store import GridStore

from .operations import OperationRunner
from .video_grid import GridHome, Placeholder

log = logging.getLogger(__name__)

SAVE_DELAY_MS = 400  # several changes in a row (a layout switch moving tiles) save once


class GridMemory(QObject):
    """Saves the grid when it changes (off the GUI thread) and restores it at start.

    ``describe(camera_id)`` gives a camera's (title, "school · floor"), or None for a
    camera this district no longer has (its placeholder is dropped).
    """

    def __init__(
        self,
        home: GridHome,
        store: GridStore,
        runner: OperationRunner,
        describe: Callable[[str], tuple[str, str] | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.home = home
        self.grid = home.grid
        self.store = store
        self.runner = runner
        self._describe = describe
        self._restoring = False
        self.enabled = True
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SAVE_DELAY_MS)
        self._timer.timeout.connect(self._save_later)
        self.grid.arrangement_changed.connect(self._changed)
        home.placement_changed.connect(self._changed)

    def restore(self) -> SavedGrid:
        """Apply the saved grid: layout, placeholders, detached window where it was."""
        saved = self.store.load()
        self._restoring = True
        try:
            self.grid.set_layout(saved.layout)
            holders: dict[int, Placeholder] = {}
            for position, camera_id in enumerate(saved.cameras):
                if camera_id is None:
                    continue
                described = self._describe(camera_id)
                if described is None:
                    log.info("saved grid names camera %s, which the district lacks", camera_id)
                    continue
                holders[position] = Placeholder(camera_id, *described)
            self.grid.set_placeholders(holders)
            self.home.remember_geometry(saved.geometry)
            if saved.detached:
                self.home.detach(saved.geometry)
        finally:
            self._restoring = False
        return saved

    def snapshot(self) -> SavedGrid:
        return replace(
            self.grid.saved(), detached=self.home.detached, geometry=self.home.geometry_text()
        )

    def save_now(self) -> None:
        """Blocking write, for the exit path only (the event loop is about to stop)."""
        self._timer.stop()
        try:
            self.store.write(self.snapshot())
        except OSError as exc:
            log.warning("could not save the video grid: %s", exc)

    def _changed(self) -> None:
        if self.enabled and not self._restoring:
            self._timer.start()

    def _save_later(self) -> None:
        if self.enabled:
            self.runner.run(self.store.save(self.snapshot()))
