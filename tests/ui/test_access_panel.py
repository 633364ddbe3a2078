"""The district safety office approves and ends emergencies from its own desk.

A dispatcher declares a lockdown (not break-glass) at Jefferson Elementary through the
real UI: both desks list it as waiting for district approval and the dispatcher's pins stay
locked. The safety officer clicks Approve in their panel and the dispatcher's pins unlock
as the approval's event reaches the dispatcher's console; then they end the
emergency (two clicks: "End emergency", "Confirm end") and it leaves both panels.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from dispatch_console.app import ConsoleWindow
from dispatch_console.ui.access_panel import EmergencyRow
from dispatch_console.ui.map_view import PinLook
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

SCHOOL = "jefferson-es"
SHAREABLE = ("jes-cam-01", "jes-cam-02", "jes-cam-03")  # entrance, corridor, cafeteria
THREAT_BASIS = "Panel test: suspicious person seen on the Jefferson playground"


def click(button: QPushButton) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def shown(button: QPushButton) -> bool:
    return not button.isHidden()


def screenshot(desk: ConsoleWindow, name: str) -> None:
    if shots := os.environ.get("CONSOLE_SCREENSHOT_DIR"):
        desk.window.grab().save(str(Path(shots) / name))


def test_the_safety_office_approves_and_ends_a_lockdown_from_its_panel(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        emergency_id = ""
        try:
            window = police.window
            window.school.setCurrentIndex(window.school.findData(SCHOOL))
            assert window.map.floor is not None and window.map.floor.id == "jes-1"
            window.emergency.kind.setCurrentIndex(window.emergency.kind.findData("lockdown"))
            window.emergency.basis.setText(THREAT_BASIS)
            click(window.emergency.declare)

            def mine() -> str:
                found = [
                    e.id
                    for e in police.console.access.emergencies
                    if e.threat_basis == THREAT_BASIS
                ]
                return found[0] if found else ""

            await eventually(lambda: bool(mine()), 10, "the declared lockdown")
            emergency_id = mine()

            def row(desk: ConsoleWindow) -> EmergencyRow | None:
                return desk.window.access.row(emergency_id)

            # Both desks list it as waiting; only the district desk may act on it.
            await eventually(lambda: row(police) is not None, 5, "the row on the police desk")
            await eventually(lambda: row(district) is not None, 5, "the row on the district desk")
            police_row, district_row = row(police), row(district)
            assert police_row is not None and district_row is not None
            for shown_row in (police_row, district_row):
                assert "LOCKDOWN — Jefferson Elementary" in shown_row.headline.text()
                assert "Waiting for district approval" in shown_row.access.text()
                assert THREAT_BASIS in shown_row.declared.text()
            assert "Dana Reyes" in district_row.access.text()
            assert not any(
                shown(b)
                for b in (police_row.approve, police_row.deny, police_row.end, police_row.revoke)
            )
            assert shown(district_row.approve) and shown(district_row.deny)
            assert shown(district_row.end)
            assert not shown(district_row.revoke) and not shown(district_row.extend)
            assert "waiting for district approval" in window.access.title.text()

            # No grant yet: the dispatcher's shareable pins stay locked, and say why.
            for camera_id in SHAREABLE:
                state = window.map.pin_state(camera_id)
                assert state.look is PinLook.LOCKED
                assert "not granted" in state.reason
            screenshot(police, "police-desk-waiting.png")
            screenshot(district, "district-desk-waiting.png")

            # The safety officer approves: the dispatcher's pins unlock by themselves.
            approved_at = time.monotonic()
            click(district_row.approve)
            await eventually(
                lambda: all(window.map.pin_state(c).look is PinLook.UNLOCKED for c in SHAREABLE),
                5,
                "the dispatcher's pins to unlock",
            )
            unlocked_after = time.monotonic() - approved_at
            assert unlocked_after < 2.5, f"pins unlocked {unlocked_after:.2f} s after approval"
            await eventually(
                lambda: "Police access until" in police_row.access.text(),
                3,
                "the police row to show the grant",
            )
            granted_line = "Police access: Riverside Police Department until"
            await eventually(
                lambda: granted_line in district_row.access.text(), 3, "the district row"
            )
            assert "The district approved police access at Jefferson" in window.message.text()
            assert shown(district_row.extend) and shown(district_row.revoke)
            assert not shown(district_row.approve)
            screenshot(police, "police-desk-granted.png")
            screenshot(district, "district-desk-granted.png")

            # Ending takes two clicks; the first only arms the button.
            click(district_row.end)
            assert district_row.end.text() == "Confirm end"
            assert row(district) is not None
            assert any(e.id == emergency_id for e in district.console.access.emergencies)
            click(district_row.end)
            await eventually(lambda: row(district) is None, 5, "the row to leave the district desk")
            await eventually(lambda: row(police) is None, 3, "the row to leave the police desk")
            # The live event may clear the row before the action's own answer is shown.
            await eventually(
                lambda: "Emergency ended" in district.window.message.text(), 3, "the message"
            )
            assert window.map.pin_state(SHAREABLE[0]).look is PinLook.LOCKED
        finally:
            if emergency_id:
                await auditor.end_emergency(emergency_id)  # ending twice keeps the first end
            await auditor.aclose()
            for desk in (police, district):
                await close_desk(desk)

    qloop.run(scenario(), timeout=90)


DENY_BASIS = "Panel test: a report of a stranger near the Jefferson gate"
DENY_REASON = "The officer on site confirms it was a parent; no camera access needed."


def test_a_denial_asks_for_a_reason_and_the_dispatcher_sees_it(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        emergency_id = ""
        try:
            window = police.window
            window.school.setCurrentIndex(window.school.findData(SCHOOL))
            window.emergency.kind.setCurrentIndex(window.emergency.kind.findData("lockdown"))
            window.emergency.basis.setText(DENY_BASIS)
            click(window.emergency.declare)

            def mine() -> str:
                found = [
                    e.id for e in police.console.access.emergencies if e.threat_basis == DENY_BASIS
                ]
                return found[0] if found else ""

            await eventually(lambda: bool(mine()), 10, "the declared lockdown")
            emergency_id = mine()
            await eventually(
                lambda: district.window.access.row(emergency_id) is not None, 5, "the row"
            )
            row = district.window.access.row(emergency_id)
            assert row is not None
            click(row.deny)
            dialog = district.controller.deny_dialog
            assert dialog is not None and dialog.isVisible()
            ok = dialog.buttons.buttons()[0]
            assert not ok.isEnabled()  # no reason, no denial
            dialog.note.setPlainText(DENY_REASON)
            dialog.accept()
            await eventually(
                lambda: DENY_REASON in window.message.text(),
                5,
                "the dispatcher to read the district's reason",
            )
            assert "The district denied police access at Jefferson" in window.message.text()
            await eventually(
                lambda: "no police access" in window.emergency.banner.text(), 3, "the banner"
            )
            screenshot(police, "police-desk-denied.png")
        finally:
            if emergency_id:
                await auditor.end_emergency(emergency_id)
            await auditor.aclose()
            for desk in (police, district):
                await close_desk(desk)

    qloop.run(scenario(), timeout=90)
