"""The gateway's access decisions: a signed token, the pushed cuts, and the lease.

No database: the district signs what a viewer may open (``domain.stream_tokens``) and
pushes what must stop (``link``). The gateway only remembers which viewing sessions and
grants were cut, for as long as a token for them could still be alive, and whether it
has heard from the district recently enough to trust that nothing else was cut.
"""

from __future__ import annotations

import time
from collections import OrderedDict

from dispatch_console.domain import stream_tokens
from dispatch_console.domain.stream_tokens import StreamClaims, StreamTokenInvalid

# Long enough to outlive any token the district issues (it signs them for a minute).
REMEMBER_CUTS_S = 15 * 60
MAX_REMEMBERED = 100_000
LEASE_S = 15.0


class Refused(Exception):
    """The stream may not be opened; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class AccessGuard:
    def __init__(self, secret: bytes, lease_s: float = LEASE_S) -> None:
        self._key = stream_tokens.signing_key(secret)
        self.lease_s = lease_s
        self._cut_sessions: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._cut_grants: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._last_confirmed: float | None = None  # monotonic

    # ---------------------------------------------------------------- the lease

    def confirmed(self) -> None:
        """The district was heard from just now (an event or a heartbeat)."""
        self._last_confirmed = time.monotonic()

    def lease_valid(self) -> bool:
        last = self._last_confirmed
        return last is not None and time.monotonic() - last <= self.lease_s

    # ---------------------------------------------------------------- cuts

    @staticmethod
    def _remember(book: OrderedDict[str, tuple[float, str]], key: str, reason: str) -> None:
        now = time.monotonic()
        book[key] = (now, reason)
        book.move_to_end(key)
        while book and (
            len(book) > MAX_REMEMBERED or now - next(iter(book.values()))[0] > REMEMBER_CUTS_S
        ):
            book.popitem(last=False)

    def cut_session(self, session_id: str, reason: str) -> None:
        self._remember(self._cut_sessions, session_id, reason)

    def cut_grant(self, grant_id: str, reason: str) -> None:
        self._remember(self._cut_grants, grant_id, reason)

    def denial(self, claims: StreamClaims, now: float) -> str | None:
        """Why a stream under these claims must stop now, or None while it may go on.

        A grant's end is not checked here against the token's copy of it: a grant can be
        extended after the link was signed. The district pushes the cut when it ends,
        and the lease bounds how long a missed push can matter.
        """
        cut = self._cut_sessions.get(claims.session_id)
        if cut is not None:
            return cut[1]
        if claims.grant_id is not None:
            cut = self._cut_grants.get(claims.grant_id)
            if cut is not None:
                return cut[1]
        if not self.lease_valid():
            return (
                "The gateway has lost contact with the district server, so it cannot "
                "confirm that access is still granted."
            )
        return None

    # ---------------------------------------------------------------- opening

    def admit(self, token: str, camera_id: str, stream: str) -> StreamClaims:
        """The claims of a token that may open this camera stream now; Refused otherwise."""
        now = time.time()
        try:
            claims = stream_tokens.verify(self._key, token, now)
        except StreamTokenInvalid as exc:
            raise Refused(403, str(exc)) from None
        if claims.camera_id != camera_id or claims.stream != stream:
            raise Refused(403, "This stream link is for another camera or stream.")
        reason = self.denial(claims, now)
        if reason is not None:
            raise Refused(503 if not self.lease_valid() else 403, reason)
        return claims
