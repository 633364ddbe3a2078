"""Where the console keeps things on each platform, in one place.

Police IT deploys on Debian and on Windows; hard-coded XDG folders would put a Windows
console's files in ``C:\\Users\\x\\.local``. ``platformdirs`` knows each platform's
convention (and honours ``XDG_*`` on Linux, so tests can redirect everything). Every
location can also be set by a ``DISPATCH_*`` variable, for tests and for IT.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "dispatch-console"
# Windows folders are conventionally named without hyphens (%ProgramData%\DispatchConsole).
WINDOWS_APP_NAME = "DispatchConsole"

SYSTEM_CONFIG_ENV = "DISPATCH_SYSTEM_CONFIG"
USER_CONFIG_ENV = "DISPATCH_USER_CONFIG"
LOG_DIR_ENV = "DISPATCH_LOG_DIR"
CACHE_DIR_ENV = "DISPATCH_CACHE_DIR"


def _is_windows() -> bool:
    return sys.platform == "win32"


def system_config_path() -> Path:
    """The machine-wide file IT writes: ``/etc/dispatch-console/config.toml`` on Linux,
    ``%ProgramData%\\DispatchConsole\\config.toml`` on Windows."""
    if override := os.environ.get(SYSTEM_CONFIG_ENV):
        return Path(override)
    if _is_windows():
        program_data = os.environ.get("PROGRAMDATA", r"C:\ProgramData")
        return Path(program_data) / WINDOWS_APP_NAME / "config.toml"
    return Path("/etc") / APP_NAME / "config.toml"


def _app_name() -> str:
    return WINDOWS_APP_NAME if _is_windows() else APP_NAME


def user_config_path() -> Path:
    """The user's own settings file, in the platform's user configuration folder."""
    if override := os.environ.get(USER_CONFIG_ENV):
        return Path(override)
    return platformdirs.user_config_path(_app_name(), appauthor=False) / "settings.toml"


def user_data_dir() -> Path:
    """Where the audit outbox lives unless the settings say otherwise."""
    return platformdirs.user_data_path(_app_name(), appauthor=False)


def user_log_dir() -> Path:
    """Where the rotating log files go (``~/.local/state/dispatch-console/log`` on Linux)."""
    if override := os.environ.get(LOG_DIR_ENV):
        return Path(override)
    return platformdirs.user_log_path(_app_name(), appauthor=False)


def user_cache_dir() -> Path:
    """Downloads the console can fetch again (floor drawings): ``~/.cache/dispatch-console``."""
    if override := os.environ.get(CACHE_DIR_ENV):
        return Path(override)
    return platformdirs.user_cache_path(_app_name(), appauthor=False)
