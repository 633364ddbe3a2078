"""A short alert sound, played through libVLC.

The console's Qt is PySide6-Essentials, which has no QtMultimedia (QSoundEffect comes
with the far larger Add-ons); libVLC is already installed for video and plays a WAV as
well. The video instance runs with ``--no-audio``, so the alert has an audio-only
instance of its own, created on first use on a worker thread (loading plugins and
opening the audio device never block the window), and every call into libVLC is made on
that one thread (libVLC is not re-entrant, see player.py).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

try:  # the console starts without libVLC; video and the alert then say why not
    import vlc
except (ImportError, OSError) as exc:  # pragma: no cover - depends on the machine
    vlc = None
    _VLC_IMPORT_ERROR: str | None = str(exc)
else:
    _VLC_IMPORT_ERROR = None

log = logging.getLogger(__name__)

REQUEST_ALERT = Path(__file__).resolve().parent.parent / "resources" / "request-alert.wav"


class AlertSound:
    """Plays one sound file, from the start each time (a new alert cuts the last short).

    ``vlc_args`` are extra libVLC options (tests write the audio to a file with
    ``--aout=afile``). ``play`` returns at once; its future says whether libVLC took it.
    """

    def __init__(self, path: Path = REQUEST_ALERT, *, vlc_args: Sequence[str] = ()) -> None:
        self.path = path
        self._args = ["--no-video", "--quiet", "--no-xlib", *vlc_args]
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-sound")
        self._instance: Any = None
        self._player: Any = None
        self.played = 0  # how many times play() was asked (for the desk's tests)

    def play(self) -> Future[bool]:
        self.played += 1
        return self._worker.submit(self._play)

    def _play(self) -> bool:
        try:
            if self._player is None:
                if vlc is None:
                    log.warning(
                        "alert sound unavailable: libVLC not loaded (%s)", _VLC_IMPORT_ERROR
                    )
                    return False
                self._instance = vlc.Instance(self._args)
                if self._instance is None:
                    log.warning("alert sound unavailable: libVLC did not start")
                    return False
                self._player = self._instance.media_player_new()
            self._player.stop()
            self._player.set_media(self._instance.media_new_path(str(self.path)))
            return bool(self._player.play() == 0)
        except Exception:  # a sound must never take the desk down
            log.exception("the alert sound could not be played")
            return False

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop and release libVLC (at exit); waits at most ``timeout_s`` for it."""

        def release() -> None:
            if self._player is not None:
                self._player.stop()
                self._player.release()
                self._player = None
            if self._instance is not None:
                self._instance.release()
                self._instance = None

        done = self._worker.submit(release)
        try:
            done.result(timeout=timeout_s)
        except Exception:
            log.warning("the alert sound was not released in %g s", timeout_s)
        self._worker.shutdown(wait=False)
