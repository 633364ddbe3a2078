"""Every keyboard path of a desk, in one table, and the menus that show them.

A dispatcher on the phone keeps a hand on the keyboard; a safety officer approving a
request should not hunt for a button with the mouse. Each key here goes through the very
path a click takes (the same button's ``click()``, the same pin signal), so a key can
never do something a click would not, nor skip a confirmation or a reason dialog.

``SHORTCUTS`` is the table the Help → Keyboard shortcuts dialog and the README show; the
entries marked ``bound_elsewhere`` are keys the views handle themselves (they are listed so
the dialog is complete).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.desk_keys import NUMBERED_CAMERAS, camera_number, oldest_awaiting
from dispatch_console.domain.policy import AccessAction

from . import theme
from .main_window import MainWindow

BOTH, POLICE, DISTRICT = "both desks", "dispatcher desk", "district desk"


@dataclass(frozen=True)
class Shortcut:
    """One key: what it does, on which desk, and whether this module binds it."""

    name: str
    keys: str  # QKeySequence's portable text
    does: str
    desk: str = BOTH
    bound_elsewhere: bool = False


DECLARE = Shortcut(
    "declare",
    "Ctrl+Shift+E",
    "Declare the emergency typed in the emergency row (with no threat basis yet, it puts "
    "the cursor there first)",
)
APPROVE = Shortcut(
    "approve",
    "Ctrl+Shift+Y",
    "Approve the request that has waited longest (whole school, default time)",
    DISTRICT,
)
DENY = Shortcut(
    "deny",
    "Ctrl+Shift+N",
    "Deny the request that has waited longest (asks for the reason)",
    DISTRICT,
)
OPEN_CAMERA = Shortcut(
    "open camera",
    "Ctrl+1 … Ctrl+9",
    "Open camera n of the floor in view (the number printed beside its pin)",
)
CLOSE_TILE = Shortcut(
    "close tile", "Ctrl+W", "Close the selected video tile (ends its viewing session)"
)
NEXT_REGION = Shortcut(
    "next region",
    "F6",
    "Move to the next part of the window: search, emergency, map, video grid, "
    "emergencies and access, viewing sessions",
)
PREVIOUS_REGION = Shortcut("previous region", "Shift+F6", "Move to the previous part")
THEME = Shortcut("theme", "Ctrl+Shift+T", "Switch between the dark and the light theme")
HELP = Shortcut("help", "F1", "This list of keys")

SHORTCUTS: tuple[Shortcut, ...] = (
    DECLARE,
    APPROVE,
    DENY,
    OPEN_CAMERA,
    CLOSE_TILE,
    NEXT_REGION,
    PREVIOUS_REGION,
    Shortcut("find", "Ctrl+F", "Find a camera by name, room or number", bound_elsewhere=True),
    Shortcut(
        "covering",
        "Ctrl+Shift+L",
        "Open the cameras covering the emergency's location (ringed on the plan)",
        bound_elsewhere=True,  # ui/emergency_spot
    ),
    Shortcut("floors", "PgUp / PgDn", "Next floor up or down", bound_elsewhere=True),
    Shortcut("overview", "Alt+Home", "Back to the district overview", bound_elsewhere=True),
    Shortcut(
        "zoom",
        "+ / − / 0",
        "Zoom the floor plan in, out, or fit the floor (map focused)",
        bound_elsewhere=True,
    ),
    Shortcut("audit", "Ctrl+Shift+A", "Audit trail", DISTRICT, bound_elsewhere=True),
    THEME,
    HELP,
)


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: the table above, for this desk."""

    def __init__(self, desk: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = [s for s in SHORTCUTS if s.desk in (BOTH, desk)]
        self.table = QTableWidget(len(rows), 2, self)
        self.table.setObjectName("shortcutsTable")
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setAccessibleDescription("Each key and what it does on this desk")
        self.table.setHorizontalHeaderLabels(["Keys", "What it does"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(True)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, shortcut in enumerate(rows):
            self.table.setItem(row, 0, QTableWidgetItem(shortcut.keys))
            self.table.setItem(row, 1, QTableWidgetItem(shortcut.does))
        self.table.resizeRowsToContents()
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Keys of the {desk}:", self))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        width = self.fontMetrics().horizontalAdvance("M") * 48
        self.resize(width, self.fontMetrics().height() * (len(rows) * 2 + 6))


class DeskKeys(QObject):
    """Binds the table's keys on one window, and adds its View and Help menus.

    ``redraw`` is called after the theme changed, to render what views coloured
    themselves (banner, emergency list, overview) in the new theme's colours.
    """

    def __init__(
        self, window: MainWindow, *, redraw: Callable[[], None], district_desk: bool
    ) -> None:
        super().__init__(window)
        self.window = window
        self._redraw = redraw
        self.desk = DISTRICT if district_desk else POLICE
        self.dialog: ShortcutsDialog | None = None
        window.closed.connect(self._close_dialog)
        self.shortcuts: dict[str, QShortcut] = {}
        self._bind(DECLARE, self.declare)
        if district_desk:
            self._bind(APPROVE, lambda: self.act_on_oldest(AccessAction.APPROVE))
            self._bind(DENY, lambda: self.act_on_oldest(AccessAction.DENY))
        for n in range(1, NUMBERED_CAMERAS + 1):
            self._bind(OPEN_CAMERA, functools.partial(self.open_camera, n), keys=f"Ctrl+{n}")
        self._bind(CLOSE_TILE, self.close_tile)
        self._bind(NEXT_REGION, lambda: self.move_focus(+1))
        self._bind(PREVIOUS_REGION, lambda: self.move_focus(-1))

        view = window.menuBar().addMenu("&View")
        self.dark_action = QAction("&Dark theme", window)
        self.dark_action.setCheckable(True)
        self.dark_action.setChecked(theme.active().name == theme.DARK)
        self.dark_action.setShortcut(QKeySequence(THEME.keys))
        self.dark_action.setToolTip("Dark for dim dispatch rooms, light for bright offices")
        self.dark_action.toggled.connect(self.set_dark)
        self.large_action = QAction("&Large text", window)
        self.large_action.setCheckable(True)
        self.large_action.setChecked(theme.text_size() == "large")
        self.large_action.toggled.connect(self.set_large_text)
        view.addAction(self.dark_action)
        view.addAction(self.large_action)
        help_menu = window.menuBar().addMenu("&Help")
        self.help_action = QAction("&Keyboard shortcuts", window)
        self.help_action.setShortcut(QKeySequence(HELP.keys))
        self.help_action.triggered.connect(self.show_help)
        help_menu.addAction(self.help_action)
        for action in (self.dark_action, self.help_action):
            window.addAction(action)  # the keys work wherever the focus is in the window

    def _bind(self, shortcut: Shortcut, slot: Callable[[], None], keys: str = "") -> None:
        key = QShortcut(QKeySequence(keys or shortcut.keys), self.window)
        key.setContext(Qt.ShortcutContext.WindowShortcut)
        key.activated.connect(slot)
        self.shortcuts[keys or shortcut.keys] = key

    # -- the actions ----------------------------------------------------------------------

    def declare(self) -> None:
        """The same click as the Declare button; an empty threat basis is asked for first."""
        panel = self.window.emergency
        if panel.declare.isHidden() or not panel.declare.isEnabled():
            self.window.show_message("This desk cannot declare an emergency now.", "warning")
            return
        if not panel.basis.text().strip():
            panel.basis.setFocus()
            self.window.show_message(
                "State the threat basis (the district records why), then press "
                f"{DECLARE.keys} again.",
                "warning",
            )
            return
        panel.declare.click()

    def act_on_oldest(self, action: AccessAction) -> None:
        """Approve or deny the oldest waiting request, by clicking its row's button."""
        rows = {row.status.emergency.id: row for row in self.window.access.rows if row.status}
        status = oldest_awaiting([row.status for row in rows.values() if row.status], action)
        if status is None:
            self.window.show_message("No request is waiting for the district.", "info")
            return
        row = rows[status.emergency.id]
        button = row.approve if action is AccessAction.APPROVE else row.deny
        if button.isHidden() or not button.isEnabled():
            self.window.show_message("That request is already being answered.", "info")
            return
        button.click()

    def open_camera(self, n: int) -> None:
        """Camera n of the floor in view, as if its pin were clicked."""
        floor = self.window.map.floor
        if floor is None or self.window.map_stack.currentIndex() != 1:
            self.window.show_message("Choose a school and a floor first.", "warning")
            return
        camera = camera_number(floor, n)
        if camera is None:
            self.window.show_message(f"{floor.name} has no camera {n}.", "warning")
            return
        self.window.map.camera_clicked.emit(camera.id)

    def close_tile(self) -> None:
        """The selected tile (or the only one), as if its ✕ were clicked."""
        tiles = self.window.grid.tiles
        chosen = next((tile for tile in tiles if tile.selected), None)
        if chosen is None and len(tiles) == 1:
            chosen = tiles[0]
        if chosen is None:
            text = "Select a tile first (click it)." if tiles else "No feed is open."
            self.window.show_message(text, "info")
            return
        chosen.close_requested.emit(chosen.session_id)

    def regions(self) -> list[tuple[str, QWidget]]:
        """The window's parts in F6 order, each with the widget that takes the focus."""
        window = self.window
        found: list[tuple[str, QWidget]] = [("search", window.search)]
        if window.emergency.isVisible():
            found.append(("emergency", window.emergency.kind))
        if window.map_stack.currentIndex() == 0:
            found.append(("district overview", window.overview.schools))
        else:
            found.append(("floor plan", window.map))
        grid = window.grid
        grid_focus = grid if grid.focusPolicy() != Qt.FocusPolicy.NoFocus else grid.layout_box
        found.append(("video grid", grid_focus))
        buttons = [
            button
            for row in window.access.rows
            for button in row.findChildren(QPushButton)
            if button.isVisible() and button.isEnabled()
        ]
        if buttons:
            found.append(("emergencies and access", buttons[0]))
        if window.board is not None:
            found.append(("viewing sessions", window.board))
        return found

    def move_focus(self, step: int) -> None:
        regions = self.regions()
        focused = QApplication.focusWidget()
        current = -1
        for index, (_name, widget) in enumerate(regions):
            if focused is not None and (focused is widget or widget.isAncestorOf(focused)):
                current = index
        if current == -1 and focused is not None:
            # Inside a region through another of its widgets (a row's second button...).
            for index, (name, widget) in enumerate(regions):
                container = self._container(name, widget)
                if container.isAncestorOf(focused):
                    current = index
        name, widget = regions[(current + step) % len(regions)]
        widget.setFocus(
            Qt.FocusReason.TabFocusReason if step > 0 else Qt.FocusReason.BacktabFocusReason
        )
        self.window.statusBar().showMessage(f"Focus: {name}", 3000)

    def _container(self, name: str, widget: QWidget) -> QWidget:
        window = self.window
        containers: dict[str, QWidget] = {
            "emergency": window.emergency,
            "video grid": window.grid,
            "emergencies and access": window.access,
        }
        return containers.get(name, widget)

    # -- view and help --------------------------------------------------------------------

    def set_dark(self, dark: bool) -> None:
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        theme.apply_theme(app, theme.DARK if dark else theme.LIGHT)
        self._redraw()

    def set_large_text(self, large: bool) -> None:
        app = QApplication.instance()
        if not isinstance(app, QApplication):
            return
        theme.apply_theme(app, theme.active().name, "large" if large else "normal")
        self._redraw()

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.close()

    def show_help(self) -> None:
        if self.dialog is None:
            self.dialog = ShortcutsDialog(self.desk, self.window)
        self.dialog.show()
        self.dialog.raise_()
        self.dialog.activateWindow()
