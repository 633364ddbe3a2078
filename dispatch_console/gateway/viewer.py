"""A viewer's side of the fan-out: a bounded queue between the camera thread and its socket.

The camera's thread must never wait for a viewer: one slow consumer (a laptop on a bad
link) would stall every other console watching the same camera. So each viewer has its
own queue with a byte budget. Past the soft limit, the camera thread stops giving it
frames until the next keyframe (the viewer skips ahead instead of falling further
behind); past the hard limit, the viewer is dropped. Memory stays bounded either way.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

SOFT_LIMIT_BYTES = 1 * 1024 * 1024
HARD_LIMIT_BYTES = 4 * 1024 * 1024


class Viewer:
    """One open stream of one viewing session."""

    def __init__(
        self,
        session_id: str,
        loop: asyncio.AbstractEventLoop,
        soft_limit: int = SOFT_LIMIT_BYTES,
        hard_limit: int = HARD_LIMIT_BYTES,
    ) -> None:
        self.session_id = session_id
        self._loop = loop
        self._soft = soft_limit
        self._hard = hard_limit
        self._lock = threading.Lock()
        self._chunks: deque[bytes] = deque()
        self._queued = 0
        self._ready = asyncio.Event()
        self.closed_reason: str | None = None
        # Owned by the camera thread (under the upstream's lock):
        self.muxer: Any = None
        self.skipping = False
        self.skipped_frames = 0

    @property
    def queued_bytes(self) -> int:
        return self._queued

    @property
    def over_soft_limit(self) -> bool:
        return self._queued > self._soft

    def push(self, data: bytes) -> None:
        """Queue bytes for the socket (any thread); drop the viewer past the hard limit."""
        with self._lock:
            if self.closed_reason is not None:
                return
            self._chunks.append(data)
            self._queued += len(data)
            over = self._queued > self._hard
        if over:
            self.close("the connection was too slow to keep up with the live stream")
        else:
            self._wake()

    def close(self, reason: str) -> None:
        """End this stream (any thread); the first reason given is kept."""
        with self._lock:
            if self.closed_reason is not None:
                return
            self.closed_reason = reason
        self._wake()

    def _wake(self) -> None:
        try:
            self._loop.call_soon_threadsafe(self._ready.set)
        except RuntimeError:
            pass  # the loop is closed: the gateway is shutting down

    async def next_chunk(self) -> bytes | None:
        """The queued bytes, joined; None once the stream is closed (event loop only)."""
        while True:
            with self._lock:
                if self._chunks:
                    data = b"".join(self._chunks)
                    self._chunks.clear()
                    self._queued = 0
                    return data
                if self.closed_reason is not None:
                    return None
                self._ready.clear()
            await self._ready.wait()
