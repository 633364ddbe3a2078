"""The operation runner: every failure reaches its handler and is shown."""

from __future__ import annotations

import sys
import threading

from dispatch_console.services.errors import ConsoleError
from dispatch_console.ui.operations import OperationRunner
from tests.conftest import LoopRunner, eventually


def test_an_unforeseen_exception_reaches_the_failure_handler_and_is_shown(
    qloop: LoopRunner,
) -> None:
    runner = OperationRunner()
    handled: list[ConsoleError] = []
    shown: list[tuple[str, str]] = []
    runner.failed.connect(lambda title, message: shown.append((title, message)))

    async def broken() -> None:
        raise KeyError("camera-42")

    async def scenario() -> None:
        runner.run(broken(), on_failure=handled.append)
        await eventually(lambda: bool(handled), 2, "the failure handler")

    qloop.run(scenario(), timeout=10)
    assert handled[0].title == "Internal error" and "KeyError" in handled[0].detail
    assert shown == [("Internal error", "KeyError: 'camera-42'")]


def test_exceptions_that_escape_everything_are_shown(qloop: LoopRunner) -> None:
    runner = OperationRunner()
    shown: list[tuple[str, str]] = []
    runner.failed.connect(lambda title, message: shown.append((title, message)))
    saved = sys.excepthook, threading.excepthook
    try:
        runner.install_exception_hooks()

        def fail_in_thread() -> None:
            raise RuntimeError("decoder thread died")

        worker = threading.Thread(target=fail_in_thread, name="worker")
        worker.start()
        worker.join(5)
        sys.excepthook(ValueError, ValueError("slot failed"), None)

        async def scenario() -> None:
            await eventually(lambda: len(shown) == 2, 2, "both reports")

        qloop.run(scenario(), timeout=10)
    finally:
        sys.excepthook, threading.excepthook = saved
    assert ("Internal error", "RuntimeError: decoder thread died") in shown
    assert ("Internal error", "ValueError: slot failed") in shown
