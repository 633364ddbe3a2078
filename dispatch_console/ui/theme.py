"""Colours, text size and the two themes, in one place, so views stay readable at a glance.

Dispatch rooms are dim, so the console starts dark; the safety office under office lights
may prefer the light theme (``theme = "light"``, or View → Dark theme). Both themes are
tables of ``#rrggbb`` colours: every text colour is declared with the backgrounds it is
drawn on (``Theme.text_pairs``), and a test holds each pair to WCAG's 4.5:1.

Two kinds of status colour exist, and they must not be mixed up:

* *fills* (``EMERGENCY``, ``GRANTED``, ``WAITING``, ``NEUTRAL``, ``CONFIRM``) carry white
  text (banners, the Declare and Approve buttons). They are deep enough for white text and
  the same in both themes, so an emergency banner looks the same on every desk;
* *text* colours (``EMERGENCY_TEXT``, ``GRANTED_TEXT``, ``WAITING_TEXT``, ``MUTED_TEXT``)
  are drawn on the theme's own background: bright on dark, deep on light. No single red
  can reach 4.5:1 on both a near-black and a white background, so these change with the
  theme. They are ``QColor`` objects updated in place, because views map their tones to
  them once at import; a view picks the new value up at its next render.

The floor plan follows the theme too (``Theme.plan``): at night it is drawn light on a
dark paper rather than as a white sheet, because a bright rectangle the size of half the
screen dazzles eyes adapted to a dim room and makes the video next to it look murky; the
coloured pins stand out better on the dark paper, and the room names are light text
held to the same 4.5:1 on every room fill.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from dispatch_console.domain.models import RoomKind

DARK = "dark"
LIGHT = "light"
THEMES = (DARK, LIGHT)

# Point sizes of the application font. "normal": 12 pt is 16 px on a 96-dpi desktop, a
# 3.2 mm capital on a 24" 1080p screen, read at a desk's 60–100 cm; "large": 15 pt for
# the back of the room or tired eyes. Points, not pixels: Qt scales them with the
# screen (125 %, 150 %, 200 %), so nothing is laid out in fixed pixels.
TEXT_SIZES: dict[str, float] = {"normal": 12.0, "large": 15.0}
DEFAULT_TEXT_SIZE = "normal"


@dataclass(frozen=True)
class PlanColours:
    """The floor plan's paper, rooms, walls and room names."""

    paper: str
    room_fill: dict[RoomKind, str]
    private_fill: str
    wall: str
    room_text: str


@dataclass(frozen=True)
class Theme:
    """One theme: the Qt palette's colours, status text colours and the plan's colours."""

    name: str
    window: str
    window_text: str
    base: str
    alternate_base: str
    text: str
    button: str
    button_text: str
    highlight: str
    highlighted_text: str
    tooltip_base: str
    tooltip_text: str
    placeholder: str
    disabled_text: str
    link: str
    mid: str
    focus: str
    emergency_text: str
    granted_text: str
    waiting_text: str
    muted_text: str
    # Message bar per level: (background, text).
    messages: dict[str, tuple[str, str]]
    plan: PlanColours
    # Fills carrying white text; the same in both themes (see the module's docstring).
    fills: dict[str, str] = field(
        default_factory=lambda: {
            "emergency": "#b3261e",
            "granted": "#1b7a43",
            "waiting": "#a35200",
            "neutral": "#5f6368",
            "confirm": "#8c1d18",
            "open": "#1565c0",
        }
    )

    def text_pairs(self) -> list[tuple[str, str, str]]:
        """Every (what, text, background) this theme draws text with; each must read."""
        pairs = [
            ("window text", self.window_text, self.window),
            ("text", self.text, self.base),
            ("alternate rows", self.text, self.alternate_base),
            ("button text", self.button_text, self.button),
            ("selected text", self.highlighted_text, self.highlight),
            ("tooltip", self.tooltip_text, self.tooltip_base),
            ("placeholder", self.placeholder, self.base),
            ("link", self.link, self.base),
            ("link on window", self.link, self.window),
        ]
        for role in ("emergency_text", "granted_text", "waiting_text", "muted_text"):
            colour = getattr(self, role)
            pairs += [(f"{role} on base", colour, self.base)]
            pairs += [(f"{role} on window", colour, self.window)]
        pairs += [(f"white on {name} fill", "#ffffff", fill) for name, fill in self.fills.items()]
        pairs += [(f"{level} message", fg, bg) for level, (bg, fg) in self.messages.items()]
        plan = self.plan
        pairs += [
            (f"room name on {kind.value}", plan.room_text, fill)
            for kind, fill in plan.room_fill.items()
        ]
        pairs += [("room name on private room", plan.room_text, plan.private_fill)]
        pairs += [("room name on paper", plan.room_text, plan.paper)]
        return pairs


