"""One runner for every I/O operation a click starts, and one place that shows failures.

Slots never await anything themselves: they hand a coroutine to the runner, which runs
it on the shared qasync loop and calls back on the GUI thread with the result or with a
typed error for the presenter. The GUI thread is never blocked by the network or disk.

An operation still running after ``BUSY_AFTER_MS`` makes the runner report itself busy
(``busy_changed(True)``), until no operation runs: a desk shows that as progress, so a
slow district is never mistaken for a click that did nothing. Success is only ever shown
by ``on_success``, after the operation really returned.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from dispatch_console.services.errors import ConsoleError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Below this a wait feels immediate; above it, a person wonders whether the click worked.
BUSY_AFTER_MS = 200


class InternalError(ConsoleError):
    title = "Internal error"


class OperationRunner(QObject):
    """``failed(title, message)`` is emitted for every failure nobody else handled;
    ``busy_changed(busy)`` when operations have run past ``BUSY_AFTER_MS``, and when the
    last of them has finished."""

    failed = Signal(str, str)
    busy_changed = Signal(bool)

    def __init__(
        self, parent: QObject | None = None, *, busy_after_ms: int = BUSY_AFTER_MS
    ) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()
        self.shows_busy = False
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.setInterval(busy_after_ms)
        self._busy_timer.timeout.connect(self._became_slow)

    def _became_slow(self) -> None:
        if self._tasks and not self.shows_busy:
            self.shows_busy = True
            self.busy_changed.emit(True)

    def _settled(self) -> None:
        """No operation runs any more: stop the clock, drop the busy state."""
        self._busy_timer.stop()
        if self.shows_busy:
            self.shows_busy = False
            self.busy_changed.emit(False)

    def run(
        self,
        operation: Coroutine[Any, Any, T],
        on_success: Callable[[T], None] | None = None,
        on_failure: Callable[[ConsoleError], None] | None = None,
    ) -> asyncio.Task[T]:
        task = asyncio.ensure_future(operation)
        if not self._tasks:
            self._busy_timer.start()  # measured from the oldest running operation
        self._tasks.add(task)

        def done(finished: asyncio.Task[T]) -> None:
            self._tasks.discard(finished)
            if not self._tasks:
                self._settled()
            if finished.cancelled():
                return
            error = finished.exception()
            if error is None:
                if on_success is not None:
                    on_success(finished.result())
                return
            if not isinstance(error, ConsoleError):
                # Every failure reaches the caller's handler: an unforeseen one once left
                # buttons disabled and a window that could not close at shutdown.
                log.error("operation failed", exc_info=error)
                error = InternalError(f"{type(error).__name__}: {error}")
            if on_failure is not None:
                on_failure(error)
            self.failed.emit(error.title, f"{error.detail} {error.hint}".strip())

        task.add_done_callback(done)
        return task

    def install_exception_hooks(self) -> None:
        """Log and show exceptions that escape everything else, on any Python thread.

        Without this an exception in a Qt slot or a worker thread only reaches stderr,
        which a dispatcher never sees. ``failed`` is a Qt signal, so a report from another
        thread is queued to the GUI thread.
        """

        def report(kind: type[BaseException], value: BaseException, where: str) -> None:
            log.error("uncaught exception %s", where, exc_info=(kind, value, value.__traceback__))
            self.failed.emit("Internal error", f"{kind.__name__}: {value}")

        def on_main(kind: type[BaseException], value: BaseException, tb: object) -> None:
            report(kind, value, "on the GUI thread")

        def on_thread(args: threading.ExceptHookArgs) -> None:
            if args.exc_value is not None:
                name = args.thread.name if args.thread is not None else "?"
                report(args.exc_type, args.exc_value, f"in thread {name}")

        sys.excepthook = on_main
        threading.excepthook = on_thread

    @property
    def busy(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every running operation (used at shutdown and by tests)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
