"""The desk says so while audit delivery fails, and stops saying so when it recovers."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.conftest import DistrictStack, LoopRunner, eventually
from tests.services.test_audit_delivery_faults import LIES, LyingProxy
from tests.ui.desk import close_desk, desk_settings, open_desk

EMPTY_200 = LIES[2]
CAMERA = "jes-cam-04"


def test_failing_audit_delivery_is_shown_on_the_desk_until_it_recovers(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    proxy = LyingProxy(district_stack.server_url, itertools.repeat(EMPTY_200), only_paths="/audit/")

    async def scenario() -> None:
        desk = await open_desk(desk_settings(proxy.url, tmp_path / "console"), "safety")
        banner = desk.window.audit_problem
        try:
            assert banner.isHidden()
            desk.controller.open_camera(CAMERA)  # standing access: no emergency needed
            await eventually(lambda: banner.isVisible(), 5, "the audit problem banner")
            assert "Audit delivery is failing" in banner.text()
            assert "answered in its place" in banner.text()
            # No audit record on the server, no video: the feed that was opening is closed.
            await eventually(lambda: desk.console.views == {}, 5, "the unrecorded feed closed")
            assert desk.window.grid.tiles == []
            desk.window.grab().save(str(tmp_path / "audit-problem.png"))
            proxy.lying = False
            await eventually(lambda: banner.isHidden(), 10, "the banner to go")
        finally:
            await close_desk(desk)

    with proxy:
        qloop.run(scenario(), timeout=60)
