"""WCAG 2.x contrast between two sRGB colours, so themes can be checked, not eyeballed.

A dispatcher reads status words (emergency red, granted green, waiting amber) in a dim
room and the safety office reads them under office lights; WCAG's 4.5:1 for normal text
is the bar both themes must clear. Pure arithmetic, so the rule is tested without Qt.
"""

from __future__ import annotations

# WCAG 2.x, success criterion 1.4.3 (AA): normal-size text.
MINIMUM_TEXT_CONTRAST = 4.5


def _channel(value: int) -> float:
    """One sRGB channel (0–255) to linear light, as WCAG defines it."""
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def parse_hex(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` (or ``rrggbb``) to its three channels; anything else is refused."""
    text = colour.strip().lstrip("#")
    if len(text) != 6:
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except ValueError:
        raise ValueError(f"not a #rrggbb colour: {colour!r}") from None


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance: 0 for black, 1 for white."""
    r, g, b = (_channel(v) for v in parse_hex(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(foreground: str, background: str) -> float:
    """From 1 (same luminance) to 21 (black on white); symmetric in its arguments."""
    a, b = relative_luminance(foreground), relative_luminance(background)
    lighter, darker = max(a, b), min(a, b)
    return (lighter + 0.05) / (darker + 0.05)
