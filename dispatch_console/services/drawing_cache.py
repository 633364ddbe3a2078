"""Floor drawings fetched from the district server, kept in the user's cache folder.

The plan names each drawing's SHA-256 (the server adds it to the district document), so
a file is downloaded once per version and kept under its digest: a changed drawing is a
new file, an unchanged one is never fetched again, and a download that does not match
its digest (a proxy's page, a truncated body) is never drawn. Downloads run on the event
loop (httpx), hashing and writing in a worker thread, so the GUI thread never waits; a
drawing passes the same checks as ``floorplan check`` before the map gets its path.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from pathlib import Path, PurePosixPath

from dispatch_console.domain.models import Floor
from dispatch_console.floorplan.backgrounds import MAX_IMAGE_BYTES, drawable_file

from .district_client import DistrictClient
from .errors import ConsoleError

log = logging.getLogger(__name__)

DRAWING_SUFFIXES = (".png", ".jpg", ".jpeg", ".svg", ".pdf")


class DrawingCache:
    """``drawing(floor)``: the floor's drawing on this machine, fetched when missing."""

    def __init__(self, client: DistrictClient, directory: Path) -> None:
        self._client = client
        self.directory = directory
        self._fetching: dict[str, asyncio.Future[Path | None]] = {}
        # Why the last attempt for a floor gave no drawing (for the map's note and logs).
        self.notes: dict[str, str] = {}

    def _target(self, floor: Floor) -> Path | None:
        background = floor.background
        if background is None or not background.sha256:
            return None  # the server does not serve it (or an older server): nothing to fetch
        suffix = PurePosixPath(background.image.replace("\\", "/")).suffix.lower()
        if suffix not in DRAWING_SUFFIXES:
            return None
        return self.directory / f"{background.sha256}{suffix}"

    async def drawing(self, floor: Floor) -> Path | None:
        """The floor's drawing, vetted, fetching it once if it is not cached; None (with a
        note) when it has none, cannot be fetched or fails the checks."""
        target = self._target(floor)
        if target is None or floor.background is None:
            return None
        running = self._fetching.get(target.name)
        if running is None:
            running = asyncio.ensure_future(self._fetch(floor, target))
            self._fetching[target.name] = running
            running.add_done_callback(lambda _: self._fetching.pop(target.name, None))
        return await asyncio.shield(running)

    async def _fetch(self, floor: Floor, target: Path) -> Path | None:
        background = floor.background
        assert background is not None
        if not await asyncio.to_thread(target.is_file):
            try:
                data, _kind = await self._client.floor_background(floor.id, MAX_IMAGE_BYTES)
            except ConsoleError as exc:
                self.notes[floor.id] = f"drawing not fetched: {exc}"
                log.warning("floor %s: %s", floor.id, self.notes[floor.id])
                return None
            stored = await asyncio.to_thread(_store, data, background.sha256, target)
            if not stored:
                self.notes[floor.id] = "drawing not drawn: it does not match the plan's digest"
                log.warning("floor %s: %s", floor.id, self.notes[floor.id])
                return None
        path, why = await asyncio.to_thread(drawable_file, target, background)
        if path is None:
            self.notes[floor.id] = why
            log.warning("floor %s: drawing not drawn: %s", floor.id, why)
            return None
        self.notes.pop(floor.id, None)
        return path


def _store(data: bytes, sha256: str, target: Path) -> bool:
    """Write the file whole under its digest, if it is the file the plan names."""
    if hashlib.sha256(data).hexdigest() != sha256:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    partial.write_bytes(data)
    partial.replace(target)
    return True
