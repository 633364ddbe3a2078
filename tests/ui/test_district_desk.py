"""The district desk against the real district server, with a police desk beside it.

A dispatcher asks for Jefferson Elementary's cameras: the safety office's desk raises a
card (and a sound) naming who asked, the agency, school, type, threat basis and how long
it has waited; a click shows the request's row. Approved, the dispatcher opens a camera:
the district's map marks it as watched, naming the dispatcher. "Revoke all of Riverside
Police Department…", confirmed, closes the dispatcher's tile and locks the pins again,
and the mark goes. A break-glass grant waits in the "To review" list until reviewed.
The declare control follows the policy: on whose behalf for the safety office, absent
for facilities staff, and only at their own school for a school administrator.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from dispatch_console.app import ConsoleWindow
from dispatch_console.district.seed import POLICE_AGENCY
from dispatch_console.domain.models import EmergencyType
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.ui.district_desk import DistrictDeskPresenter
from dispatch_console.ui.map_view import PinLook
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import click_pin, close_desk, desk_settings, open_desk

SCHOOL = "jefferson-es"
CAMERA = "jes-cam-01"  # Main Entrance: shareable
BASIS = "District desk test: a caller reports a man trying doors at Jefferson"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


class CountingSound:
    def __init__(self) -> None:
        self.played = 0

    def play(self) -> None:
        self.played += 1


def click(button: QPushButton) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def screenshot(desk: ConsoleWindow, name: str) -> None:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOT_DIR") or SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    desk.window.grab().save(str(folder / name))


def presenter(desk: ConsoleWindow) -> DistrictDeskPresenter:
    found = desk.controller.district_desk
    assert found is not None
    return found


async def clear_holds(server_url: str, client: DistrictClient, schools: set[str]) -> None:
    """Hygiene on the shared server: a revoke holds its school until cleared."""
    headers = {"Authorization": f"Bearer {client.token}"}
    async with httpx.AsyncClient(base_url=server_url, headers=headers) as http:
        for school in schools:
            answer = await http.post(f"/api/v1/schools/{school}/clear")
            assert answer.status_code in (200, 409), answer.text  # 409: not on hold


def test_a_request_alerts_the_safety_office_and_revoke_all_closes_the_police_feeds(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        desk = presenter(district)
        sound = CountingSound()
        desk.notifier.sound = sound
        emergency_id = ""
        held: set[str] = set()
        try:
            await clear_holds(district_stack.server_url, auditor, {SCHOOL})
            await eventually(lambda: bool(desk._agencies), 10, "the police agencies")
            window = police.window
            window.school.setCurrentIndex(window.school.findData(SCHOOL))
            window.emergency.kind.setCurrentIndex(window.emergency.kind.findData("lockdown"))
            window.emergency.basis.setText(BASIS)
            click(window.emergency.declare)

            def request_id() -> str:
                found = [
                    r.id
                    for r in district.console.access.requests
                    for e in district.console.access.emergencies
                    if r.emergency_id == e.id and e.threat_basis == BASIS and r.is_pending
                ]
                return found[0] if found else ""

            await eventually(lambda: bool(request_id()), 10, "the request on the district desk")
            rid = request_id()
            await eventually(
                lambda: desk.notifier.cards.card(rid) is not None, 5, "the request's card"
            )
            card = desk.notifier.cards.card(rid)
            assert card is not None and card.isVisible()
            assert card.title.text() == "Police ask for the cameras at Jefferson Elementary School"
            assert card.who.text() == f"Dana Reyes, {POLICE_AGENCY}"
            assert card.what.text() == "Lockdown at Jefferson Elementary School"
            assert card.why.text() == f"Threat basis: {BASIS}"
            assert card.waiting.text().startswith("Waiting under a minute (since ")
            assert sound.played == 1
            assert desk.notifier.tray is None  # offscreen has no system tray: the card only
            emergency_id = next(
                r.emergency_id for r in district.console.access.requests if r.id == rid
            )
            screenshot(district, "district-desk-request-card.png")

            # A click on the card shows the request's row, focused on Approve.
            click(card.show_row)
            await eventually(lambda: desk.notifier.cards.card(rid) is None, 3, "the card to go")
            assert desk.focused_request == rid
            row = district.window.access.row(emergency_id)
            assert row is not None
            assert QApplication.focusWidget() is row.approve
            click(row.approve)
            await eventually(
                lambda: window.map.pin_state(CAMERA).look is PinLook.UNLOCKED, 5, "the pin"
            )

            # Other tests on the shared district may have left sessions open on this
            # camera (a killed console's): the dispatcher's is counted on top of those.
            map_ = district.window
            map_.school.setCurrentIndex(map_.school.findData(SCHOOL))

            def marked() -> int:
                badge = desk.overlay.badge(CAMERA)
                return 0 if badge is None else badge.count

            open_sessions = await auditor.audit_sessions(active=True, limit=200)
            before = sum(1 for s in open_sessions if s["camera_id"] == CAMERA)
            # The dispatcher watches a camera: the district's map marks it, naming them.
            click_pin(window, CAMERA)
            await eventually(lambda: len(window.grid.tiles) == 1, 10, "the dispatcher's tile")
            await eventually(lambda: marked() == before + 1, 5, "the watched mark")
            badge = desk.overlay.badge(CAMERA)
            assert badge is not None
            assert f"Dana Reyes ({POLICE_AGENCY})" in badge.toolTip()
            assert badge.toolTip().startswith("Watched now by ")
            assert CAMERA in desk.overlay.watched
            await eventually(
                lambda: desk.side.agency_row(POLICE_AGENCY) is not None, 3, "the agency row"
            )
            map_.map.centre_on_camera(CAMERA)
            screenshot(district, "district-desk-watched.png")

            # Revoke all of the agency: the first click arms, the second revokes.
            agency = desk.side.agency_row(POLICE_AGENCY)
            assert agency is not None
            assert agency.revoke.text() == f"Revoke all of {POLICE_AGENCY}…"
            click(agency.revoke)
            assert agency.revoke.text() == "Confirm: revoke all"
            assert len(window.grid.tiles) == 1  # nothing happened yet
            held = {g.school_id for g in district.console.access.grants}
            click(agency.revoke)
            await eventually(lambda: window.grid.tiles == [], 5, "the dispatcher's tile to close")
            await eventually(
                lambda: window.map.pin_state(CAMERA).look is PinLook.LOCKED, 3, "the pin to lock"
            )
            await eventually(
                lambda: f"All police access of {POLICE_AGENCY} revoked" in map_.message.text(),
                3,
                "the district's message",
            )
            await eventually(lambda: marked() == before, 5, "the dispatcher's mark to go")
            assert desk.side.agency_row(POLICE_AGENCY) is None
        finally:
            if emergency_id:
                await auditor.end_emergency(emergency_id)
            await clear_holds(district_stack.server_url, auditor, held | {SCHOOL})
            await auditor.aclose()
            for opened in (police, district):
                await close_desk(opened)

    qloop.run(scenario(), timeout=120)


def test_break_glass_grants_wait_in_the_review_list_and_declare_follows_the_policy(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)
    note = "Reviewed the 911 log: the break-glass declaration was justified."

    async def scenario() -> None:
        district = await open_desk(settings, "safety")
        police = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        desk = presenter(district)
        desk.notifier.sound = CountingSound()
        ended: list[str] = []
        others: list[ConsoleWindow] = []
        try:
            await clear_holds(district_stack.server_url, auditor, {"lincoln-hs"})
            declared = await police.declare_emergency(
                "lincoln-hs", EmergencyType.ACTIVE_THREAT, "District desk test: shots reported"
            )
            ended.append(declared.emergency.id)
            assert declared.grant is not None
            grant_id = declared.grant.id
            await eventually(
                lambda: desk.side.review_row(grant_id) is not None, 5, "the grant to review"
            )
            row = desk.side.review_row(grant_id)
            assert row is not None
            assert row.headline.text() == f"{POLICE_AGENCY} at Lincoln High School"
            assert "not reviewed yet" in row.detail.text()
            screenshot(district, "district-desk-to-review.png")
            click(row.review)
            dialog = district.controller.review_dialog
            assert dialog is not None and dialog.isVisible()
            dialog.note.setPlainText(note)
            dialog.accept()
            await eventually(
                lambda: desk.side.review_row(grant_id) is None, 5, "the grant to leave the list"
            )
            reviewed = [g for g in await auditor.grants_to_review() if g.id == grant_id]
            assert reviewed == []  # the server recorded it: no longer waiting

            # The safety office declares on behalf of a police agency, and says which.
            panel = district.window.emergency
            await eventually(lambda: panel.agency.count() > 0, 5, "the agencies to declare for")
            assert not panel.declare.isHidden() and not panel.agency.isHidden()
            panel.agency.setCurrentIndex(panel.agency.findData(POLICE_AGENCY))
            assert panel.declare.text() == f"Declare for {POLICE_AGENCY}"
            district.window.school.setCurrentIndex(district.window.school.findData(SCHOOL))
            panel.kind.setCurrentIndex(panel.kind.findData("medical"))
            panel.basis.setText("District desk test: the nurse asks police to guide EMS")
            screenshot(district, "district-desk-declare-for.png")
            click(panel.declare)

            def on_behalf() -> list[str]:
                return [
                    r.agency
                    for r in district.console.access.requests
                    for e in district.console.access.emergencies
                    if r.emergency_id == e.id
                    and e.threat_basis.startswith("District desk test: the")
                ]

            await eventually(lambda: bool(on_behalf()), 5, "the request declared on behalf")
            assert on_behalf() == [POLICE_AGENCY]
            ended += [
                e.id
                for e in district.console.access.emergencies
                if e.threat_basis.startswith("District desk test: the nurse")
            ]

            # Facilities staff may not declare: no control. A school administrator may, at
            # their own school only.
            facilities = await open_desk(settings, "facilities")
            others.append(facilities)
            assert facilities.window.emergency.declare.isHidden()
            assert facilities.window.emergency.basis.isHidden()
            admin = await open_desk(settings, "lincoln-admin")
            others.append(admin)
            school = admin.window.school
            school.setCurrentIndex(school.findData("lincoln-hs"))
            assert not admin.window.emergency.declare.isHidden()
            school.setCurrentIndex(school.findData(SCHOOL))
            assert admin.window.emergency.declare.isHidden()
        finally:
            try:
                for emergency_id in ended:
                    await auditor.end_emergency(emergency_id)
                await auditor.aclose()
                await police.aclose()
            finally:  # a desk left open would fire its timers into the next tests
                for opened in (district, *others):
                    await close_desk(opened)

    qloop.run(scenario(), timeout=120)


def test_a_change_heard_while_the_watchers_are_read_is_read_again(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    """Found on a slow machine: a revoke's grant event started a read, the session's end
    arrived while it was under way and was dropped, and the mark stayed. The district's
    answers are held here, so the end lands exactly inside the first read."""
    watching = {
        "camera_id": CAMERA,
        "user_name": "Dana Reyes",
        "agency": POLICE_AGENCY,
        "started_at": "2026-12-07T01:00:00.000Z",
        "ended_at": None,
    }

    async def scenario() -> None:
        district = await open_desk(desk_settings(district_stack.server_url, tmp_path), "safety")
        try:
            desk = presenter(district)
            district.window.school.setCurrentIndex(district.window.school.findData(SCHOOL))
            await eventually(lambda: not desk._reading_watchers, 5, "the first read")
            answers = [[watching], []]  # before the end, then after it
            held = asyncio.Event()

            async def audit_sessions(**_filters: object) -> list[dict[str, object]]:
                answer = answers.pop(0)
                if answer:
                    await held.wait()  # the first read is under way ...
                return answer

            district.console.client.audit_sessions = audit_sessions  # type: ignore[method-assign]
            desk.refresh_watchers()  # the grant event
            await asyncio.sleep(0.05)
            desk.refresh_watchers()  # ... when the session's end is heard
            held.set()
            await eventually(lambda: not answers and not desk._reading_watchers, 3, "two reads")
            # The second answer (after the end) is the one shown: no one watches.
            assert desk.watchers == {}
            assert desk.overlay.badge(CAMERA) is None
        finally:
            await close_desk(district)

    qloop.run(scenario(), timeout=60)
