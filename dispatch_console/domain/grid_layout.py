"""Video grid layouts and which feed sits in which tile.

Pure geometry and bookkeeping, kept out of the widget so the rules are tested without
Qt: a layout is a square of ``units`` × ``units`` cells and a list of tiles (cells or
blocks of cells); tile 0 is the large one in the "1 large + n" layouts. Feeds keep their
position across layout switches (the widgets are moved, the streams are never
reopened), so a switch to a layout with fewer tiles than open feeds is refused rather
than silently hiding a feed that is still being watched and audited.

Also here, because they are rules rather than widgets: which stream a tile plays (the
sub stream, or the main stream when the tile is large), and what a user's saved grid
holds (the layout, the cameras by tile, the detached window's placement) and how it is
read back from a file that may be old, damaged or written by another version.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Literal, TypeVar

__all__ = [
    "CAMERA_MIME",
    "DEFAULT_LAYOUT",
    "LAYOUTS",
    "MAX_TILES",
    "GridLayout",
    "Placement",
    "SavedGrid",
    "Stream",
    "Tile",
    "layout",
    "square_layout_for",
    "stream_for_tile",
]

# The drag-and-drop type a map pin carries to a tile: the camera's id, UTF-8.
CAMERA_MIME = "application/x-dispatch-console-camera"

Stream = Literal["sub", "main"]


@dataclass(frozen=True)
class Tile:
    row: int
    col: int
    rows: int = 1
    cols: int = 1


@dataclass(frozen=True)
class GridLayout:
    key: str
    label: str
    units: int
    tiles: tuple[Tile, ...]

    @property
    def capacity(self) -> int:
        return len(self.tiles)


def _square(n: int) -> GridLayout:
    tiles = tuple(Tile(r, c) for r in range(n) for c in range(n))
    return GridLayout(f"{n}x{n}", f"{n}×{n}", n, tiles)


def _large_plus(units: int) -> GridLayout:
    """One (units-1)² tile top-left, the rest down the right column and along the bottom."""
    big = units - 1
    tiles = [Tile(0, 0, big, big)]
    tiles += [Tile(r, big) for r in range(big)]
    tiles += [Tile(big, c) for c in range(units)]
    count = len(tiles) - 1
    return GridLayout(f"1+{count}", f"1 large + {count}", units, tuple(tiles))


LAYOUTS: dict[str, GridLayout] = {
    g.key: g
    for g in (
        _square(1),
        _square(2),
        _square(3),
        _square(4),
        _square(5),
        _square(6),
        _large_plus(3),
        _large_plus(4),
    )
}
MAX_TILES = max(g.capacity for g in LAYOUTS.values())
DEFAULT_LAYOUT = "2x2"


def layout(key: str) -> GridLayout:
    try:
        return LAYOUTS[key]
    except KeyError:
        raise ValueError(f"unknown grid layout {key!r}; one of {', '.join(LAYOUTS)}") from None


def square_layout_for(count: int) -> GridLayout | None:
    """The smallest square layout that holds ``count`` feeds (None past 36)."""
    squares = sorted((g for g in LAYOUTS.values() if "x" in g.key), key=lambda g: g.capacity)
    return next((g for g in squares if g.capacity >= count), None)


K = TypeVar("K", bound=Hashable)


class Placement(Generic[K]):
    """Which feed (by key) is in which tile position; positions survive layout switches."""

    def __init__(self, capacity: int) -> None:
        self._positions: list[K | None] = [None] * capacity
        self._capacity = capacity

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def positions(self) -> list[K | None]:
        return list(self._positions[: self._capacity])

    def items(self) -> list[K]:
        return [k for k in self._positions if k is not None]

    def __len__(self) -> int:
        return len(self.items())

    def index_of(self, key: K) -> int | None:
        try:
            return self._positions.index(key)
        except ValueError:
            return None

    def next_free(self, avoid: Iterable[int] = ()) -> int | None:
        """The first empty position in reading order (the next camera goes there).

        Positions in ``avoid`` (cells keeping a placeholder for a camera the user had
        there) are taken only when no other position is free: a new camera does not push
        out a remembered one while a plain empty cell is left.
        """
        free = [i for i in range(self._capacity) if self._positions[i] is None]
        kept = set(avoid)
        plain = [i for i in free if i not in kept]
        return (plain or free)[0] if free else None

    def place(self, key: K, index: int | None = None, avoid: Iterable[int] = ()) -> int:
        """Put ``key`` at ``index`` (default: the next free position, see ``next_free``)."""
        if self.index_of(key) is not None:
            raise ValueError("already placed")
        if index is None:
            index = self.next_free(avoid)
            if index is None:
                raise ValueError("the grid is full")
        if not 0 <= index < self._capacity or self._positions[index] is not None:
            raise ValueError(f"position {index} is not free")
        self._positions[index] = key
        return index

    def remove(self, key: K) -> int | None:
        index = self.index_of(key)
        if index is not None:
            self._positions[index] = None
        return index

    def swap(self, a: int, b: int) -> None:
        """Swap two positions (either may be empty): drag a tile onto another."""
        for index in (a, b):
            if not 0 <= index < self._capacity:
                raise ValueError(f"no position {index}")
        self._positions[a], self._positions[b] = self._positions[b], self._positions[a]

    def resize(self, capacity: int) -> bool:
        """Change the number of positions, keeping every feed and their order.

        Feeds beyond the new capacity move up into free positions; False (nothing
        changed) when more feeds are open than the new layout has tiles.
        """
        items = self.items()
        if len(items) > capacity:
            return False
        positions = self._positions[:capacity] + [None] * max(0, capacity - len(self._positions))
        overflow = [k for k in self._positions[capacity:] if k is not None]
        for key in overflow:
            free = positions.index(None)
            positions[free] = key
        self._positions = positions
        self._capacity = capacity
        return True


def stream_for_tile(grid: GridLayout, position: int, maximized: bool) -> Stream:
    """The stream a tile plays: ``main`` when it is large, else ``sub``.

    Large means maximized, the only tile of 1×1, or the large tile of "1 large + n". A
    sub stream (640×360) is sharp enough for a tile of a quarter screen or less; a large
    tile on a dispatcher's monitor shows faces and plates only from the main stream.
    """
    if maximized or grid.capacity == 1:
        return "main"
    if 0 <= position < grid.capacity and grid.tiles[position].rows > 1:
        return "main"
    return "sub"


@dataclass(frozen=True)
class SavedGrid:
    """What a user's grid looked like when last changed: restored at the next start.

    ``cameras`` holds a camera id (or None) per tile position. They come back only as
    placeholders: a view needs its own audited session under a grant in force *now*, so
    nothing is ever reopened without the user asking. ``geometry`` is the detached
    window's placement as Qt saves it (base64), "" when never detached.
    """

    layout: str = DEFAULT_LAYOUT
    cameras: tuple[str | None, ...] = ()
    detached: bool = False
    geometry: str = ""
    problems: tuple[str, ...] = field(default=(), compare=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "version": 1,
                "layout": self.layout,
                "cameras": list(self.cameras),
                "detached": self.detached,
                "geometry": self.geometry,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> SavedGrid:
        """Read a saved grid; whatever is unreadable falls back to the default, with the
        problem named in ``problems`` (a damaged file must not stop the desk starting)."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            return cls(problems=(f"not JSON ({exc})",))
        if not isinstance(data, dict):
            return cls(problems=("not a JSON object",))
        problems: list[str] = []
        key = data.get("layout", DEFAULT_LAYOUT)
        if not isinstance(key, str) or key not in LAYOUTS:
            problems.append(f"unknown layout {key!r}")
            key = DEFAULT_LAYOUT
        raw = data.get("cameras", [])
        cameras = _cameras(raw if isinstance(raw, list) else [], LAYOUTS[key].capacity)
        if not isinstance(raw, list) or len(cameras) != len(raw):
            problems.append("camera list unreadable or longer than the layout")
        geometry = data.get("geometry", "")
        detached = data.get("detached", False)
        return cls(
            layout=key,
            cameras=cameras,
            detached=detached is True,
            geometry=geometry if isinstance(geometry, str) else "",
            problems=tuple(problems),
        )


def _cameras(raw: Sequence[object], capacity: int) -> tuple[str | None, ...]:
    """Camera ids by position: non-strings become empty cells, duplicates are dropped."""
    seen: set[str] = set()
    cameras: list[str | None] = []
    for item in raw[:capacity]:
        if isinstance(item, str) and item and item not in seen:
            seen.add(item)
            cameras.append(item)
        else:
            cameras.append(None)
    return tuple(cameras)
