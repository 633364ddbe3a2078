"""The district desk's request alert: the bundled WAV is the generator's output, and
libVLC plays it (written to a file by libVLC's file audio output, as no test machine has
a loudspeaker)."""

from __future__ import annotations

import sys
import time
import wave
from pathlib import Path

import pytest

from dispatch_console.video.alert_sound import REQUEST_ALERT, AlertSound

ROOT = Path(__file__).resolve().parents[2]


def test_the_bundled_alert_is_what_the_generator_writes(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "packaging"))
    try:
        import make_alert_sound
    finally:
        sys.path.remove(str(ROOT / "packaging"))
    fresh = tmp_path / "alert.wav"
    make_alert_sound.write(fresh)
    assert fresh.read_bytes() == REQUEST_ALERT.read_bytes()
    with wave.open(str(REQUEST_ALERT)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
        assert wav.getnchannels() == 1 and wav.getsampwidth() == 2
    assert 0.3 <= seconds <= 1.5  # an alert, not a tune


@pytest.mark.timeout(30)
def test_libvlc_plays_the_alert_through_its_audio_output(tmp_path: Path) -> None:
    heard = tmp_path / "heard.wav"
    sound = AlertSound(vlc_args=["--aout=afile", f"--audiofile-file={heard}"])
    try:
        assert sound.play().result(timeout=15) is True
        deadline = time.monotonic() + 10
        # libVLC writes the decoded audio as it plays it: at least the alert's length.
        while time.monotonic() < deadline:
            if heard.exists() and heard.stat().st_size >= 0.5 * REQUEST_ALERT.stat().st_size:
                break
            time.sleep(0.1)
        assert heard.exists() and heard.stat().st_size >= 0.5 * REQUEST_ALERT.stat().st_size
        assert sound.played == 1
    finally:
        sound.close()
