"""The dispatcher desk's request state: school list, countdowns, "Ask to extend", FERPA notice.

The widget tests drive the panels with a fake clock (no sleeps: "a minute later" is the
clock plus a minute). The desk test runs a dispatcher and a safety officer against the
session's real district server: a break-glass grant at Jefferson, the dispatcher asks for
more time when it nears its end and the safety office hears it; a tile of video brings
the FERPA notice and takes it away again; a denied lockdown at Lincoln reads why.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from dispatch_console.app import ConsoleWindow
from dispatch_console.domain.access_board import (
    FERPA_NOTICE,
    EndedEmergency,
    RequestPhase,
    emergency_statuses,
)
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Building,
    District,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    School,
    User,
)
from dispatch_console.ui.access_panel import AccessPanel, SchoolStateList
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
THREAT = Emergency("e1", "lhs", EmergencyType.ACTIVE_THREAT, "911", "Dana Reyes", NOW)
LOCKDOWN = Emergency("e2", "jes", EmergencyType.LOCKDOWN, "911", "Dana Reyes", NOW)
GRANT = Grant("g1", "e1", "lhs", "Riverside PD", NOW, NOW + timedelta(minutes=60), "Sam Ortiz")
PENDING = AccessRequest("r1", "e2", "jes", "Riverside PD", "Dana Reyes", NOW, "pending")
DISTRICT = District(
    "d",
    "Riverside USD",
    tuple(
        School(sid, name, "", (Building(f"{sid}-main", "Main", ()),))
        for sid, name in (("lhs", "Lincoln High"), ("jes", "Jefferson"), ("wms", "Washington"))
    ),
)


class FakeClock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def test_the_police_row_counts_down_and_offers_to_ask_near_the_end(qtbot: QtBot) -> None:
    clock = FakeClock()
    panel = AccessPanel(compact=True, clock=clock)
    qtbot.addWidget(panel)
    context = AccessContext((THREAT, LOCKDOWN), (GRANT,), (PENDING,))
    clock.now = NOW + timedelta(minutes=1, seconds=5)
    panel.show_statuses(emergency_statuses(context, DISPATCHER, clock.now), {})
    granted, waiting = panel.row("e1"), panel.row("e2")
    assert granted is not None and waiting is not None
    assert "Waiting for district approval — 1:05" in waiting.access.text()
    assert "(58:55 left) — whole school" in granted.access.text()
    assert granted.ask_extension.isHidden()
    assert panel.ticker.isActive() and panel.ticker.interval() == 1000

    # The panel's timer redraws from the clock alone: no new access state needed.
    clock.now = NOW + timedelta(minutes=55, seconds=1)
    panel.tick()
    assert "Expiring soon: " in granted.access.text() and "(4:59 left)" in granted.access.text()
    assert "Waiting for district approval — 55:01" in waiting.access.text()
    assert not granted.ask_extension.isHidden()

    with qtbot.waitSignal(panel.extension_requested) as asked:
        QTest.mouseClick(granted.ask_extension, Qt.MouseButton.LeftButton)
    assert asked.args == ["g1"]
    assert not granted.ask_extension.isEnabled()  # until the district has the question
    panel.extension_answered("g1", True)
    assert granted.ask_extension.text().startswith("Extension asked at ")
    assert not granted.ask_extension.isEnabled()
    # The grant ran out: nothing left to ask for.
    clock.now = GRANT.expires_at
    panel.tick()
    assert granted.ask_extension.isHidden()
    assert "(0:00 left)" in granted.access.text()


def test_the_school_list_shows_every_school_and_opens_the_one_clicked(qtbot: QtBot) -> None:
    clock = FakeClock()
    schools = SchoolStateList(clock=clock)
    qtbot.addWidget(schools)
    statuses = emergency_statuses(
        AccessContext((THREAT, LOCKDOWN), (GRANT,), (PENDING,)), DISPATCHER, NOW
    )
    ended = {"wms": EndedEmergency("e0", "wms", EmergencyType.MEDICAL, NOW)}
    schools.show_state(DISTRICT, statuses, ended)
    assert [schools.item(n).text().split("\n")[0] for n in range(3)] == [
        "Lincoln High",
        "Jefferson",
        "Washington",
    ]
    assert schools.line("lhs").phase is RequestPhase.GRANTED
    assert schools.line("jes").text == "Lockdown · waiting for approval 0:00"
    assert "Medical · ended at" in schools.item(2).text()
    clock.now = NOW + timedelta(seconds=42)
    schools.tick()
    assert schools.item(1).text() == "Jefferson\nLockdown · waiting for approval 0:42"
    with qtbot.waitSignal(schools.school_chosen) as chosen:
        rect = schools.visualItemRect(schools.item(1))
        QTest.mouseClick(schools.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen.args == ["jes"]


def _screenshot(desk: ConsoleWindow, name: str) -> None:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOT_DIR", "build/screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    desk.window.grab().save(str(folder / name))


def test_the_dispatcher_asks_for_more_time_and_sees_the_notice_with_video(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        emergencies: list[str] = []
        to_review: list[str] = []
        try:
            window = police.window
            schools = window.schools
            assert schools is not None and window.ferpa is not None
            assert district.window.schools is None and district.window.ferpa is None
            declared = await police.console.declare_emergency(
                "jefferson-es", EmergencyType.ACTIVE_THREAT, "Request-state test: intruder"
            )
            emergencies.append(declared.emergency.id)
            assert declared.grant is not None
            grant = declared.grant
            to_review.append(grant.id)
            await eventually(
                lambda: schools.line("jefferson-es").phase is RequestPhase.GRANTED, 5, "list"
            )
            assert "whole school" in schools.line("jefferson-es").text

            # Clicking the school in the list opens its plan.
            row = [schools.item(n).data(Qt.ItemDataRole.UserRole) for n in range(schools.count())]
            rect = schools.visualItemRect(schools.item(row.index("jefferson-es")))
            QTest.mouseClick(schools.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
            assert window.school.currentData() == "jefferson-es"
            assert window.map_stack.currentIndex() == 1

            # Video on screen brings the notice; closing the last tile takes it away.
            assert window.ferpa.isHidden()
            police.controller.open_camera("jes-cam-01")
            await eventually(lambda: len(window.grid.tiles) == 1, 10, "a tile")
            assert window.ferpa.isVisible() and window.ferpa.text() == FERPA_NOTICE

            # Four minutes before the grant's end (the panel's clock moved, not the world).
            late = grant.expires_at - timedelta(minutes=4)
            window.access.clock = lambda: late
            window.access.tick()
            police_row = window.access.row(declared.emergency.id)
            assert police_row is not None and police_row.ask_extension.isVisible()
            assert "Expiring soon" in police_row.access.text()
            await asyncio.sleep(0.2)  # let the panel take its new height before the picture
            _screenshot(police, "police-desk-request-state.png")
            QTest.mouseClick(police_row.ask_extension, Qt.MouseButton.LeftButton)
            await eventually(
                lambda: (
                    "ask to extend police access at Jefferson" in district.window.message.text()
                ),
                10,
                "the safety office to hear the request",
            )
            assert "Dana Reyes" in district.window.message.text()
            await eventually(
                lambda: police_row.ask_extension.text().startswith("Extension asked at"),
                5,
                "the police row to say it asked",
            )
            _screenshot(district, "district-desk-extension-asked.png")

            tile = window.grid.tiles[0]
            tile.close_button.click()
            await eventually(lambda: window.grid.tiles == [], 5, "the tile to close")
            assert window.ferpa.isHidden()

            # A lockdown the district denies, with its reason, at Lincoln.
            lockdown = await police.console.declare_emergency(
                "lincoln-hs", EmergencyType.LOCKDOWN, "Request-state test: lockdown"
            )
            emergencies.append(lockdown.emergency.id)
            assert lockdown.request_id is not None
            await auditor.deny_request(lockdown.request_id, "Officers already inside")
            await eventually(
                lambda: schools.line("lincoln-hs").phase is RequestPhase.DENIED, 10, "denied"
            )
            assert schools.line("lincoln-hs").text == "Lockdown · denied: Officers already inside"
            lincoln_row = window.access.row(lockdown.emergency.id)
            assert lincoln_row is not None
            assert lincoln_row.access.text() == "Denied by Sam Ortiz: Officers already inside"

            # The district ends both: the list says so.
            await auditor.review_grant(grant.id, "Request-state test: reviewed")
            to_review.clear()
            for emergency_id in emergencies:
                await auditor.end_emergency(emergency_id)
            emergencies.clear()
            await eventually(
                lambda: schools.line("jefferson-es").phase is RequestPhase.ENDED, 10, "ended"
            )
            assert schools.line("jefferson-es").text.startswith("Active threat · ended at ")
            _screenshot(police, "police-desk-schools-ended.png")
        finally:
            for grant_id in to_review:
                await auditor.review_grant(grant_id, "Request-state test: reviewed")
            for emergency_id in emergencies:
                await auditor.end_emergency(emergency_id)
            await auditor.aclose()
            await close_desk(district)
            await close_desk(police)

    qloop.run(scenario(), timeout=120)
