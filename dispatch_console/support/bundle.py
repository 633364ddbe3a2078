"""``dispatch-console support-bundle``: one zip IT can attach to a ticket.

It holds the log files, the configuration files as written (secret-looking values
masked), the effective settings with where each value came from, and the self-test's
results. Everything goes through ``redact_text`` on the way in, even the logs that were
redacted when written: the zip leaves the workstation.
"""

from __future__ import annotations

import argparse
import json
import platform
import socket
import sys
import zipfile
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from dispatch_console import __version__
from dispatch_console.services.platform_paths import (
    system_config_path,
    user_config_path,
    user_log_dir,
)
from dispatch_console.services.settings import Settings

from .checks import CheckResult, as_json
from .local_checks import check_configuration
from .redaction import redact_text


def _effective(settings: Settings | None) -> str:
    if settings is None:
        return json.dumps({"error": "the configuration is invalid; see selftest.json"})
    values = {
        f.name: str(getattr(settings, f.name)) for f in fields(settings) if f.name != "origins"
    }
    values["locked"] = ", ".join(sorted(settings.locked))
    return json.dumps({"values": values, "origins": dict(settings.origins)}, indent=2)


def _about() -> str:
    lines = [
        f"dispatch-console {__version__}",
        f"python {sys.version.split()[0]} on {platform.platform()}",
        f"executable {sys.executable}",
    ]
    try:
        import PySide6

        lines.append(f"PySide6 {PySide6.__version__}")
    except ImportError as exc:
        lines.append(f"PySide6 missing: {exc}")
    return "\n".join(lines) + "\n"


def write_bundle(output: Path, results: list[CheckResult]) -> Path:
    """Write the zip to ``output`` and return it."""
    _, settings = check_configuration()
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("about.txt", _about())
        archive.writestr("selftest.json", redact_text(as_json(results, __version__)))
        archive.writestr("settings-effective.json", redact_text(_effective(settings)))
        for name, path in (("system-config.toml", system_config_path()),
                           ("user-settings.toml", user_config_path())):  # fmt: skip
            if path.is_file():
                text = path.read_text(encoding="utf-8", errors="replace")
                archive.writestr(f"config/{name}", f"# {path}\n{redact_text(text)}")
        log_dir = user_log_dir()
        if log_dir.is_dir():
            for log in sorted(log_dir.iterdir()):
                if log.is_file():
                    text = log.read_text(encoding="utf-8", errors="replace")
                    archive.writestr(f"logs/{log.name}", redact_text(text))
    return output


def default_output() -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path.cwd() / f"dispatch-console-support-{socket.gethostname()}-{stamp}.zip"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console support-bundle",
        description="Zip the logs, the configuration (secrets masked) and a self-test run "
        "for IT support.",
    )
    parser.add_argument("--output", "-o", help="zip file to write (default: in this folder)")
    args = parser.parse_args(argv)
    from .selftest import run_checks

    output = Path(args.output) if args.output else default_output()
    write_bundle(output, run_checks())
    print(f"support bundle written to {output}")
    return 0
