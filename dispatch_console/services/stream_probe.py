"""Why a camera gateway refused a stream, in its own words.

libVLC reports every failed open the same way ("could not open"), whether the camera is
offline, refuses the district's credentials or sends something that is not video. The
gateway knows which and says so in every refusal (``X-Refusal-Reason``). When a feed
fails, the console asks once with a HEAD on the same link, so the dispatcher reads the
gateway's reason word for word instead of a guess.
"""

from __future__ import annotations

import httpx

PROBE_TIMEOUT_S = 5.0


async def gateway_refusal(url: str) -> str | None:
    """The gateway's reason for refusing this stream link; None if it would play now."""
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_S) as client:
            answer = await client.head(url)
    except httpx.HTTPError as exc:
        return f"The camera gateway cannot be reached ({type(exc).__name__})."
    if answer.status_code < 400:
        return None
    reason = answer.headers.get("x-refusal-reason", "").strip()
    return reason or f"The camera gateway refused the stream (HTTP {answer.status_code})."
