"""A real gateway process linked to a district server a test built in-process (with a
clock it can move).

The gateway runs as its own process, as in production, and so PyAV never shares the test
process with libVLC (see tests/av_child.py). ``RelayDesk`` stands in for the district's
relays endpoint (with failures on request) in front of a real district app, and
``Outage`` makes the district unreachable for a while."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from dispatch_console.district.launch import start_process, stop_process
from dispatch_console.district.limits import MAX_BODY_BYTES
from dispatch_console.domain.stream_tokens import link_key
from dispatch_console.gateway.relaylog import RELAYS_PATH
from dispatch_console.gateway.sources import Credentials

TEST_SECRET = b"test-gateway-secret-" + b"0123456789abcdef" * 2


class ThreadedGateway:
    """``dispatch-console gateway serve`` for one test (the name is historical)."""

    def __init__(
        self,
        district_url: str,
        secret: bytes = TEST_SECRET,
        *,
        credentials: dict[str, Credentials] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="gateway-")
        folder = Path(self._dir.name)
        (folder / "secret").write_bytes(secret)
        self._args = [
            "gateway", "serve", "--district", district_url,
            "--secret-file", str(folder / "secret"), "--port", "0", *extra_args,
        ]  # fmt: skip
        if credentials:
            path = folder / "credentials.json"
            path.write_text(
                json.dumps(
                    {
                        k: {"username": c.username, "password": c.password}
                        for k, c in credentials.items()
                    }
                )
            )
            self._args += ["--credentials", str(path)]
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        self._process, self.url = start_process(self._args, "GATEWAY_URL")
        return self.url

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        self._dir.cleanup()

    def __enter__(self) -> ThreadedGateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- the district's relays endpoint, and an outage ---------------------------------------

RELAY_FIELDS = {"relay_id", "session_id", "camera_id", "stream", "started_at", "ended_at", "bytes"}
_UTC_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def contract_problems(body: object) -> list[str]:
    """What is wrong with a relays post against the contract the district implements."""
    if (
        not isinstance(body, dict)
        or set(body) != {"relays"}
        or not isinstance(body["relays"], list)
    ):
        return ["the body is not {'relays': [...]}"]
    relays: list[object] = body["relays"]
    problems = [] if 0 < len(relays) <= 10_000 else [f"{len(relays)} relays in one post"]
    for item in relays:
        if not isinstance(item, dict) or set(item) != RELAY_FIELDS:
            problems.append(f"not a relay: {item!r}")
            continue
        if item["stream"] not in ("sub", "main"):
            problems.append(f"stream {item['stream']!r}")
        if not isinstance(item["bytes"], int) or item["bytes"] < 0:
            problems.append(f"bytes {item['bytes']!r}")
        for key in ("started_at", "ended_at"):
            value = item[key]
            if not (value is None and key == "ended_at") and not (
                isinstance(value, str) and _UTC_MS.match(value)
            ):
                problems.append(f"{key} {value!r}")
        if not all(isinstance(item[k], str) and item[k] for k in ("relay_id", "session_id")):
            problems.append(f"ids {item['relay_id']!r} {item['session_id']!r}")
    return problems


@dataclass
class RelayDesk:
    """``POST /api/v1/gateway/relays`` as the district implements it, put in front of a
    real district app (so the gateway's link, links and sessions stay real), with the
    district's failures on request.

    Every post is recorded, answered or not; ``accepted`` holds each relay's latest state
    the desk acknowledged (idempotent by relay_id, as the district is).
    """

    secret: bytes = TEST_SECRET
    answer: int = 204  # what posts get; a failure status keeps nothing...
    keep_but_fail: bool = False  # ...unless this: stored, then the answer lost (500)
    posts: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, app: FastAPI) -> None:
        app.add_middleware(_RelayDeskMiddleware, desk=self)

    def take(self, authorization: str, raw: bytes) -> int:
        if authorization != f"Bearer {link_key(self.secret)}":
            self.problems.append("a relays post without the gateway's link key")
            return 401
        if len(raw) > MAX_BODY_BYTES:
            self.problems.append(f"a relays post of {len(raw)} bytes, over the district's limit")
            return 413
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        problems = contract_problems(body)
        with self._lock:
            if problems:
                self.problems.extend(problems)
                return 422
            assert isinstance(body, dict)
            status = 500 if self.keep_but_fail else self.answer
            self.posts.append((status, body["relays"]))
            if status == 204 or self.keep_but_fail:
                for item in body["relays"]:
                    self.accepted[item["relay_id"]] = item
            return status

    def for_session(self, session_id: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.accepted.values() if r["session_id"] == session_id]

    def posted(self, session_id: str) -> list[tuple[int, dict[str, Any]]]:
        """Every post of this session's relays, in order, with the answer it got."""
        with self._lock:
            return [
                (status, item)
                for status, items in self.posts
                for item in items
                if item["session_id"] == session_id
            ]


class _RelayDeskMiddleware:
    def __init__(self, app: ASGIApp, desk: RelayDesk) -> None:
        self.app = app
        self.desk = desk

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != RELAYS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        status = self.desk.take(headers.get("authorization", ""), b"".join(chunks))
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


class Outage:
    """A TCP relay in front of a server that can be taken down and brought back on the same
    port: while down, connections are refused and the open ones are cut, as when the
    district's host is unreachable."""

    def __init__(self, target_url: str) -> None:
        target = httpx.URL(target_url)
        self._target = (target.host, target.port or 80)
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.port = 0
        self.up()
        self.url = f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))
        listener.settimeout(0.1)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            server.settimeout(None)
            with self._lock:
                self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open -= {source, sink}
            source.close()
