"""A district server outage is shown for as long as it lasts, and its end is announced.

The desk runs against its own district server process, which the test kills and then
restarts on the same port and database: a real outage, not a mocked error.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from dispatch_console.district.launch import start_process, stop_process
from tests.conftest import DistrictStack, LoopRunner, eventually
from tests.paths import SAMPLE_DISTRICT
from tests.ui.desk import close_desk, desk_settings, open_desk


def serve(db: Path, port: int, camsim_url: str) -> tuple[subprocess.Popen[str], str]:
    return start_process(
        [
            "district", "serve", "--host", "127.0.0.1", "--port", str(port),
            "--db", str(db), "--floorplans", str(SAMPLE_DISTRICT),
            "--camsim", camsim_url, "--seed-demo",
        ],
        "DISTRICT_SERVER_URL",
    )  # fmt: skip


def test_an_outage_is_shown_until_the_server_is_back(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    db = tmp_path / "district.sqlite3"
    first, url = serve(db, 0, district_stack.camsim_url)
    processes = [first]
    port = urlsplit(url).port
    assert port is not None

    async def scenario() -> None:
        desk = await open_desk(desk_settings(url, tmp_path / "console"), "dispatcher")
        banner = desk.window.connection
        try:
            assert banner.isHidden()
            stop_process(first)
            await eventually(lambda: banner.isVisible(), 5, "the outage banner")
            assert "unreachable" in banner.text().lower()
            assert "no new feed can open" in banner.text()
            processes.append(serve(db, port, district_stack.camsim_url)[0])
            await eventually(lambda: banner.isHidden(), 10, "the banner to go")
            assert "restored" in desk.window.message.text()
        finally:
            await close_desk(desk)

    try:
        qloop.run(scenario(), timeout=60)
    finally:
        for process in processes:
            stop_process(process)
