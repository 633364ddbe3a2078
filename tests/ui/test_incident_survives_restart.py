"""Both desks live through a district server restart in the middle of an incident.

A real server process on its own database: the dispatcher declares a lockdown, the safety
office approves it from its panel, then the server is killed and started again on the
same port and database. Both desks show the outage and its end; the grant and the
unlocked pins are still there; and the live events work again: a revoke from the
district desk after the restart locks the dispatcher's pins within seconds.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from dispatch_console.district.launch import stop_process
from dispatch_console.domain.models import EmergencyType
from dispatch_console.ui.map_view import PinLook
from tests.conftest import DistrictStack, LoopRunner, eventually
from tests.ui.desk import close_desk, desk_settings, open_desk
from tests.ui.test_connection_lost import serve

SCHOOL = "jefferson-es"
SHAREABLE = ("jes-cam-01", "jes-cam-02", "jes-cam-03")


def click(button: QPushButton) -> None:
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


def test_a_server_restart_mid_incident_is_survived_by_both_desks(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    db = tmp_path / "district.sqlite3"
    first, url = serve(db, 0, district_stack.camsim_url)
    processes = [first]
    port = urlsplit(url).port
    assert port is not None

    async def scenario() -> None:
        police = await open_desk(desk_settings(url, tmp_path / "police"), "dispatcher")
        district = await open_desk(desk_settings(url, tmp_path / "district"), "safety")
        try:
            declared = await police.console.declare_emergency(
                SCHOOL, EmergencyType.LOCKDOWN, "Restart test: a stranger in the corridor"
            )
            emergency_id = declared.emergency.id
            police.window.school.setCurrentIndex(police.window.school.findData(SCHOOL))
            await eventually(
                lambda: district.window.access.row(emergency_id) is not None, 5, "the row"
            )
            row = district.window.access.row(emergency_id)
            assert row is not None
            click(row.approve)
            pins = police.window.map

            def unlocked() -> bool:
                return all(pins.pin_state(c).look is PinLook.UNLOCKED for c in SHAREABLE)

            await eventually(unlocked, 5, "the dispatcher's pins to unlock")

            # The server goes away in the middle of the incident, and comes back.
            stop_process(processes[0])
            for desk in (police, district):
                await eventually(lambda d=desk: d.window.connection.isVisible(), 10, "outage")
            processes.append(serve(db, port, district_stack.camsim_url)[0])
            for desk in (police, district):
                await eventually(lambda d=desk: d.window.connection.isHidden(), 15, "back")

            # The incident is where it was on both desks.
            assert unlocked()
            await eventually(
                lambda: district.window.access.row(emergency_id) is not None, 5, "the row"
            )
            row = district.window.access.row(emergency_id)
            assert row is not None
            await eventually(lambda: not row.revoke.isHidden(), 5, "the grant on the district")

            # Live events work again: a revoke after the restart reaches the dispatcher.
            click(row.revoke)
            click(row.revoke)  # the second click confirms
            await eventually(
                lambda: all(pins.pin_state(c).look is PinLook.LOCKED for c in SHAREABLE),
                5,
                "the dispatcher's pins to lock after the revoke",
            )
            await district.console.end_emergency(emergency_id)
        finally:
            for desk in (police, district):
                await close_desk(desk)

    try:
        qloop.run(scenario(), timeout=90)
    finally:
        for process in processes:
            stop_process(process)
