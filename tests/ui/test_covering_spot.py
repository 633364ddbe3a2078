"""A spot on the plan opens the cameras that see it, walls considered, nearest first.

The district safety office (standing access) asks for the spot just inside Lincoln High's
front lobby. The lobby camera sees it and so does the parking-lot camera, through the
lobby's front door; the gym and cafeteria cameras are behind walls and the hall camera
is out of range. Exactly those two open, the nearer first. A dispatcher without a grant
gets none of them.
"""

from __future__ import annotations

from pathlib import Path

from dispatch_console.app import ConsoleWindow
from tests.conftest import DistrictStack, LoopRunner, eventually
from tests.ui.desk import close_desk, desk_settings, open_desk

SPOT = (36.0, 45.0)  # metres on lhs-main-1, in the lobby, in line with the front door
EXPECTED = ["lhs-cam-04", "lhs-cam-06"]  # lobby (4 m away), parking lot (16.5 m)


def _show_lincoln_ground_floor(desk: ConsoleWindow) -> None:
    window = desk.window
    window.school.setCurrentIndex(window.school.findData("lincoln-hs"))
    window.floors.setCurrentIndex(0)
    assert window.map.floor is not None and window.map.floor.id == "lhs-main-1"


def test_a_spot_opens_exactly_the_cameras_that_see_it(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        try:
            _show_lincoln_ground_floor(police)
            police.window.map.spot_chosen.emit(*SPOT)
            assert "No camera you may open" in police.window.message.text()
            assert police.console.views == {}

            _show_lincoln_ground_floor(district)
            district.window.map.spot_chosen.emit(*SPOT)
            names = {c.id: c.name for c in district.console.district.cameras()}  # type: ignore[union-attr]
            await eventually(
                lambda: len(district.window.grid.tiles) == len(EXPECTED), 20, "two tiles"
            )
            titles = [tile.title for tile in district.window.grid.tiles]
            assert sorted(titles) == sorted(names[c] for c in EXPECTED)
            opened = sorted(s.camera_id for s in district.console.views.values())
            assert opened == sorted(EXPECTED)
            message = district.window.message.text()
            assert message.index(names[EXPECTED[0]]) < message.index(names[EXPECTED[1]])
        finally:
            await close_desk(district)
            await close_desk(police)

    qloop.run(scenario(), timeout=90)
