"""A slow district shows progress after 200 ms, and no success before the answer.

The safety officer's desk talks to the real district server through a loopback proxy
that holds each request for a while (a congested link). Approving a request then shows
the busy indicator while the answer is awaited, says nothing about success until the
server has answered, and drops the indicator when it has.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from urllib.parse import urlsplit

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from dispatch_console.domain.models import EmergencyType
from dispatch_console.ui.busy import BusyIndicator
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

BASIS = "Busy test: the district answers slowly"


class DelayingProxy:
    """TCP on loopback; bytes from the console wait ``delay`` seconds before going on."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.delay = 0.0
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)

        async def pipe(
            source: asyncio.StreamReader, sink: asyncio.StreamWriter, delayed: bool
        ) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await source.read(65536):
                    if delayed and self.delay:
                        await asyncio.sleep(self.delay)
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


def test_a_slow_approval_shows_progress_and_only_then_the_result(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    target = urlsplit(district_stack.server_url)
    proxy = DelayingProxy(target.hostname or "127.0.0.1", target.port or 80)

    async def scenario() -> None:
        url = await proxy.start()
        district = await open_desk(desk_settings(url, tmp_path), "safety")
        police = await signed_in_client(district_stack.server_url, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        emergency_id = ""
        try:
            declared = await police.declare_emergency("jefferson-es", EmergencyType.LOCKDOWN, BASIS)
            emergency_id = declared.emergency.id
            window = district.window
            await eventually(lambda: window.access.row(emergency_id) is not None, 10, "the row")
            row = window.access.row(emergency_id)
            assert row is not None
            busy = window.findChild(BusyIndicator)
            assert busy is not None and not busy.isVisible()

            proxy.delay = 1.5
            QTest.mouseClick(row.approve, Qt.MouseButton.LeftButton)
            # Not yet: under 200 ms nothing flickers, and nothing claims success.
            assert not busy.isVisible()
            await eventually(busy.isVisible, 5, "the busy indicator")
            assert "approved" not in window.message.text()
            assert not row.approve.isEnabled()  # the click cannot be sent twice
            await eventually(
                lambda: "Police access approved" in window.message.text(), 15, "the answer"
            )
            await eventually(lambda: not busy.isVisible(), 5, "the indicator to go")
            proxy.delay = 0.0
        finally:
            proxy.delay = 0.0
            if emergency_id:
                await auditor.end_emergency(emergency_id)
            for client in (police, auditor):
                await client.aclose()
            await close_desk(district)
            await proxy.stop()

    qloop.run(scenario(), timeout=90)
