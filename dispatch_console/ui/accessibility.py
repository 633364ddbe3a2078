"""Accessible names and descriptions for the desk's own controls, and the rule a test uses.

A screen reader announces a control by its accessible name; Qt derives one from a
button's text or a label's buddy, but a combo box, a search field with only a
placeholder, the floor tabs, the plan or the video grid have none. They are named here,
in one table, for the widgets ``MainWindow`` builds; panels owned elsewhere name their own.

``unnamed_controls`` is the check: every interactive widget (buttons, fields, lists,
tables, sliders, the plan, the video tiles) must have a non-empty name as Qt's
accessibility tree reports it, i.e. what a screen reader would say.
"""

from __future__ import annotations

from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QComboBox,
    QGraphicsView,
    QHeaderView,
    QLineEdit,
    QScrollBar,
    QTabBar,
    QTextEdit,
    QWidget,
)

from .main_window import MainWindow
from .video_grid import VideoTile

INTERACTIVE: tuple[type[QWidget], ...] = (
    QAbstractButton,
    QLineEdit,
    QComboBox,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QTabBar,
    QTextEdit,
    QGraphicsView,
    VideoTile,
)


def name_main_window(window: MainWindow) -> None:
    """Name and describe the controls the main window builds itself."""
    named: list[tuple[QWidget, str, str]] = [
        (window.school, "School", "The school whose plan and emergency row are shown"),
        (
            window.search,
            "Find camera",
            "Type a camera's name, room or number and press Enter (Ctrl+F)",
        ),
        (window.floors, "Floors", "The school's floors; Page Up and Page Down step through them"),
        (
            window.map,
            "Floor plan",
            "Camera pins: Ctrl+1 to Ctrl+9 open the numbered cameras; + and − zoom, 0 fits",
        ),
        (
            window.overview.schools,
            "Schools of the district",
            "Each school with its emergency state; Enter opens its plan",
        ),
        (window.breadcrumb, "Where the map is", "District, school, building and floor"),
        (window.grid, "Video grid", "Open feeds; Ctrl+W closes the selected tile"),
        (window.access, "Emergencies and access", "Every active emergency and its police access"),
        (window.emergency, "Emergency", "Declare an emergency at the chosen school"),
        (window.emergency.kind, "Emergency type", "What kind of emergency to declare"),
        (
            window.emergency.basis,
            "Threat basis",
            "Why an emergency is declared (the district records it); Ctrl+Shift+E declares",
        ),
    ]
    if window.board is not None:
        named.append(
            (window.board, "Viewing sessions", "Who watches which camera now, and recently")
        )
    for widget, name, description in named:
        if not widget.accessibleName():
            widget.setAccessibleName(name)
        if not widget.accessibleDescription():
            widget.setAccessibleDescription(description)


def accessible_name(widget: QWidget) -> str:
    """What a screen reader calls the widget: Qt's accessibility interface's name."""
    interface = QAccessible.queryAccessibleInterface(widget)
    if interface is None or not interface.isValid():
        return widget.accessibleName()
    return interface.text(QAccessible.Text.Name).strip()


def parent_chain(widget: QWidget) -> str:
    """``QPushButton 'approve' < EmergencyRow 'emergencyRow' < …``: where a widget sits."""
    parts = []
    current: QWidget | None = widget
    while current is not None:
        parts.append(f"{type(current).__name__} {current.objectName()!r}")
        current = current.parentWidget()
    return " < ".join(parts)


# Parts of a view that a screen reader announces through the view, by their role
# ("vertical scroll bar", a column header's own text): not controls of their own.
PARTS: tuple[type[QWidget], ...] = (QScrollBar, QHeaderView)


def unnamed_controls(root: QWidget) -> list[str]:
    """Every visible interactive widget under ``root`` (itself included) with no name."""
    missing = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not isinstance(widget, INTERACTIVE) or isinstance(widget, PARTS):
            continue
        if not widget.isVisibleTo(root):
            continue
        if not accessible_name(widget):
            missing.append(parent_chain(widget))
    return missing
