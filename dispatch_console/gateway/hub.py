"""All camera upstreams of one gateway: opened on demand or by prewarm, closed when idle."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from .sources import SourceBook
from .upstream import (
    OPEN_TIMEOUT_S,
    READ_TIMEOUT_S,
    CameraState,
    CameraStatus,
    CameraUpstream,
)
from .viewer import Viewer

log = logging.getLogger(__name__)

IDLE_CLOSE_S = 30.0
# How long a viewer's request waits for a camera that is still connecting: opening an
# RTSP camera and waiting for its next keyframe takes up to a GOP and a couple of
# seconds, more on a loaded machine. (Prewarming at grant time makes this rare.)
ATTACH_WAIT_S = 15.0


class CameraUnavailable(Exception):
    """The camera cannot be relayed now; ``reason`` is the gateway's words for it."""

    def __init__(self, reason: str, unknown: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unknown = unknown


class StreamHub:
    """One upstream per camera stream, shared by every viewer of that stream."""

    def __init__(
        self,
        sources: SourceBook,
        *,
        idle_close_s: float = IDLE_CLOSE_S,
        open_timeout: float = OPEN_TIMEOUT_S,
        read_timeout: float = READ_TIMEOUT_S,
        on_status: Callable[[CameraStatus], None] | None = None,
    ) -> None:
        self.sources = sources
        self.idle_close_s = idle_close_s
        self._open_timeout = open_timeout
        self._read_timeout = read_timeout
        self._on_status = on_status or (lambda _status: None)
        self._upstreams: dict[tuple[str, str], CameraUpstream] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Status changes are reported on this loop (they come from camera threads)."""
        self._loop = loop

    def _report(self, status: CameraStatus) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            loop.call_soon_threadsafe(self._on_status, status)
        except RuntimeError:
            pass  # loop closed during shutdown

    def upstream(self, camera_id: str, stream: str) -> CameraUpstream:
        """The running upstream of a camera stream, started now if need be."""
        key = (camera_id, stream)
        upstream = self._upstreams.get(key)
        if upstream is None:
            url = self.sources.url(camera_id, stream)
            if url is None:
                raise CameraUnavailable(
                    f"The district's registry has no {stream} stream source for camera "
                    f"{camera_id}.",
                    unknown=True,
                )
            upstream = CameraUpstream(
                camera_id,
                stream,
                url,
                self._report,
                open_timeout=self._open_timeout,
                read_timeout=self._read_timeout,
            )
            self._upstreams[key] = upstream
            upstream.start()
        return upstream

    async def attach(self, camera_id: str, stream: str, viewer: Viewer) -> CameraUpstream:
        """Start the viewer on the camera stream, or raise CameraUnavailable with a reason."""
        upstream = self.upstream(camera_id, stream)
        if not upstream.add_viewer(viewer):
            status = await asyncio.to_thread(upstream.wait_ready, ATTACH_WAIT_S)
            if not upstream.add_viewer(viewer):
                if status.state is CameraState.OFFLINE and status.reason:
                    raise CameraUnavailable(status.reason)
                raise CameraUnavailable(
                    f"The camera did not deliver a picture within {ATTACH_WAIT_S:g} s."
                )
        return upstream

    def prewarm(self, camera_ids: list[str], stream: str, hold_s: float) -> int:
        """Connect these cameras now and keep them open ``hold_s`` even with no viewer."""
        until = time.monotonic() + hold_s
        count = 0
        for camera_id in camera_ids:
            try:
                upstream = self.upstream(camera_id, stream)
            except CameraUnavailable:
                continue
            upstream.hold_until = max(upstream.hold_until, until)
            count += 1
        return count

    def reap_idle(self) -> None:
        """Close upstreams nobody watched for ``idle_close_s`` and no prewarm holds."""
        now = time.monotonic()
        for key, upstream in list(self._upstreams.items()):
            idle = upstream.idle_since
            if upstream.viewer_count or idle is None or now < upstream.hold_until:
                continue
            if now - max(idle, upstream.hold_until) >= self.idle_close_s:
                log.info("closing idle upstream %s/%s", *key)
                del self._upstreams[key]
                upstream.stop()

    async def reap_forever(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.reap_idle()

    def statuses(self) -> list[CameraStatus]:
        return [u.status for u in self._upstreams.values()]

    def metrics(self) -> dict[str, object]:
        return {
            "upstreams": [
                {
                    "camera_id": u.camera_id,
                    "stream": u.stream,
                    "state": u.status.state.value,
                    "viewers": u.viewer_count,
                    "connections_made": u.sessions_opened,
                    "frames_skipped": u.frames_skipped,
                }
                for u in self._upstreams.values()
            ]
        }

    def stop_all(self) -> None:
        upstreams = list(self._upstreams.values())
        self._upstreams.clear()
        for upstream in upstreams:
            upstream.stop()
        for upstream in upstreams:
            upstream.join(2.0)
