"""A parser for server-sent events (the WHATWG ``text/event-stream`` format).

Pure and incremental: it is fed one line at a time as the bytes arrive, so a desk acts
on each event the moment its blank line comes in, not when some buffer fills. Only what
the district's stream uses is kept: ``id``, ``event`` and ``data`` (joined across lines
as the format says); comments (heartbeats) and ``retry`` are read and dropped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


class EventStreamError(ValueError):
    """The stream is not the district's event stream (its data is not JSON, say)."""


@dataclass(frozen=True)
class ServerEvent:
    id: int | None
    kind: str
    data: dict[str, Any]


class EventStreamParser:
    def __init__(self) -> None:
        self._id: str | None = None
        self._kind = ""
        self._data: list[str] = []

    def feed(self, line: str) -> ServerEvent | None:
        """Take one line (without its end); the event it completes, if any."""
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            self._kind = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None

    def _dispatch(self) -> ServerEvent | None:
        kind, data, self._kind, self._data = self._kind or "message", self._data, "", []
        if not data:
            return None
        try:
            payload = json.loads("\n".join(data))
        except ValueError:
            raise EventStreamError(f"a {kind!r} event carried data that is not JSON") from None
        if not isinstance(payload, dict):
            raise EventStreamError(f"a {kind!r} event carried data that is not an object")
        event_id: int | None = None
        if self._id is not None and self._id.isdigit():
            event_id = int(self._id)
        return ServerEvent(event_id, kind, payload)
