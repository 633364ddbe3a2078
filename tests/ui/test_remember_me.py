"""'Keep me signed in' on the installed console's real start-up path (run_signed_in): the
OS keyring holds the refresh token, the next start needs no password, an exit keeps it,
and signing out removes it here and on the district."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import httpx
from PySide6.QtWidgets import QApplication

from dispatch_console.app import run_signed_in
from dispatch_console.district.seed import demo_account
from dispatch_console.domain.totp import totp
from dispatch_console.services.credentials import SERVICE
from dispatch_console.ui.main_window import MainWindow
from dispatch_console.ui.sign_in import SignInWindow
from tests.conftest import DistrictStack, LoopRunner, MemoryKeyring, eventually
from tests.ui.desk import desk_settings


def _visible(kind: type) -> list:  # type: ignore[type-arg]
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


def _remembered_entry(keyring: MemoryKeyring, server_url: str) -> dict[str, str] | None:
    entry = keyring.store.get((SERVICE, f"remembered@{server_url}"))
    return None if entry is None else dict(json.loads(entry))


def _files_holding(folder: Path, secret: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


async def _refresh_status(server_url: str, token: str) -> int:
    async with httpx.AsyncClient(base_url=server_url) as http:
        answer = await http.post("/api/v1/auth/refresh", json={"refresh_token": token})
        return answer.status_code


def test_the_keyring_holds_the_refresh_token_and_sign_out_removes_it(
    qloop: LoopRunner,
    district_stack: DistrictStack,
    isolated_machine: MemoryKeyring,
    tmp_path: Path,
) -> None:
    account = demo_account("dispatcher")
    settings = desk_settings(district_stack.server_url, tmp_path / "data")
    keyring = isolated_machine

    async def scenario() -> None:
        # First start: nothing remembered, so the sign-in window asks; the user ticks
        # "Keep me signed in".
        first = asyncio.ensure_future(run_signed_in(settings))
        await eventually(lambda: bool(_visible(SignInWindow)), 10, "the sign-in window")
        (window,) = _visible(SignInWindow)
        assert window.remember.isEnabled() and not window.remember.isChecked()
        window.username.setText(account.username)
        window.password.setText(account.password)
        window.code.setText(totp(account.totp_secret, time.time()))
        window.remember.setChecked(True)
        window.grab().save(str(tmp_path / "sign-in-remember.png"))
        window.button.click()
        await eventually(lambda: bool(_visible(MainWindow)), 20, "the console")
        entry = _remembered_entry(keyring, district_stack.server_url)
        assert entry is not None and entry["username"] == account.username
        first_token = entry["refresh_token"]
        # The keyring is the only place it is kept: not in the workstation's files.
        assert not _files_holding(tmp_path, first_token)
        (console_window,) = _visible(MainWindow)
        console_window.close()  # an exit at the end of the shift
        assert await asyncio.wait_for(first, 20) == 0
        assert _remembered_entry(keyring, district_stack.server_url) == entry

        # Next start: no password, no code; the remembered sign-in goes on, rotated.
        second = asyncio.ensure_future(run_signed_in(settings))
        await eventually(lambda: bool(_visible(MainWindow)), 20, "the console, remembered")
        rotated = _remembered_entry(keyring, district_stack.server_url)
        assert rotated is not None and rotated["refresh_token"] != first_token
        assert await _refresh_status(district_stack.server_url, first_token) == 401
        # That reuse of a retired token ended the family: the desk's sign-in with it.
        (console_window,) = _visible(MainWindow)
        assert console_window.sign_out_action.isEnabled()

        # A fresh remembered sign-in, then Sign out from the Session menu.
        await eventually(lambda: bool(_visible(SignInWindow)), 10, "asked to sign in again")
        await asyncio.wait_for(_close_all_and_finish(second), 20)

        # The remembered sign-in the copy ended is tried, refused (its tokens are gone),
        # said and forgotten.
        third = asyncio.ensure_future(run_signed_in(settings))
        await eventually(lambda: bool(_visible(SignInWindow)), 10, "the sign-in window")
        (window,) = _visible(SignInWindow)
        await eventually(window.button.isEnabled, 10, "the remembered sign-in refused")
        assert "remembered sign-in is not known" in window.error.text(), window.error.text()
        assert _remembered_entry(keyring, district_stack.server_url) is None
        window.grab().save(str(tmp_path / "sign-in-remembered-refused.png"))
        window.username.setText(account.username)
        window.password.setText(account.password)
        window.code.setText(totp(account.totp_secret, time.time()))
        window.remember.setChecked(True)
        window.button.click()
        await eventually(lambda: bool(_visible(MainWindow)), 20, "the console")
        remembered = _remembered_entry(keyring, district_stack.server_url)
        assert remembered is not None
        (console_window,) = _visible(MainWindow)
        console_window.sign_out_action.trigger()
        # Signed out: back at the sign-in window, nothing remembered here or there.
        await eventually(lambda: not console_window.isVisible(), 20, "the console to close")
        await eventually(lambda: bool(_visible(SignInWindow)), 10, "the sign-in window")
        assert _remembered_entry(keyring, district_stack.server_url) is None
        assert not [k for k in keyring.store if k[1].startswith(account.username)]
        status = await _refresh_status(district_stack.server_url, remembered["refresh_token"])
        assert status == 401
        (window,) = _visible(SignInWindow)
        assert not window.password.text()
        window.close()
        assert await asyncio.wait_for(third, 10) == 1

    qloop.run(scenario(), timeout=120)


async def _close_all_and_finish(task: asyncio.Future[int]) -> None:
    """Close whatever the run shows until it returns."""
    while not task.done():
        for widget in _visible(MainWindow) + _visible(SignInWindow):
            widget.close()
        await asyncio.sleep(0.1)
