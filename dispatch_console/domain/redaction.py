"""Take tokens, passwords and stream credentials out of any text bound for a log or a zip.

In the domain layer (plain string rules, no I/O) so that every layer applies the same
rule: the log files' formatter and the support bundle (``support``), and the player,
which passes libVLC's own log messages through it (``video``; the video layer may not
import ``support``).

URLs lose user info, query and fragment (where gateway tickets and camera credentials
travel); prose loses bearer tokens and ``name=value`` / JSON pairs that name a secret.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

MASK = "***"
_SECRET_NAMES = r"(?:access_token|token|password|passwd|secret|ticket|otp|totp|sig|signature)"
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# name=value, name: value, "name": "value", name = 'value' (TOML, JSON, headers, prose).
_PAIR = re.compile(rf"""(?i)(\b{_SECRET_NAMES}\w*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"']+)""")


def redact_url(url: str) -> str:
    """The URL without user info, query or fragment: safe to log or show.

    The gateway's access ticket travels in the query string and must never reach a log.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparseable URL>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def redact_text(text: str) -> str:
    """``text`` with every secret-looking value replaced by ``***``."""
    text = _URL.sub(lambda m: _redact_url_keeping_mark(m.group(0)), text)
    text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return _PAIR.sub(_mask_value, text)


def _mask_value(match: re.Match[str]) -> str:
    value = match.group(2)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{quote}{MASK}{quote}"


def _redact_url_keeping_mark(url: str) -> str:
    """The URL as ``redact_url`` shows it, marked when something was taken out."""
    safe = redact_url(url)
    return safe if safe == url else f"{safe}[{MASK}]"
