"""Self-test checks of the way to the district: API, TLS, clock, event stream, video.

They use the TLS context the console uses (``services.tls``), so "TLS verified" means
verified the way the console verifies: OS store, IT's CA bundle, or the pinned
certificate.
"""

from __future__ import annotations

import ipaddress
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx

from dispatch_console import __version__
from dispatch_console.domain.stream_hosts import stream_host_refusal
from dispatch_console.services.settings import Settings
from dispatch_console.services.tls import settings_ssl_context

from .checks import CheckResult, failed, passed, skipped

API = "/api/v1"
MAX_SKEW_S = 2.0
EVENTS_PATH = f"{API}/events"
PROBE_PATH = f"{API}/events/probe"
SELFTEST_PATH = f"{API}/selftest"
# Served by every gateway without a token (it shows no camera).
GATEWAY_CLIP_PATH = "/selftest.ts"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _trust(settings: Settings) -> str:
    if settings.certificate_pin and settings.ca_bundle:
        return f"CA bundle {settings.ca_bundle} and the pinned certificate"
    if settings.certificate_pin:
        return "the pinned certificate"
    if settings.ca_bundle:
        return f"CA bundle {settings.ca_bundle}"
    return "the OS certificate store"


def _client(settings: Settings, timeout_s: float) -> httpx.Client:
    return httpx.Client(
        base_url=settings.server_url,
        verify=settings_ssl_context(settings),
        timeout=httpx.Timeout(timeout_s, connect=5.0),
        headers={"User-Agent": f"dispatch-console/{__version__} selftest"},
        trust_env=False,  # the console's own client ignores proxy variables' CA files too
    )


def check_district_api(settings: Settings, timeout_s: float = 10.0) -> CheckResult:
    """Reachable, TLS verified (or plain HTTP only on loopback), clock skew under 2 s."""
    name = "district-api"
    url = settings.server_url
    plain = urlsplit(url).scheme == "http"
    if plain and not _is_loopback(url):
        return failed(
            name,
            f"{url} is plain HTTP: tokens and audit records would cross the network unencrypted",
            "set district_api_url to the district's https:// address",
        )
    sent = time.time()
    try:
        with _client(settings, timeout_s) as client:
            answer = client.get(f"{API}/health")
    except httpx.ConnectError as exc:
        tls = "CERTIFICATE" in str(exc).upper() or "pinned" in str(exc)
        hint = (
            f"the certificate is not trusted by {_trust(settings)}: install the district's CA "
            "in the OS store, or set ca_bundle / certificate_pin"
            if tls
            else "check the address, DNS, firewall and proxy between here and the district"
        )
        return failed(name, f"cannot connect to {url}: {exc}", hint)
    except httpx.HTTPError as exc:
        return failed(name, f"{url} did not answer: {exc!r}", "check the district server")
    received = time.time()
    if answer.status_code != 200 or _health_status(answer) != "ok":
        return failed(
            name,
            f"{url}{API}/health answered HTTP {answer.status_code}, not the district's health",
            "check district_api_url: it must be the district server's base address",
        )
    skew = _clock_skew(answer.headers.get("date"), sent, received)
    if skew is None:
        return failed(name, "the answer has no Date header to compare clocks", "check proxies")
    if abs(skew) >= MAX_SKEW_S:
        return failed(
            name,
            f"this workstation's clock is {abs(skew):.1f} s "
            f"{'behind' if skew > 0 else 'ahead of'} the district server's",
            "enable time synchronisation (systemd-timesyncd, chrony, or Windows Time)",
        )
    security = (
        "plain HTTP on loopback (a local demo district: no TLS to verify)"
        if plain
        else f"TLS verified against {_trust(settings)}"
    )
    return passed(
        name,
        f"{url} answers (district {_health_version(answer)}) in "
        f"{(received - sent) * 1000:.0f} ms; {security}; clock skew {skew:+.1f} s",
    )


