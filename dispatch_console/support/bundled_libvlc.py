"""Pin python-vlc to the libVLC shipped inside a frozen (Windows) bundle.

python-vlc looks for libVLC in ``PYTHON_VLC_LIB_PATH`` first, then in the registry and
the usual folders: a VLC the user installed elsewhere (another version, other plugins)
would be loaded instead of the one we tested. The installer's bundle sets both variables
before ``vlc`` is imported (``packaging/windows/pyi_rth_vlc.py``). Plain Python here so
the rule is tested on Linux too.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

LIB_NAMES = {"win32": "libvlc.dll", "darwin": "libvlc.dylib", "linux": "libvlc.so.5"}


def pin_bundled_libvlc(
    bundle_dir: Path, system: str, env: MutableMapping[str, str] | None = None
) -> Path:
    """Point python-vlc at ``bundle_dir/vlc``; returns the library path.

    Raises ``FileNotFoundError`` when the bundle lacks libVLC or its plugins: better a
    clear start-up error than silently playing through some other VLC.
    """
    env = os.environ if env is None else env
    vlc_dir = bundle_dir / "vlc"
    library = vlc_dir / LIB_NAMES.get(system, LIB_NAMES["linux"])
    plugins = vlc_dir / "plugins"
    if not library.is_file() or not plugins.is_dir():
        raise FileNotFoundError(
            f"the console's own libVLC is missing from {vlc_dir} (reinstall the console)"
        )
    env["PYTHON_VLC_LIB_PATH"] = str(library)
    env["PYTHON_VLC_MODULE_PATH"] = str(plugins)
    env["VLC_PLUGIN_PATH"] = str(plugins)
    return library
