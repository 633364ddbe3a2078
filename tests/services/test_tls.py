"""TLS to the district: OS store by default, IT's CA bundle, or a pinned certificate.

A real HTTPS server on loopback with a certificate from a throw-away CA (trustme), and
real httpx clients, sync and async (they reach the handshake through different ssl
classes, and the pin must hold for both).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import trustme

from dispatch_console.services.tls import certificate_fingerprint, district_ssl_context

Getter = Callable[[str, ssl.SSLContext], int]


class _Hello(BaseHTTPRequestHandler):
    requests_seen = 0

    def do_GET(self) -> None:
        type(self).requests_seen += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def https_url(ca: trustme.CA) -> Iterator[str]:
    cert = ca.issue_cert("localhost", "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # By address, not name: a minimal machine may not resolve "localhost".
    yield f"https://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def served_fingerprint(url: str) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    host, port = url.removeprefix("https://").split(":")
    with socket.create_connection((host, int(port))) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return certificate_fingerprint(der)


def get_sync(url: str, context: ssl.SSLContext) -> int:
    with httpx.Client(verify=context) as client:
        return client.get(url).status_code


def get_async(url: str, context: ssl.SSLContext) -> int:
    async def go() -> int:
        async with httpx.AsyncClient(verify=context) as client:
            return (await client.get(url)).status_code

    return asyncio.run(go())


@pytest.mark.parametrize("get", [get_sync, get_async])
def test_os_store_rejects_an_unknown_ca(https_url: str, get: Getter) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        get(https_url, district_ssl_context())


@pytest.mark.parametrize("get", [get_sync, get_async])
def test_configured_ca_bundle_is_trusted(
    https_url: str, ca: trustme.CA, tmp_path: Path, get: Getter
) -> None:
    bundle = tmp_path / "district-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    assert get(https_url, district_ssl_context(ca_bundle=bundle)) == 200


@pytest.mark.parametrize("get", [get_sync, get_async])
def test_the_pinned_certificate_is_accepted_without_a_ca(https_url: str, get: Getter) -> None:
    pin = served_fingerprint(https_url)
    assert get(https_url, district_ssl_context(pin=pin)) == 200


@pytest.mark.parametrize("get", [get_sync, get_async])
def test_another_certificate_is_refused_before_any_request(https_url: str, get: Getter) -> None:
    before = _Hello.requests_seen
    with pytest.raises(httpx.ConnectError, match="not the pinned one"):
        get(https_url, district_ssl_context(pin="0" * 64))
    assert _Hello.requests_seen == before  # no request (and no token) ever left


def test_pin_and_ca_bundle_both_apply(https_url: str, ca: trustme.CA, tmp_path: Path) -> None:
    bundle = tmp_path / "district-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    good = district_ssl_context(ca_bundle=bundle, pin=served_fingerprint(https_url))
    assert get_sync(https_url, good) == 200
    with pytest.raises(httpx.ConnectError, match="not the pinned one"):
        get_sync(https_url, district_ssl_context(ca_bundle=bundle, pin="1" * 64))
