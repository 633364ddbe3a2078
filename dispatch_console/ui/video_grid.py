"""The video grid: tiles that paint what they are handed, in the layout the user picks.

The widgets hold no rules. Which feed sits where is ``domain.grid_layout.Placement``;
what a tile may claim about its feed (live, stalled, reconnecting ...) is
``domain.feed_health.FeedHealth``, driven by ``ui.feeds``. A layout switch, a swap or a
maximize only moves widgets between cells: the players keep playing, no stream reopens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from PySide6.QtCore import QMimeData, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QDrag,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.feed_health import FeedHealth, TileState, format_age
from dispatch_console.domain.grid_layout import (
    DEFAULT_LAYOUT,
    LAYOUTS,
    MAX_TILES,
    GridLayout,
    Placement,
    layout,
)

TITLE_HEIGHT = 34
FOOTER_HEIGHT = 20
_TILE_MIME = "application/x-dispatch-console-tile"

_STATE_COLOUR = {
    TileState.CONNECTING: QColor("#9aa0a6"),
    TileState.LIVE: QColor("#ff5252"),
    TileState.STALLED: QColor("#ffb300"),
    TileState.RECONNECTING: QColor("#ffb300"),
    TileState.OFFLINE: QColor("#ff8f00"),
    TileState.ENDED: QColor("#9aa0a6"),
    TileState.FAILED: QColor("#ef5350"),
}


class _Draggable(QWidget):
    """A cell that can be dragged onto another cell (tile or empty) to swap them."""

    dropped = Signal(int, int)  # from position, to position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position = -1
        self._press: QPoint | None = None
        self.setAcceptDrops(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(480, 270 + TITLE_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(80, 60)

    def draggable(self) -> bool:
        return False

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = event.position().toPoint()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        start = self._press
        if start is None or not self.draggable():
            return
        if (event.position().toPoint() - start).manhattanLength() < 12:
            return
        self._press = None
        drag = QDrag(self)
        data = QMimeData()
        data.setData(_TILE_MIME, str(self.position).encode())
        drag.setMimeData(data)
        drag.exec(Qt.DropAction.MoveAction)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(_TILE_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        raw = bytes(event.mimeData().data(_TILE_MIME).data()).decode()
        if raw.lstrip("-").isdigit() and int(raw) != self.position:
            event.acceptProposedAction()
            self.dropped.emit(int(raw), self.position)


class VideoTile(_Draggable):
    """One feed: its picture letterboxed, and an overlay that never overstates the feed.

    ``close_requested(session_id)``; ``maximize_requested(session_id)`` on double-click;
    ``frame_painted(count)`` after paints that showed a picture.
    """

    close_requested = Signal(str)
    maximize_requested = Signal(str)
    select_requested = Signal(str)
    frame_painted = Signal(int)

    def __init__(self, session_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self.title = title
        self.place = ""  # school · floor
        self.status = "Connecting…"
        self.health: FeedHealth | None = None
        self.selected = False
        self._image: QImage | None = None
        self._painted = 0
        # perf_counter() when the first video frame reached the screen: the end point of
        # the time-to-first-frame benchmark, taken where the paint really happens.
        self.first_frame_painted_at: float | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close this feed (ends the viewing session)")
        self.close_button.setAutoRaise(True)
        self.close_button.setStyleSheet("color: white; font-weight: bold;")
        self.close_button.clicked.connect(lambda: self.close_requested.emit(self.session_id))

    @property
    def image(self) -> QImage | None:
        return self._image

    @property
    def frames_painted(self) -> int:
        return self._painted

    @property
    def state(self) -> TileState:
        return self.health.state if self.health is not None else TileState.CONNECTING

    @property
    def shows_live(self) -> bool:
        """The "LIVE · audited" mark is on: only while the feed's health says live."""
        return self.health is not None and self.health.is_live

    def draggable(self) -> bool:
        return True

    def set_frame(self, image: QImage) -> None:
        self._image = image
        self.status = ""
        self.update()

    def set_status(self, text: str) -> None:
        self.status = text
        self.update()

    def set_health(self, health: FeedHealth) -> None:
        """Show this feed's health (repainted on every call: the clock and age move)."""
        self.health = health
        self.update()

    def clear_picture(self) -> None:
        """Forget the last picture (a final state shows no stale video)."""
        self._image = None
        self.update()

    def resizeEvent(self, event: QResizeEvent) -> None:
        self.close_button.setGeometry(self.width() - TITLE_HEIGHT, 0, TITLE_HEIGHT, TITLE_HEIGHT)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        self.select_requested.emit(self.session_id)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.maximize_requested.emit(self.session_id)

    def video_rect(self) -> QRect:
        """Where the picture goes: between title and footer, letterboxed to its own shape."""
        area = self.rect().adjusted(0, TITLE_HEIGHT, 0, -FOOTER_HEIGHT)
        if self._image is None or self._image.isNull():
            return area
        size = self._image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        left = area.left() + (area.width() - size.width()) // 2
        top = area.top() + (area.height() - size.height()) // 2
        return QRect(left, top, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        now = time.monotonic()
        health = self.health
        state = self.state
        live = self.shows_live
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111317"))
        picture = self.video_rect()
        if self._image is not None and not self._image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(picture, self._image)
            if not live:
                # Not live: the picture is history. Dim it and cross-hatch it so nobody
                # takes a frozen frame for the present.
                painter.fillRect(picture, QColor(0, 0, 0, 150))
                painter.fillRect(
                    picture, QBrush(QColor(255, 179, 0, 70), Qt.BrushStyle.BDiagPattern)
                )
        label = health.label(now) if health is not None else self.status
        if not live and (label or self.status):
            painter.setPen(_STATE_COLOUR[state])
            font = QFont(self.font())
            font.setBold(True)
            font.setPointSizeF(font.pointSizeF() * 1.15)
            painter.setFont(font)
            text = label if health is not None else self.status
            if health is not None and self.status and state.final:
                text = self.status
            painter.drawText(
                self.rect().adjusted(8, TITLE_HEIGHT, -8, -FOOTER_HEIGHT),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                text,
            )
        self._paint_title(painter, live, state)
        self._paint_footer(painter, now, live, state)
        if self.selected:
            painter.setPen(QColor("#4fc3f7"))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()
        if self._image is not None:
            self._painted += 1
            if self.first_frame_painted_at is None:
                self.first_frame_painted_at = time.perf_counter()
            self.frame_painted.emit(self._painted)

    def _paint_title(self, painter: QPainter, live: bool, state: TileState) -> None:
        bar = QRect(0, 0, self.width(), TITLE_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0, 215))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(_STATE_COLOUR[state])
        painter.drawText(
            bar.adjusted(8, 2, 0, -TITLE_HEIGHT // 2), Qt.AlignmentFlag.AlignVCenter, "●"
        )
        badge = ""
        if live:
            badge = "LIVE · audited"
        elif state is not TileState.CONNECTING:
            badge = state.value.upper()
        right = TITLE_HEIGHT
        if badge:
            width = painter.fontMetrics().horizontalAdvance(badge) + 12
            box = QRect(self.width() - TITLE_HEIGHT - width - 4, 5, width, TITLE_HEIGHT - 10)
            painter.fillRect(box, QColor("#c62828") if live else QColor(60, 60, 60, 230))
            painter.setPen(QColor("white") if live else _STATE_COLOUR[state])
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, badge)
            right += width + 8
        painter.setPen(QColor("white"))
        painter.drawText(
            bar.adjusted(24, 1, -right, -TITLE_HEIGHT // 2 + 1),
            Qt.AlignmentFlag.AlignVCenter,
            painter.fontMetrics().elidedText(self.title, Qt.TextElideMode.ElideRight, 10_000),
        )
        font.setBold(False)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(font)
        painter.setPen(QColor("#c4c8ce"))
        painter.drawText(
            bar.adjusted(24, TITLE_HEIGHT // 2 - 1, -right, 0),
            Qt.AlignmentFlag.AlignVCenter,
            self.place,
        )

    def _paint_footer(self, painter: QPainter, now: float, live: bool, state: TileState) -> None:
        bar = QRect(0, self.height() - FOOTER_HEIGHT, self.width(), FOOTER_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0, 215))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.9)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(
            bar.adjusted(8, 0, 0, 0),
            Qt.AlignmentFlag.AlignVCenter,
            datetime.now().astimezone().strftime("%H:%M:%S"),
        )
        age = format_age(self.health.frame_age(now) if self.health is not None else None)
        painter.setPen(QColor("#c4c8ce") if live else _STATE_COLOUR[state])
        painter.drawText(
            bar.adjusted(0, 0, -8, 0),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            age,
        )


