"""Composition root: builds the services for one sign-in and wires them to a window.

Everything runs on one asyncio loop shared with Qt (qasync); nothing here blocks it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from PySide6.QtWidgets import QApplication

from dispatch_console.domain.models import User
from dispatch_console.domain.policy import is_police
from dispatch_console.services.audit_outbox import AuditOutbox, outbox_path
from dispatch_console.services.console import Console
from dispatch_console.services.credentials import (
    RememberedSignIn,
    TokenStore,
    password_store_problem,
)
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.grid_store import GridStore, grid_path
from dispatch_console.services.settings import Settings
from dispatch_console.services.tls import settings_ssl_context
from dispatch_console.ui import theme
from dispatch_console.ui.accessibility import name_main_window
from dispatch_console.ui.busy import BusyIndicator
from dispatch_console.ui.controller import ConsoleController
from dispatch_console.ui.gc_guard import GarbageCollectionGuard
from dispatch_console.ui.main_window import MainWindow
from dispatch_console.ui.notifications import AlertChoices
from dispatch_console.ui.operations import OperationRunner
from dispatch_console.ui.shortcuts import DeskKeys
from dispatch_console.ui.sign_in import SignInWindow
from dispatch_console.video.alert_sound import AlertSound
from dispatch_console.video.player import VideoPlayer, wait_for_releases, warm_up

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO; keep transport chatter (and any URL) out of logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
logging.getLogger("httpcore").setLevel(logging.WARNING)
# qasync logs every executor call with its arguments at debug level.
logging.getLogger("qasync").setLevel(logging.INFO)


@dataclass(frozen=True)
class SignIn:
    username: str
    password: str
    # The second factor. The demo computes it from its account's TOTP secret; a real
    # user types the code from their authenticator.
    one_time_code: Callable[[], str]
    # Ask the district for a remembered sign-in, kept in the OS keyring.
    remember: bool = False


@dataclass(frozen=True)
class Resume:
    """A start from the sign-in this workstation remembers (no password, no code)."""

    remembered: RememberedSignIn

    @property
    def username(self) -> str:
        return self.remembered.username


@dataclass
class ConsoleWindow:
    console: Console
    window: MainWindow
    controller: ConsoleController
    runner: OperationRunner
    keys: DeskKeys | None = None


def _title(user: User) -> str:
    desk = "Police dispatch" if is_police(user) else "District safety office"
    return f"Dispatch Console — {desk}"


async def open_console(settings: Settings, sign_in: SignIn | Resume) -> ConsoleWindow:
    """Sign in, load the district and show a console window for that user."""
    warm_up()  # load libVLC's plugins on a worker thread, not at the first click
    client = DistrictClient(settings.server_url, verify=settings_ssl_context(settings))
    outbox = AuditOutbox(outbox_path(settings.data_dir, sign_in.username))
    console = Console(
        client,
        outbox,
        workstation_id=settings.workstation_id,
        keep_delivered=timedelta(days=settings.audit_keep_delivered_days),
        token_store=TokenStore(settings.server_url),
        allowed_stream_hosts=settings.allowed_stream_hosts,
        audit_alarm_after=timedelta(minutes=settings.audit_alarm_minutes),
    )
    try:
        if isinstance(sign_in, Resume):
            user = await console.resume(sign_in.remembered)
        else:
            user = await console.sign_in(
                sign_in.username,
                sign_in.password,
                sign_in.one_time_code(),
                remember=sign_in.remember,
            )
        recovered = await console.start()
    except BaseException:
        await console.shipper.stop()
        await client.aclose()
        outbox.close()
        raise
    console.follow_live_updates(settings.live_updates_max_backoff_s)
    apply_look(settings)
    window = MainWindow(_title(user), with_watch_board=not is_police(user))
    runner = OperationRunner(window)
    runner.install_exception_hooks()
    controller = ConsoleController(
        console,
        window,
        runner,
        player_factory=lambda: VideoPlayer(network_caching_ms=settings.network_caching_ms),
        idle_lock_after=(
            timedelta(minutes=settings.idle_lock_minutes) if settings.idle_lock_minutes else None
        ),
        grid_store=GridStore(grid_path(settings.data_dir, sign_in.username)),
        alerts=AlertChoices(sound=settings.notify_sound, desktop=settings.notify_desktop),
        alert_sound=AlertSound() if settings.notify_sound and not is_police(user) else None,
    )
    keys = DeskKeys(window, redraw=controller.redraw, district_desk=not is_police(user))
    BusyIndicator.install(runner, window.statusBar())
    name_main_window(window)
    controller.show_console()
    if recovered:
        window.show_message(
            f"{len(recovered)} viewing session(s) left open by an earlier crash were closed "
            "and reported to the district.",
            "warning",
        )
    elif console.remember_problem:
        window.show_message(console.remember_problem, "warning", timeout_ms=30000)
    return ConsoleWindow(console, window, controller, runner, keys)


def apply_look(settings: Settings) -> None:
    """The theme and text size the settings ask for, on the whole application."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        theme.apply_theme(app, settings.theme, settings.text_size)


