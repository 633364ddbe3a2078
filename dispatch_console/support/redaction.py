"""Take tokens, passwords and stream credentials out of any text bound for a log or a zip.

Builds on the player's ``redact_url`` (the rule for URLs: no user info, query or
fragment, which is where gateway tickets and camera credentials travel) and adds the
shapes a secret takes in prose: bearer tokens, ``name=value`` and JSON pairs.
"""

from __future__ import annotations

import re

from dispatch_console.video.player import redact_url

MASK = "***"
_SECRET_NAMES = r"(?:access_token|token|password|passwd|secret|ticket|otp|totp|sig|signature)"
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s\"'<>]+")
_BEARER = re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]+")
# name=value, name: value, "name": "value", name = 'value' (TOML, JSON, headers, prose).
_PAIR = re.compile(rf"""(?i)(\b{_SECRET_NAMES}\w*["']?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;&"']+)""")


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
