"""The district desk's audit browser, against the real district server: filters reach the
server, timelines, findings (and a live one announced on the desk), workstations, CSV
and report exports (an unwritable place loses nothing), and verification."""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from PySide6.QtCore import QDateTime, Qt
from PySide6.QtTest import QTest

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.audit_browser import SILENT_FLAG, SessionFilter
from dispatch_console.domain.models import District, EmergencyType, EndReason, User
from dispatch_console.domain.session import ViewingSession, end_session, start_session, utc_ms
from dispatch_console.domain.totp import totp
from dispatch_console.ui.audit_browser import AuditBrowser
from dispatch_console.ui.watch_board import WatchBoard
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

SCHOOL = "lincoln-hs"
CAMERAS = ("lhs-cam-02", "lhs-cam-04")
BREAK_GLASS_SCHOOL = "jefferson-es"
SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


async def _clear_hold(server_url: str, token: str | None, school_id: str) -> None:
    """Another test's revocation may have put the school on hold (shared server)."""
    async with httpx.AsyncClient(base_url=server_url) as http:
        await http.post(
            f"/api/v1/schools/{school_id}/clear", headers={"Authorization": f"Bearer {token}"}
        )


def _session(
    district: District, user: User, camera_id: str, emergency_id: str, grant_id: str, ws: str
) -> ViewingSession:
    camera = district.camera(camera_id)
    return start_session(
        user=user,
        camera=camera,
        school=district.school(camera.school_id),
        workstation_id=ws,
        app_version="test",
        emergency_id=emergency_id,
        grant_id=grant_id,
        threat_basis="Audit browser test: smoke in the gym",
        now=datetime.now(UTC),
    )


def _answering(*answers: str | None) -> tuple[list[str], Callable[..., None]]:
    """A stand-in for the save dialog that gives these answers in turn, and notes titles."""
    titles: list[str] = []
    left = list(answers)

    def choose(
        title: str, _suggested: str, _kinds: str, then: Callable[[str | None], None]
    ) -> None:
        titles.append(title)
        then(left.pop(0) if left else None)

    return titles, choose


