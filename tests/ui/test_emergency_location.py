"""An emergency declared at a spot on the plan, end to end against the real district server.

The dispatcher right-clicks Lincoln High's front lobby → "Declare emergency here…", sees
the location in the declare row and declares a lockdown. The district desk marks the spot
on the same floor. Until the district approves, the dispatcher's "Open cameras covering
the location" is there but disabled; after approval the two cameras that see the lobby
(walls considered: the lobby camera and the parking-lot camera through the front door) are
ringed and offered, nothing opens by itself, and one click opens exactly those two.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from dispatch_console.app import ConsoleWindow
from dispatch_console.domain.models import EmergencyLocation
from dispatch_console.ui import theme
from dispatch_console.ui.map_view import DECLARE_HERE_ACTION
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

SPOT = (36.0, 45.0)  # lhs-main-1, in the lobby, in line with the front door
EXPECTED = {"lhs-cam-04", "lhs-cam-06"}
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def _show_lincoln_ground_floor(desk: ConsoleWindow) -> None:
    window = desk.window
    window.overview.school_chosen.emit("lincoln-hs")  # from the district overview
    window.floors.setCurrentIndex(0)
    assert window.map_stack.currentIndex() == 1
    assert window.map.floor is not None and window.map.floor.id == "lhs-main-1"


def _screenshot(desk: ConsoleWindow, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    desk.window.grab().save(str(SHOTS / name))


def test_a_located_emergency_is_marked_and_offers_its_covering_cameras(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        emergencies: list[str] = []
        try:
            window = police.window
            panel = window.emergency
            _show_lincoln_ground_floor(police)
            _show_lincoln_ground_floor(district)
            scale = theme.PIXELS_PER_METRE
            where = window.map.mapFromScene(QPointF(SPOT[0] * scale, SPOT[1] * scale))
            menu = window.map.context_menu(where)
            declare_here = next(a for a in menu.actions() if a.text() == DECLARE_HERE_ACTION)
            declare_here.trigger()
            assert panel.location.text() == "Location: Main Entrance Lobby (1st floor)"
            assert panel.clear_location.isVisible()
            chosen = police.controller.spot.chosen
            assert chosen is not None and chosen.floor_id == "lhs-main-1"
            assert abs(chosen.x - SPOT[0]) < 0.5 and abs(chosen.y - SPOT[1]) < 0.5

            panel.kind.setCurrentIndex(panel.kind.findData("lockdown"))
            panel.basis.setText("Location test: caller reports a man with a gun in the lobby")
            _screenshot(police, "police-desk-declare-here.png")
            QTest.mouseClick(panel.declare, Qt.MouseButton.LeftButton)

            def mine() -> list[str]:
                return [
                    e.id
                    for e in police.console.access.emergencies
                    if e.location is not None
                    and e.declared_by == "Dana Reyes"
                    and e.threat_basis.startswith("Location test")
                ]

            await eventually(lambda: bool(mine()), 10, "the located emergency")
            emergencies.extend(mine())
            emergency = next(e for e in police.console.access.emergencies if e.id in emergencies)
            assert emergency.location == chosen
            # Sent with the declaration: the declare row drops it once the answer is in.
            await eventually(lambda: not panel.location.isVisible(), 5, "the row to clear")
            assert police.controller.spot.chosen is None

            # The district desk marks the spot on the floor it shows.
            await eventually(
                lambda: any(
                    m.emergency_id in emergencies for m in district.controller.spot.markers
                ),
                10,
                "the district desk's marker",
            )
            marker = next(
                m for m in district.controller.spot.markers if m.emergency_id in emergencies
            )
            assert marker.pos() == QPointF(chosen.x * scale, chosen.y * scale)
            assert "LOCKDOWN declared here — Main Entrance Lobby" in marker.toolTip()
            assert any(m.emergency_id in emergencies for m in police.controller.spot.markers)

            # Waiting for the district: offered, but nothing the dispatcher may open yet.
            assert panel.open_covering.isVisible() and not panel.open_covering.isEnabled()
            assert "waits for the district" in panel.open_covering.toolTip()
            assert police.controller.spot.rings == {}

            request = next(
                r for r in police.console.access.requests if r.emergency_id in emergencies
            )
            await auditor.approve_request(request.id)
            await eventually(lambda: panel.open_covering.isEnabled(), 10, "the offer")
            assert set(police.controller.spot.rings) == EXPECTED
            assert panel.open_covering.text() == "Open cameras covering the location (2)"
            assert (
                "2 camera(s) see Main Entrance Lobby (1st floor), ringed" in window.message.text()
            )
            assert "ringed" not in district.window.message.text()
            await asyncio.sleep(0.3)  # a few polls of the live update: still nothing opens
            assert police.console.views == {} and window.grid.tiles == []
            for desk in (police, district):
                desk.window.map.fit()  # the whole floor in the pictures
            _screenshot(police, "police-desk-covering-offered.png")
            _screenshot(district, "district-desk-emergency-marker.png")

            # Elsewhere on the map, one click brings the floor back and opens the two.
            window.floors.setCurrentIndex(1)
            QTest.mouseClick(panel.open_covering, Qt.MouseButton.LeftButton)
            await eventually(lambda: len(window.grid.tiles) == 2, 20, "two tiles")
            assert window.map.floor is not None and window.map.floor.id == "lhs-main-1"
            assert {s.camera_id for s in police.console.views.values()} == EXPECTED
        finally:
            for emergency_id in emergencies:
                await auditor.end_emergency(emergency_id)
            await auditor.aclose()
            await close_desk(district)
            await close_desk(police)

    qloop.run(scenario(), timeout=120)


def test_a_spot_at_another_school_is_not_sent_with_the_declaration(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        try:
            _show_lincoln_ground_floor(police)
            spot = police.controller.spot
            spot.choose(*SPOT)
            assert spot.location_for("lincoln-hs") == EmergencyLocation("lhs-main-1", *SPOT)
            assert spot.location_for("jefferson-es") is None
            police.window.school.setCurrentIndex(police.window.school.findData("jefferson-es"))
            assert spot.chosen is None and not police.window.emergency.location.isVisible()
            spot.choose(10.0, 10.0)
            QTest.mouseClick(police.window.emergency.clear_location, Qt.MouseButton.LeftButton)
            assert spot.chosen is None
        finally:
            await close_desk(police)

    qloop.run(scenario(), timeout=60)
