"""How fast one desk's action shows on the other: the live event stream, measured as seen.

Two real console windows (the dispatcher's and the district safety office's) run in one
process against the real district server, camera simulator and gateway processes:

- ``approval_propagation_s``: the safety officer clicks Approve on a pending lockdown
  request; timed until the dispatcher's map shows the school's shareable pins unlocked.
- ``audit_notify_s``: the dispatcher clicks a camera pin; timed until the viewing
  session's row is on the district desk's board.

Both desks run in the same event loop, so a desk's own work (painting, the other desk's
refresh) is part of what is measured, as on a busy workstation. The baseline in the same
run is a bare ``GET /health`` round trip from the same loop.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCHOOL = "jefferson-es"
CAMERA = "jes-cam-02"
SHAREABLE = ("jes-cam-01", "jes-cam-02", "jes-cam-03")

Emit = Callable[..., None]


def bench_desk_propagation(
    runs: int,
    emit: Emit,
    percentile: Callable[[list[float], float], float],
    district_processes: Callable[..., tuple[list[object], str, str]],
) -> None:
    import httpx
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from bench.waiting import until
    from dispatch_console.app import close_console, open_console, run_qt
    from dispatch_console.demo import demo_sign_in
    from dispatch_console.district.launch import stop_process
    from dispatch_console.domain.models import EmergencyType
    from dispatch_console.services.settings import Settings
    from dispatch_console.ui.map_view import PinLook

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    processes, server_url, _ = district_processes(data)
    approval: list[float] = []
    notify: list[float] = []
    health: list[float] = []

    async def main() -> int:
        settings = Settings.from_env(server_url=server_url, data_dir=data / "console")
        police = await open_console(settings, demo_sign_in("dispatcher"))
        district = await open_console(settings, demo_sign_in("safety"))
        for desk in (police, district):
            desk.window.resize(1400, 850)
            desk.window.show()
        window = police.window
        window.school.setCurrentIndex(window.school.findData(SCHOOL))
        board = district.window.board
        assert board is not None

        def unlocked() -> bool:
            return all(window.map.pin_state(c).look is PinLook.UNLOCKED for c in SHAREABLE)

        async with httpx.AsyncClient(base_url=server_url) as http:
            for run in range(runs):
                started = time.perf_counter()
                await http.get("/api/v1/health")
                health.append(time.perf_counter() - started)

                declared = await police.console.declare_emergency(
                    SCHOOL, EmergencyType.LOCKDOWN, f"Benchmark run {run}: propagation"
                )
                assert declared.request_id is not None
                emergency_id = declared.emergency.id
                rows = district.window.access
                await until(lambda: rows.row(emergency_id) is not None, 10)  # noqa: B023
                row = rows.row(emergency_id)
                assert row is not None
                approve = row.approve
                await until(lambda: approve.isEnabled() and not approve.isHidden(), 10)  # noqa: B023
                clicked = time.perf_counter()
                QTest.mouseClick(row.approve, Qt.MouseButton.LeftButton)
                await until(unlocked, 10)
                approval.append(time.perf_counter() - clicked)

                # The dispatcher opens a camera: the row shows on the district's board.
                point = window.map.pin_position(CAMERA).toPoint()
                clicked = time.perf_counter()
                QTest.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=point)

                def on_board() -> bool:
                    for r in range(board.rowCount()):
                        ended, camera = board.item(r, 5), board.item(r, 2)
                        if (
                            ended is not None
                            and camera is not None
                            and ended.text() == "watching now"
                            and "Corridor" in camera.text()
                        ):
                            return True
                    return False

                await until(on_board, 10)
                notify.append(time.perf_counter() - clicked)
                await until(lambda: bool(window.grid.tiles), 10)
                window.grid.tiles[0].close_button.click()
                await until(lambda: not police.console.views, 10)
                await district.console.end_emergency(declared.emergency.id)
                await until(lambda: not unlocked(), 10)
        for desk in (police, district):
            desk.window.close()
        await until(lambda: not police.window.isVisible() and not district.window.isVisible(), 10)
        await close_console(police)
        await close_console(district)
        return 0

    try:
        run_qt(main)
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    extra: dict[str, Any] = {"runs": len(approval)}
    emit("approval_propagation_p50_s", statistics.median(approval), "s", **extra)
    emit("approval_propagation_p95_s", percentile(approval, 0.95), "s", **extra,
         note="click Approve on the district desk -> the dispatcher's pins unlocked")  # fmt: skip
    emit("audit_notify_p50_s", statistics.median(notify), "s", **extra)
    emit("audit_notify_p95_s", percentile(notify, 0.95), "s", **extra,
         note="police click on a pin -> the session's row on the district board")  # fmt: skip
    emit("desk_health_round_trip_p50_s", statistics.median(health), "s", **extra,
         note="baseline: GET /health from the same event loop")  # fmt: skip
