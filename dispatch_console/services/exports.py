"""Saving what the district desk exports (the audit CSV, an emergency's report) to disk.

Off the GUI thread, and all or nothing: the text goes to a temporary file next to the
target and replaces it only once it is whole on disk, so a full disk or a pulled USB
stick never leaves a half CSV that looks like the complete trail, nor destroys an
earlier export of the same name.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import tempfile
from pathlib import Path

from .errors import ConsoleError


class ExportFailed(ConsoleError):
    title = "Export not saved"


_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "this account may not write there",
    errno.EPERM: "this account may not write there",
    errno.EROFS: "that disk is read-only",
    errno.ENOENT: "that folder does not exist",
    errno.ENOTDIR: "that folder does not exist",
    errno.EISDIR: "that is a folder, not a file",
}


def _write(path: Path, text: str) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


async def save_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` whole, or raise ExportFailed naming the path and why."""
    try:
        await asyncio.to_thread(_write, path, text)
    except OSError as exc:
        reason = _REASONS.get(exc.errno or 0, exc.strerror or type(exc).__name__)
        raise ExportFailed(
            f"{path} could not be written: {reason}. Nothing was saved there, and the "
            "export is kept.",
            "Choose another place to save it.",
        ) from None
    return path
