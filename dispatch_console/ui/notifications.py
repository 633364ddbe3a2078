"""The district desk's alert when police ask for access: a card, a desktop note, a sound.

A card per waiting request floats over the top right of the desk and stays until someone
acknowledges it (or the request is decided, when there is nothing left to answer); its
waiting time moves on. Where the desktop has a system tray, the operating system's
notification is raised too, so a safety officer in another window sees it. Clicking
either shows the request's row in the emergency list. The words come from
``domain.district_desk.request_notice``; this module only renders them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStyle,
    QSystemTrayIcon,
    QVBoxLayout,
    QWidget,
)

from dispatch_console.domain.district_desk import RequestNotice

CARD_WIDTH = 400
# A desktop note stays this long; the desk's own card stays until acknowledged.
TRAY_MESSAGE_MS = 30_000


@dataclass(frozen=True)
class AlertChoices:
    """The workstation's settings ``notify_sound`` and ``notify_desktop``."""

    sound: bool = True
    desktop: bool = True


class Sound(Protocol):
    def play(self) -> object: ...


class RequestCard(QFrame):
    """One waiting request; a click anywhere on it (or Show) asks to show its row."""

    chosen = Signal(str)
    dismissed = Signal(str)

    def __init__(self, notice: RequestNotice, parent: QWidget) -> None:
        super().__init__(parent)
        self.request_id = notice.request_id
        self.setObjectName("requestCard")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setStyleSheet(
            "#requestCard { background: #fff8e1; border: 2px solid #b26a00;"
            " border-radius: 4px; } QLabel { color: #202124; background: transparent; }"
        )
        self.title = QLabel(self)
        self.title.setStyleSheet("font-weight: bold; color: #8a3a00;")
        self.who = QLabel(self)
        self.what = QLabel(self)
        self.why = QLabel(self)
        self.waiting = QLabel(self)
        self.waiting.setStyleSheet("font-weight: bold; color: #8a3a00;")
        for label in (self.title, self.who, self.what, self.why, self.waiting):
            label.setTextFormat(Qt.TextFormat.PlainText)  # typed by people
            label.setWordWrap(True)
        self.show_row = QPushButton("Show request", self)
        self.show_row.setToolTip("Show this request in the emergency list to approve or deny it")
        self.show_row.clicked.connect(lambda: self.chosen.emit(self.request_id))
        self.dismiss = QPushButton("Dismiss", self)
        self.dismiss.setToolTip("Acknowledge: the request stays in the emergency list")
        self.dismiss.clicked.connect(lambda: self.dismissed.emit(self.request_id))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.show_row)
        buttons.addWidget(self.dismiss)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(2)
        for label in (self.title, self.who, self.what, self.why, self.waiting):
            layout.addWidget(label)
        layout.addLayout(buttons)
        self.setAccessibleName("Police access request")
        self.update_notice(notice)

    def update_notice(self, notice: RequestNotice) -> None:
        self.title.setText(notice.title)
        self.who.setText(notice.who)
        self.what.setText(notice.what)
        self.why.setText(notice.why)
        self.waiting.setText(notice.waiting)
        self.setToolTip(notice.body)
        self.setAccessibleDescription(f"{notice.title}. {notice.body}")

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.chosen.emit(self.request_id)
        super().mouseReleaseEvent(event)


class RequestCards(QWidget):
    """The stack of cards, floating over the top right of ``host`` just below ``anchor``
    (not in a layout, so the desk does not move when a request arrives)."""

    chosen = Signal(str)

    def __init__(self, host: QWidget, anchor: QWidget | None = None) -> None:
        super().__init__(host)
        self._host = host
        self._anchor = anchor
        self._cards: dict[str, RequestCard] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(6)
        self.setFixedWidth(CARD_WIDTH)
        self.hide()
        host.installEventFilter(self)

    def card(self, request_id: str) -> RequestCard | None:
        return self._cards.get(request_id)

    @property
    def request_ids(self) -> list[str]:
        return list(self._cards)

    def add(self, notice: RequestNotice) -> RequestCard:
        card = self._cards.get(notice.request_id)
        if card is None:
            card = RequestCard(notice, self)
            card.chosen.connect(self.chosen)
            card.dismissed.connect(self.remove)
            self._layout.addWidget(card)
            self._cards[notice.request_id] = card
        card.update_notice(notice)
        self._place()
        return card

    def update_notice(self, notice: RequestNotice) -> None:
        card = self._cards.get(notice.request_id)
        if card is not None:
            card.update_notice(notice)

    def remove(self, request_id: str) -> None:
        card = self._cards.pop(request_id, None)
        if card is not None:
            self._layout.removeWidget(card)
            card.hide()
            card.deleteLater()
        self._place()

    def _place(self) -> None:
        if not self._cards:
            self.hide()
            return
        self.adjustSize()
        top = 8
        anchor = self._anchor
        if anchor is not None and anchor.isVisible():
            top = anchor.mapTo(self._host, anchor.rect().bottomLeft()).y() + 8
        self.move(self._host.rect().right() - self.width() - 8, top)
        self.show()
        self.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self._place()
        return False


class RequestNotifier(QObject):
    """Raises the alert for a request: card always, desktop note and sound as chosen.

    ``chosen(request_id)``: a card or the desktop note was clicked.
    """

    chosen = Signal(str)

    def __init__(
        self,
        host: QWidget,
        choices: AlertChoices,
        sound: Sound | None,
        *,
        anchor: QWidget | None = None,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
    ) -> None:
        super().__init__(host)
        self.choices = choices
        self.sound = sound
        self._host = host
        self.cards = RequestCards(host, anchor)
        self.cards.chosen.connect(self._choose)
        self._tray_available = tray_available
        self.tray: QSystemTrayIcon | None = None
        self._tray_request: str | None = None  # the request the last desktop note was about

    def notify(self, notice: RequestNotice) -> None:
        self.cards.add(notice)
        if self.choices.desktop and self._tray_available():
            tray = self._tray()
            tray.showMessage(
                notice.title,
                notice.body,
                QSystemTrayIcon.MessageIcon.Warning,
                TRAY_MESSAGE_MS,
            )
            self._tray_request = notice.request_id
        if self.choices.sound and self.sound is not None:
            self.sound.play()

    def _tray(self) -> QSystemTrayIcon:
        if self.tray is None:
            host = self._host
            icon = host.windowIcon()
            if icon.isNull():
                icon = host.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip("Dispatch Console — district desk")
            self.tray.messageClicked.connect(self._tray_clicked)
            self.tray.show()
        return self.tray

    def _tray_clicked(self) -> None:
        if self._tray_request is not None:
            self._choose(self._tray_request)

    def _choose(self, request_id: str) -> None:
        """Clicking is acknowledging: the card goes, and the request's row is shown."""
        self.cards.remove(request_id)
        self.chosen.emit(request_id)

    def close(self) -> None:
        if self.tray is not None:
            self.tray.hide()