async def close_console(opened: ConsoleWindow) -> None:
    """Release what open_console built, after its window has gone."""
    await opened.runner.drain()
    await opened.console.client.aclose()
    opened.console.outbox.close()


async def run_signed_in(settings: Settings) -> int:
    """The installed console: sign in (or go on with a remembered sign-in), work, and
    exit when the window closes; signing out returns to the sign-in window."""
    apply_look(settings)
    # No Secret Service (a headless Debian): said once, at sign-in, never a file fallback.
    store_problem = password_store_problem()
    remembered = await TokenStore(settings.server_url).remembered()
    while True:
        opened = await _sign_in(settings, store_problem, remembered)
        if opened is None:
            return 1
        closed = asyncio.Event()
        opened.window.closed.connect(closed.set)
        opened.window.show()
        await closed.wait()
        await close_console(opened)
        if not opened.controller.signed_out:
            return 0
        remembered = None


async def _sign_in(
    settings: Settings, store_problem: str | None, remembered: RememberedSignIn | None
) -> ConsoleWindow | None:
    """The sign-in window until a console opens (None: the user closed it).

    A remembered sign-in is tried first, with the window saying whose; if the district
    refuses it or cannot be reached, the window asks as usual and says why.
    """
    window = SignInWindow(settings.server_url, store_problem=store_problem)
    attempts: asyncio.Queue[SignIn | Resume | None] = asyncio.Queue()
    window.submitted.connect(
        lambda user, password, code, remember: attempts.put_nowait(
            SignIn(user, password, lambda: code, remember)
        )
    )
    window.cancelled.connect(lambda: attempts.put_nowait(None))
    window.show()
    if remembered is not None:
        window.show_resuming(remembered.username)
        attempts.put_nowait(Resume(remembered))
    while True:
        attempt = await attempts.get()
        if attempt is None:
            return None
        try:
            opened = await open_console(settings, attempt)
        except ConsoleError as error:
            window.show_error(f"{error.title}: {error.detail} {error.hint}".strip())
            continue
        window.finish()
        return opened


def has_display(system: str | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Whether Qt can show windows here. Only X11 and Wayland sessions can lack one:
    a signed-in Windows or macOS user always has a desktop (and no ``DISPLAY``).
    ``system`` and ``env`` default to this process's; tests pass others."""
    system = sys.platform if system is None else system
    env = os.environ if env is None else env
    if system in ("win32", "darwin"):
        return True
    platform = env.get("QT_QPA_PLATFORM", "")
    if platform and not platform.startswith("xcb") and not platform.startswith("wayland"):
        return True  # offscreen, minimal, vnc...: the user chose it deliberately
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


NO_DISPLAY_HELP = """\
dispatch-console: no display found (DISPLAY and WAYLAND_DISPLAY are not set).
The console is a desktop application. On a machine without a screen, run it on a
virtual X server (Debian package xvfb):

    xvfb-run -a -s "-screen 0 1600x1000x24" dispatch-console {command}

or set QT_QPA_PLATFORM=offscreen to run without showing anything.
"""


def run_qt(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``main`` on one qasync loop shared with Qt until it returns."""
    import qasync

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName("Dispatch Console")
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    collector = GarbageCollectionGuard()
    try:
        with loop:
            result = int(loop.run_until_complete(main()))
    finally:
        collector.stop()
    # libVLC players are released on worker threads; let them finish before exit.
    wait_for_releases(timeout=5.0)
    return result
