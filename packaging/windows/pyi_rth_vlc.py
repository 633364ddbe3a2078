"""PyInstaller runtime hook: runs before the console's code, so before ``import vlc``."""

import sys
from pathlib import Path

from dispatch_console.support.bundled_libvlc import pin_bundled_libvlc

pin_bundled_libvlc(Path(sys._MEIPASS), sys.platform)  # type: ignore[attr-defined]
if hasattr(__import__("os"), "add_dll_directory"):
    __import__("os").add_dll_directory(str(Path(sys._MEIPASS) / "vlc"))  # type: ignore[attr-defined]
