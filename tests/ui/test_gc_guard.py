"""The cyclic garbage collector runs from its own timer, never inside a Qt handler."""

from __future__ import annotations

import gc
import weakref

from pytestqt.qtbot import QtBot

from dispatch_console.ui.gc_guard import GarbageCollectionGuard


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_automatic_collection_is_off_while_the_guard_runs(qtbot: QtBot) -> None:
    guard = GarbageCollectionGuard()
    try:
        assert not gc.isenabled()
    finally:
        guard.stop()
    assert gc.isenabled()
    # (The session's own guard, from conftest, turns it off again.)
    gc.disable()


def test_cycles_are_still_collected_by_the_guards_timer(qtbot: QtBot) -> None:
    guard = GarbageCollectionGuard()
    try:
        cycle = _Cycle()
        gone = weakref.ref(cycle)
        del cycle
        allocations = [[] for _ in range(2 * gc.get_threshold()[0])]  # past the threshold
        assert gone() is not None  # nothing collected it behind Qt's back
        qtbot.waitUntil(lambda: gone() is None, timeout=3000)
        del allocations
    finally:
        guard.stop()
        gc.disable()
