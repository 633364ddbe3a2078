"""Session tokens live in the OS keyring, never in a file or a log.

When the machine has no keyring (a headless kiosk without a Secret Service), the token is
kept in memory for this run only and the user signs in again next time: degrading to a
plain file (``keyrings.alt``) would break the rule that credentials never reach disk in
clear. ``password_store_problem`` says so in words the sign-in window shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import keyring
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.backends.fail import Keyring as FailKeyring
from keyring.errors import KeyringError

log = logging.getLogger(__name__)

SERVICE = "dispatch-console"

NO_PASSWORD_STORE = (
    "This computer has no password store (Secret Service), so your sign-in cannot be "
    "kept safely: you will have to sign in at every start. Ask IT to install "
    "gnome-keyring or KWallet."
)


def _usable(backend: KeyringBackend) -> bool:
    """A backend that keeps secrets in the OS's password store.

    The fail backend (no keyring at all), a chainer with nothing to chain, and the
    ``keyrings.alt`` file backends (plaintext, or encrypted with a password kept nowhere
    safer) do not count: falling back to them silently would put tokens on disk.
    """
    if isinstance(backend, FailKeyring):
        return False
    if isinstance(backend, ChainerBackend):
        return any(_usable(b) for b in backend.backends)
    return not type(backend).__module__.startswith("keyrings.alt")


def password_store_problem() -> str | None:
    """What to tell the user when this machine has no usable password store, else None."""
    try:
        backend = keyring.get_keyring()
    except (KeyringError, RuntimeError) as exc:  # a broken configuration says so too
        log.warning("keyring unusable: %s", exc)
        return NO_PASSWORD_STORE
    return None if _usable(backend) else NO_PASSWORD_STORE


class Secret:
    """A token on its way to the keyring, whose repr never shows it.

    Worker-thread calls get their arguments logged by some executors at debug level
    (qasync's does); wrapping the token keeps it out of any such log.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"


@dataclass(frozen=True)
class RememberedSignIn:
    """Whose sign-in this workstation remembers for a district, and its refresh token."""

    username: str
    refresh_token: Secret


class TokenStore:
    """The OS keyring entries of one district server: each user's session token, and
    the one remembered sign-in ("Keep me signed in") of this OS account."""

    def __init__(self, server_url: str) -> None:
        self._server_url = server_url
        self._memory: dict[str, str] = {}
        self.persistent = True

    def _key(self, username: str) -> str:
        return f"{username}@{self._server_url}"

    def _save(self, username: str, token: Secret) -> None:
        self._memory[username] = token.reveal()
        if password_store_problem() is not None:
            # Never a file backend in the OS keyring's place: memory only, said at sign-in.
            self.persistent = False
            return
        try:
            keyring.set_password(SERVICE, self._key(username), token.reveal())
        except KeyringError as exc:
            self.persistent = False
            log.warning("no usable OS keyring (%s): the sign-in lasts for this run only", exc)

    def _load(self, username: str) -> str | None:
        if username in self._memory:
            return self._memory[username]
        try:
            return keyring.get_password(SERVICE, self._key(username))
        except KeyringError:
            return None

    def _forget(self, username: str) -> None:
        self._memory.pop(username, None)
        try:
            keyring.delete_password(SERVICE, self._key(username))
        except KeyringError:
            pass

    def _remembered_key(self) -> str:
        return f"remembered@{self._server_url}"

    def _remember(self, username: str, refresh_token: Secret) -> bool:
        if password_store_problem() is not None:
            return False  # never on disk in the clear: not remembered, said at sign-in
        entry = json.dumps({"username": username, "refresh_token": refresh_token.reveal()})
        try:
            keyring.set_password(SERVICE, self._remembered_key(), entry)
        except KeyringError as exc:
            log.warning("the sign-in cannot be remembered: the OS keyring refused (%s)", exc)
            return False
        return True

    def _load_remembered(self) -> RememberedSignIn | None:
        if password_store_problem() is not None:
            return None
        try:
            entry = keyring.get_password(SERVICE, self._remembered_key())
        except KeyringError as exc:
            log.warning("the remembered sign-in cannot be read: %s", exc)
            return None
        if entry is None:
            return None
        try:
            fields = json.loads(entry)
            username, token = fields["username"], fields["refresh_token"]
        except (ValueError, KeyError, TypeError):
            log.warning("the remembered sign-in in the keyring is garbled: it is forgotten")
            self._forget_remembered()
            return None
        if not isinstance(username, str) or not isinstance(token, str):
            self._forget_remembered()
            return None
        return RememberedSignIn(username, Secret(token))

    def _forget_remembered(self) -> None:
        try:
            keyring.delete_password(SERVICE, self._remembered_key())
        except KeyringError:
            pass  # nothing stored (or no keyring): nothing to forget

    async def remember(self, username: str, refresh_token: str) -> bool:
        """Keep this sign-in for the next start; False when it cannot be kept safely."""
        return await asyncio.to_thread(self._remember, username, Secret(refresh_token))

    async def remembered(self) -> RememberedSignIn | None:
        return await asyncio.to_thread(self._load_remembered)

    async def forget_remembered(self) -> None:
        await asyncio.to_thread(self._forget_remembered)

    async def save(self, username: str, token: str) -> None:
        await asyncio.to_thread(self._save, username, Secret(token))

    async def load(self, username: str) -> str | None:
        return await asyncio.to_thread(self._load, username)

    async def forget(self, username: str) -> None:
        await asyncio.to_thread(self._forget, username)
