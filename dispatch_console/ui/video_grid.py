"""The video grid: tiles that paint what they are handed, in the layout the user picks.

The widgets hold no rules. Which feed sits where is ``domain.grid_layout.Placement``;
what a tile may claim about its feed (live, stalled, reconnecting ...) is
``domain.feed_health.FeedHealth``, driven by ``ui.feeds``. A layout switch, a swap or a
maximize only moves widgets between cells: the players keep playing, no stream reopens.
Detaching the grid to its own window (``GridHome``) moves the same widget, for the same
reason.

A free cell may keep a *placeholder*: the camera the user had there (restored from the
last sign-in, or whose feed ended). It never plays by itself; a click reopens it through
the console's open path, which starts a new audited session only if a grant allows it.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QByteArray, QMimeData, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QBrush,
    QCloseEvent,
    QColor,
    QDrag,
    QDragEnterEvent,
    QDropEvent,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.feed_health import FeedHealth, TileState, format_age
from dispatch_console.domain.grid_layout import (
    CAMERA_MIME,
    DEFAULT_LAYOUT,
    LAYOUTS,
    MAX_TILES,
    GridLayout,
    Placement,
    SavedGrid,
    Stream,
    layout,
    stream_for_tile,
)

TITLE_HEIGHT = 34
_TILE_BACKGROUND = QColor("#111317")
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


@dataclass(frozen=True)
class Placeholder:
    """A camera remembered in a free cell: shown, never played until the user asks."""

    camera_id: str
    title: str
    place: str = ""
    note: str = ""


# What a restored placeholder says: why it is not playing, and how to get it back.
RESTORED_NOTE = (
    "Not playing: restored from your last sign-in. Every view needs its own audited "
    "session under a grant in force now."
)


class _Draggable(QWidget):
    """A cell that can be dragged onto another cell (tile or empty) to swap them, and
    that takes a camera pin dropped from the map (``camera_dropped(camera_id, position)``)."""

    dropped = Signal(int, int)  # from position, to position
    camera_dropped = Signal(str, int)

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
        if event.mimeData().hasFormat(_TILE_MIME) or event.mimeData().hasFormat(CAMERA_MIME):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if event.mimeData().hasFormat(CAMERA_MIME):
            camera_id = bytes(event.mimeData().data(CAMERA_MIME).data()).decode(errors="replace")
            if camera_id:
                event.acceptProposedAction()
                self.camera_dropped.emit(camera_id, self.position)
            return
        raw = bytes(event.mimeData().data(_TILE_MIME).data()).decode()
        if raw.lstrip("-").isdigit() and int(raw) != self.position:
            event.acceptProposedAction()
            self.dropped.emit(int(raw), self.position)


def _letterbox(area: QRect, picture: QRect) -> list[QRect]:
    """The parts of ``area`` around ``picture`` (all of it when there is no picture)."""
    if picture.isEmpty():
        return [area]
    bands = [
        QRect(area.left(), area.top(), area.width(), picture.top() - area.top()),
        QRect(area.left(), picture.bottom() + 1, area.width(), area.bottom() - picture.bottom()),
        QRect(area.left(), picture.top(), picture.left() - area.left(), picture.height()),
        QRect(picture.right() + 1, picture.top(), area.right() - picture.right(), picture.height()),
    ]
    return [band for band in bands if not band.isEmpty()]


class VideoTile(_Draggable):
    """One feed: its picture letterboxed, and an overlay that never overstates the feed.

    ``close_requested(session_id)``; ``maximize_requested(session_id)`` on double-click;
    ``frame_painted(count)`` after paints that showed a picture.
    """

    close_requested = Signal(str)
    maximize_requested = Signal(str)
    select_requested = Signal(str)
    frame_painted = Signal(int)

    def __init__(
        self, session_id: str, title: str, parent: QWidget | None = None, camera_id: str = ""
    ) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self.camera_id = camera_id
        self.title = title
        self.place = ""  # school · floor
        self.status = "Connecting…"
        # Which stream is on screen, and the one being switched to (its first picture
        # not decoded yet: the old picture stays until it is).
        self.stream: Stream = "sub"
        self.switching_to: Stream | None = None
        self.health: FeedHealth | None = None
        self.selected = False
        self._image: QImage | None = None
        self._painted = 0
        # What the last paint showed: the state and its words, and the footer's texts
        # (set_health repaints only the part that changed).
        self._shown_state: tuple[TileState, str] | None = None
        self._shown_footer: tuple[str, str] | None = None
        self._bars: dict[str, tuple[tuple[object, ...], QPixmap]] = {}  # name -> (key, bar)
        # perf_counter() when the first video frame reached the screen: the end point of
        # the time-to-first-frame benchmark, taken where the paint really happens.
        self.first_frame_painted_at: float | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.close_button = QToolButton(self)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Close this feed (ends the viewing session)")
        self.close_button.setAccessibleName(f"Close {title}")
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
        """Keep the picture; repaint only if it can be seen. A hidden tile (another
        layout, a maximized neighbour, a hidden grid) or a minimized window paints
        nothing: Qt paints it with the latest picture when it shows again."""
        self._image = image
        had_status, self.status = bool(self.status), ""
        if not self.isVisible() or self.window().isMinimized():
            return
        if had_status or self._overlay_state(time.monotonic()) != self._shown_state:
            self.update()  # the first picture, or the feed is live again: the bars change
        else:
            # Only the picture changed: the title and footer bars are left as they are.
            self.update(self.video_area())

    def set_status(self, text: str) -> None:
        self.status = text
        self.update()

    def set_health(self, health: FeedHealth) -> None:
        """Show this feed's health. The watchdog calls this four times a second: only what
        the health changes on screen is repainted (on a live tile usually just the footer,
        once a second for the clock), never the picture for the clock's sake."""
        self.health = health
        self._name_for_screen_readers()
        now = time.monotonic()
        if self._overlay_state(now) != self._shown_state:
            self.update()
        elif self._footer_text(now) != self._shown_footer:
            self.update(self._footer_rect())

    def set_stream(self, stream: Stream, switching_to: Stream | None = None) -> None:
        self.stream, self.switching_to = stream, switching_to
        self.update()

    def _name_for_screen_readers(self) -> None:
        state = self.state.value
        name = f"Video tile {self.position + 1}: {self.title}, {state}"
        if self.accessibleName() != name:
            self.setAccessibleName(name)
            self.setAccessibleDescription(
                f"{self.place}. Double-click to maximize or restore; drag onto another "
                "tile to swap."
            )

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

    def video_area(self) -> QRect:
        """Where pictures go: between the title and the footer."""
        return self.rect().adjusted(0, TITLE_HEIGHT, 0, -FOOTER_HEIGHT)

    def _overlay_state(self, now: float) -> tuple[TileState, str]:
        """The state and the words over the picture (none while live) as they are now."""
        health = self.health
        if health is None:
            return TileState.CONNECTING, self.status
        return health.state, "" if health.is_live else health.label(now)

    def _footer_rect(self) -> QRect:
        return QRect(0, self.height() - FOOTER_HEIGHT, self.width(), FOOTER_HEIGHT)

    def _footer_text(self, now: float) -> tuple[str, str]:
        """The footer's clock and picture age as they read at ``now``."""
        clock = datetime.now().astimezone().strftime("%H:%M:%S")
        age = format_age(self.health.frame_age(now) if self.health is not None else None)
        return clock, age

    def video_rect(self) -> QRect:
        """Where the picture goes: between title and footer, letterboxed to its own shape.

        A picture decoded at the tile's size (feeds.py asks libVLC for it) is placed
        unscaled: scaling it by a pixel or two would cost a scaled copy of every picture.
        """
        area = self.video_area()
        if self._image is None or self._image.isNull():
            return area
        size = self._image.size()
        fits = size.width() <= area.width() and size.height() <= area.height()
        if not (fits and (size.width() >= area.width() - 2 or size.height() >= area.height() - 2)):
            size = size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        left = area.left() + (area.width() - size.width()) // 2
        top = area.top() + (area.height() - size.height()) // 2
        return QRect(left, top, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        """Paint what the update asked for: a new picture repaints the picture area, the
        clock the footer; the bars come from cached pixmaps."""
        now = time.monotonic()
        health = self.health
        state = self.state
        live = self.shows_live
        exposed = event.rect()
        painter = QPainter(self)
        area = self.video_area()
        picture = self.video_rect()
        shows_picture = self._image is not None and not self._image.isNull()
        paints_picture = shows_picture and exposed.intersects(picture)
        # The opaque tile paints every pixel it was asked for: the letterbox bands (or the
        # whole area without a picture), then the picture over the rest.
        for band in _letterbox(area, picture if shows_picture else QRect()):
            if exposed.intersects(band):
                painter.fillRect(band, _TILE_BACKGROUND)
        if paints_picture:
            assert self._image is not None
            # Streams decode at the tile's size and are copied unscaled; only a picture
            # the tile outgrew (a layout switch keeps the decoder's size) is smoothed.
            if picture.size() != self._image.size():
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
        if not live and (label or self.status) and exposed.intersects(area):
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
        # The bars change far less often than the picture: drawn once, then copied.
        ratio = self.devicePixelRatioF()
        if exposed.top() < TITLE_HEIGHT:
            title_key = (self.width(), self.title, self.place, live, state, ratio)
            painter.drawPixmap(
                0,
                0,
                self._bar(
                    "title", title_key, TITLE_HEIGHT, lambda p: self._paint_title(p, live, state)
                ),
            )
        footer_rect = self._footer_rect()
        if exposed.intersects(footer_rect):
            clock, age = self._shown_footer = self._footer_text(now)
            footer_key = (
                self.width(), clock, age, self.stream, self.switching_to, live, state, ratio
            )  # fmt: skip
            painter.drawPixmap(
                0,
                footer_rect.top(),
                self._bar(
                    "footer",
                    footer_key,
                    FOOTER_HEIGHT,
                    lambda p: self._paint_footer(p, clock, age, live, state),
                ),
            )
        if exposed.intersects(area):
            self._shown_state = self._overlay_state(now)
        if self.selected:
            painter.setPen(QColor("#4fc3f7"))
            painter.drawRect(self.rect().adjusted(0, 0, -1, -1))
        painter.end()
        if paints_picture:
            self._painted += 1
            if self.first_frame_painted_at is None:
                self.first_frame_painted_at = time.perf_counter()
            self.frame_painted.emit(self._painted)

    def _bar(
        self, name: str, key: tuple[object, ...], height: int, draw: Callable[[QPainter], None]
    ) -> QPixmap:
        cached = self._bars.get(name)
        if cached is not None and cached[0] == key:
            return cached[1]
        ratio = self.devicePixelRatioF()
        pixmap = QPixmap(max(1, round(self.width() * ratio)), max(1, round(height * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(_TILE_BACKGROUND)
        painter = QPainter(pixmap)
        painter.setFont(self.font())
        draw(painter)
        painter.end()
        self._bars[name] = (key, pixmap)
        return pixmap

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

    def _paint_footer(
        self, painter: QPainter, clock: str, age: str, live: bool, state: TileState
    ) -> None:
        """The footer bar at the painter's origin (drawn into its cached pixmap)."""
        bar = QRect(0, 0, self.width(), FOOTER_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0, 215))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 0.9)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(bar.adjusted(8, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, clock)
        stream = "MAIN" if self.stream == "main" else "SUB"
        if self.switching_to is not None:
            stream = f"{stream} → {self.switching_to.upper()}…"
        if self.width() >= 360:  # a small tile has room for the clock and the age only
            painter.setPen(QColor("#8ab4f8"))
            painter.drawText(
                bar.adjusted(80, 0, 0, 0),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                stream,
            )
        painter.setPen(QColor("#c4c8ce") if live else _STATE_COLOUR[state])
        if painter.fontMetrics().horizontalAdvance(f"00:00:00  {age}") + 24 > self.width():
            age = age.removeprefix("last picture ")  # a small tile: the clock stays readable
        painter.drawText(
            bar.adjusted(0, 0, -8, 0),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            age,
        )


class _EmptySlot(_Draggable):
    """A free cell: where the next camera goes. It may say why its last feed ended, and
    keep a placeholder for a camera, which a click (or Enter) asks to reopen."""

    reopen_requested = Signal(str, int)  # camera id, position

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = ""
        self.note_state: TileState | None = None
        self.placeholder: Placeholder | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def set_placeholder(self, placeholder: Placeholder | None) -> None:
        self.placeholder = placeholder
        if placeholder is None:
            self.setAccessibleName(f"Empty tile {self.position + 1}")
            self.setToolTip("")
        else:
            self.setAccessibleName(
                f"Tile {self.position + 1}: {placeholder.title}, not playing. Press Enter to "
                "reopen it."
            )
            self.setToolTip(f"Click to reopen {placeholder.title} (a new audited session)")
        self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._press is not None:
            self._ask_reopen()
        self._press = None
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self._ask_reopen()
            return
        super().keyPressEvent(event)

    def _ask_reopen(self) -> None:
        if self.placeholder is not None:
            self.reopen_requested.emit(self.placeholder.camera_id, self.position)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1b1e23"))
        holder = self.placeholder
        if holder is not None:
            self._paint_placeholder(painter, holder)
            painter.end()
            return
        if self.note and self.note_state is not None:
            painter.setPen(_STATE_COLOUR[self.note_state])
            text = self.note
        else:
            painter.setPen(QColor("#6b7078"))
            text = "No feed\nClick an unlocked camera pin on the plan, or drag it onto this tile"
        painter.drawText(
            self.rect().adjusted(8, 8, -8, -8),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            text,
        )
        painter.end()

    def _paint_placeholder(self, painter: QPainter, holder: Placeholder) -> None:
        painter.fillRect(self.rect(), QBrush(QColor(255, 255, 255, 14), Qt.BrushStyle.BDiagPattern))
        bar = QRect(0, 0, self.width(), TITLE_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0, 215))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(
            bar.adjusted(8, 1, -8, -TITLE_HEIGHT // 2 + 1),
            Qt.AlignmentFlag.AlignVCenter,
            holder.title,
        )
        font.setBold(False)
        font.setPointSizeF(font.pointSizeF() * 0.85)
        painter.setFont(font)
        painter.setPen(QColor("#c4c8ce"))
        painter.drawText(
            bar.adjusted(8, TITLE_HEIGHT // 2 - 1, -8, 0),
            Qt.AlignmentFlag.AlignVCenter,
            holder.place,
        )
        body = self.rect().adjusted(10, TITLE_HEIGHT + 6, -10, -8)
        painter.setFont(self.font())
        painter.setPen(QColor("#9aa0a6"))
        flags = Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap
        text = f"{holder.note or RESTORED_NOTE}\n\n▶ Click to reopen"
        needed = painter.fontMetrics().boundingRect(body, int(flags), text)
        if needed.height() > body.height() or needed.width() > body.width():
            # A small tile: the reason in brief (the tooltip and accessible name say more).
            text = f"{'Ended' if holder.note else 'Not playing (restored)'}\n▶ Click to reopen"
        painter.drawText(body, flags, text)


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

    ``layout_changed(key)`` after a switch; ``arrangement_changed()`` after anything a
    saved grid holds changed (layout, which camera is where); ``streams_changed()`` when
    tiles may have grown or shrunk (maximize, layout, swap), so feeds pick their stream;
    ``camera_dropped(camera_id, position)`` for a pin dropped on a cell;
    ``reopen_requested(camera_id, position)`` for a click on a placeholder;
    ``detach_toggled(detached)`` from the Detach / Attach button.
    """

    layout_changed = Signal(str)
    arrangement_changed = Signal()
    streams_changed = Signal()
    camera_dropped = Signal(str, int)
    reopen_requested = Signal(str, int)
    detach_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None, layout_key: str = DEFAULT_LAYOUT) -> None:
        super().__init__(parent)
        self._layout_def: GridLayout = layout(layout_key)
        self._placement: Placement[str] = Placement(self._layout_def.capacity)
        self._tiles: dict[str, VideoTile] = {}
        self._empties: list[_EmptySlot] = []
        self._maximized: str | None = None
        self._selected: str | None = None
        self._placeholders: dict[int, Placeholder] = {}
        self._arrange_pending = False
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
        self.layout_box.setAccessibleName("Video grid layout")
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
        self.detach_button = QToolButton(self)
        self.detach_button.setCheckable(True)
        self.detach_button.toggled.connect(self._on_detach_toggled)
        self._name_detach_button(False)
        bar.addWidget(self.detach_button)
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

    def position_of(self, session_id: str) -> int | None:
        return self._placement.index_of(session_id)

    def session_at(self, position: int) -> str | None:
        positions = self._placement.positions
        return positions[position] if 0 <= position < len(positions) else None

    def stream_for(self, session_id: str) -> Stream:
        """The stream this feed's tile should play now: main when the tile is large."""
        position = self._placement.index_of(session_id)
        if position is None:
            return "sub"
        return stream_for_tile(self._layout_def, position, self._maximized == session_id)

    def decode_box(self, session_id: str) -> tuple[int, int] | None:
        """The picture area of this feed's tile, in device pixels (None if it has none)."""
        tile = self._tiles.get(session_id)
        if tile is None:
            return None
        area = tile.video_area()
        ratio = tile.devicePixelRatioF()
        width, height = int(area.width() * ratio), int(area.height() * ratio)
        return (width, height) if width > 0 and height > 0 else None

    def cell(self, position: int) -> QWidget:
        """The widget in a cell: the feed's tile, else the free cell (placeholder or not)."""
        key = self.session_at(position)
        return self._tiles[key] if key is not None else self._empty_at(position)

    @property
    def placeholders(self) -> dict[int, Placeholder]:
        return dict(self._placeholders)

    def is_full(self) -> bool:
        return self._placement.next_free() is None

    def free_tiles(self) -> int:
        return self.SLOTS - len(self._placement)

    def note(self, position: int) -> str:
        """What a free cell says about the feed that last ended there ("" if nothing)."""
        if position < len(self._empties) and self._placement.positions[position] is None:
            holder = self._placeholders.get(position)
            return holder.note if holder is not None else self._empties[position].note
        return ""

    def saved(self) -> SavedGrid:
        """The layout and the camera in each cell (feeds and placeholders alike)."""
        cameras: list[str | None] = []
        for position, key in enumerate(self._placement.positions):
            if key is not None:
                cameras.append(self._tiles[key].camera_id or None)
            else:
                holder = self._placeholders.get(position)
                cameras.append(holder.camera_id if holder is not None else None)
        while cameras and cameras[-1] is None:
            cameras.pop()
        return SavedGrid(layout=self.layout_key, cameras=tuple(cameras))

    def replacement_candidate(self) -> VideoTile | None:
        """The feed a full grid offers to replace: the selected tile, else the last one."""
        if self._selected is not None and self._selected in self._tiles:
            return self._tiles[self._selected]
        tiles = self.tiles
        return tiles[-1] if tiles else None

    # -- changes ------------------------------------------------------------------------

    def free_position_for(self, camera_id: str, wanted: int | None = None) -> int | None:
        """Where a camera about to open goes: ``wanted`` if that cell is free, else its
        own placeholder's cell, else the next free cell (plain empty cells before those
        keeping a placeholder for another camera); None when the grid is full."""
        positions = self._placement.positions
        if wanted is not None and 0 <= wanted < len(positions) and positions[wanted] is None:
            return wanted
        for position, holder in self._placeholders.items():
            if holder.camera_id == camera_id and positions[position] is None:
                return position
        return self._placement.next_free(avoid=self._placeholders)

    def add_tile(
        self,
        session_id: str,
        title: str,
        place: str = "",
        *,
        camera_id: str = "",
        position: int | None = None,
    ) -> VideoTile:
        """A tile for a new feed: at ``position`` if free, else as ``free_position_for``."""
        index = self.free_position_for(camera_id, position)
        if index is None:
            raise RuntimeError("the video grid is full")
        tile = VideoTile(session_id, title, self._area, camera_id=camera_id)
        tile.place = place
        tile.maximize_requested.connect(self.toggle_maximized)
        tile.select_requested.connect(self.select)
        tile.dropped.connect(self.swap)
        tile.camera_dropped.connect(self.camera_dropped)
        self._tiles[session_id] = tile
        self._placement.place(session_id, index)
        self._placeholders.pop(index, None)
        self._arrange()
        self.arrangement_changed.emit()
        return tile

    def set_placeholders(self, placeholders: dict[int, Placeholder]) -> None:
        """Show remembered cameras in free cells (cells with a feed are left alone)."""
        positions = self._placement.positions
        for position in range(len(positions)):
            if positions[position] is None:
                self._placeholders.pop(position, None)
                self._empty_at(position).set_placeholder(None)
        for position, holder in placeholders.items():
            if 0 <= position < len(positions) and positions[position] is None:
                self._placeholders[position] = holder
                self._empty_at(position).set_placeholder(holder)
        self.arrangement_changed.emit()

    def forget_placeholder(self, position: int) -> None:
        if self._placeholders.pop(position, None) is not None:
            self._empty_at(position).set_placeholder(None)
            self.arrangement_changed.emit()

    def remove_tile(
        self,
        session_id: str,
        note: str = "",
        state: TileState | None = None,
        *,
        keep_placeholder: bool = False,
    ) -> None:
        """Take a feed's tile away; its cell may say why (``note``) until it is reused,
        and with ``keep_placeholder`` keeps the camera there for a one-click reopen."""
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
        # Re-laid out once after the current burst: ending 36 feeds at once (a revoked
        # grant, exit) would otherwise lay out the grid 36 times on the GUI thread.
        self._arrange_soon()
        empty = self._empty_at(position)
        if note:
            empty.note, empty.note_state = note, state
            empty.update()
        if keep_placeholder and tile.camera_id:
            holder = Placeholder(tile.camera_id, tile.title, tile.place, note.partition("\n")[2])
            self._placeholders[position] = holder
            empty.set_placeholder(holder)
        self.arrangement_changed.emit()
        self.streams_changed.emit()

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
        self._placeholders = {p: h for p, h in self._placeholders.items() if p < wanted.capacity}
        for position, empty in enumerate(self._empties):
            empty.set_placeholder(self._placeholders.get(position))
        self._arrange()
        self.layout_changed.emit(key)
        self.arrangement_changed.emit()
        self.streams_changed.emit()
        return True

    def swap(self, a: int, b: int) -> None:
        """Swap two cells (drag and drop); feeds keep playing, placeholders move along."""
        self._placement.swap(a, b)
        holders = {b: self._placeholders.pop(a, None), a: self._placeholders.pop(b, None)}
        for position, holder in holders.items():
            if holder is not None:
                self._placeholders[position] = holder
        for position in (a, b):
            empty = self._empty_at(position)
            empty.note = ""
            empty.set_placeholder(self._placeholders.get(position))
        self._arrange()
        self.arrangement_changed.emit()
        self.streams_changed.emit()

    def toggle_maximized(self, session_id: str) -> None:
        """Double-click: one tile fills the grid; again, the layout comes back."""
        if session_id not in self._tiles:
            return
        self._maximized = None if self._maximized == session_id else session_id
        self.select(session_id)
        self._arrange()
        self.streams_changed.emit()

    def select(self, session_id: str | None) -> None:
        for key, tile in self._tiles.items():
            tile.selected = key == session_id
            tile.update()
        self._selected = session_id

    # -- widgets ------------------------------------------------------------------------

    def set_detached(self, detached: bool) -> None:
        """Show the button's state without asking for a move (the home moved the grid)."""
        self.detach_button.blockSignals(True)
        self.detach_button.setChecked(detached)
        self.detach_button.blockSignals(False)
        self._name_detach_button(detached)

    def _on_detach_toggled(self, detached: bool) -> None:
        self._name_detach_button(detached)
        self.detach_toggled.emit(detached)

    def _name_detach_button(self, detached: bool) -> None:
        if detached:
            self.detach_button.setText("⇲ Attach grid")
            self.detach_button.setToolTip("Put the video grid back into the main window")
            self.detach_button.setAccessibleName("Attach the video grid to the main window")
        else:
            self.detach_button.setText("⇱ Detach grid")
            self.detach_button.setToolTip(
                "Move the video grid into its own window, e.g. for a second monitor; feeds "
                "keep playing"
            )
            self.detach_button.setAccessibleName("Detach the video grid into its own window")

    def _on_layout_chosen(self, index: int) -> None:
        key = self.layout_box.itemData(index)
        if isinstance(key, str) and key != self._layout_def.key:
            self.set_layout(key)

    def _empty_at(self, position: int) -> _EmptySlot:
        while len(self._empties) <= position:
            empty = _EmptySlot(self._area)
            empty.position = len(self._empties)
            empty.set_placeholder(None)
            empty.dropped.connect(self.swap)
            empty.camera_dropped.connect(self.camera_dropped)
            empty.reopen_requested.connect(self.reopen_requested)
            empty.hide()
            self._empties.append(empty)
        return self._empties[position]

    def _arrange_soon(self) -> None:
        if not self._arrange_pending:
            self._arrange_pending = True
            QTimer.singleShot(0, self, self._arrange)

    def _arrange(self) -> None:
        """Put every widget in its cell for the current layout (no stream is touched)."""
        self._arrange_pending = False
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
                if isinstance(widget, VideoTile):
                    widget._name_for_screen_readers()
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


class GridWindow(QWidget):
    """The detached grid's own top-level window (for a second monitor).

    Closing it does not close any feed: it puts the grid back into the main window.
    """

    close_requested = Signal()

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setWindowTitle("Dispatch Console — Video grid")
        self.setAccessibleName("Video grid window")
        self.box = QVBoxLayout(self)
        self.box.setContentsMargins(4, 4, 4, 4)
        self.resize(1280, 800)
        self._closing_for_real = False

    def close_for_good(self) -> None:
        self._closing_for_real = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._closing_for_real:
            event.accept()
            return
        event.ignore()
        self.close_requested.emit()


class GridHome(QWidget):
    """Where the grid lives in the main window, and the window it moves to when detached.

    Detaching reparents the one ``VideoGrid``: its tiles and their players are the same
    objects before and after, so no stream reopens and no viewing session starts.
    ``placement_changed()`` when the detached state or the window's placement changed
    (for saving per user).
    """

    placement_changed = Signal()

    def __init__(self, grid: VideoGrid, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = grid
        self.grid_window: GridWindow | None = None
        self._last_geometry = ""  # the window's placement when it was last attached
        self._box = QVBoxLayout(self)
        self._box.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel(
            "The video grid is in its own window (a second monitor, or behind this one).", self
        )
        self.note.setWordWrap(True)
        self.note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.attach_button = QPushButton("Attach the grid here", self)
        self.attach_button.setAccessibleName("Attach the video grid to the main window")
        self.attach_button.clicked.connect(self.attach)
        self.show_button = QPushButton("Show the grid window", self)
        self.show_button.setAccessibleName("Bring the video grid window to the front")
        self.show_button.clicked.connect(self._raise_window)
        self._box.addStretch(1)
        self._box.addWidget(self.note)
        self._box.addWidget(self.show_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self._box.addWidget(self.attach_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self._box.addStretch(1)
        self._box.addWidget(grid, 100)
        self._show_note(False)
        grid.detach_toggled.connect(self._on_toggled)

    @property
    def detached(self) -> bool:
        return self.grid_window is not None and self.grid.parentWidget() is self.grid_window

    def detach(self, geometry: str = "") -> None:
        """Move the grid into its own window, placed where it was last (``geometry``:
        base64 of ``QWidget.saveGeometry``, which also names the screen)."""
        if self.detached:
            return
        if self.grid_window is None:
            self.grid_window = GridWindow()
            self.grid_window.close_requested.connect(self.attach)
        window = self.grid_window
        self._box.removeWidget(self.grid)
        window.box.addWidget(self.grid)
        self.grid.show()
        if geometry:
            window.restoreGeometry(QByteArray(base64.b64decode(geometry.encode("ascii"))))
        window.show()
        self._show_note(True)
        self.grid.set_detached(True)
        self.placement_changed.emit()

    def attach(self) -> None:
        """Put the grid back into the main window; the detached window's placement is kept."""
        if not self.detached:
            self.grid.set_detached(False)
            return
        assert self.grid_window is not None
        self._last_geometry = self.geometry_text()
        self.grid_window.box.removeWidget(self.grid)
        self._box.addWidget(self.grid, 100)
        self.grid.show()
        self.grid_window.hide()
        self._show_note(False)
        self.grid.set_detached(False)
        self.placement_changed.emit()

    def remember_geometry(self, geometry: str) -> None:
        """Where the window goes at the next detach (the saved placement)."""
        if not self.detached:
            self._last_geometry = geometry

    def geometry_text(self) -> str:
        """The detached window's placement as saved text ("" if never detached)."""
        if self.grid_window is None or not self.detached:
            return self._last_geometry
        return base64.b64encode(bytes(self.grid_window.saveGeometry().data())).decode("ascii")

    def close_window(self) -> None:
        """At exit: the detached window goes with the main one."""
        if self.grid_window is not None:
            self.grid_window.close_for_good()

    def _on_toggled(self, detached: bool) -> None:
        if detached:
            self.detach(self.geometry_text())
        else:
            self.attach()

    def _raise_window(self) -> None:
        if self.grid_window is not None:
            self.grid_window.show()
            self.grid_window.raise_()
            self.grid_window.activateWindow()

    def _show_note(self, shown: bool) -> None:
        for widget in (self.note, self.attach_button, self.show_button):
            widget.setVisible(shown)
