"""Where each camera's streams come from, and the credentials to pull them.

The district's camera registry names each camera's source (its sub and main stream
URLs); the gateway's own secrets file holds the credentials, so they never travel over
the district's API and never reach a console. Both are joined here, at the last moment,
into the URL PyAV opens, and that URL is never logged: ``redact`` is what logs show.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

STREAMS = ("sub", "main")


class SourcesError(ValueError):
    """The registry or the secrets file is not usable; the message names what is wrong."""


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


def redact(url: str) -> str:
    """The URL as logs may show it: no user, no password, no query (tokens live there)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "<an unparsable URL>"


def with_credentials(url: str, credentials: Credentials | None) -> str:
    """The URL with the credentials as its user info (RTSP and HTTP both take them so)."""
    if credentials is None:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(credentials.username, safe='')}:{quote(credentials.password, safe='')}@"
    netloc += f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


def load_credentials(path: Path) -> dict[str, Credentials]:
    """The secrets file: ``{"camera id" or "*": {"username": .., "password": ..}}``."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourcesError(
            f"Cannot read the camera credentials file {path}: {exc.strerror}"
        ) from None
    except ValueError as exc:
        raise SourcesError(f"The camera credentials file {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise SourcesError(f"The camera credentials file {path} must hold a JSON object.")
    out: dict[str, Credentials] = {}
    for key, value in document.items():
        if (
            not isinstance(value, dict)
            or not isinstance(value.get("username"), str)
            or not isinstance(value.get("password"), str)
        ):
            raise SourcesError(
                f"In {path}, the entry {key!r} needs a string username and password."
            )
        out[str(key)] = Credentials(value["username"], value["password"])
    return out


class SourceBook:
    """Camera id and stream -> the URL to pull, credentials included."""

    def __init__(self, credentials: dict[str, Credentials] | None = None) -> None:
        self._sources: dict[str, dict[str, str]] = {}
        self._credentials = credentials or {}

    def update(self, sources: dict[str, dict[str, str]]) -> None:
        """Replace the registry's sources (as the district sends them)."""
        self._sources = {
            camera: {stream: url for stream, url in streams.items() if stream in STREAMS}
            for camera, streams in sources.items()
        }

    def cameras(self) -> list[str]:
        return sorted(self._sources)

    def url(self, camera_id: str, stream: str) -> str | None:
        source = self._sources.get(camera_id, {}).get(stream)
        if source is None:
            return None
        creds = self._credentials.get(camera_id, self._credentials.get("*"))
        return with_credentials(source, creds)
