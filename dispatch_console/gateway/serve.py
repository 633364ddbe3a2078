"""``dispatch-console gateway serve``: run a stream gateway beside a district server.

Like the district server, it binds its own socket (port 0 picks a free one), and prints
one line, ``GATEWAY_URL=http://host:port``, once it listens and its link to the district
is up, so launchers learn where it is without racing. Logs go to stderr.

Besides the relay, the camera hub and the district link, it runs the relay reporter
(``relaylog``), which posts the log of relayed streams to the district; on SIGTERM it
ends the open relays and makes one last post before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from dispatch_console.domain.stream_tokens import link_key, parse_secret

from .access import LEASE_S, AccessGuard
from .hub import IDLE_CLOSE_S, StreamHub
from .link import DistrictLink
from .relay import RelayServer
from .relaylog import REFRESH_S, RelayLog, RelayReporter
from .sources import SourceBook, SourcesError, load_credentials
from .upstream import CameraStatus
from .viewer import SOFT_LIMIT_BYTES

READY_PREFIX = "GATEWAY_URL"
LINK_WAIT_S = 15.0

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch-console gateway serve",
        description="Relay the district's cameras to authorised consoles.",
    )
    parser.add_argument("--district", required=True, help="the district server's base URL")
    parser.add_argument(
        "--secret-file",
        required=True,
        help="file holding the secret shared with the district server (signs stream links)",
    )
    parser.add_argument(
        "--credentials",
        default=None,
        help='camera credentials, JSON: {"camera id" or "*": {"username": .., "password": ..}}',
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--public-url", default=None, help="the base URL consoles reach this gateway at"
    )
    parser.add_argument(
        "--schools",
        default=None,
        help="comma-separated school ids this gateway serves (default all)",
    )
    parser.add_argument(
        "--idle-close",
        type=float,
        default=IDLE_CLOSE_S,
        help=f"seconds an upstream stays open after its last viewer (default {IDLE_CLOSE_S:g})",
    )
    parser.add_argument(
        "--lease",
        type=float,
        default=LEASE_S,
        help="seconds streams go on while the district cannot be heard (default "
        f"{LEASE_S:g}); then they stop",
    )
    parser.add_argument(
        "--viewer-budget",
        type=int,
        default=SOFT_LIMIT_BYTES,
        help="bytes queued for one viewer before it skips to the next keyframe (default "
        f"{SOFT_LIMIT_BYTES}); at four times this it is dropped",
    )
    parser.add_argument(
        "--relay-refresh",
        type=float,
        default=REFRESH_S,
        help="seconds between reports of an open relay's byte count to the district "
        f"(default {REFRESH_S:g}); new and ended relays are reported within a second",
    )
    parser.add_argument("--log-level", default="info")
    return parser


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket with IPPROTO_TCP, so asyncio sets TCP_NODELAY on accepted ones."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(256)
    sock.setblocking(False)
    return sock


class Gateway:
    """One gateway: relay, camera hub, access guard and district link, on one event loop."""

    def __init__(
        self,
        district_url: str,
        secret: bytes,
        book: SourceBook,
        *,
        public_url: str | None = None,
        schools: list[str] | None = None,
        idle_close_s: float = IDLE_CLOSE_S,
        lease_s: float = LEASE_S,
        viewer_budget: int = SOFT_LIMIT_BYTES,
        relay_refresh_s: float = REFRESH_S,
    ) -> None:
        self._district_url = district_url
        self._secret = secret
        self._public_url = public_url
        self._schools = schools
        self.guard = AccessGuard(secret, lease_s=lease_s)
        self.link_key = link_key(secret)
        self.hub = StreamHub(book, idle_close_s=idle_close_s, on_status=self._report)
        self.relays = RelayLog(refresh_s=relay_refresh_s)
        self.reporter = RelayReporter(district_url, self.link_key, self.relays)
        self.relay = RelayServer(
            self.hub,
            self.guard,
            metrics_key=self.link_key,
            link_state=self._link_state,
            viewer_budget=viewer_budget,
            relays=self.relays,
        )
        self.link: DistrictLink | None = None
        self.url = ""
        self._tasks: list[asyncio.Task[None]] = []

    def _report(self, status: CameraStatus) -> None:
        if self.link is not None:
            self.link.report(status)

    def _link_state(self) -> dict[str, object]:
        return self.link.state() if self.link is not None else {}

    async def start(self, sock: socket.socket, link_wait_s: float = LINK_WAIT_S) -> str:
        """Listen on ``sock``, connect to the district, and return this gateway's URL."""
        host, port = sock.getsockname()[:2]
        self.url = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
        self.link = DistrictLink(
            self._district_url,
            self.link_key,
            (self._public_url or self.url).rstrip("/"),
            hub=self.hub,
            guard=self.guard,
            cut=self.relay.cut_sessions,
            open_sessions=self.relay.open_sessions,
            schools=self._schools,
        )
        await self.relay.start(sock)
        self._tasks = [
            asyncio.create_task(self.link.run_forever()),
            asyncio.create_task(self.relay.enforce_forever()),
            asyncio.create_task(self.hub.reap_forever()),
            asyncio.create_task(self.reporter.run_forever()),
        ]
        for _ in range(int(link_wait_s / 0.05)):
            if self.link.connected:
                break
            await asyncio.sleep(0.05)
        else:
            log.warning("the district link is not up yet (%s); serving anyway", self.link.problem)
        return self.url

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.relay.stop()
        # The viewers are gone, so their relays have ended: tell the district, once.
        await self.reporter.final_report()
        await self.reporter.aclose()
        await asyncio.to_thread(self.hub.stop_all)


async def serve(args: argparse.Namespace, secret: bytes, book: SourceBook) -> None:
    gateway = Gateway(
        args.district,
        secret,
        book,
        public_url=args.public_url,
        schools=args.schools.split(",") if args.schools else None,
        idle_close_s=args.idle_close,
        lease_s=args.lease,
        viewer_budget=args.viewer_budget,
        relay_refresh_s=args.relay_refresh,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    url = await gateway.start(bind_socket(args.host, args.port))
    try:
        print(f"{READY_PREFIX}={url}", flush=True)
        await stop.wait()
    finally:
        await gateway.stop()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # httpx logs every request URL at INFO; the link's are harmless, but keep the habit.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        secret = parse_secret(Path(args.secret_file).read_bytes(), args.secret_file)
    except (OSError, ValueError) as exc:
        print(f"gateway: cannot use the shared secret: {exc}", file=sys.stderr)
        return 2
    try:
        credentials = load_credentials(Path(args.credentials)) if args.credentials else {}
    except SourcesError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(args, secret, SourceBook(credentials)))
    except OSError as exc:
        print(f"gateway: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0
