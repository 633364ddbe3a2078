"""``dispatch-console district serve``: run the reference district server.

The demo and the end-to-end tests start this as a child process and need to learn where
it listens without racing for a port. So: with ``--port 0`` we bind the socket ourselves
(the OS picks a free port), hand it to uvicorn, and once uvicorn has started print exactly
one line, ``DISTRICT_SERVER_URL=http://host:port``, to stdout. Logs go to stderr only, and
uvicorn's access log is off because stream-gateway URLs carry single-use tickets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from dispatch_console.domain.stream_tokens import parse_secret
from dispatch_console.floorplan.loader import FloorPlanError

from . import migrations, storage
from .db import Database
from .remembered import DEFAULT_REMEMBER_DAYS, MAX_REMEMBER_DAYS
from .seed import seed_demo
from .server import create_app

READY_PREFIX = "DISTRICT_SERVER_URL"
GRACEFUL_SHUTDOWN_S = 3

log = logging.getLogger(__name__)


def default_floorplans_dir() -> Path:
    """The sample district shipped in the source tree (``floorplans/riverside``)."""
    return Path(__file__).resolve().parents[2] / "floorplans" / "riverside"


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind and listen ourselves, so port 0 yields a known free port before uvicorn starts.

    The protocol must be IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted
    connections only then, and without it each request on a kept-alive connection waits
    about 44 ms for Nagle's algorithm and the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def server_url(host: str, sock: socket.socket) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


KEEP_ALIVE_S = 75


def make_server(app: FastAPI, log_level: str = "warning") -> uvicorn.Server:
    """A uvicorn server for our app: no access log (tickets in URLs), bounded shutdown."""
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        log_config=None,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        # Longer than any client keeps an idle connection (the console: 4 s). With both
        # at uvicorn's 5 s, a request sent on a connection the server was closing failed
        # with "server disconnected" (seen on a loaded machine).
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    return uvicorn.Server(config)


class ThreadedServer:
    """Run an app on a loopback socket in a background thread (tests, in-process demos).

    ``start`` returns the base URL once uvicorn is accepting requests, and fails within
    its timeout instead of hanging if it never does.
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.url = ""
        self._server = make_server(app)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> str:
        sock = bind_socket(self.host, self.port)
        self.url = server_url(self.host, sock)

        def run() -> None:
            try:
                asyncio.run(self._server.serve(sockets=[sock]))
            except BaseException as exc:  # reported to start()/stop()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name="district-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"the district server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the district server did not start within {timeout} s")
            time.sleep(0.01)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout / 2)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout / 2)
        self._thread = None

    def __enter__(self) -> ThreadedServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def load_sources(path: Path) -> dict[str, dict[str, str]]:
    """The registry's camera sources; ValueError naming the file and the bad entry."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(f"the camera sources file {path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"the camera sources file {path} must hold a JSON object")
    for camera_id, streams in document.items():
        if not isinstance(streams, dict) or not all(
            k in ("sub", "main") and isinstance(v, str) for k, v in streams.items()
        ):
            raise ValueError(f'in {path}, camera {camera_id!r} needs {{"sub": URL, "main": URL}}')
    return document


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dispatch-console district serve",
        description="Run the reference district API and stream gateway.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: pick a free one)")
    parser.add_argument(
        "--db",
        required=True,
        help="SQLite database file (created if missing), or a postgresql:// URL",
    )
    parser.add_argument(
        "--floorplans",
        default=str(default_floorplans_dir()),
        help="floor-plan folder with district.json (default: the sample district)",
    )
    parser.add_argument(
        "--camsim",
        default=None,
        help="the camera simulator's base URL (http:// for MPEG-TS, rtsp:// for RTSP): "
        "camera sources for the demo",
    )
    parser.add_argument(
        "--camera-sources",
        default=None,
        help='the registry\'s camera sources, JSON: {"camera id": {"sub": URL, "main": URL}} '
        "(credentials belong in the gateway's own file, never here)",
    )
    parser.add_argument(
        "--gateway-secret-file",
        default=None,
        help="file with the secret shared with the stream gateways (at least 32 bytes); "
        "without it no video is relayed",
    )
    parser.add_argument(
        "--insecure-allow-totp-reuse",
        action="store_true",
        help="TEST SUITE ONLY: accept a one-time code more than once (RFC 6238 forbids it), "
        "so many tests can sign one demo account in within 30 seconds",
    )
    parser.add_argument(
        "--audit-starts-per-minute",
        type=int,
        default=None,
        help="viewing-session starts one user may record per minute (default 60); a flood "
        "beyond it gets 429",
    )
    parser.add_argument(
        "--audit-retention-days",
        type=int,
        default=None,
        help="purge the audit trail past this many days (at least 365), at start and daily; "
        "without it nothing is ever purged",
    )
    parser.add_argument(
        "--remember-days",
        type=int,
        default=DEFAULT_REMEMBER_DAYS,
        help=f"how long a user who ticks 'Keep me signed in' stays signed in on that "
        f"workstation before the password and one-time code are asked again (0 to "
        f"{MAX_REMEMBER_DAYS}; 0: never remembered; default {DEFAULT_REMEMBER_DAYS})",
    )
    parser.add_argument(
        "--seed-demo", action="store_true", help="add the demo accounts if they are missing"
    )
    parser.add_argument(
        "--migrate",
        action="store_true",
        help="upgrade an older database's schema at start (back it up first); without it "
        "the server refuses to start on one",
    )
    parser.add_argument("--log-level", default="info", help="log level for stderr")
    return parser


def migrate_main(argv: Sequence[str]) -> int:
    """``district migrate --db PATH|URL [--check]``: apply the pending schema migrations.

    A SQLite file must exist (a typo must not create an empty one); an empty PostgreSQL
    database is how IT starts one, so there every step is applied.
    """
    parser = argparse.ArgumentParser(
        prog="dispatch-console district migrate",
        description="Upgrade the district database's schema (back it up first).",
    )
    parser.add_argument("--db", required=True, help="SQLite database file, or a postgresql:// URL")
    parser.add_argument(
        "--check", action="store_true", help="only say what would be applied (exit 1 if any)"
    )
    args = parser.parse_args(list(argv))
    where = storage.describe(args.db)
    if not storage.is_postgres(args.db) and not Path(args.db).is_file():
        print(f"district migrate: no database at {args.db}", file=sys.stderr)
        return 2
    try:
        conn = storage.connect(args.db)
    except storage.StorageUnavailable as exc:
        print(f"district migrate: {exc}", file=sys.stderr)
        return 2
    try:
        version = migrations.schema_version(conn)
        try:
            migrations.check(conn, where, migrate=True)
        except migrations.SchemaError as exc:
            print(f"district migrate: {exc}", file=sys.stderr)
            return 2
        todo = migrations.pending(conn)
        if not todo:
            print(f"{where}: schema {version}, up to date")
            return 0
        for step in todo:
            print(
                f"{'would apply' if args.check else 'applying'} {step.version}: {step.description}"
            )
        if args.check:
            return 1
        migrations.apply(conn, todo)
        print(f"{where}: schema {version} -> {migrations.LATEST}")
        return 0
    finally:
        conn.close()


async def _serve(server: uvicorn.Server, sock: socket.socket, url: str) -> None:
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("the server stopped during start-up")
        await asyncio.sleep(0.01)
    print(f"{READY_PREFIX}={url}", flush=True)
    await task


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``district serve``; ``argv`` is the options after the sub-command."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        secret = (
            parse_secret(Path(args.gateway_secret_file).read_bytes(), args.gateway_secret_file)
            if args.gateway_secret_file
            else None
        )
        sources = load_sources(Path(args.camera_sources)) if args.camera_sources else None
    except (OSError, ValueError) as exc:
        print(f"district serve: {exc}", file=sys.stderr)
        return 2
    try:
        db = Database(args.db, migrate=args.migrate)
    except migrations.SchemaError as exc:
        print(f"district serve: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"Cannot open the database {storage.describe(args.db)}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.seed_demo:
            added = seed_demo(db)
            if added:
                log.info("demo accounts added: %s", ", ".join(added))
        try:
            app = create_app(
                db=db,
                floorplans_dir=args.floorplans,
                camsim_url=args.camsim,
                camera_sources=sources,
                gateway_secret=secret,
                allow_totp_reuse=args.insecure_allow_totp_reuse,
                audit_retention_days=args.audit_retention_days,
                remember_days=args.remember_days,
                **(
                    {"audit_starts_per_minute": args.audit_starts_per_minute}
                    if args.audit_starts_per_minute
                    else {}
                ),
            )
        except (FloorPlanError, ValueError) as exc:
            print(str(exc), file=sys.stderr)
            return 2
        try:
            sock = bind_socket(args.host, args.port)
        except OSError as exc:
            print(f"Cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
            return 2
        url = server_url(args.host, sock)
        server = make_server(app, log_level=args.log_level.lower())
        try:
            asyncio.run(_serve(server, sock, url))
        except KeyboardInterrupt:
            pass
        finally:
            sock.close()
        return 0
    finally:
        db.close()
