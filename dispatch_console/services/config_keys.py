"""Every configuration key, its type and what makes a value valid: one table, one place.

The same parser checks a value whether it comes from IT's system file, the user's file,
a Windows policy or a ``DISPATCH_*`` variable, so a rule cannot differ between sources.
A parser raises ``ValueError`` with the problem in words IT can act on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit


def parse_url(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError('must be a string such as "https://cameras.district.example"')
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"must be an https:// URL with a host name, not {value!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError("must not carry a user name, password, query or fragment")
    return url


def parse_text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    text = value.strip()
    if len(text) > 64 or not re.fullmatch(r"[A-Za-z0-9._-]+", text):
        raise ValueError("must be at most 64 letters, digits, '.', '_' or '-'")
    return text


def parse_existing_file(value: object) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the path of a file")
    path = Path(value)
    if not path.is_file():
        raise ValueError(f"names {path}, which is not a readable file")
    return path


def parse_directory(value: object) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be the path of a folder")
    return Path(value).expanduser()


_FINGERPRINT = re.compile(r"(?:[0-9A-Fa-f]{2}:?){32}")


def parse_pin(value: object) -> str:
    """A SHA-256 certificate fingerprint, as ``openssl x509 -fingerprint -sha256`` prints it."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    text = value.strip()
    if text.lower().startswith("sha256:"):
        text = text[len("sha256:") :]
    if not _FINGERPRINT.fullmatch(text) or len(text.replace(":", "")) != 64:
        raise ValueError(
            "must be the server certificate's SHA-256 fingerprint (64 hex digits, colons "
            "allowed), e.g. from `openssl x509 -noout -fingerprint -sha256 -in server.pem`"
        )
    return text.replace(":", "").lower()


_HOST = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?:\.(?!-)[A-Za-z0-9-]{1,63})*\.?|\[[0-9A-Fa-f:.]+\]")


def parse_hosts(value: object) -> tuple[str, ...]:
    if isinstance(value, str):  # a DISPATCH_* variable or a policy string: comma-separated
        value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError('must be a list of host names, e.g. ["gw1.district.example"]')
    hosts = []
    for host in value:
        name = host.strip().lower()
        if not _HOST.fullmatch(name):
            raise ValueError(f"{host!r} is not a host name (no scheme, port or path)")
        hosts.append(name.strip("[]").rstrip("."))
    return tuple(hosts)


def bounded_int(low: int, high: int) -> Callable[[object], int]:
    def parse(value: object) -> int:
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number from {low} to {high}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low} to {high}, not {value}")
        return value

    return parse


def bounded_float(low: float, high: float) -> Callable[[object], float]:
    def parse(value: object) -> float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ValueError(f"must be a number from {low:g} to {high:g}") from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number from {low:g} to {high:g}")
        if not low <= value <= high:
            raise ValueError(f"must be from {low:g} to {high:g}, not {value:g}")
        return float(value)

    return parse


def one_of(*choices: str) -> Callable[[object], str]:
    """A word from a fixed list (case and surrounding spaces ignored)."""

    def parse(value: object) -> str:
        if isinstance(value, str) and value.strip().lower() in choices:
            return value.strip().lower()
        listed = " or ".join(f'"{choice}"' for choice in choices)
        raise ValueError(f"must be {listed}, not {value!r}")

    return parse


def parse_bool(value: object) -> bool:
    """true or false (a variable or policy string may also say yes/no, on/off, 1/0)."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "yes": True, "on": True, "1": True}
    words |= {"false": False, "no": False, "off": False, "0": False}
    if isinstance(value, str | int) and str(value).strip().lower() in words:
        return words[str(value).strip().lower()]
    raise ValueError(f"must be true or false, not {value!r}")


@dataclass(frozen=True)
class Key:
    """One setting: its name in files, its ``Settings`` field, parser and variable."""

    name: str
    field: str
    parse: Callable[[object], object]
    env: str | None
    why: str


KEYS: tuple[Key, ...] = (
    Key("district_api_url", "server_url", parse_url, "DISPATCH_SERVER_URL",
        "the district server's address"),
    Key("ca_bundle", "ca_bundle", parse_existing_file, "DISPATCH_CA_BUNDLE",
        "PEM file of CAs to trust for the district instead of the OS store"),
    Key("certificate_pin", "certificate_pin", parse_pin, "DISPATCH_CERTIFICATE_PIN",
        "SHA-256 fingerprint the district's certificate must have"),
    Key("workstation_id", "workstation_id", parse_text, "DISPATCH_WORKSTATION_ID",
        "this workstation's name in the audit trail"),
    Key("allowed_stream_hosts", "allowed_stream_hosts", parse_hosts,
        "DISPATCH_ALLOWED_STREAM_HOSTS", "hosts the console may play video from"),
    Key("idle_lock_minutes", "idle_lock_minutes", bounded_int(0, 1440),
        "DISPATCH_IDLE_LOCK_MINUTES", "minutes without input before the desk locks; 0 never"),
    Key("network_caching_ms", "network_caching_ms", bounded_int(50, 5000),
        "DISPATCH_NETWORK_CACHING_MS", "libVLC network caching"),
    Key("audit_keep_delivered_days", "audit_keep_delivered_days", bounded_float(0, 3650),
        "DISPATCH_AUDIT_KEEP_DELIVERED_DAYS", "days a delivered audit record stays local"),
    Key("audit_alarm_minutes", "audit_alarm_minutes", bounded_int(1, 60),
        "DISPATCH_AUDIT_ALARM_MINUTES",
        "minutes an audit record may wait for the district before the desk alarms"),
    Key("data_dir", "data_dir", parse_directory, "DISPATCH_DATA_DIR",
        "where the audit outbox lives"),
    Key("notify_sound", "notify_sound", parse_bool, "DISPATCH_NOTIFY_SOUND",
        "district desk: a sound when police ask for access"),
    Key("notify_desktop", "notify_desktop", parse_bool, "DISPATCH_NOTIFY_DESKTOP",
        "district desk: a desktop notification when police ask for access"),
    Key("theme", "theme", one_of("dark", "light"), "DISPATCH_THEME",
        "the desk's colours: dark (dim dispatch rooms) or light"),
    Key("text_size", "text_size", one_of("normal", "large"), "DISPATCH_TEXT_SIZE",
        "the console's text size: normal (12 pt) or large (15 pt)"),
)  # fmt: skip

KEYS_BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}
# The system file's list of keys users may not change; it is not itself a setting.
LOCKED = "locked"
