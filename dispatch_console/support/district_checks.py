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
from dispatch_console.services.settings import Settings
from dispatch_console.services.tls import settings_ssl_context

from .checks import CheckResult, failed, passed, skipped

API = "/api/v1"
MAX_SKEW_S = 2.0
EVENTS_PATH = f"{API}/events"


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
    """The district's live event stream (server-sent events) accepts a connection."""
    name = "event-stream"
    url = f"{settings.server_url}{EVENTS_PATH}"
    try:
        with (
            _client(settings, timeout_s) as client,
            client.stream("GET", EVENTS_PATH, headers={"Accept": "text/event-stream"}) as answer,
        ):
            status = answer.status_code
            kind = answer.headers.get("content-type", "")
            if status == 200 and kind.startswith("text/event-stream"):
                first = _first_bytes(answer)
                heard = "first event received" if first else f"no event within {timeout_s:g} s"
                return passed(name, f"{url} connected ({heard})")
    except httpx.HTTPError as exc:
        return failed(name, f"cannot open {url}: {exc!r}", "see the district-api check")
    if status == 404:
        return failed(
            name,
            f"the district server has no event stream ({url} answered 404)",
            "the district server must be a version that serves /api/v1/events; until then "
            "desks learn of approvals and revocations only by polling",
        )
    if status in (401, 403):
        return skipped(
            name,
            f"skipped: needs sign-in ({url} answered {status}: it exists and wants a user)",
            "sign in with the console to use the event stream",
        )
    return failed(
        name,
        f"{url} answered HTTP {status} ({kind or 'no content type'}), not an event stream",
        "a proxy may be buffering or blocking server-sent events; allow text/event-stream",
    )


def _first_bytes(answer: httpx.Response) -> bytes:
    try:
        for chunk in answer.iter_bytes():
            if chunk:
                return chunk
    except httpx.ReadTimeout:
        pass
    return b""


def check_gateway_stream() -> CheckResult:
    """Honest about what the self-test cannot do alone.

    Every stream link is signed by the district for a signed-in user's audited viewing
    session (no audit record, no video), so there is no anonymous test stream to open.
    """
    return skipped(
        "gateway-stream",
        "skipped: needs sign-in (stream links are only signed for a user's audited viewing "
        "session)",
        "sign in and open a camera the desk shows as unlocked to check video end to end",
    )
