"""The map starts at the district overview; the breadcrumb follows every access change.

The wording comes from ``school_summaries`` (tested on its own below); the desk test drives
a real police desk against the real district server: the overview first, a school's plan
on a click, the breadcrumb's emergency state changing with a declaration, an approval and
an end while the same floor stays on screen, then back to the overview.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from dispatch_console.domain.access_board import emergency_statuses
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.floorplan.loader import load_district
from dispatch_console.ui.district_overview import (
    Breadcrumb,
    DistrictOverview,
    school_summaries,
)
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.paths import SAMPLE_DISTRICT
from tests.ui.desk import close_desk, desk_settings, open_desk

DISTRICT = load_district(SAMPLE_DISTRICT)
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
THREAT_BASIS = "Overview test: a caller reports smoke near the Jefferson library"


def _emergency(id: str, school: str, kind: EmergencyType) -> Emergency:
    return Emergency(id, school, kind, "911 call", "Dana Reyes", NOW - timedelta(minutes=6))


def test_schools_under_an_emergency_come_first_with_their_access() -> None:
    waiting = AccessContext(
        emergencies=(_emergency("e1", "jefferson-es", EmergencyType.LOCKDOWN),),
        requests=(
            AccessRequest(
                "r1", "e1", "jefferson-es", "Riverside PD", "Dana Reyes",
                NOW - timedelta(minutes=4), "pending",
            ),
        ),
    )  # fmt: skip
    summaries = school_summaries(DISTRICT, emergency_statuses(waiting, DISPATCHER, NOW))
    assert [s.school_id for s in summaries] == ["jefferson-es", "lincoln-hs"]
    jefferson, lincoln = summaries
    assert jefferson.state == "LOCKDOWN — police access waiting for the district for 4 min"
    assert jefferson.level == "waiting"
    assert (lincoln.state, lincoln.level) == ("no emergency", "neutral")
    assert lincoln.cameras == len(DISTRICT.school("lincoln-hs").cameras())

    expires = NOW + timedelta(minutes=50)
    granted = AccessContext(
        emergencies=(_emergency("e2", "lincoln-hs", EmergencyType.ACTIVE_THREAT),),
        grants=(Grant("g1", "e2", "lincoln-hs", "Riverside PD", NOW, expires, "break-glass"),),
    )
    [lincoln, jefferson] = school_summaries(DISTRICT, emergency_statuses(granted, DISPATCHER, NOW))
    until = expires.astimezone().strftime("%H:%M")
    assert lincoln.state == f"ACTIVE THREAT (SHOOTER / INTRUDER) — police access until {until}"
    assert lincoln.level == "emergency" and jefferson.level == "neutral"


def test_the_overview_reports_the_school_chosen(qtbot: QtBot) -> None:
    overview = DistrictOverview()
    qtbot.addWidget(overview)
    overview.show_schools(DISTRICT.name, school_summaries(DISTRICT, ()))
    overview.show()
    assert overview.school_state("jefferson-es") == "no emergency"
    row = overview.schools.item(1)
    with qtbot.waitSignal(overview.school_chosen) as chosen:
        rect = overview.schools.visualItemRect(row)
        QTest.mouseClick(overview.schools.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen.args == [row.data(Qt.ItemDataRole.UserRole)]
    overview.schools.setCurrentRow(0)
    with qtbot.waitSignal(overview.school_chosen) as chosen:
        QTest.keyClick(overview.schools, Qt.Key.Key_Return)
    assert chosen.args == [overview.schools.item(0).data(Qt.ItemDataRole.UserRole)]


def test_breadcrumb_parts_link_up_but_not_to_where_the_map_is(qtbot: QtBot) -> None:
    crumb = Breadcrumb()
    qtbot.addWidget(crumb)
    crumb.show_path([("District", "district"), ("Lincoln", "school:lincoln-hs"), ("1st", "")])
    assert "href='district'" in crumb.text() and "href='school:lincoln-hs'" in crumb.text()
    assert crumb.text().count("href=") == 2
    assert crumb.parts == ["District", "Lincoln", "1st"]


def test_the_desk_starts_at_the_overview_and_the_breadcrumb_follows_access(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        safety = await signed_in_client(district_stack.server_url, "safety")
        emergency_id = ""
        try:
            window = police.window
            assert window.map_stack.currentWidget() is window.overview
            assert window.breadcrumb.parts == [DISTRICT.name]
            assert window.overview.school_state("jefferson-es") == "no emergency"

            window.overview.school_chosen.emit("jefferson-es")
            assert window.map_stack.currentWidget() is not window.overview
            assert window.map.floor is not None and window.map.floor.id == "jes-1"
            floor = window.map.floor
            school = DISTRICT.school("jefferson-es").name
            assert window.breadcrumb.parts[:2] == [DISTRICT.name, school]
            assert window.breadcrumb.state == "no emergency"

            declared = await police.console.declare_emergency(
                "jefferson-es", EmergencyType.LOCKDOWN, THREAT_BASIS
            )
            emergency_id = declared.emergency.id
            assert declared.request_id is not None
            await eventually(
                lambda: "waiting for the district" in window.breadcrumb.state, 5, "waiting"
            )
            await safety.approve_request(declared.request_id)
            await eventually(
                lambda: "police access until" in window.breadcrumb.state, 5, "the grant"
            )
            assert window.overview.school_state("jefferson-es").startswith("LOCKDOWN")
            # A camera opened while the overview shows (the demo's autoplay) shows its floor.
            window.breadcrumb.chosen.emit("district")
            assert window.map_stack.currentWidget() is window.overview
            police.controller.open_camera("jes-cam-01")
            assert window.map_stack.currentWidget() is not window.overview
            assert window.map.floor is floor
            await eventually(lambda: len(window.grid.tiles) == 1, 10, "the feed")
            await safety.end_emergency(emergency_id)
            emergency_id = ""
            await eventually(lambda: window.breadcrumb.state == "no emergency", 5, "the end")
            assert window.map.floor is floor  # the state changed, the floor did not

            window.breadcrumb.chosen.emit("district")
            assert window.map_stack.currentWidget() is window.overview
            assert window.breadcrumb.parts == [DISTRICT.name]
        finally:
            if emergency_id:
                await safety.end_emergency(emergency_id)
            await safety.aclose()
            await close_desk(police)

    qloop.run(scenario(), timeout=60)
