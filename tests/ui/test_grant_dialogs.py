"""The district desk grants some cameras for a chosen time, and records a break-glass
review, through its own forms; the dispatcher's desk follows by itself.

Both desks run against the session's real district server. Lincoln High is used for the
scoped grant, Jefferson Elementary for the review; both emergencies are ended after.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDialogButtonBox

from dispatch_console.domain.models import EmergencyType
from dispatch_console.ui.map_view import PinLook
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

IN_SCOPE = "lhs-cam-02"  # Main Hall East
OUT_OF_SCOPE = "lhs-cam-03"  # Cafeteria


def _shot(widget: object, name: str) -> None:
    if shots := os.environ.get("CONSOLE_SCREENSHOT_DIR"):
        widget.grab().save(str(Path(shots) / name))  # type: ignore[attr-defined]


def test_the_district_grants_one_camera_for_half_an_hour_and_reviews_break_glass(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        police = await open_desk(settings, "dispatcher")
        district = await open_desk(settings, "safety")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        ended: list[str] = []
        try:
            declared = await police.console.declare_emergency(
                "lincoln-hs", EmergencyType.LOCKDOWN, "Grant form test: lockdown at Lincoln"
            )
            ended.append(declared.emergency.id)
            rows = district.window.access
            await eventually(lambda: rows.row(declared.emergency.id) is not None, 10, "the row")
            row = rows.row(declared.emergency.id)
            assert row is not None
            await eventually(lambda: not row.approve_scoped.isHidden(), 5, "Approve…")
            QTest.mouseClick(row.approve_scoped, Qt.MouseButton.LeftButton)
            dialog = district.controller.grant_dialog
            assert dialog is not None and dialog.isVisible()
            dialog.some.setChecked(True)
            for building, _, cameras in dialog._items:  # check one camera, as a user would
                building.setExpanded(True)
                for item, camera_id in cameras:
                    if camera_id == IN_SCOPE:
                        item.setCheckState(0, Qt.CheckState.Checked)
            dialog.minutes.setValue(30)
            _shot(dialog, "grant-terms-dialog.png")
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()

            window = police.window
            window.school.setCurrentIndex(window.school.findData("lincoln-hs"))
            await eventually(
                lambda: window.map.pin_state(IN_SCOPE).look is PinLook.UNLOCKED, 10, "the pin"
            )
            out = window.map.pin_state(OUT_OF_SCOPE)
            assert out.look is PinLook.LOCKED and "does not include" in out.reason
            grant = next(g for g in police.console.access.grants if g.school_id == "lincoln-hs")
            assert grant.cameras == (IN_SCOPE,)
            assert round((grant.expires_at - grant.granted_at).total_seconds()) == 30 * 60
            await eventually(lambda: "limited to 1 listed camera" in row.access.text(), 5, "row")

            # A break-glass grant waits for the district's review. (Another test's revoke
            # may have left the school on hold, which turns break-glass into a request.)
            async with httpx.AsyncClient(base_url=district_stack.server_url) as http:
                await http.post(
                    "/api/v1/schools/jefferson-es/clear",
                    headers={"Authorization": f"Bearer {auditor.token}"},
                )
            threat = await police.console.declare_emergency(
                "jefferson-es", EmergencyType.ACTIVE_THREAT, "Grant form test: armed intruder"
            )
            ended.append(threat.emergency.id)
            assert threat.grant is not None and threat.grant.break_glass
            await eventually(lambda: rows.row(threat.emergency.id) is not None, 10, "the row")
            glass = rows.row(threat.emergency.id)
            assert glass is not None
            await eventually(lambda: not glass.review.isHidden(), 5, "Review…")
            QTest.mouseClick(glass.review, Qt.MouseButton.LeftButton)
            review = district.controller.review_dialog
            assert review is not None and review.isVisible()
            ok = review.buttons.button(QDialogButtonBox.StandardButton.Ok)
            assert not ok.isEnabled()  # no empty review
            review.note.setPlainText("911 call log confirms an armed intruder.")
            _shot(review, "review-dialog.png")
            ok.click()
            await eventually(lambda: "reviewed by" in glass.access.text(), 10, "the review")
            await eventually(lambda: glass.review.isHidden(), 5, "Review… to go")
            _shot(district.window, "district-desk-scoped.png")
        finally:
            for emergency_id in ended:
                await auditor.end_emergency(emergency_id)
            await auditor.aclose()
            for desk in (police, district):
                await close_desk(desk)

    qloop.run(scenario(), timeout=120)
