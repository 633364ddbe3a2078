"""The request alert's three parts, as the settings choose: card, desktop note, sound.

Offscreen Qt has no system tray, so the desktop path is checked at the call: the tray's
``showMessage`` is recorded instead of shown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QSystemTrayIcon, QWidget
from pytestqt.qtbot import QtBot

from dispatch_console.domain.district_desk import RequestNotice, request_notice
from dispatch_console.domain.models import AccessRequest, Emergency, EmergencyType
from dispatch_console.ui.notifications import AlertChoices, RequestNotifier

NOW = datetime(2026, 3, 4, 14, 30, tzinfo=UTC)


def notice(request_id: str = "rq-1") -> RequestNotice:
    emergency = Emergency(
        "em-1", "lhs", EmergencyType.LOCKDOWN, "Caller saw a rifle", "Dana Reyes", NOW
    )
    request = AccessRequest(
        request_id, "em-1", "lhs", "Riverside PD", "Dana Reyes", NOW - timedelta(minutes=3),
        "pending",
    )  # fmt: skip
    return request_notice(request, emergency, "Lincoln High", NOW, "14:27")


class CountingSound:
    def __init__(self) -> None:
        self.played = 0

    def play(self) -> None:
        self.played += 1


@pytest.fixture
def host(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    widget.resize(1000, 700)
    qtbot.addWidget(widget)
    widget.show()
    return widget


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """What the tray was asked to show (title, body)."""
    calls: list[tuple[str, str]] = []

    def record(self: QSystemTrayIcon, title: str, body: str, *_args: object) -> None:
        calls.append((title, body))

    monkeypatch.setattr(QSystemTrayIcon, "showMessage", record)
    return calls


def test_with_a_tray_the_desktop_note_carries_the_notice(
    host: QWidget, shown: list[tuple[str, str]], qtbot: QtBot
) -> None:
    sound = CountingSound()
    notifier = RequestNotifier(host, AlertChoices(), sound, tray_available=lambda: True)
    notifier.notify(notice())
    assert shown == [("Police ask for the cameras at Lincoln High", notice().body)]
    assert "Dana Reyes, Riverside PD" in shown[0][1] and "Caller saw a rifle" in shown[0][1]
    assert sound.played == 1
    card = notifier.cards.card("rq-1")
    assert card is not None and card.isVisible()  # the desk's own card shows as well
    # Clicking the desktop note shows the request (and acknowledges its card).
    assert notifier.tray is not None
    with qtbot.waitSignal(notifier.chosen) as chosen:
        notifier.tray.messageClicked.emit()
    assert chosen.args == ["rq-1"]
    assert notifier.cards.card("rq-1") is None
    notifier.close()


def test_without_a_tray_the_card_stays_until_acknowledged(
    host: QWidget, shown: list[tuple[str, str]], qtbot: QtBot
) -> None:
    notifier = RequestNotifier(host, AlertChoices(), CountingSound(), tray_available=lambda: False)
    notifier.notify(notice("rq-1"))
    notifier.notify(notice("rq-2"))
    assert shown == [] and notifier.tray is None
    assert notifier.cards.request_ids == ["rq-1", "rq-2"]
    card = notifier.cards.card("rq-2")
    assert card is not None
    assert card.who.text() == "Dana Reyes, Riverside PD"
    assert card.waiting.text() == "Waiting 3 min (since 14:27)"
    # The same request again (a replayed event) updates its card, it does not add one.
    notifier.notify(notice("rq-2"))
    assert notifier.cards.request_ids == ["rq-1", "rq-2"]
    # Dismiss acknowledges without showing; a click on the card shows the request.
    QTest.mouseClick(card.dismiss, Qt.MouseButton.LeftButton)
    assert notifier.cards.request_ids == ["rq-1"]
    first = notifier.cards.card("rq-1")
    assert first is not None
    with qtbot.waitSignal(notifier.chosen) as chosen:
        QTest.mouseClick(first, Qt.MouseButton.LeftButton)
    assert chosen.args == ["rq-1"]
    assert notifier.cards.request_ids == [] and not notifier.cards.isVisible()


def test_the_settings_turn_the_sound_and_the_desktop_note_off(
    host: QWidget, shown: list[tuple[str, str]]
) -> None:
    sound = CountingSound()
    quiet = AlertChoices(sound=False, desktop=False)
    notifier = RequestNotifier(host, quiet, sound, tray_available=lambda: True)
    notifier.notify(notice())
    assert sound.played == 0 and shown == [] and notifier.tray is None
    assert notifier.cards.card("rq-1") is not None  # the desk still shows what waits
