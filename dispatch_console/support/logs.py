"""Rotating log files in the platform's log folder, with secrets taken out as written.

IT collects these with ``support-bundle``; they leave the workstation, so nothing in
them may be a token, a password or a stream credential. Redaction is applied to the
whole formatted record, tracebacks included, by the handlers' formatter: a library
that logs an URL or an exception message cannot slip past it.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from dispatch_console.services.platform_paths import user_log_dir

from .redaction import redact_text

LOG_FILE = "console.log"
MAX_BYTES = 2 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def setup_logging(level: int = logging.INFO, log_dir: Path | None = None) -> Path:
    """Log to stderr and to rotating files (owner-readable only); returns the file path."""
    directory = log_dir or user_log_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOG_FILE
    if not path.exists():
        path.touch(mode=0o600)
    formatter = RedactingFormatter(FORMAT)
    to_file = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    to_stderr = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    for handler in (to_file, to_stderr):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(level)
    if os.name == "posix":
        os.chmod(path, 0o600)
    return path
