"""Typed settings with one precedence: explicit arguments, then DISPATCH_* variables, then defaults.

Police IT configures a workstation through environment variables or the installer's
config, never by editing code.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ENV_PREFIX = "DISPATCH_"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "dispatch-console"


@dataclass(frozen=True)
class Settings:
    server_url: str = "http://127.0.0.1:8750"
    data_dir: Path = field(default_factory=default_data_dir)
    workstation_id: str = ""
    # See video.player.DEFAULT_NETWORK_CACHING_MS: 100 ms is the measured sweet spot.
    network_caching_ms: int = 100
    access_poll_s: float = 1.0
    # Days a delivered audit record stays in the local outbox before it is pruned.
    audit_keep_delivered_days: float = 7.0

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {}
        env = os.environ
        if url := env.get(f"{ENV_PREFIX}SERVER_URL"):
            values["server_url"] = url.rstrip("/")
        if data := env.get(f"{ENV_PREFIX}DATA_DIR"):
            values["data_dir"] = Path(data)
        if ws := env.get(f"{ENV_PREFIX}WORKSTATION_ID"):
            values["workstation_id"] = ws
        if caching := env.get(f"{ENV_PREFIX}NETWORK_CACHING_MS"):
            values["network_caching_ms"] = int(caching)
        if keep := env.get(f"{ENV_PREFIX}AUDIT_KEEP_DELIVERED_DAYS"):
            values["audit_keep_delivered_days"] = float(keep)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if not settings.workstation_id:
            settings = cls(**{**settings.__dict__, "workstation_id": default_workstation_id()})
        return settings


def default_workstation_id() -> str:
    """Host name plus a short machine-stable suffix, so two consoles on one host differ."""
    node = uuid.getnode()
    return f"{socket.gethostname()}-{node & 0xFFFFFF:06x}"
