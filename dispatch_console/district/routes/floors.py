"""The floors' drawings (scans, CAD exports) for signed-in consoles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response

from dispatch_console.district.backgrounds import BackgroundFile, read_background
from dispatch_console.district.context import API_PREFIX
from dispatch_console.district.deps import CurrentUser, PathId, errors, fail

router = APIRouter()


@dataclass(frozen=True)
class Backgrounds:
    """The drawings the server may serve, by floor id, and the folder they must stay in."""

    root: Path
    files: dict[str, BackgroundFile]


def _backgrounds(request: Request) -> Backgrounds:
    backgrounds = getattr(request.app.state, "backgrounds", None)
    return backgrounds if isinstance(backgrounds, Backgrounds) else Backgrounds(Path("."), {})


@router.get(
    f"{API_PREFIX}/floors/{{floor_id}}/background",
    summary="A floor's drawing (PNG, JPEG, SVG or PDF), as the district document names it",
    response_class=Response,
    responses={
        200: {
            "content": {m: {} for m in ("image/png", "image/jpeg", "image/svg+xml")},
            "description": "The file; its ETag is its SHA-256, as the district document says.",
        },
        **errors(401, 404),
    },
)
def floor_background(request: Request, floor_id: PathId, user: CurrentUser) -> Response:
    backgrounds = _backgrounds(request)
    file = backgrounds.files.get(floor_id)
    if file is None:
        fail(404, "That floor has no drawing on this server.")
    data = read_background(file, backgrounds.root)
    if data is None:
        fail(404, "That floor's drawing is no longer on this server.")
    headers = {
        "ETag": f'"{file.sha256}"',
        "Cache-Control": "private, no-transform",
        "X-Content-Type-Options": "nosniff",
        # An SVG opened in a browser could run script: never, from this origin.
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        "Content-Disposition": f'inline; filename="{_ascii(file.path.name)}"',
    }
    return Response(data, media_type=file.media_type, headers=headers)


def _ascii(name: str) -> str:
    """A header-safe file name (the real one may hold any character)."""
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)
