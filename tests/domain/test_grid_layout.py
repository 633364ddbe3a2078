"""Grid layouts cover their square exactly; feeds keep their places across switches."""

from __future__ import annotations

import pytest

from dispatch_console.domain.grid_layout import (
    DEFAULT_LAYOUT,
    LAYOUTS,
    MAX_TILES,
    Placement,
    SavedGrid,
    layout,
    square_layout_for,
    stream_for_tile,
)


@pytest.mark.parametrize("key", list(LAYOUTS))
def test_every_layout_tiles_its_square_without_gaps_or_overlaps(key: str) -> None:
    grid = layout(key)
    covered: list[tuple[int, int]] = []
    for tile in grid.tiles:
        covered += [
            (r, c)
            for r in range(tile.row, tile.row + tile.rows)
            for c in range(tile.col, tile.col + tile.cols)
        ]
    assert len(covered) == len(set(covered)) == grid.units**2


def test_the_layouts_the_issue_asks_for() -> None:
    capacities = {key: g.capacity for key, g in LAYOUTS.items()}
    assert capacities == {
        "1x1": 1, "2x2": 4, "3x3": 9, "4x4": 16, "5x5": 25, "6x6": 36, "1+5": 6, "1+7": 8,
    }  # fmt: skip
    assert MAX_TILES == 36
    big = layout("1+7").tiles[0]
    assert (big.rows, big.cols) == (3, 3)
    with pytest.raises(ValueError, match="unknown grid layout"):
        layout("7x7")


def test_next_camera_takes_the_next_free_tile() -> None:
    placement: Placement[str] = Placement(4)
    assert [placement.place(k) for k in "abc"] == [0, 1, 2]
    placement.remove("b")
    assert placement.place("d") == 1
    assert placement.place("e") == 3
    assert placement.next_free() is None
    with pytest.raises(ValueError, match="full"):
        placement.place("f")


def test_swap_moves_feeds_and_empty_tiles() -> None:
    placement: Placement[str] = Placement(4)
    placement.place("a")
    placement.place("b")
    placement.swap(0, 3)
    assert placement.positions == [None, "b", None, "a"]
    with pytest.raises(ValueError):
        placement.swap(0, 4)


def test_switching_layouts_keeps_every_feed_or_refuses() -> None:
    placement: Placement[str] = Placement(9)
    for key in "abc":
        placement.place(key)
    placement.swap(2, 8)  # c sits in the last tile of a 3×3
    assert placement.resize(4)
    assert placement.positions == ["a", "b", "c", None]  # c moved up, order kept
    assert placement.resize(36)
    assert placement.positions[:4] == ["a", "b", "c", None] and placement.capacity == 36
    assert not placement.resize(1)  # three feeds do not fit one tile
    assert placement.capacity == 36 and len(placement) == 3


def test_square_layout_for() -> None:
    assert square_layout_for(5) == layout("3x3")
    assert square_layout_for(36) == layout("6x6")
    assert square_layout_for(37) is None


def test_large_tiles_play_the_main_stream() -> None:
    assert stream_for_tile(layout("2x2"), 0, maximized=False) == "sub"
    assert stream_for_tile(layout("2x2"), 3, maximized=True) == "main"
    assert stream_for_tile(layout("1x1"), 0, maximized=False) == "main"
    for key in ("1+5", "1+7"):
        assert stream_for_tile(layout(key), 0, maximized=False) == "main"
        assert stream_for_tile(layout(key), 1, maximized=False) == "sub"
    assert stream_for_tile(layout("6x6"), 35, maximized=False) == "sub"


def test_a_new_camera_skips_cells_remembered_for_other_cameras_while_others_are_free() -> None:
    placement: Placement[str] = Placement(4)
    assert placement.next_free(avoid={0, 1}) == 2
    assert placement.place("a", avoid={0, 1}) == 2
    placement.place("b", avoid={0, 1})
    assert placement.next_free(avoid={0, 1}) == 0  # only remembered cells are left
    placement.place("c", 0)
    placement.place("d", 1)
    assert placement.next_free(avoid={0, 1}) is None


def test_a_saved_grid_round_trips_and_a_damaged_one_falls_back() -> None:
    saved = SavedGrid("3x3", ("cam-1", None, "cam-2"), detached=True, geometry="AdnQyw==")
    assert SavedGrid.from_json(saved.to_json()) == saved
    assert SavedGrid.from_json("{not json").layout == DEFAULT_LAYOUT
    assert SavedGrid.from_json("{not json").problems
    odd = SavedGrid.from_json(
        '{"layout": "9x9", "cameras": ["a", 3, "a", null, "b"], "detached": "yes"}'
    )
    assert odd.layout == DEFAULT_LAYOUT and odd.detached is False
    assert odd.cameras == ("a", None, None, None)  # 2x2 holds four; "a" only once
    assert odd.problems
    assert SavedGrid.from_json("[1, 2]") == SavedGrid()
