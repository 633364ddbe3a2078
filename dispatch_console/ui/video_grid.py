"""The 2×2 video grid: tiles paint the frames they are handed and ask to be closed."""

from __future__ import annotations

import time

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QGridLayout, QSizePolicy, QToolButton, QWidget

TITLE_HEIGHT = 26


class VideoTile(QWidget):
    """One live feed. ``close_requested(session_id)``; ``frame_painted(count)`` after paints."""

    close_requested = Signal(str)
    frame_painted = Signal(int)

    def __init__(self, session_id: str, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session_id = session_id
        self.title = title
        self.status = "Connecting…"
        self._image: QImage | None = None
        self._painted = 0
        # perf_counter() when the first video frame reached the screen: the end point of
        # the time-to-first-frame benchmark, taken where the paint really happens.
        self.first_frame_painted_at: float | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
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

    def set_frame(self, image: QImage) -> None:
        self._image = image
        self.status = ""
        self.update()

    def set_status(self, text: str) -> None:
        self.status = text
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(480, 270 + TITLE_HEIGHT)

    def resizeEvent(self, event: object) -> None:
        self.close_button.setGeometry(self.width() - TITLE_HEIGHT, 0, TITLE_HEIGHT, TITLE_HEIGHT)

    def video_rect(self) -> QRect:
        """Where the picture goes: the area under the title bar, letterboxed to 16:9."""
        area = self.rect().adjusted(0, TITLE_HEIGHT, 0, 0)
        if self._image is None or self._image.isNull():
            return area
        size = self._image.size().scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        left = area.left() + (area.width() - size.width()) // 2
        top = area.top() + (area.height() - size.height()) // 2
        return QRect(left, top, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#111317"))
        if self._image is not None and not self._image.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.video_rect(), self._image)
        if self.status:
            painter.setPen(QColor("#d0d4da"))
            painter.drawText(
                self.rect().adjusted(8, TITLE_HEIGHT, -8, 0),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.status,
            )
        bar = QRect(0, 0, self.width(), TITLE_HEIGHT)
        painter.fillRect(bar, QColor(0, 0, 0, 200))
        font = QFont(self.font())
        font.setBold(True)
        painter.setFont(font)
        live = self._image is not None and not self.status
        painter.setPen(QColor("#ff5252") if live else QColor("#9aa0a6"))
        painter.drawText(bar.adjusted(8, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, "●")
        painter.setPen(QColor("white"))
        painter.drawText(
            bar.adjusted(24, 0, -TITLE_HEIGHT, 0),
            Qt.AlignmentFlag.AlignVCenter,
            f"{self.title}  ·  LIVE" if live else self.title,
        )
        painter.end()
        if self._image is not None:
            self._painted += 1
            if self.first_frame_painted_at is None:
                self.first_frame_painted_at = time.perf_counter()
            self.frame_painted.emit(self._painted)


class _EmptySlot(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(480, 270 + TITLE_HEIGHT)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#1b1e23"))
        painter.setPen(QColor("#6b7078"))
        painter.drawText(
            self.rect(),
            Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
            "No feed\nClick an unlocked camera pin on the plan",
        )
        painter.end()


class VideoGrid(QWidget):
    """A fixed 2×2 grid; a new feed takes the first free slot."""

    SLOTS = 4

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QGridLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)
        self.setMinimumSize(2 * 240, 2 * (135 + TITLE_HEIGHT))
        self._slots: list[QWidget] = []
        for line in range(2):  # equal cells whatever each widget's size hint
            self._layout.setColumnStretch(line, 1)
            self._layout.setRowStretch(line, 1)
        for index in range(self.SLOTS):
            slot = _EmptySlot(self)
            self._slots.append(slot)
            self._layout.addWidget(slot, index // 2, index % 2)

    @property
    def tiles(self) -> list[VideoTile]:
        return [s for s in self._slots if isinstance(s, VideoTile)]

    def tile(self, session_id: str) -> VideoTile | None:
        return next((t for t in self.tiles if t.session_id == session_id), None)

    def is_full(self) -> bool:
        return len(self.tiles) >= self.SLOTS

    def add_tile(self, session_id: str, title: str) -> VideoTile:
        for index, slot in enumerate(self._slots):
            if isinstance(slot, _EmptySlot):
                tile = VideoTile(session_id, title, self)
                self._replace(index, tile)
                return tile
        raise RuntimeError("the video grid is full")

    def remove_tile(self, session_id: str) -> None:
        for index, slot in enumerate(self._slots):
            if isinstance(slot, VideoTile) and slot.session_id == session_id:
                self._replace(index, _EmptySlot(self))
                return

    def _replace(self, index: int, widget: QWidget) -> None:
        old = self._slots[index]
        self._layout.removeWidget(old)
        old.hide()
        old.deleteLater()
        self._slots[index] = widget
        self._layout.addWidget(widget, index // 2, index % 2)
        widget.show()
