"""The demo: two desks signed in with the bundled district's demo accounts.

Kept apart from ``app`` because it knows the demo accounts (from the reference district
server's seed), which a police installation must never carry.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path

from dispatch_console.app import ConsoleWindow, SignIn, close_console, open_console, run_qt
from dispatch_console.district.seed import demo_account
from dispatch_console.domain.models import EmergencyType
from dispatch_console.domain.totp import totp
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.settings import Settings

log = logging.getLogger(__name__)

DESKS = {"dispatcher": ("dispatcher",), "district": ("safety",), "both": ("dispatcher", "safety")}
AUTOPLAY_SCHOOL = "lincoln-hs"


def demo_sign_in(username: str) -> SignIn:
    account = demo_account(username)
    return SignIn(
        account.username, account.password, lambda: totp(account.totp_secret, time.time())
    )


def _autoplay(desk: ConsoleWindow) -> None:
    """Declare an active threat and open the first three cameras police may see."""
    console = desk.console
    district = console.district
    if district is None:
        return

    def open_cameras(_declared: object) -> None:
        shown = 0
        for floor in (f for b in district.school(AUTOPLAY_SCHOOL).buildings for f in b.floors):
            for camera in floor.cameras:
                if shown < 3 and console.decision(camera):
                    desk.controller.open_camera(camera.id)
                    shown += 1

    if any(e.school_id == AUTOPLAY_SCHOOL for e in console.access.emergencies):
        open_cameras(None)
        return
    desk.runner.run(
        console.declare_emergency(
            AUTOPLAY_SCHOOL,
            EmergencyType.ACTIVE_THREAT,
            "Demo: 911 caller reports an armed intruder near the main entrance",
        ),
        open_cameras,
    )


def run_demo(
    server_url: str,
    data_dir: Path,
    *,
    role: str,
    autoplay: bool,
    screenshot: Path | None,
    screenshot_after_s: float,
) -> int:
    settings = Settings.from_env(server_url=server_url, data_dir=data_dir / "console")

    async def main() -> int:
        desks: list[ConsoleWindow] = []
        try:
            for username in DESKS[role]:
                desks.append(await open_console(settings, demo_sign_in(username)))
        except ConsoleError as exc:
            print(f"demo: {exc}")
            return 1
        all_closed = asyncio.Event()
        remaining = {id(d.window) for d in desks}

        def on_closed(window_id: int) -> Callable[[], None]:
            def closed() -> None:
                remaining.discard(window_id)
                if not remaining:
                    all_closed.set()

            return closed

        for index, desk in enumerate(desks):
            desk.window.closed.connect(on_closed(id(desk.window)))
            desk.window.move(40 + index * 60, 40 + index * 60)
            desk.window.show()
        if autoplay:
            _autoplay(desks[0])
        if screenshot is not None:
            await asyncio.sleep(screenshot_after_s)
            for desk in desks:
                path = (
                    screenshot.with_stem(f"{screenshot.stem}-{desk.console.user.username}")
                    if len(desks) > 1 and desk.console.user
                    else screenshot
                )
                desk.window.grab().save(str(path))
                print(f"screenshot: {path}", flush=True)
            for desk in desks:
                desk.window.close()
        await all_closed.wait()
        for desk in desks:
            await close_console(desk)
        return 0

    return run_qt(main)
