"""Typed settings and the one precedence rule that decides every value.

Police IT configures a workstation once, in a system-wide file (and on Windows through
Group Policy), and may lock any key so users cannot change it. Precedence, highest first:

1. a key the system file lists in ``locked`` (or any Windows Group Policy value);
2. explicit arguments (``--server``), then ``DISPATCH_*`` variables: this user's session;
3. the user's own file (``settings.toml`` in the platform's user configuration folder);
4. the system file's unlocked values (IT's defaults);
5. the built-in defaults below.

Locked keys win over the command line and the environment too, or a user could undo a
lock with one variable. Files and keys are listed in ``config_keys``.
"""

from __future__ import annotations

import logging
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import platform_paths
from .config_files import ConfigError, Layer, PolicyReader, environment_layer, policy_layer
from .config_files import read_file as read_config_file
from .config_keys import KEYS, KEYS_BY_NAME

__all__ = ["ConfigError", "Settings", "default_data_dir", "default_workstation_id"]

log = logging.getLogger(__name__)

BUILT_IN = "built-in default"


def default_data_dir() -> Path:
    return platform_paths.user_data_dir()


@dataclass(frozen=True)
class Settings:
    server_url: str = "http://127.0.0.1:8750"
    data_dir: Path = field(default_factory=default_data_dir)
    workstation_id: str = ""
    # See video.player.DEFAULT_NETWORK_CACHING_MS: 100 ms is the measured sweet spot.
    network_caching_ms: int = 100
    # While the district's live updates are down: the longest wait between reconnects,
    # each of which also refreshes the access state (the slow poll).
    live_updates_max_backoff_s: float = 10.0
    # Days a delivered audit record stays in the local outbox before it is pruned.
    audit_keep_delivered_days: float = 7.0
    # Minutes an audit record may wait for delivery before the desk raises an alarm that
    # stays until delivery resumes (CJIS allows an hour before it must be alerted).
    audit_alarm_minutes: int = 5
    # TLS to the district: the OS certificate store unless IT names a CA bundle, and
    # optionally the exact certificate (its SHA-256 fingerprint) the server must show.
    ca_bundle: Path | None = None
    certificate_pin: str | None = None
    # Host names video may be played from; empty means any the district links to.
    allowed_stream_hosts: tuple[str, ...] = ()
    # Minutes without keyboard or mouse input before the desk locks (0: never).
    idle_lock_minutes: int = 30
    # The district desk alerts its approvers to a police request with a sound and a
    # desktop notification (the desk's own card shows either way).
    notify_sound: bool = True
    notify_desktop: bool = True
    # Dispatch rooms are dim: dark unless the user or IT chooses "light" (ui/theme.py).
    theme: str = "dark"
    # "normal" (12 pt) reads at a desk; "large" (15 pt) from further away (ui/theme.py).
    text_size: str = "normal"
    # Where each configurable value came from, and which keys IT locked (for selftest
    # and the support bundle; key name -> source).
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)
    locked: frozenset[str] = frozenset()

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from every source, ``overrides`` being explicit arguments.

        Raises ``ConfigError`` naming the file (or variable), key and problem.
        """
        return load_settings(overrides)


def load_settings(
    overrides: Mapping[str, object] | None = None,
    *,
    system_file: Path | None = None,
    user_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    policies: PolicyReader | None = None,
) -> Settings:
    """Apply the precedence rule of this module's docstring to all sources."""
    system = read_config_file(system_file or platform_paths.system_config_path(), may_lock=True)
    user = read_config_file(user_file or platform_paths.user_config_path(), may_lock=False)
    environment = environment_layer(env)
    policy = policy_layer(policies) if policies is not None else policy_layer()
    locked_by_file = Layer(
        system.source, {k: v for k, v in system.values.items() if k in system.locked}
    )
    locked = frozenset(system.locked | policy.locked)

    values: dict[str, object] = {}
    origins: dict[str, str] = {}
    # Lowest first; each later layer overwrites.
    for layer in (system, user, environment):
        for name, value in layer.values.items():
            if name in locked:
                continue
            values[name] = value
            origins[name] = layer.source
    extra: dict[str, object] = {}
    by_field = {key.field: key for key in KEYS}
    for field_name, value in (overrides or {}).items():
        if value is None:
            continue
        key = by_field.get(field_name)
        if key is None:
            extra[field_name] = value  # not a configurable key (e.g. live_updates_max_backoff_s)
        elif key.name in locked:
            log.warning("%s is locked by the system configuration; ignoring %r", key.name, value)
        else:
            values[key.name] = value
            origins[key.name] = "command line"
    for layer in (locked_by_file, policy):
        for name, value in layer.values.items():
            values[name] = value
            origins[name] = f"{layer.source} (locked)"

    fields = {KEYS_BY_NAME[name].field: value for name, value in values.items()}
    for key in KEYS:
        origins.setdefault(key.name, BUILT_IN)
    settings = Settings(**fields, **extra, origins=origins, locked=locked)  # type: ignore[arg-type]
    if not settings.workstation_id:
        settings = replace(settings, workstation_id=default_workstation_id())
    return settings


def default_workstation_id() -> str:
    """Host name plus a short machine-stable suffix, so two consoles on one host differ."""
    node = uuid.getnode()
    return f"{socket.gethostname()}-{node & 0xFFFFFF:06x}"
