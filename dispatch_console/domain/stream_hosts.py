"""Which hosts a workstation lets stream links point at (IT's ``allowed_stream_hosts``).

A stream link comes from the district server; if that server (or something answering in
its place) handed out a link to another host, the console would send the district's
signed token there and show whatever came back as live school video. IT can pin the
gateways' host names; an empty list allows any host, as before the setting existed.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit


def stream_host_refusal(url: str, allowed: Sequence[str]) -> str | None:
    """Why this stream link may not be opened here; None if it may."""
    if not allowed:
        return None
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        host = ""
    if host and host in {h.lower() for h in allowed}:
        return None
    shown = host or "an unreadable address"
    return (
        f"The district sent a stream link to {shown}, which this workstation's settings do "
        f"not allow (allowed_stream_hosts: {', '.join(allowed)}). Tell the police IT desk."
    )
