"""Take tokens, passwords and stream credentials out of any text bound for a log or a zip.

The rule itself lives in ``domain.redaction`` so that the player can apply the same one
to libVLC's log (the video layer may not import this package); this module keeps the
name the log handlers and the support bundle import.
"""

from __future__ import annotations

from dispatch_console.domain.redaction import MASK, redact_text, redact_url

__all__ = ["MASK", "redact_text", "redact_url"]