def test_the_audit_browser_filters_shows_timelines_findings_and_exports(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    server = district_stack.server_url
    workstation = f"audit-browser-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        began = datetime.now(UTC) - timedelta(seconds=1)
        desk = await open_desk(desk_settings(server, tmp_path / "console"), "safety")
        auditor = await signed_in_client(server, "safety")
        police = await signed_in_client(server, "dispatcher")
        ended: list[str] = []
        open_sessions: list[ViewingSession] = []
        reviews: list[str] = []
        browser: AuditBrowser | None = None
        try:
            me = await police.login("dispatcher", *_password_and_code("dispatcher"))
            district = desk.console.district
            assert district is not None
            await _clear_hold(server, auditor.token, SCHOOL)
            declared = await police.declare_emergency(
                SCHOOL, EmergencyType.EXPLOSION_OR_FIRE, "Audit browser test: smoke in the gym"
            )
            ended.append(declared.emergency.id)
            grant = declared.grant
            if grant is None:  # the school's policy asked for an approval
                assert declared.request_id is not None
                grant = (await auditor.approve_request(declared.request_id)).grant
            assert grant is not None
            if grant.needs_review:
                reviews.append(grant.id)
            watched = [
                _session(district, me, c, declared.emergency.id, grant.id, workstation)
                for c in CAMERAS
            ]
            for session in watched:
                await police.audit_start(session.start_record())
            first = end_session(watched[0], EndReason.CLOSED_BY_USER, datetime.now(UTC))
            await police.audit_end(first.end_record())
            open_sessions.append(watched[1])

            # Opened from the desk's menu action, as a person does (Ctrl+Shift+A).
            action = desk.window.audit_trail_action
            assert action is not None and action.shortcut().toString() == "Ctrl+Shift+A"
            action.trigger()
            assert desk.controller.audit is not None
            browser = desk.controller.audit.browser
            assert browser is not None and browser.isVisible()
            await eventually(lambda: not browser.loading, 15, "the browser to load")
            assert "failed" not in browser.message.text(), browser.message.text()

            # School + camera + agency + time: the first session, not the other camera's.
            browser.school.setCurrentIndex(browser.school.findData(SCHOOL))
            browser.camera.setCurrentIndex(browser.camera.findData(CAMERAS[0]))
            browser.agency.setCurrentIndex(browser.agency.findData(me.agency))
            browser.since_on.setChecked(True)
            browser.since.setDateTime(QDateTime.fromMSecsSinceEpoch(int(began.timestamp() * 1000)))
            QTest.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
            assert browser.loading, "the search went to the server"
            await eventually(lambda: not browser.loading, 10, "the filtered sessions")
            assert watched[0].session_id in browser.session_ids(), browser.message.text()
            assert watched[1].session_id not in browser.session_ids()
            # (other tests' sessions on this camera may still be open: the window covers them)
            for s in browser._sessions:
                assert s["camera_id"] == CAMERAS[0] and s["agency"] == me.agency
                assert s["ended_at"] is None or s["ended_at"] >= utc_ms(began)
            first_row = browser.session_ids().index(watched[0].session_id)
            assert browser.sessions.item(first_row, 2).text().endswith(" s")
            assert browser.sessions.item(first_row, 3).text() == "closed by user"
            # Any camera of this emergency: both, and the open one says so.
            browser.camera.setCurrentIndex(0)
            index = browser.emergency.findData(declared.emergency.id)
            assert index > 0, "the emergency is offered in the filter"
            browser.emergency.setCurrentIndex(index)
            browser.search()
            both = {s.session_id for s in watched}
            await eventually(lambda: set(browser.session_ids()) == both, 10, "both sessions")
            open_row = browser.session_ids().index(watched[1].session_id)
            assert browser.sessions.item(open_row, 1).text() == "watching now"

            # A session's timeline: its start and its end, in order.
            browser.select_session(watched[0].session_id)
            await eventually(lambda: browser.timeline.rowCount() >= 2, 10, "the timeline")
            kinds = [browser.timeline.item(r, 1).text() for r in range(browser.timeline.rowCount())]
            assert any("start" in k for k in kinds) and "end" in kinds[-1], kinds
            assert watched[0].session_id in browser.timeline_title.text()

            # Findings: a break-glass grant waits for its review, live.
            await _clear_hold(server, auditor.token, BREAK_GLASS_SCHOOL)
            threat = await police.declare_emergency(
                BREAK_GLASS_SCHOOL, EmergencyType.ACTIVE_THREAT, "Audit browser test: intruder"
            )
            ended.append(threat.emergency.id)
            assert threat.grant is not None and threat.grant.break_glass
            review = threat.grant.id
            reviews.append(review)
            browser.refresh_findings()
            await eventually(
                lambda: _row_with(browser.findings, 2, review) is not None, 10, "review due"
            )
            row = _row_with(browser.findings, 2, review)
            assert row is not None
            assert browser.findings.item(row, 1).text() == "● Review due (now)"

            # A record altered on its way: the desk says so at once, from the live stream.
            tampered = _session(
                district, me, CAMERAS[0], declared.emergency.id, grant.id, workstation
            )
            record = tampered.start_record()
            record["chain"] = {
                "chain": f"chain-{uuid.uuid4().hex[:12]}",
                "seq": 1,
                "prev": "0" * 64,
                "hash": "f" * 64,
            }
            await police.audit_start(record)
            open_sessions.append(tampered)
            audit = desk.controller.audit
            await eventually(
                lambda: tampered.session_id in (audit.last_finding or ""), 30, "the live finding"
            )
            message = desk.window.audit_finding.text()
            assert desk.window.audit_finding.isVisible()
            SHOTS.mkdir(parents=True, exist_ok=True)
            desk.window.grab().save(str(SHOTS / "district-desk-audit-finding.png"))
            assert message.startswith("Audit finding — "), message
            assert "does not match its own hash" in message and tampered.session_id in message
            await eventually(
                lambda: _row_with(browser.findings, 3, tampered.session_id) is not None,
                10,
                "the finding listed",
            )

            # Workstations: ours, last heard, with its open sessions.
            browser.refresh_workstations()
            await eventually(lambda: not browser.loading, 10, "the workstations")
            ws_row = _row_with(browser.workstations, 0, workstation)
            assert ws_row is not None
            assert browser.workstations.item(ws_row, 2).text() == "2"
            assert "heartbeats arriving" in browser.workstations.item(ws_row, 4).text()

            # CSV: the server's rows for the same filters.
            saved = tmp_path / "sessions.csv"
            _, browser.choose_path = _answering(str(saved))
            QTest.mouseClick(browser.export_button, Qt.MouseButton.LeftButton)
            await eventually(saved.exists, 10, "the CSV")
            rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
            assert {r["session_id"] for r in rows} == both | {tampered.session_id}
            # The same filters straight from the client agree.
            direct = await auditor.audit_sessions(
                where=SessionFilter(emergency_id=declared.emergency.id, since=began)
            )
            assert {r["session_id"] for r in rows} == {r["session_id"] for r in direct}

            # Unwritable: the message names the path, nothing is half written, asked again.
            nowhere = tmp_path / "no-such-folder" / "sessions.csv"
            again = tmp_path / "second-try.csv"
            titles, browser.choose_path = _answering(str(nowhere), str(again))
            browser.export_csv()
            await eventually(again.exists, 10, "the second place")
            assert titles == ["Save the CSV", "Save the CSV elsewhere"]
            assert again.read_text(encoding="utf-8") == saved.read_text(encoding="utf-8")
            titles, browser.choose_path = _answering(str(nowhere), None)
            browser.export_csv()
            await eventually(lambda: "not saved" in browser.message.text(), 10, "given up")
            assert len(titles) == 2
            assert str(nowhere) in browser.message.text()
            assert "that folder does not exist" in browser.message.text()
            assert not nowhere.parent.exists()

            # The emergency's report for the board.
            offered: list[Path] = []
            report = tmp_path / "report.html"

            def pick(choices: Any, then: Callable[[str | None], None]) -> None:
                assert declared.emergency.id in [c[0] for c in choices]
                then(declared.emergency.id)

            browser.choose_emergency = pick
            browser.choose_path = _answering(str(report))[1]
            browser.offer_to_open = offered.append
            QTest.mouseClick(browser.report_button, Qt.MouseButton.LeftButton)
            await eventually(lambda: offered == [report], 15, "the report saved")
            html = report.read_text(encoding="utf-8")
            assert html.lower().startswith("<!doctype html>")
            assert declared.emergency.id in html and "smoke in the gym" in html
            assert all(district.camera(c).name in html for c in CAMERAS)

            QTest.mouseClick(browser.verify_button, Qt.MouseButton.LeftButton)
            await eventually(lambda: browser.verdict is not None, 30, "the verdict")
            assert browser.verdict is not None and browser.verdict.ok, browser.message.text()
            assert "verified" in browser.message.text()
            assert "hash" in browser.message.text()

            browser.tabs.setCurrentIndex(0)
            SHOTS.mkdir(parents=True, exist_ok=True)
            browser.grab().save(str(SHOTS / "audit-browser-sessions.png"))
            browser.tabs.setCurrentIndex(1)
            browser.grab().save(str(SHOTS / "audit-browser-findings.png"))
            browser.tabs.setCurrentIndex(2)
            browser.grab().save(str(SHOTS / "audit-browser-workstations.png"))
        finally:
            now = datetime.now(UTC)
            for session in open_sessions:
                await police.audit_end(
                    end_session(session, EndReason.CLOSED_BY_USER, now).end_record()
                )
            for grant_id in reviews:
                await auditor.review_grant(grant_id, "Audit browser test: reviewed.")
            for emergency_id in ended:
                await auditor.end_emergency(emergency_id)
            if browser is not None:
                browser.close()
            for client in (auditor, police):
                await client.aclose()
            await close_desk(desk)

    qloop.run(scenario(), timeout=150)


def _row_with(table: Any, column: int, text: str) -> int | None:
    for row in range(table.rowCount()):
        item = table.item(row, column)
        if item is not None and text in item.text():
            return row
    return None


def _password_and_code(username: str) -> tuple[str, str]:
    account = demo_account(username)
    return account.password, totp(account.totp_secret, time.time())


def test_the_watch_board_flags_a_live_session_whose_heartbeats_stopped(qtbot: Any) -> None:
    board = WatchBoard()
    qtbot.addWidget(board)
    base = {"user_name": "Officer", "agency": "Metro PD", "camera_name": "Gym"}
    board.show_sessions(
        [
            {**base, "ended_at": None, "heartbeat_overdue": True, "last_heartbeat_at": "t"},
            {**base, "ended_at": None, "heartbeat_overdue": False},
            {**base, "ended_at": "2026-11-25T10:00:00.000Z", "heartbeat_overdue": True},
        ]
    )
    ended_column = 5
    assert board.item(0, ended_column).text() == f"watching now — {SILENT_FLAG}"
    assert board.item(0, 0).background().color().name() == "#fef0c7"
    assert "heartbeat" in board.item(0, 0).toolTip()
    assert board.item(1, ended_column).text() == "watching now"
    assert board.item(2, ended_column).text() == "2026-11-25T10:00:00.000Z"
    assert board.item(1, 0).toolTip() == ""
