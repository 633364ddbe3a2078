"""Where the repository's sample data lives, for tests."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DISTRICT = ROOT / "floorplans" / "riverside"
