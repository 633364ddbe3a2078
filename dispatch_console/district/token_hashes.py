"""What the database keeps instead of a bearer secret: its SHA-256 hash.

Session tokens, refresh tokens and stream links are all kept this way, so a copy of the
database signs nobody in. One function, imported by the sign-in code (auth.py), the
remembered sign-ins (remembered.py) and the stores, so every table hashes alike.
"""

from __future__ import annotations

import hashlib


def token_hash(token: str) -> str:
    """The hex SHA-256 of ``token``: what a table stores and looks a token up by."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
