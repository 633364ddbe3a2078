"""Reading the configuration files and Windows policies into checked layers.

An invalid file must never end in a traceback on a dispatcher's screen: every problem
becomes a ``ConfigError`` naming the file, the key and what is wrong, which the command
line prints as one line and the self-test reports as a failed check.
"""

from __future__ import annotations

import os
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .config_keys import KEYS, KEYS_BY_NAME, LOCKED

POLICY_KEY = r"Software\Policies\DispatchConsole"


class ConfigError(ValueError):
    """A configuration source holds something the console cannot use."""

    def __init__(self, source: str, key: str, problem: str) -> None:
        super().__init__(f"{source}: {key}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


@dataclass(frozen=True)
class Layer:
    """Checked values from one source, by key name, and the keys that source locks."""

    source: str
    values: Mapping[str, object] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()


def _check(source: str, raw: Mapping[str, object], *, may_lock: bool) -> Layer:
    values: dict[str, object] = {}
    locked: frozenset[str] = frozenset()
    for name, value in raw.items():
        if name == LOCKED:
            if not may_lock:
                raise ConfigError(source, name, "only the system-wide file can lock settings")
            locked = _parse_locked(source, value)
            continue
        key = KEYS_BY_NAME.get(name)
        if key is None:
            known = ", ".join(k.name for k in KEYS)
            raise ConfigError(source, name, f"unknown setting (known: {known}, {LOCKED})")
        try:
            values[name] = key.parse(value)
        except ValueError as exc:
            raise ConfigError(source, name, str(exc)) from None
    return Layer(source, values, locked)


def _parse_locked(source: str, value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(source, LOCKED, 'must be a list of setting names, e.g. ["ca_bundle"]')
    unknown = [v for v in value if v not in KEYS_BY_NAME]
    if unknown:
        raise ConfigError(source, LOCKED, f"names unknown setting(s): {', '.join(unknown)}")
    return frozenset(value)


def read_file(path: Path, *, may_lock: bool) -> Layer:
    """The checked contents of one TOML file; a missing file is an empty layer."""
    source = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return Layer(source)
    except UnicodeDecodeError:
        raise ConfigError(source, "(file)", "is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(source, "(file)", f"cannot be read ({exc.strerror})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(source, "(file)", f"is not valid TOML: {exc}") from None
    # A [section] would silently hide its keys; say so instead.
    for name, value in raw.items():
        if isinstance(value, dict):
            raise ConfigError(source, name, "tables are not used; write keys at the top level")
    return _check(source, raw, may_lock=may_lock)


def environment_layer(env: Mapping[str, str] | None = None) -> Layer:
    """``DISPATCH_*`` variables, checked like file values."""
    env = os.environ if env is None else env
    raw = {k.name: env[k.env] for k in KEYS if k.env and env.get(k.env, "").strip()}
    source = "environment"
    values: dict[str, object] = {}
    for name, value in raw.items():
        key = KEYS_BY_NAME[name]
        try:
            values[name] = key.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{source} {key.env}", name, str(exc)) from None
    return Layer(source, values)


# A registry reader returns (value name -> value) under HKLM\<POLICY_KEY>, or None when
# the key does not exist. A seam, so Linux tests can drive the policy mapping.
PolicyReader = Callable[[], dict[str, object] | None]


def _read_windows_policies() -> dict[str, object] | None:
    if sys.platform != "win32":
        return None
    import winreg

    try:
        handle = winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, POLICY_KEY)
    except OSError:
        return None
    values: dict[str, object] = {}
    with handle:
        index = 0
        while True:
            try:
                name, value, _kind = winreg.EnumValue(handle, index)
            except OSError:
                return values
            values[name] = value
            index += 1


def policy_layer(reader: PolicyReader = _read_windows_policies) -> Layer:
    """Group Policy values (Windows): every one is locked, as Group Policy means.

    REG_SZ arrives as str, REG_DWORD as int, REG_MULTI_SZ as a list of str: the same
    parsers accept all three shapes. Registry value names are the file's key names.
    """
    raw = reader()
    if not raw:
        return Layer(f"HKLM\\{POLICY_KEY}")
    source = f"HKLM\\{POLICY_KEY}"
    layer = _check(source, {k: v for k, v in raw.items() if k != LOCKED}, may_lock=False)
    return Layer(source, layer.values, frozenset(layer.values))
