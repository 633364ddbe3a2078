"""The status bar says how the audit trail is doing; an old record raises a red alarm
that stays until delivery resumes."""

from __future__ import annotations

import itertools
from datetime import timedelta
from pathlib import Path

from tests.conftest import DistrictStack, LoopRunner, eventually
from tests.services.test_audit_delivery_faults import LyingProxy
from tests.ui.desk import close_desk, desk_settings, open_desk

OUTAGE = (503, "text/html", b"<html>Service unavailable</html>")
CAMERA = "jes-cam-02"


def test_the_status_bar_shows_delivered_failing_queued_and_an_alarm_that_stays(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    proxy = LyingProxy(district_stack.server_url, itertools.repeat(OUTAGE), only_paths="/audit/")

    async def scenario() -> None:
        desk = await open_desk(desk_settings(proxy.url, tmp_path / "console"), "safety")
        status, alarm = desk.window.audit_status, desk.window.audit_alarm
        # Five minutes in production; a second here, so the test does not wait.
        desk.console.audit_alarm_after = timedelta(seconds=1)
        try:
            proxy.lying = False
            await eventually(lambda: status.text() == "Audit: delivered", 5, "delivered")
            assert alarm.isHidden()
            proxy.lying = True
            # Its start cannot be delivered, so the feed stays shut and its end is written:
            # two records wait.
            desk.controller.open_camera(CAMERA)
            await eventually(lambda: "Audit: failing" in status.text(), 10, "failing")
            await eventually(lambda: "2 queued, oldest" in status.text(), 5, "two queued")
            assert "HTTP 503" in status.toolTip()
            await eventually(lambda: alarm.isVisible(), 10, "the alarm")
            assert "have not reached the district" in alarm.text()
            status_bar = desk.window.statusBar()
            status_bar.grab().save(str(tmp_path / "status-bar.png"))
            desk.window.grab().save(str(tmp_path / "desk.png"))
            assert (tmp_path / "status-bar.png").stat().st_size > 0
            proxy.lying = False
            desk.console.shipper.connection_restored()
            await eventually(lambda: status.text() == "Audit: delivered", 10, "delivered again")
            await eventually(lambda: alarm.isHidden(), 5, "the alarm gone")
        finally:
            await close_desk(desk)

    with proxy:
        qloop.run(scenario(), timeout=60)
