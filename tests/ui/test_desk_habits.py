"""Habits and accessibility on two real desks against one district server on loopback.

Every keyboard path goes through the same code as the click it replaces: a dispatcher
declares with Ctrl+Shift+E (asked for the threat basis first), the safety officer denies
with Ctrl+Shift+N (the reason dialog opens) and approves with Ctrl+Shift+Y (the oldest
waiting request), the dispatcher opens the camera numbered 1 with Ctrl+1 and closes its
tile with Ctrl+W; F6 walks the window's parts. Both desks, in both themes, are walked
for controls without an accessible name, and photographed under build/screenshots/.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from dispatch_console.app import ConsoleWindow
from dispatch_console.domain.desk_keys import numbered_cameras
from dispatch_console.domain.policy import police_shareable
from dispatch_console.ui import theme
from dispatch_console.ui.accessibility import unnamed_controls
from dispatch_console.ui.map_view import PinLook
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

SCHOOL = "jefferson-es"
BASIS = "Keyboard test: a caller reports a stranger inside Jefferson"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def press(desk: ConsoleWindow, key: Qt.Key, modifiers: Qt.KeyboardModifier) -> None:
    """A key as the person types it, into whatever has the focus in that desk's window."""
    window = desk.window
    window.activateWindow()
    with warnings.catch_warnings():  # the offscreen platform activates only this way
        warnings.simplefilter("ignore", DeprecationWarning)
        QApplication.setActiveWindow(window)
    target = QApplication.focusWidget()
    if target is None or target.window() is not window:
        target = window
    QTest.keyClick(target, key, modifiers)


def photograph(desk: ConsoleWindow, name: str) -> None:
    """The window as the screen shows it; at 150 % or 200 % (QT_SCALE_FACTOR) the picture
    has that many device pixels per point, and the file name says so."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    picture = desk.window.grab()
    ratio = desk.window.devicePixelRatio()
    assert picture.devicePixelRatio() == ratio
    assert picture.width() == round(desk.window.width() * ratio)
    suffix = "" if ratio == 1 else f"@{ratio:g}x"
    picture.save(str(SHOTS / name.replace(".png", f"{suffix}.png")))


def test_keyboard_paths_and_accessible_names_on_both_desks(
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
            assert police.keys is not None and district.keys is not None
            window.school.setCurrentIndex(window.school.findData(SCHOOL))
            floor = window.map.floor
            assert floor is not None

            # Declare: with no threat basis yet the key asks for it, and declares nothing.
            window.emergency.kind.setCurrentIndex(window.emergency.kind.findData("lockdown"))
            window.map.setFocus()
            press(police, Qt.Key.Key_E, CTRL_SHIFT)
            assert QApplication.focusWidget() is window.emergency.basis
            assert "threat basis" in window.message.text()
            QTest.keyClicks(window.emergency.basis, BASIS)
            press(police, Qt.Key.Key_E, CTRL_SHIFT)

            def mine() -> str:
                found = [e.id for e in police.console.access.emergencies if e.threat_basis == BASIS]
                return found[0] if found else ""

            await eventually(lambda: bool(mine()), 10, "the lockdown declared by key")
            emergency_id = mine()
            await eventually(
                lambda: district.window.access.row(emergency_id) is not None, 5, "the row"
            )

            # Deny opens the district's reason dialog; cancelling it denies nothing.
            press(district, Qt.Key.Key_N, CTRL_SHIFT)
            dialog = district.controller.deny_dialog
            assert dialog is not None and dialog.isVisible()
            assert (
                "Say why the district denies it" in dialog.findChildren(type(window.who))[0].text()
            )
            dialog.reject()
            await eventually(lambda: not dialog.isVisible(), 3, "the dialog to close")

            # Approve the oldest waiting request: the dispatcher's pins unlock.
            row = district.window.access.row(emergency_id)
            assert row is not None
            await eventually(lambda: row.approve.isEnabled(), 5, "the approve button again")
            first = numbered_cameras(floor)[0]
            assert police_shareable(first), "the plan's camera 1 should be shareable"
            press(district, Qt.Key.Key_Y, CTRL_SHIFT)
            await eventually(
                lambda: window.map.pin_state(first.id).look is PinLook.UNLOCKED,
                10,
                "the dispatcher's camera 1 to unlock",
            )

            # Ctrl+1 opens camera 1 as its pin would; Ctrl+W closes the only tile.
            press(police, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
            await eventually(lambda: len(window.grid.tiles) == 1, 10, "camera 1's tile")
            assert window.grid.tiles[0].title.startswith(first.display_name.split(" —")[0])
            assert any(s.camera_id == first.id for s in police.console.views.values())
            press(police, Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier)
            await eventually(lambda: not police.console.views, 10, "the session to end")
            assert not window.grid.tiles

            # F6 walks the window's parts, forwards and back.
            window.search.setFocus()
            visited = []
            for _ in police.keys.regions():
                press(police, Qt.Key.Key_F6, Qt.KeyboardModifier.NoModifier)
                visited.append(window.statusBar().currentMessage())
            assert visited[:3] == ["Focus: emergency", "Focus: floor plan", "Focus: video grid"]
            assert visited[-1] == "Focus: search"
            press(police, Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
            assert window.statusBar().currentMessage().startswith("Focus: ")
            assert window.statusBar().currentMessage() != "Focus: search"

            # Help lists the keys of this desk.
            press(district, Qt.Key.Key_F1, Qt.KeyboardModifier.NoModifier)
            help_dialog = district.keys.dialog
            assert help_dialog is not None and help_dialog.isVisible()
            keys = [
                help_dialog.table.item(r, 0).text() for r in range(help_dialog.table.rowCount())
            ]
            assert {"Ctrl+Shift+Y", "Ctrl+Shift+N", "Ctrl+W", "F6"} <= set(keys)
            assert not unnamed_controls(help_dialog)
            help_dialog.close()

            # Every control has a name a screen reader can say, in both themes; pictures.
            for name in (theme.DARK, theme.LIGHT):
                police.keys.dark_action.setChecked(name == theme.DARK)
                for desk, label in ((police, "police"), (district, "district")):
                    assert theme.active().name == name
                    missing = unnamed_controls(desk.window)
                    assert not missing, f"{label} desk controls with no name:\n" + "\n".join(
                        missing
                    )
                    photograph(desk, f"{label}-desk-{name}.png")
        finally:
            police.keys.dark_action.setChecked(True) if police.keys else None
            if emergency_id:
                await auditor.end_emergency(emergency_id)
            await auditor.aclose()
            for desk in (police, district):
                await close_desk(desk)

    qloop.run(scenario(), timeout=120)