def _health_status(answer: httpx.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return str(body.get("status")) if isinstance(body, dict) else None


def _health_version(answer: httpx.Response) -> str:
    body = answer.json()
    return str(body.get("version", "?"))


def _clock_skew(date_header: str | None, sent: float, received: float) -> float | None:
    """District clock minus ours. A Date header has whole seconds: the server's time lies
    in [date, date + 1), so its middle is compared with the middle of the round trip."""
    if not date_header:
        return None
    try:
        server = parsedate_to_datetime(date_header).timestamp() + 0.5
    except (TypeError, ValueError):
        return None
    return server - (sent + received) / 2


def check_event_stream(settings: Settings, timeout_s: float = 5.0) -> CheckResult:
    """The district's live event stream flows through this site's network.

    Without a user the self-test opens the district's anonymous probe stream, which sends
    one event at once: a proxy that buffers server-sent events holds it back, and that is
    what this check is for. The user's own stream needs a sign-in; its refusal of an
    anonymous caller (401) shows that it exists.
    """
    name = "event-stream"
    url = f"{settings.server_url}{EVENTS_PATH}"
    try:
        with _client(settings, timeout_s) as client:
            with client.stream("GET", EVENTS_PATH, headers=_SSE) as answer:
                status, kind = answer.status_code, answer.headers.get("content-type", "")
                if status == 200 and kind.startswith("text/event-stream"):
                    first = _first_bytes(answer)
                    heard = "first event received" if first else f"no event in {timeout_s:g} s"
                    return passed(name, f"{url} connected ({heard})")
            if status in (401, 403):
                return _probe(client, url, timeout_s)
    except httpx.HTTPError as exc:
        return failed(name, f"cannot open {url}: {exc!r}", "see the district-api check")
    if status == 404:
        return failed(
            name,
            f"the district server has no event stream ({url} answered 404)",
            "the district server must be a version that serves /api/v1/events; until then "
            "desks learn of approvals and revocations only by polling",
        )
    return failed(
        name,
        f"{url} answered HTTP {status} ({kind or 'no content type'}), not an event stream",
        "a proxy may be buffering or blocking server-sent events; allow text/event-stream",
    )


_SSE = {"Accept": "text/event-stream"}


def _probe(client: httpx.Client, user_url: str, timeout_s: float) -> CheckResult:
    name = "event-stream"
    url = f"{client.base_url}{PROBE_PATH}"
    with client.stream("GET", PROBE_PATH, headers=_SSE) as answer:
        status, kind = answer.status_code, answer.headers.get("content-type", "")
        if status == 200 and kind.startswith("text/event-stream"):
            first = _first_bytes(answer)
            if first.startswith(b"event: probe"):
                return passed(
                    name,
                    f"{url} delivered its first event at once (the user stream {user_url} "
                    "exists and wants a sign-in)",
                )
            return failed(
                name,
                f"{url} connected but held its first event back for {timeout_s:g} s",
                "a proxy between this workstation and the district buffers server-sent "
                "events: turn buffering off for text/event-stream (nginx: "
                "proxy_buffering off), or desks hear of approvals and revocations late",
            )
    if status == 404:
        return skipped(
            name,
            f"skipped: the district server has no anonymous probe ({url} answered 404); "
            f"the user stream {user_url} exists and wants a sign-in",
            "update the district server, or sign in with the console to use the stream",
        )
    return failed(name, f"{url} answered HTTP {status} ({kind or 'no content type'})", "")


def _first_bytes(answer: httpx.Response) -> bytes:
    try:
        for chunk in answer.iter_bytes():
            if chunk:
                return chunk
    except httpx.ReadTimeout:
        pass
    return b""


def check_gateway_stream(settings: Settings, timeout_s: float = 10.0) -> CheckResult:
    """A gateway the district names sends video this workstation's libVLC decodes.

    The district lists its linked gateways (``/api/v1/selftest``); each serves a test
    pattern at ``/selftest.ts`` that shows no camera, so no sign-in or audit is needed to
    prove the network path, the gateway's certificate and the decoder end to end.
    """
    name = "gateway-stream"
    try:
        with _client(settings, timeout_s) as client:
            answer = client.get(SELFTEST_PATH)
    except httpx.HTTPError as exc:
        return failed(name, f"cannot ask the district for its gateways: {exc!r}", "")
    if answer.status_code == 404:
        return skipped(
            name,
            "skipped: the district server does not list its gateways to a self-test "
            f"({settings.server_url}{SELFTEST_PATH} answered 404)",
            "sign in and open a camera the desk shows as unlocked to check video end to end",
        )
    try:
        gateways = [str(g) for g in answer.json()["gateways"]]
    except (ValueError, KeyError, TypeError):
        return failed(name, f"{SELFTEST_PATH} did not answer with a gateway list", "")
    if not gateways:
        return failed(
            name,
            "the district has no stream gateway linked right now",
            "start the school's gateway (dispatch-console gateway serve) and check that "
            "it reaches the district",
        )
    gateway = gateways[0]
    clip = f"{gateway.rstrip('/')}{GATEWAY_CLIP_PATH}"
    refusal = stream_host_refusal(clip, settings.allowed_stream_hosts)
    if refusal is not None:
        return failed(
            name,
            f"the district's gateway {gateway} is not an allowed stream host: {refusal}",
            "add it to allowed_stream_hosts in IT's configuration, or the console will "
            "refuse every stream from it",
        )
    from .local_checks import decode_pictures

    frames, problem = decode_pictures(clip, timeout_s)
    if problem is not None:
        return failed(
            name,
            f"no video from the gateway {gateway}: {problem}",
            "check that the workstation can reach the gateway's address and port "
            "(firewall) and that its certificate is trusted",
        )
    return passed(name, f"decoded {frames} pictures of the test pattern from {gateway}")
