"""Waiting inside a benchmark's event loop without blocking Qt."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def until(predicate: Callable[[], bool], within: float) -> None:
    """Poll every 2 ms (fine enough for the figures measured) until ``predicate`` holds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        await asyncio.sleep(0.002)
