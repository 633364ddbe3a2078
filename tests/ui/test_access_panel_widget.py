"""The access panel's wording and its two-click confirmation, without a server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pytestqt.qtbot import QtBot

from dispatch_console.domain.access_board import emergency_statuses
from dispatch_console.domain.models import (
    AccessContext,
    AccessRequest,
    Emergency,
    EmergencyType,
    Grant,
    Role,
    User,
)
from dispatch_console.ui.access_panel import AccessPanel, access_line, waited

NOW = datetime.now(UTC)
SAFETY = User("u2", "safety", "Sam Ortiz", "Riverside USD", Role.DISTRICT_SAFETY_OFFICER)
DISPATCHER = User("u1", "dispatcher", "Dana Reyes", "Riverside PD", Role.POLICE_DISPATCHER)
NAMES = {"lincoln-hs": "Lincoln High School", "jefferson-es": "Jefferson Elementary"}
EMERGENCIES = (
    Emergency("e1", "lincoln-hs", EmergencyType.ACTIVE_THREAT, "Armed intruder", "Dana Reyes",
              NOW - timedelta(minutes=3)),
    Emergency("e2", "jefferson-es", EmergencyType.LOCKDOWN, "Suspicious person", "Dana Reyes",
              NOW - timedelta(minutes=2)),
)  # fmt: skip
GRANT = Grant("g1", "e1", "lincoln-hs", "Riverside PD", NOW - timedelta(minutes=3),
              NOW + timedelta(minutes=57), "break-glass policy", break_glass=True,
              needs_review=True)  # fmt: skip
REQUEST = AccessRequest(
    "r1", "e2", "jefferson-es", "Riverside PD", "Dana Reyes", NOW - timedelta(minutes=2), "pending"
)
CONTEXT = AccessContext(EMERGENCIES, (GRANT,), (REQUEST,))


def test_waiting_times_read_at_a_glance() -> None:
    assert waited(timedelta(seconds=20)) == "under a minute"
    assert waited(timedelta(minutes=4, seconds=59)) == "4 min"
    assert waited(timedelta(minutes=65)) == "1 h 05 min"


def test_the_access_line_says_who_may_watch_until_when_or_who_waits() -> None:
    waiting, granted = emergency_statuses(CONTEXT, DISPATCHER, NOW)
    text, tone = access_line(waiting)
    assert tone == "waiting"
    assert text == (
        "Waiting for district approval for 2 min — Riverside PD, requested by Dana Reyes"
    )
    assert access_line(waiting, compact=True)[0] == (
        "Waiting for district approval for 2 min — requested by Dana Reyes"
    )
    text, tone = access_line(granted)
    until = GRANT.expires_at.astimezone().strftime("%H:%M")
    assert tone == "granted"
    assert text == (
        f"Police access: Riverside PD until {until} — break-glass, flagged for district review"
    )
    assert access_line(granted, compact=True)[0] == (
        f"Police access until {until} — break-glass, flagged for district review"
    )


def test_revoke_needs_a_second_click_and_disarms_by_itself(qtbot: QtBot) -> None:
    panel = AccessPanel(confirm_timeout_ms=200)
    qtbot.addWidget(panel)
    panel.show_statuses(emergency_statuses(CONTEXT, SAFETY, NOW), NAMES)
    assert [r.emergency_id for r in panel.rows] == ["e2", "e1"]
    row = panel.row("e1")
    assert row is not None and "ACTIVE THREAT" in row.headline.text()
    emitted: list[tuple[str, str]] = []
    panel.action_requested.connect(lambda action, target: emitted.append((action, target)))

    row.revoke.click()
    assert row.revoke.text() == "Confirm revoke" and emitted == []
    qtbot.waitUntil(lambda: row.revoke.text() == "Revoke", timeout=2000)  # timed out
    row.revoke.click()
    row.revoke.click()
    assert emitted == [("revoke", "g1")]
    assert not row.extend.isEnabled()  # busy until the next access state arrives

    panel.show_statuses(emergency_statuses(CONTEXT, SAFETY, NOW), NAMES)
    assert row.extend.isEnabled()
    waiting_row = panel.row("e2")
    assert waiting_row is not None
    waiting_row.approve.click()
    assert emitted[-1] == ("approve", "r1")

    panel.show_statuses((), NAMES)
    assert panel.rows == [] and not panel.empty.isHidden()


def test_the_access_line_says_what_a_scoped_or_reviewed_grant_covers() -> None:
    from dataclasses import replace

    scoped = replace(GRANT, buildings=("lhs-main",), cameras=("a", "b"), reviewed_by="Sam Ortiz")
    context = AccessContext(EMERGENCIES[:1], (scoped,), ())
    (status,) = emergency_statuses(context, DISPATCHER, NOW)
    until = GRANT.expires_at.astimezone().strftime("%H:%M")
    assert access_line(status, compact=True)[0] == (
        f"Police access until {until} — limited to building lhs-main and 2 listed cameras"
        " — break-glass, reviewed by Sam Ortiz"
    )
