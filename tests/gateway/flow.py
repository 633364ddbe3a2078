"""A police viewer against a running district stack, over raw HTTP: sign in, declare,
record the session's start, get the stream link. The gateway tests use it to reach the
point where a console would hand the link to libVLC."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from dispatch_console.district.seed import demo_account
from dispatch_console.domain.totp import totp
from tests.district.test_server import API, start_record


@dataclass
class Viewer:
    server_url: str
    username: str = "dispatcher"
    http: httpx.Client = field(init=False)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.server_url, timeout=10)
        account = demo_account(self.username)
        answer = self.http.post(
            f"{API}/auth/login",
            json={
                "username": self.username,
                "password": account.password,
                "otp": totp(account.totp_secret, datetime.now(UTC).timestamp()),
            },
        )
        assert answer.status_code == 200, answer.text
        self.headers = {"Authorization": f"Bearer {answer.json()['token']}"}

    def declare(self, school: str = "lincoln-hs") -> dict[str, Any]:
        answer = self.http.post(
            f"{API}/emergencies",
            headers=self.headers,
            json={"school_id": school, "type": "active_threat", "threat_basis": "Test: shots"},
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def end_emergency(self, emergency_id: str, as_user: Viewer) -> None:
        answer = self.http.post(f"{API}/emergencies/{emergency_id}/end", headers=as_user.headers)
        assert answer.status_code == 200, answer.text

    def start_session(self, camera_id: str) -> str:
        me = self.http.get(f"{API}/auth/me", headers=self.headers).json()
        record = start_record(me, camera_id, datetime.now(UTC))
        answer = self.http.put(
            f"{API}/audit/sessions/{record['session_id']}/start", headers=self.headers, json=record
        )
        assert answer.status_code in (200, 201), answer.text
        return str(record["session_id"])

    def end_session(self, session_id: str) -> None:
        now = datetime.now(UTC)
        answer = self.http.put(
            f"{API}/audit/sessions/{session_id}/end",
            headers=self.headers,
            json={"ended_at": now.isoformat(), "end_reason": "closed_by_user"},
        )
        assert answer.status_code in (200, 201), answer.text

    def stream_url(self, camera_id: str, session_id: str | None = None) -> str:
        session_id = session_id or self.start_session(camera_id)
        answer = self.http.post(
            f"{API}/streams/tickets",
            headers=self.headers,
            json={"camera_id": camera_id, "session_id": session_id},
        )
        assert answer.status_code == 200, answer.text
        return str(answer.json()["url"])

    def close(self) -> None:
        self.http.close()


def new_id() -> str:
    return str(uuid.uuid4())
