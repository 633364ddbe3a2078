"""Video grid layouts and which feed sits in which tile.

Pure geometry and bookkeeping, kept out of the widget so the rules are tested without
Qt: a layout is a square of ``units`` × ``units`` cells and a list of tiles (cells or
blocks of cells); tile 0 is the large one in the "1 large + n" layouts. Feeds keep their
position across layout switches (the widgets are moved, the streams are never
reopened), so a switch to a layout with fewer tiles than open feeds is refused rather
than silently hiding a feed that is still being watched and audited.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = [
    "DEFAULT_LAYOUT",
    "LAYOUTS",
    "MAX_TILES",
    "GridLayout",
    "Placement",
    "Tile",
    "layout",
    "square_layout_for",
]


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

    def next_free(self) -> int | None:
        """The first empty position in reading order (the next camera goes there)."""
        for index in range(self._capacity):
            if self._positions[index] is None:
                return index
        return None

    def place(self, key: K, index: int | None = None) -> int:
        """Put ``key`` at ``index`` (default: the next free position)."""
        if self.index_of(key) is not None:
            raise ValueError("already placed")
        if index is None:
            index = self.next_free()
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
