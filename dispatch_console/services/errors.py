"""Typed errors that carry what the user needs: what failed, why, and what to do.

One presenter in the UI shows them; services raise them instead of bare exceptions so
no widget has to guess at an httpx or sqlite3 error's meaning.
"""

from __future__ import annotations


class ConsoleError(Exception):
    """Base class: ``title`` is the headline, ``detail`` the why, ``hint`` what to do."""

    title = "Something went wrong"

    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.title}: {self.detail}" + (f" {self.hint}" if self.hint else "")


class ServerUnreachable(ConsoleError):
    title = "District server unreachable"


class BadServerAnswer(ConsoleError):
    title = "Unexpected answer from the district server"


class SignInFailed(ConsoleError):
    title = "Sign-in failed"


class NotSignedIn(ConsoleError):
    title = "Signed out"


class AccessDenied(ConsoleError):
    title = "Live video locked"


class AuditNotRecorded(ConsoleError):
    title = "Viewing session could not be recorded"


class StreamFailed(ConsoleError):
    title = "Video stream failed"
