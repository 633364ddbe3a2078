"""Where a user's video grid is remembered between sign-ins: one small JSON file per user.

Next to the user's audit outbox in the data folder, named the same way, so two people
sharing a workstation each get their own layout. It holds camera ids, a layout name and
a window placement: no stream links, tokens or pictures (nothing a thief could replay,
and no video on disk). Written whole or not at all (a temporary file renamed over the
old one), off the GUI thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from dispatch_console.domain.grid_layout import SavedGrid

__all__ = ["GridStore", "grid_path"]

log = logging.getLogger(__name__)


def grid_path(data_dir: Path, username: str) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in username)
    return data_dir / f"video-grid-{safe}.json"


class GridStore:
    """Reads and writes one user's saved grid."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> SavedGrid:
        """The saved grid, or the default one (missing or damaged file: logged, not fatal)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return SavedGrid()
        except OSError as exc:
            log.warning("saved video grid %s unreadable: %s", self.path, exc)
            return SavedGrid()
        saved = SavedGrid.from_json(text)
        for problem in saved.problems:
            log.warning("saved video grid %s: %s", self.path, problem)
        return saved

    def write(self, saved: SavedGrid) -> None:
        """Blocking: replace the file with ``saved`` atomically."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(saved.to_json(), encoding="utf-8")
        os.replace(temporary, self.path)

    async def save(self, saved: SavedGrid) -> None:
        """Write on a worker thread; a failure is logged (the grid itself is unaffected)."""
        try:
            await asyncio.to_thread(self.write, saved)
        except OSError as exc:
            log.warning("could not save the video grid to %s: %s", self.path, exc)
