"""Self-test checks of the workstation itself: configuration, libVLC, Qt, keyring.

They exercise the same code the console runs (``load_settings``, ``VideoPlayer``, the
keyring), so a pass means the console's own path works, not a look-alike.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from dispatch_console.services.config_files import ConfigError
from dispatch_console.services.platform_paths import system_config_path, user_config_path
from dispatch_console.services.settings import Settings, load_settings

from .checks import CheckResult, failed, passed

CLIP = Path(__file__).resolve().parent.parent / "resources" / "selftest-clip.ts"
QT_PROBE_ARG = "--probe-qt"
QT_PROBE_PREFIX = "QT_PLATFORM="


def check_configuration() -> tuple[CheckResult, Settings | None]:
    name = "configuration"
    system, user = system_config_path(), user_config_path()
    try:
        settings = load_settings()
    except ConfigError as exc:
        hint = f"correct {exc.key!r} in {exc.source}; an example is in the README's 'For IT'"
        return failed(name, str(exc), hint), None
    found = [str(p) for p in (system, user) if p.is_file()]
    files = ", ".join(found) if found else f"no files ({system}, {user}): built-in defaults"
    locked = ", ".join(sorted(settings.locked)) or "none"
    detail = f"valid: {files}; district {settings.server_url}; locked: {locked}"
    return passed(name, detail), settings


def check_libvlc(clip: Path = CLIP, timeout_s: float = 10.0) -> CheckResult:
    """libVLC loads, says its version, and decodes the bundled clip through the player."""
    name = "libvlc"
    try:
        import vlc
    except (ImportError, OSError, NotImplementedError) as exc:  # as the player guards it
        return failed(
            name,
            f"libVLC could not be loaded ({exc})",
            "install VLC's library and plugins (Debian: libvlc5 vlc-plugin-base); on "
            "Windows reinstall the console, which bundles libVLC",
        )
    version = bytes(vlc.libvlc_get_version()).decode(errors="replace")
    if not clip.is_file():
        return failed(name, f"libVLC {version}; the test clip {clip} is missing", "reinstall")
    frames, problem = decode_pictures(clip.as_uri(), timeout_s)
    if problem is not None:
        return failed(
            name,
            f"libVLC {version} did not decode the test clip: {problem}",
            "the H.264 decoder or the MPEG-TS demuxer plugin is missing (Debian: "
            "vlc-plugin-base); delete ~/.cache/vlc and try again",
        )
    return passed(name, f"libVLC {version} decoded {frames} pictures of the test clip")


def decode_pictures(uri: str, timeout_s: float, wanted: int = 3) -> tuple[int, str | None]:
    """Play ``uri`` through the console's own player until ``wanted`` real pictures arrive.

    Returns how many arrived and, unless all did and each shows a picture (not a blank
    buffer), what went wrong. The libVLC check plays the bundled clip; the gateway check
    plays the same clip as a gateway serves it.
    """
    from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer
    from PySide6.QtGui import QImage

    from dispatch_console.video import player as video

    if QCoreApplication.instance() is None:
        QCoreApplication([sys.argv[0]])
    frames: list[QImage] = []
    errors: list[str] = []
    loop = QEventLoop()
    player = video.VideoPlayer(width=160, height=90)

    def on_frame(image: QImage) -> None:
        frames.append(image)
        if len(frames) >= wanted:
            loop.quit()

    def on_failed(message: str) -> None:
        errors.append(message)
        loop.quit()

    player.frame_ready.connect(on_frame)
    player.failed.connect(on_failed)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    player.play(uri)
    loop.exec()
    player.stop()
    video.wait_for_releases(timeout=5.0)
    if len(frames) < wanted or not all(_has_picture(f) for f in frames):
        return len(frames), errors[0] if errors else f"{len(frames)} picture(s) in {timeout_s:g} s"
    return len(frames), None


def _has_picture(image: object) -> bool:
    """Not a blank buffer: the test clip is a colour pattern, so pixels differ."""
    from PySide6.QtGui import QImage

    assert isinstance(image, QImage)
    w, h = image.width(), image.height()
    samples = {image.pixel(x, y) for x in (w // 8, w // 2, 7 * w // 8) for y in (h // 4, h // 2)}
    return len(samples) > 1


def _self_command() -> list[str]:
    """How to run this program again (a frozen bundle is its own executable)."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, "-m", "dispatch_console"]


def probe_qt() -> int:
    """In a child process: load the Qt platform plugin (Qt aborts the process if it can't)."""
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([sys.argv[0]])
    print(f"{QT_PROBE_PREFIX}{app.platformName()}", flush=True)
    return 0


def check_qt_platform(timeout_s: float = 30.0) -> CheckResult:
    name = "qt-platform"
    wanted = os.environ.get("QT_QPA_PLATFORM", "") or "the default (xcb or wayland)"
    try:
        child = subprocess.run(
            [*_self_command(), "selftest", QT_PROBE_ARG],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return failed(name, f"could not run the Qt probe: {exc}", "reinstall the console")
    lines = [ln for ln in child.stdout.splitlines() if ln.startswith(QT_PROBE_PREFIX)]
    if child.returncode == 0 and lines:
        platform = lines[-1].removeprefix(QT_PROBE_PREFIX)
        return passed(name, f"Qt platform plugin {platform!r} loaded")
    tail = " | ".join(child.stderr.strip().splitlines()[-3:]) or f"exit code {child.returncode}"
    return failed(
        name,
        f"Qt platform plugin {wanted} did not load: {tail}",
        "run the self-test from the user's desktop session (DISPLAY or WAYLAND_DISPLAY set); "
        "on Debian install Qt's xcb libraries (libxcb-cursor0, libxkbcommon-x11-0, ...: the "
        "package's dependencies); QT_QPA_PLATFORM=offscreen checks the rest without a screen",
    )


def check_keyring() -> CheckResult:
    """The OS keyring stores and returns a value: where sign-in tokens are kept."""
    name = "keyring"
    import keyring
    from keyring.errors import KeyringError

    from dispatch_console.services.credentials import SERVICE

    backend = keyring.get_keyring()
    label = f"{type(backend).__module__}.{type(backend).__name__}"
    probe_user = f"selftest-{secrets.token_hex(4)}"
    probe_value = secrets.token_hex(8)
    try:
        keyring.set_password(SERVICE, probe_user, probe_value)
        try:
            read = keyring.get_password(SERVICE, probe_user)
        finally:
            keyring.delete_password(SERVICE, probe_user)
    except (KeyringError, RuntimeError, OSError) as exc:
        return failed(
            name,
            f"keyring backend {label} is not usable: {exc}",
            "without a keyring every start asks for a new sign-in; on Debian install "
            "gnome-keyring (or KWallet) and run from a desktop session with D-Bus",
        )
    if read != probe_value:
        return failed(name, f"keyring backend {label} returned another value", "reset the keyring")
    return passed(name, f"keyring backend {label} stores and returns a value")
