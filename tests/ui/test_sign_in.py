"""Signing in as an installed console: wrong credentials are explained, right ones open it."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from dispatch_console.app import run_signed_in
from dispatch_console.district.seed import demo_account
from dispatch_console.domain.totp import totp
from dispatch_console.services.settings import Settings
from dispatch_console.ui.main_window import MainWindow
from dispatch_console.ui.sign_in import SignInWindow
from tests.conftest import DistrictStack, LoopRunner, MemoryKeyring, eventually


def top_level(kind: type) -> list[object]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def test_sign_in_failure_is_explained_and_success_opens_the_console(
    qloop: LoopRunner,
    district_stack: DistrictStack,
    tmp_path: Path,
    isolated_machine: MemoryKeyring,
) -> None:
    settings = Settings.from_env(server_url=district_stack.server_url, data_dir=tmp_path)
    account = demo_account("supervisor")

    async def scenario() -> int:
        session = asyncio.ensure_future(run_signed_in(settings))
        await eventually(lambda: bool(top_level(SignInWindow)), 5, "the sign-in window")
        window = top_level(SignInWindow)[0]
        assert isinstance(window, SignInWindow)

        QTest.keyClicks(window.username, account.username)
        QTest.keyClicks(window.password, "not-the-password")
        QTest.keyClicks(window.code, totp(account.totp_secret, time.time()))
        QTest.mouseClick(window.button, Qt.MouseButton.LeftButton)
        await eventually(lambda: window.error.isVisible(), 10, "the error")
        assert "Sign-in failed" in window.error.text()
        assert window.password.text() == "" and window.code.text() == ""

        QTest.keyClicks(window.password, account.password)
        QTest.keyClicks(window.code, totp(account.totp_secret, time.time()))
        QTest.keyClick(window.code, Qt.Key.Key_Return)
        await eventually(lambda: bool(top_level(MainWindow)), 10, "the console window")
        assert not window.isVisible()
        console = top_level(MainWindow)[0]
        assert isinstance(console, MainWindow)
        assert "Morgan Lee" in console.who.text()
        # The session token went to the OS keyring API while signed in ...
        assert not window.store_problem.isVisible()  # this machine has a password store
        tokens.append(isolated_machine.store[key])
        console.close()
        return await asyncio.wait_for(session, 10)

    key = ("dispatch-console", f"supervisor@{district_stack.server_url}")
    tokens: list[str] = []
    assert qloop.run(scenario(), timeout=60) == 0
    # ... signing out at exit removed it, and it never reached the disk.
    assert key not in isolated_machine.store
    token = tokens[0]
    assert len(token) >= 32
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), f"token found in {path}"
