"""No Secret Service (a headless Debian): said once at sign-in, and never a file fallback.

The keyring API is real; only its backend changes (the autouse fixture restores it).
"""

from __future__ import annotations

import asyncio

import keyring
from keyring.backends.fail import Keyring as FailKeyring
from pytestqt.qtbot import QtBot

from dispatch_console.services.credentials import (
    NO_PASSWORD_STORE,
    SERVICE,
    TokenStore,
    password_store_problem,
)
from dispatch_console.ui.sign_in import SignInWindow
from tests.conftest import MemoryKeyring


class PlaintextLookalike(MemoryKeyring):
    """A keyrings.alt file backend, as far as anyone can tell from its module."""


PlaintextLookalike.__module__ = "keyrings.alt.file"


def test_the_fail_backend_means_no_password_store() -> None:
    keyring.set_keyring(FailKeyring())
    assert password_store_problem() == NO_PASSWORD_STORE
    assert "Secret Service" in NO_PASSWORD_STORE and "gnome-keyring" in NO_PASSWORD_STORE


def test_a_file_backend_is_no_password_store_and_gets_no_token() -> None:
    backend = PlaintextLookalike()
    keyring.set_keyring(backend)
    assert password_store_problem() == NO_PASSWORD_STORE
    store = TokenStore("https://district.example")
    asyncio.run(store.save("dispatcher", "secret-token"))
    assert backend.store == {}  # nothing went to the file backend
    assert not store.persistent
    assert asyncio.run(store.load("dispatcher")) == "secret-token"  # this run only


def test_an_os_keyring_keeps_the_token_until_sign_out(
    isolated_machine: MemoryKeyring,
) -> None:
    assert password_store_problem() is None
    store = TokenStore("https://district.example")
    asyncio.run(store.save("dispatcher", "secret-token"))
    assert isolated_machine.store == {
        (SERVICE, "dispatcher@https://district.example"): "secret-token"
    }
    asyncio.run(store.forget("dispatcher"))
    assert isolated_machine.store == {}


def test_the_sign_in_window_says_it_once(qtbot: QtBot) -> None:
    keyring.set_keyring(FailKeyring())
    window = SignInWindow("https://district.example", store_problem=password_store_problem())
    qtbot.addWidget(window)
    assert not window.store_problem.isHidden()
    assert window.store_problem.text() == NO_PASSWORD_STORE
    quiet = SignInWindow("https://district.example")
    qtbot.addWidget(quiet)
    assert quiet.store_problem.isHidden()