DARK_THEME = Theme(
    name=DARK,
    window="#202326",
    window_text="#e8eaed",
    base="#17191c",
    alternate_base="#1f2226",
    text="#e8eaed",
    button="#2d3136",
    button_text="#e8eaed",
    highlight="#2f6fc4",
    highlighted_text="#ffffff",
    tooltip_base="#2d3136",
    tooltip_text="#e8eaed",
    placeholder="#9aa0a6",
    disabled_text="#7b8086",
    link="#8ab4f8",
    mid="#4a4f55",
    focus="#8ab4f8",
    emergency_text="#ff8a80",
    granted_text="#81c995",
    waiting_text="#f6ae2d",
    muted_text="#b0b5ba",
    messages={
        "info": ("#1c3a5e", "#d2e3fc"),
        "warning": ("#4a3800", "#fde293"),
        "error": ("#5c1a1a", "#f6c7c3"),
    },
    plan=PlanColours(
        paper="#14171a",
        room_fill={
            RoomKind.HALLWAY: "#27313c",
            RoomKind.CAFETERIA: "#3a3224",
            RoomKind.GYM: "#243528",
            RoomKind.AUDITORIUM: "#31273a",
            RoomKind.ENTRANCE: "#21363e",
            RoomKind.STAIRWELL: "#303336",
            RoomKind.EXTERIOR: "#2a3524",
            RoomKind.PARKING: "#2d2d29",
        },
        private_fill="#565b61",
        wall="#aeb4bb",
        room_text="#e8eaed",
    ),
)

LIGHT_THEME = Theme(
    name=LIGHT,
    window="#f1f3f4",
    window_text="#202124",
    base="#ffffff",
    alternate_base="#f6f7f8",
    text="#202124",
    button="#e8eaed",
    button_text="#202124",
    highlight="#1967d2",
    highlighted_text="#ffffff",
    tooltip_base="#ffffff",
    tooltip_text="#202124",
    placeholder="#5f6368",
    disabled_text="#9aa0a6",
    link="#1a56b0",
    mid="#c4c7c5",
    focus="#1967d2",
    emergency_text="#b3261e",
    granted_text="#13733d",
    waiting_text="#8f4700",
    muted_text="#5f6368",
    messages={
        "info": ("#e8f0fe", "#174ea6"),
        "warning": ("#fef7e0", "#7a4f01"),
        "error": ("#fce8e6", "#a50e0e"),
    },
    plan=PlanColours(
        paper="#ffffff",
        room_fill={
            RoomKind.HALLWAY: "#dfe8f1",
            RoomKind.CAFETERIA: "#f3e6cf",
            RoomKind.GYM: "#dcefdc",
            RoomKind.AUDITORIUM: "#eadff2",
            RoomKind.ENTRANCE: "#cfe6ef",
            RoomKind.STAIRWELL: "#e4e4e4",
            RoomKind.EXTERIOR: "#e3efd7",
            RoomKind.PARKING: "#e6e6e0",
        },
        private_fill="#c9c9c9",
        wall="#4a4f57",
        room_text="#30343a",
    ),
)

BY_NAME: dict[str, Theme] = {DARK: DARK_THEME, LIGHT: LIGHT_THEME}
_active: Theme = DARK_THEME
_text_size: str = DEFAULT_TEXT_SIZE

# Fills with white text: the same in both themes.
EMERGENCY = QColor(DARK_THEME.fills["emergency"])
GRANTED = QColor(DARK_THEME.fills["granted"])
WAITING = QColor(DARK_THEME.fills["waiting"])
NEUTRAL = QColor(DARK_THEME.fills["neutral"])
CONFIRM = QColor(DARK_THEME.fills["confirm"])

