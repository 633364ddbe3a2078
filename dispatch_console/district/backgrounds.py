"""The floors' drawings, served to signed-in consoles from the floor-plan folder only.

Consoles get the plans from the district document, not the district's files, so the
drawings must come from the server too. Which file a floor's drawing is was decided by the
plan when the server started (``floorplan.backgrounds.image_path`` refuses absolute paths,
``..`` and URLs); here it is also resolved (symlinks followed) and must stay inside the
floor-plan folder, at start and again on every request, so a link swapped in later cannot
lead out of it. Clients name a floor id, never a path: an id that is not a floor with a
drawing is a 404 whatever characters it holds.

The document the server hands out names each drawing's digest and address, so a console
downloads one version once and knows a changed drawing when it sees one.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from dispatch_console.domain.models import District
from dispatch_console.floorplan.backgrounds import check_background, image_path

from .context import API_PREFIX

log = logging.getLogger(__name__)

MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True)
class BackgroundFile:
    """One floor's drawing: where it is, what it is, and its digest at start."""

    floor_id: str
    path: Path
    media_type: str
    sha256: str


def background_href(floor_id: str) -> str:
    return f"{API_PREFIX}/floors/{quote(floor_id, safe='')}/background"


def confined(path: Path, root: Path) -> Path | None:
    """The file ``path`` really is, if it lies inside ``root`` (symlinks followed); else None."""
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    return real if real.is_file() and real.is_relative_to(root.resolve()) else None


def background_files(
    district: District, document: dict[str, Any], root: Path
) -> dict[str, BackgroundFile]:
    """Every floor's drawing that can be served, by floor id; the others are logged."""
    sources = {
        str(raw.get("id")): Path(str(raw.get("source")))
        for raw in document.get("schools", [])
        if isinstance(raw, dict) and raw.get("source")
    }
    files: dict[str, BackgroundFile] = {}
    for school in district.schools:
        plan_file = sources.get(school.id)
        for building in school.buildings:
            for floor in building.floors:
                if floor.background is None or plan_file is None:
                    continue
                path, refusal = image_path(plan_file, floor.background)
                errors = (
                    [refusal] if path is None else check_background(plan_file, floor.background)[0]
                )
                real = None if path is None else confined(path, root)
                if real is None and not errors:
                    errors = ["the file lies outside the floor-plan folder"]
                if errors or real is None:
                    log.warning("floor %s: drawing not served: %s", floor.id, errors[0])
                    continue
                digest = hashlib.sha256(real.read_bytes()).hexdigest()
                media = MEDIA_TYPES.get(real.suffix.lower(), "")
                if not media:
                    continue
                files[floor.id] = BackgroundFile(floor.id, real, media, digest)
    return files


def with_background_links(
    document: dict[str, Any], files: dict[str, BackgroundFile]
) -> dict[str, Any]:
    """A copy of the document whose served drawings name their digest and address."""
    linked = copy.deepcopy(document)
    for school in linked.get("schools", []):
        for building in school.get("buildings", []) if isinstance(school, dict) else []:
            for floor in building.get("floors", []) if isinstance(building, dict) else []:
                if not isinstance(floor, dict) or not isinstance(floor.get("background"), dict):
                    continue
                served = files.get(str(floor.get("id")))
                background = floor["background"]
                background.pop("sha256", None)
                background.pop("href", None)
                if served is not None:
                    background["sha256"] = served.sha256
                    background["href"] = background_href(served.floor_id)
    return linked


def read_background(file: BackgroundFile, root: Path) -> bytes | None:
    """The drawing's bytes now, if it still lies inside the floor-plan folder."""
    real = confined(file.path, root)
    if real is None:
        return None
    try:
        return real.read_bytes()
    except OSError:
        return None
