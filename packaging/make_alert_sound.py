"""Write the district desk's request alert (dispatch_console/resources/request-alert.wav).

A police request must be heard across a room without startling anyone: two soft rising
tones (A5 then E6), 0.7 s in all, each faded in and out so the speaker does not click.
Generated rather than recorded, so the sound has no licence question and anyone can
change it. Deterministic: running it again writes the same bytes (a test checks that the
committed file is this script's output).

    python packaging/make_alert_sound.py [OUTPUT]
"""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

RATE = 22050
# (frequency Hz, start s, length s)
TONES = ((880.0, 0.0, 0.28), (1318.5, 0.32, 0.38))
LENGTH_S = 0.72
VOLUME = 0.45  # of full scale: loud enough in a busy room, never clipping
FADE_S = 0.02
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "dispatch_console" / "resources"


def samples() -> list[int]:
    """16-bit signed samples of the alert."""
    out = []
    for n in range(int(RATE * LENGTH_S)):
        t = n / RATE
        value = 0.0
        for frequency, start, length in TONES:
            if start <= t < start + length:
                local = t - start
                # Fade in and out; a gentle decay over the tone like a struck bell.
                envelope = min(1.0, local / FADE_S, (start + length - t) / FADE_S)
                envelope *= math.exp(-2.5 * local)
                value += envelope * math.sin(2 * math.pi * frequency * local)
        out.append(round(max(-1.0, min(1.0, value * VOLUME)) * 32767))
    return out


def write(path: Path) -> None:
    data = samples()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(struct.pack(f"<{len(data)}h", *data))


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUTPUT / "request-alert.wav"
    write(target)
    print(target)