# Text on the theme's background: updated in place by ``apply_theme``.
EMERGENCY_TEXT = QColor(DARK_THEME.emergency_text)
GRANTED_TEXT = QColor(DARK_THEME.granted_text)
WAITING_TEXT = QColor(DARK_THEME.waiting_text)
MUTED_TEXT = QColor(DARK_THEME.muted_text)

# Pins show their state by shape as well as colour; these read on both papers, with the
# white outline the map draws around them.
PIN_UNLOCKED = QColor("#1f8f4e")
PIN_LOCKED = QColor("#9a9fa6")
PIN_NEVER = QColor("#b3261e")
PIN_OPEN = QColor("#1565c0")
PIN_OFFLINE = QColor("#e0a100")

PIXELS_PER_METRE = 10.0


def active() -> Theme:
    """The theme the application was last given (dark until then)."""
    return _active


def text_size() -> str:
    return _text_size


def message_style(level: str) -> str:
    """The stylesheet body of a message bar ("info", "warning", "error") in this theme."""
    background, foreground = _active.messages[level]
    return f"background: {background}; color: {foreground};"


def palette_for(theme: Theme) -> QPalette:
    """The Qt palette of a theme (Fusion draws every standard control from it)."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.window_text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.alternate_base,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.button,
        QPalette.ColorRole.ButtonText: theme.button_text,
        QPalette.ColorRole.Highlight: theme.highlight,
        QPalette.ColorRole.HighlightedText: theme.highlighted_text,
        QPalette.ColorRole.ToolTipBase: theme.tooltip_base,
        QPalette.ColorRole.ToolTipText: theme.tooltip_text,
        QPalette.ColorRole.PlaceholderText: theme.placeholder,
        QPalette.ColorRole.Link: theme.link,
        QPalette.ColorRole.LinkVisited: theme.link,
        QPalette.ColorRole.Mid: theme.mid,
        QPalette.ColorRole.BrightText: "#ffffff",
    }
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    disabled = QPalette.ColorGroup.Disabled
    for role in (
        QPalette.ColorRole.WindowText,
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
    ):
        palette.setColor(disabled, role, QColor(theme.disabled_text))
    return palette


def stylesheet_for(theme: Theme) -> str:
    """What the palette cannot say: a focus ring a keyboard user sees from a metre away,
    tooltips and menus in the theme's colours."""
    return f"""
QToolTip {{ color: {theme.tooltip_text}; background: {theme.tooltip_base};
            border: 1px solid {theme.mid}; padding: 4px; }}
QPushButton, QToolButton, QComboBox, QLineEdit, QListWidget, QTableView, QTabBar::tab,
QTreeView, QSpinBox, QTextEdit, QPlainTextEdit {{ outline: none; }}
QPushButton:focus, QComboBox:focus, QLineEdit:focus, QListWidget:focus, QTableView:focus,
QTreeView:focus, QSpinBox:focus, QTextEdit:focus, QPlainTextEdit:focus,
QGraphicsView:focus {{ border: 2px solid {theme.focus}; border-radius: 3px; }}
QTabBar::tab:focus {{ border-bottom: 2px solid {theme.focus}; }}
QMenu {{ background: {theme.base}; color: {theme.text}; border: 1px solid {theme.mid}; }}
QMenu::item:selected {{ background: {theme.highlight}; color: {theme.highlighted_text}; }}
"""


def apply_theme(app: QApplication, name: str, size: str | None = None) -> Theme:
    """Make ``name`` ("dark" or "light") the application's theme, at once, everywhere.

    Sets Fusion (the one style that draws the same on Linux and Windows and honours the
    palette), the palette, the small stylesheet and the application font; updates the
    text colours in place. Widgets get Qt's palette-change event; the floor plan redraws
    its cached tiles on it.
    """
    global _active, _text_size
    theme = BY_NAME[name]
    _active = theme
    for colour, value in (
        (EMERGENCY_TEXT, theme.emergency_text),
        (GRANTED_TEXT, theme.granted_text),
        (WAITING_TEXT, theme.waiting_text),
        (MUTED_TEXT, theme.muted_text),
    ):
        colour.setRgb(QColor(value).rgb())
    if app.style().name().lower() != "fusion":
        app.setStyle("Fusion")
    if size is not None:
        _text_size = size
        font = QFont(app.font())
        font.setPointSizeF(TEXT_SIZES[size])
        app.setFont(font)
    app.setPalette(palette_for(theme))
    app.setStyleSheet(stylesheet_for(theme))
    return theme
