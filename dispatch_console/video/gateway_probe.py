"""Ask a camera gateway what it thinks of a stream link, when the player lost it.

libVLC reports every failed open the same way. The gateway knows why and says so in
its refusal: ``X-Refusal-Reason`` (its own words) and ``X-Camera-State: offline`` when
the camera itself is down, which the tile shows as *offline* instead of a generic
*reconnecting*. One HEAD on the same link; it opens no stream.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

__all__ = ["GatewayVerdict", "probe_gateway"]

PROBE_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class GatewayVerdict:
    status: int | None  # None: the gateway could not be reached
    reason: str | None  # None: it would play this link now
    offline: bool = False  # the gateway says the camera is offline


async def probe_gateway(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> GatewayVerdict:
    """The gateway's answer to a HEAD on ``url`` (never raises for network trouble)."""
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            answer = await client.head(url)
    except httpx.HTTPError as exc:
        return GatewayVerdict(None, f"The camera gateway cannot be reached ({type(exc).__name__}).")
    if answer.status_code < 400:
        return GatewayVerdict(answer.status_code, None)
    reason = answer.headers.get("x-refusal-reason", "").strip()
    offline = answer.headers.get("x-camera-state", "").strip().lower() == "offline"
    return GatewayVerdict(
        answer.status_code,
        reason or f"The camera gateway refused the stream (HTTP {answer.status_code}).",
        offline,
    )
