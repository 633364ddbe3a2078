"""The gateway's link to the district server: sources and cuts pushed, status reported.

The district pushes, the gateway listens: a server-sent-event stream carries the camera
sources, the viewing sessions to cut (grant revoked or expired, emergency ended, sign-in
ended, session closed) and cameras to prewarm, with a heartbeat every two seconds. The
gateway never polls per stream. Each event and heartbeat renews the access lease; when
the link has been silent for longer than the lease, the relay stops every stream (see
``AccessGuard.denial``), which bounds how long a missed cut can go unnoticed. After every
(re)connect the gateway asks the district which of its open sessions must stop, so a
cut sent while the link was down is not lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from typing import Any

import httpx

from .access import AccessGuard
from .hub import StreamHub
from .upstream import CameraStatus

log = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/gateway/events"
CHECK_PATH = "/api/v1/gateway/check"
STATUS_PATH = "/api/v1/gateway/status"
READ_TIMEOUT_S = 6.0  # three missed heartbeats


class DistrictLink:
    def __init__(
        self,
        district_url: str,
        link_key: str,
        public_url: str,
        *,
        hub: StreamHub,
        guard: AccessGuard,
        cut: Callable[[list[str], str], int],
        open_sessions: Callable[[], list[str]],
        schools: list[str] | None = None,
    ) -> None:
        self._base = district_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {link_key}"}
        self._public_url = public_url
        self._schools = schools
        self._hub = hub
        self._guard = guard
        self._cut = cut
        self._open_sessions = open_sessions
        self.connected = False
        self.problem: str | None = None
        self._client: httpx.AsyncClient | None = None
        self._statuses: asyncio.Queue[CameraStatus] = asyncio.Queue()

    def report(self, status: CameraStatus) -> None:
        """Queue a camera status change for the district (event loop)."""
        self._statuses.put_nowait(status)

    def state(self) -> dict[str, Any]:
        return {
            "district_link": "up" if self.connected else "down",
            "lease_valid": self._guard.lease_valid(),
            "problem": self.problem,
        }

    async def run_forever(self) -> None:
        reporter = asyncio.create_task(self._report_forever())
        delay = 0.25
        try:
            async with httpx.AsyncClient(
                timeout=httpx.Timeout(READ_TIMEOUT_S, connect=5.0), headers=self._headers
            ) as client:
                self._client = client
                while True:
                    try:
                        await self._listen(client)
                        delay = 0.25
                    except (httpx.HTTPError, ValueError) as exc:
                        self.problem = f"{type(exc).__name__}"
                        log.warning("district link down: %s", self.problem)
                    self.connected = False
                    await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                    delay = min(5.0, delay * 2)
        finally:
            reporter.cancel()

    async def _listen(self, client: httpx.AsyncClient) -> None:
        params: dict[str, str] = {"public_url": self._public_url}
        if self._schools:
            params["schools"] = ",".join(self._schools)
        async with client.stream("GET", self._base + EVENTS_PATH, params=params) as answer:
            if answer.status_code != 200:
                await answer.aread()
                self.problem = f"the district answered {answer.status_code}"
                log.warning("district link refused: %s", self.problem)
                return
            event, data = "message", list[str]()
            async for line in answer.aiter_lines():
                if line == "":
                    if data:
                        await self._on_event(event, json.loads("\n".join(data)), client)
                    event, data = "message", []
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())

    async def _on_event(self, event: str, data: dict[str, Any], client: httpx.AsyncClient) -> None:
        self._guard.confirmed()
        if event == "hello":
            self._hub.sources.update(data.get("sources", {}))
            self.connected = True
            self.problem = None
            log.info("district link up: %d camera sources", len(self._hub.sources.cameras()))
            await self._check_open_sessions(client)
            for status in self._hub.statuses():
                self.report(status)
        elif event == "cut":
            count = self._cut(list(data.get("session_ids", [])), str(data.get("reason", "")))
            log.info(
                "district cut %d session(s), %d open here", len(data.get("session_ids", [])), count
            )
        elif event == "cut_grant":
            self._guard.cut_grant(str(data["grant_id"]), str(data.get("reason", "")))
        elif event == "prewarm":
            self._hub.prewarm(
                list(data.get("camera_ids", [])),
                str(data.get("stream", "sub")),
                float(data.get("hold_s", 300)),
            )
        elif event == "sources":
            self._hub.sources.update(data.get("sources", {}))

    async def _check_open_sessions(self, client: httpx.AsyncClient) -> None:
        sessions = self._open_sessions()
        if not sessions:
            return
        answer = await client.post(self._base + CHECK_PATH, json={"session_ids": sessions})
        answer.raise_for_status()
        for item in answer.json().get("cut", []):
            self._cut([str(item["session_id"])], str(item["reason"]))

    async def _report_forever(self) -> None:
        while True:
            status = await self._statuses.get()
            batch = {(status.camera_id, status.stream): status}
            while not self._statuses.empty():
                more = self._statuses.get_nowait()
                batch[(more.camera_id, more.stream)] = more
            client = self._client
            if client is None:
                continue
            try:
                await client.post(
                    self._base + STATUS_PATH,
                    json={"statuses": [s.as_json() for s in batch.values()]},
                )
            except httpx.HTTPError:
                pass  # sent again in full on the next hello
