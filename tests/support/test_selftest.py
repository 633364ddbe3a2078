"""The self-test's checks, each run for real: against the demo district, a real libVLC, a
real HTTPS server with a throw-away CA, and servers that answer wrongly on purpose."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import keyring
import pytest
from keyring.backends.fail import Keyring as FailKeyring

from dispatch_console.district.launch import DistrictStack
from dispatch_console.services.settings import Settings
from dispatch_console.support.checks import Status, all_passed
from dispatch_console.support.district_checks import (
    EVENTS_PATH,
    check_district_api,
    check_event_stream,
    check_gateway_stream,
)
from dispatch_console.support.local_checks import (
    check_configuration,
    check_keyring,
    check_libvlc,
    check_qt_platform,
)


class _FakeDistrict(BaseHTTPRequestHandler):
    """Answers /health like the district, with a clock ``offset_s`` off."""

    offset_s = 0.0

    def do_GET(self) -> None:
        body = b'{"status": "ok", "version": "test"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def date_time_string(self, timestamp: float | None = None) -> str:
        return formatdate(time.time() + self.offset_s, usegmt=True)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def fake_district() -> Iterator[tuple[str, type[_FakeDistrict]]]:
    handler = type("Handler", (_FakeDistrict,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_configuration_check_names_the_bad_key(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "config.toml").write_text('district_api_url = "gopher://x"\n')
    result, settings = check_configuration()
    assert result.status is Status.FAIL and settings is None
    assert str(tmp_path / "etc" / "config.toml") in result.detail
    assert "district_api_url" in result.detail and "district_api_url" in result.hint


def test_libvlc_decodes_the_bundled_clip(qapp: object) -> None:
    result = check_libvlc()
    assert result.status is Status.PASS, result
    assert "libVLC 3." in result.detail


def test_libvlc_check_fails_on_a_clip_that_is_not_video(qapp: object, tmp_path: Path) -> None:
    junk = tmp_path / "junk.ts"
    junk.write_bytes(os.urandom(4096))
    result = check_libvlc(junk, timeout_s=3)
    assert result.status is Status.FAIL
    assert "did not decode" in result.detail and result.hint


def test_qt_platform_loads_in_a_child(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    result = check_qt_platform()
    assert result.status is Status.PASS, result
    assert "'offscreen'" in result.detail


def test_qt_platform_fails_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    result = check_qt_platform()
    assert result.status is Status.FAIL
    assert "desktop session" in result.hint


def test_keyring_check_uses_the_backend_and_leaves_nothing(isolated_machine: object) -> None:
    result = check_keyring()
    assert result.status is Status.PASS, result
    assert isolated_machine.store == {}  # type: ignore[attr-defined]


def test_keyring_check_fails_without_a_backend() -> None:
    keyring.set_keyring(FailKeyring())  # the autouse fixture restores the previous one
    result = check_keyring()
    assert result.status is Status.FAIL
    assert "gnome-keyring" in result.hint


def test_demo_district_is_reachable_with_a_sane_clock(district_stack: DistrictStack) -> None:
    result = check_district_api(Settings.from_env(server_url=district_stack.server_url))
    assert result.status is Status.PASS, result
    assert "plain HTTP on loopback" in result.detail


def test_event_stream_check_matches_what_the_district_offers(
    district_stack: DistrictStack,
) -> None:
    """Without a sign-in, the district's probe stream proves events flow through."""
    paths = httpx.get(f"{district_stack.server_url}/openapi.json").json()["paths"]
    assert EVENTS_PATH in paths
    result = check_event_stream(Settings.from_env(server_url=district_stack.server_url))
    assert result.status is Status.PASS, result
    assert "delivered its first event at once" in result.detail


def test_clock_skew_over_two_seconds_fails(
    fake_district: tuple[str, type[_FakeDistrict]],
) -> None:
    url, handler = fake_district
    settings = Settings.from_env(server_url=url)
    assert check_district_api(settings).status is Status.PASS
    handler.offset_s = 5.0
    result = check_district_api(settings)
    assert result.status is Status.FAIL
    assert "s behind the district" in result.detail and "time synchronisation" in result.hint
    handler.offset_s = -5.0
    assert "s ahead of the district" in check_district_api(settings).detail


def test_plain_http_to_another_host_fails_without_connecting() -> None:
    result = check_district_api(Settings.from_env(server_url="http://cams.district.example"))
    assert result.status is Status.FAIL and "https://" in result.hint


def test_untrusted_tls_fails_with_a_hint() -> None:
    pytest.importorskip("trustme")
    import ssl

    import trustme

    ca = trustme.CA()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeDistrict)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}"
        result = check_district_api(Settings.from_env(server_url=url))
        assert result.status is Status.FAIL
        assert "OS certificate store" in result.hint
    finally:
        server.shutdown()
        server.server_close()


def test_a_proxy_that_buffers_events_fails_the_event_stream_check() -> None:
    class Buffering(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == EVENTS_PATH:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            self.wfile.flush()
            time.sleep(3)  # a buffering proxy: nothing until its buffer fills or the end
            self.wfile.write(b"event: probe\ndata: {}\n\n")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Buffering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = check_event_stream(Settings.from_env(server_url=url), timeout_s=1.0)
        assert result.status is Status.FAIL, result
        assert "held its first event back" in result.detail and "buffering" in result.hint
    finally:
        server.shutdown()
        server.server_close()


def test_video_from_the_gateway_decodes_before_anyone_signs_in(
    district_stack: DistrictStack,
) -> None:
    result = check_gateway_stream(Settings.from_env(server_url=district_stack.server_url))
    assert result.status is Status.PASS, result
    assert "decoded 3 pictures of the test pattern from http://" in result.detail


def test_a_gateway_outside_the_allowed_stream_hosts_fails(district_stack: DistrictStack) -> None:
    settings = Settings.from_env(server_url=district_stack.server_url)
    settings = dataclasses.replace(settings, allowed_stream_hosts=("cams.district.example",))
    result = check_gateway_stream(settings)
    assert result.status is Status.FAIL and "not an allowed stream host" in result.detail


def test_command_exits_non_zero_exactly_when_a_check_failed(
    district_stack: DistrictStack, tmp_path: Path
) -> None:
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir(exist_ok=True)
    config.write_text(f'district_api_url = "{district_stack.server_url}"\n')
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    child = subprocess.run(
        [sys.executable, "-m", "dispatch_console", "selftest", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    report = json.loads(child.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert set(checks) == {
        "configuration", "libvlc", "qt-platform", "keyring",
        "district-api", "event-stream", "gateway-stream",
    }  # fmt: skip
    assert checks["configuration"]["status"] == "pass"
    assert checks["district-api"]["status"] == "pass"
    assert all(c["hint"] for c in checks.values() if c["status"] != "pass")
    failed = [c for c in checks.values() if c["status"] == "fail"]
    assert report["ok"] is (not failed)
    assert (child.returncode != 0) is bool(failed)
    assert all_passed([]) is True