class _EmptySlot(_Draggable):
    """A free cell: where the next camera goes. It may say why its last feed ended."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = ""
        self.note_state: TileState | None = None

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1b1e23"))
        if self.note and self.note_state is not None:
            painter.setPen(_STATE_COLOUR[self.note_state])
            text = self.note
        else:
            painter.setPen(QColor("#6b7078"))
            text = "No feed\nClick an unlocked camera pin on the plan"
        painter.drawText(
            self.rect().adjusted(8, 8, -8, -8),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            text,
        )
        painter.end()


def ask_to_replace(parent: QWidget, grid_label: str, old: str, new: str) -> bool:
    """The default question when the grid is full (tests answer it themselves)."""
    answer = QMessageBox.question(
        parent,
        "The video grid is full",
        f"The {grid_label} grid is full.\n\nReplace “{old}” with “{new}”? The feed of “{old}” "
        "closes and its viewing session ends.\n\nOr choose a larger layout above the grid.",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        QMessageBox.StandardButton.Cancel,
    )
    return answer == QMessageBox.StandardButton.Yes


class VideoGrid(QWidget):
    """Tiles in the chosen layout; a new feed takes the next free tile.

    ``layout_changed(key)`` after a switch (for saving per user).
    """

    layout_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, layout_key: str = DEFAULT_LAYOUT) -> None:
        super().__init__(parent)
        self._layout_def: GridLayout = layout(layout_key)
        self._placement: Placement[str] = Placement(self._layout_def.capacity)
        self._tiles: dict[str, VideoTile] = {}
        self._empties: list[_EmptySlot] = []
        self._maximized: str | None = None
        self._selected: str | None = None
        # Asked before a feed is replaced in a full grid: (grid label, old, new) -> yes?
        self.confirm_replace: Callable[[str, str, str], bool] = lambda label, old, new: (
            ask_to_replace(self, label, old, new)
        )
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(QLabel("Layout:", self))
        self.layout_box = QComboBox(self)
        for key, grid in LAYOUTS.items():
            self.layout_box.addItem(grid.label, key)
        self.layout_box.setCurrentIndex(self.layout_box.findData(layout_key))
        self.layout_box.setToolTip(
            "Switching keeps every feed playing. Double-click a tile to maximize or restore "
            "it; drag a tile onto another to swap them."
        )
        self.layout_box.activated.connect(self._on_layout_chosen)
        bar.addWidget(self.layout_box)
        self.hint = QLabel("", self)
        self.hint.setStyleSheet("color: #5f6368;")
        bar.addWidget(self.hint, 1)
        outer.addLayout(bar)
        self._area = QWidget(self)
        self._cells = QGridLayout(self._area)
        self._cells.setContentsMargins(0, 0, 0, 0)
        self._cells.setSpacing(4)
        outer.addWidget(self._area, 1)
        self.setMinimumSize(2 * 240, 2 * (135 + TITLE_HEIGHT))
        self._arrange()

    # -- what is where -------------------------------------------------------------------

    @property
    def SLOTS(self) -> int:
        """Tiles in the current layout (the name from when the grid was a fixed 2×2)."""
        return self._layout_def.capacity

    @property
    def layout_key(self) -> str:
        return self._layout_def.key

    @property
    def tiles(self) -> list[VideoTile]:
        """Open feeds in tile order."""
        return [self._tiles[k] for k in self._placement.positions if k is not None]

    @property
    def positions(self) -> list[str | None]:
        return self._placement.positions

    @property
    def maximized(self) -> str | None:
        return self._maximized

    def tile(self, session_id: str) -> VideoTile | None:
        return self._tiles.get(session_id)

    def is_full(self) -> bool:
        return self._placement.next_free() is None

    def free_tiles(self) -> int:
        return self.SLOTS - len(self._placement)

    def note(self, position: int) -> str:
        """What a free cell says about the feed that last ended there ("" if nothing)."""
        if position < len(self._empties) and self._placement.positions[position] is None:
            return self._empties[position].note
        return ""

    def replacement_candidate(self) -> VideoTile | None:
        """The feed a full grid offers to replace: the selected tile, else the last one."""
        if self._selected is not None and self._selected in self._tiles:
            return self._tiles[self._selected]
        tiles = self.tiles
        return tiles[-1] if tiles else None

    # -- changes ------------------------------------------------------------------------

    def add_tile(self, session_id: str, title: str, place: str = "") -> VideoTile:
        if self.is_full():
            raise RuntimeError("the video grid is full")
        tile = VideoTile(session_id, title, self._area)
        tile.place = place
        tile.maximize_requested.connect(self.toggle_maximized)
        tile.select_requested.connect(self.select)
        tile.dropped.connect(self.swap)
        self._tiles[session_id] = tile
        self._placement.place(session_id)
        self._arrange()
        return tile

    def remove_tile(self, session_id: str, note: str = "", state: TileState | None = None) -> None:
        """Take a feed's tile away; its cell may say why (``note``) until it is reused."""
        tile = self._tiles.pop(session_id, None)
        position = self._placement.remove(session_id)
        if tile is None or position is None:
            return
        if self._maximized == session_id:
            self._maximized = None
        if self._selected == session_id:
            self._selected = None
        self._cells.removeWidget(tile)
        tile.hide()
        tile.deleteLater()
        self._arrange()
        if note:
            empty = self._empty_at(position)
            empty.note, empty.note_state = note, state
            empty.update()

    def set_layout(self, key: str) -> bool:
        """Switch layouts without touching any stream; False if the feeds do not fit."""
        wanted = layout(key)
        if not self._placement.resize(wanted.capacity):
            self.hint.setText(
                f"{len(self._placement)} feeds are open: {wanted.label} holds "
                f"{wanted.capacity}. Close feeds first."
            )
            self.layout_box.setCurrentIndex(self.layout_box.findData(self._layout_def.key))
            return False
        self._layout_def = wanted
        self._maximized = None
        self.hint.setText("")
        self.layout_box.setCurrentIndex(self.layout_box.findData(key))
        self._arrange()
        self.layout_changed.emit(key)
        return True

    def swap(self, a: int, b: int) -> None:
        """Swap two cells (drag and drop); feeds keep playing."""
        self._placement.swap(a, b)
        for position in (a, b):
            empty = self._empty_at(position) if position < len(self._empties) else None
            if empty is not None:
                empty.note = ""
        self._arrange()

    def toggle_maximized(self, session_id: str) -> None:
        """Double-click: one tile fills the grid; again, the layout comes back."""
        if session_id not in self._tiles:
            return
        self._maximized = None if self._maximized == session_id else session_id
        self.select(session_id)
        self._arrange()

    def select(self, session_id: str | None) -> None:
        for key, tile in self._tiles.items():
            tile.selected = key == session_id
            tile.update()
        self._selected = session_id

    # -- widgets ------------------------------------------------------------------------

    def _on_layout_chosen(self, index: int) -> None:
        key = self.layout_box.itemData(index)
        if isinstance(key, str) and key != self._layout_def.key:
            self.set_layout(key)

    def _empty_at(self, position: int) -> _EmptySlot:
        while len(self._empties) <= position:
            empty = _EmptySlot(self._area)
            empty.position = len(self._empties)
            empty.dropped.connect(self.swap)
            empty.hide()
            self._empties.append(empty)
        return self._empties[position]

    def _arrange(self) -> None:
        """Put every widget in its cell for the current layout (no stream is touched)."""
        self.setUpdatesEnabled(False)
        try:
            while self._cells.count():
                self._cells.takeAt(0)
            for line in range(MAX_TILES):
                self._cells.setRowStretch(line, 0)
                self._cells.setColumnStretch(line, 0)
            units = self._layout_def.units
            for line in range(units):  # equal cells whatever each widget's size hint
                self._cells.setRowStretch(line, 1)
                self._cells.setColumnStretch(line, 1)
            shown: set[int] = set()
            for position, key in enumerate(self._placement.positions):
                cell = self._layout_def.tiles[position]
                widget: _Draggable = (
                    self._tiles[key] if key is not None else self._empty_at(position)
                )
                widget.position = position
                if self._maximized is not None:
                    if key != self._maximized:
                        continue
                    self._cells.addWidget(widget, 0, 0, units, units)
                else:
                    self._cells.addWidget(widget, cell.row, cell.col, cell.rows, cell.cols)
                shown.add(id(widget))
            for widget in [*self._tiles.values(), *self._empties]:
                widget.setVisible(id(widget) in shown)
            self._cells.activate()  # geometry now, not at the next event-loop turn
        finally:
            self.setUpdatesEnabled(True)
