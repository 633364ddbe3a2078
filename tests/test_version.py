"""One version, from one place: the package, --version and the changelog agree."""

from __future__ import annotations

import importlib.metadata
import re

from dispatch_console import __version__
from tests.paths import ROOT


def test_version_comes_from_the_package() -> None:
    """pyproject reads it from dispatch_console.__version__ (test_cli checks --version)."""
    assert importlib.metadata.version("dispatch-console") == __version__


def test_the_changelog_has_an_entry_for_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    headings = re.findall(r"^## (\S+)", changelog, flags=re.MULTILINE)
    assert headings and headings[0] == __version__
