"""The player's wake-up seam: libVLC's threads wake the GUI thread through a socket pair
(``os.pipe`` cannot be watched by Qt on Windows). Exercised here as on any platform: from
other threads, past a full socket buffer, and drained on the GUI thread."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from dispatch_console.video.player import _Bridge


class _CountingPlayer:
    def __init__(self) -> None:
        self.drains = 0

    def _drain(self) -> None:
        self.drains += 1


def test_wakes_from_other_threads_never_block_and_reach_the_gui_thread(qtbot: QtBot) -> None:
    player = _CountingPlayer()
    bridge = _Bridge(player)  # type: ignore[arg-type]
    # Far more wake-ups than a socket buffer holds: a full buffer must not block.
    writers = [
        threading.Thread(target=lambda: [bridge.wake() for _ in range(50_000)]) for _ in range(2)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=20)
        assert not writer.is_alive(), "a wake-up blocked"
    qtbot.waitUntil(lambda: player.drains >= 1, timeout=5000)
    # Everything written was drained in one go: no backlog of wake-ups is left.
    settled = player.drains
    qtbot.wait(100)
    assert player.drains == settled
    bridge.wake()
    qtbot.waitUntil(lambda: player.drains == settled + 1, timeout=5000)
