"""The ``dispatch-console`` command: the console, the demo, and the district's servers."""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import logging
import os
import signal
import sys
import tempfile
from pathlib import Path

from dispatch_console import __version__
from dispatch_console.services.config_files import ConfigError

# The police package leaves these out; they come with ``pip install .[district]``.
PARTS_NOT_IN_POLICE_PACKAGE = (
    "dispatch_console.district",
    "dispatch_console.gateway",
    "dispatch_console.camsim",
    "fastapi",
    "uvicorn",
    "av",
)
NOT_INSTALLED = (
    "not part of this installation (the police console package carries the console only); "
    "the reference district server, gateway and simulator come with "
    "`pip install dispatch-console[district]`"
)

DEFAULT_FLOORPLANS = Path(__file__).resolve().parent.parent / "floorplans" / "riverside"


def _floorplans(value: str | None) -> Path:
    path = Path(value) if value else DEFAULT_FLOORPLANS
    if not (path / "district.json").is_file():
        raise SystemExit(f"dispatch-console: no district.json in {path}; pass --floorplans DIR")
    return path


def _camsim(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console camsim",
        description="Simulate a district's IP cameras: one continuous encoder per camera, "
        "served as live MPEG-TS and MJPEG over HTTP and as RTSP.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554, help="HTTP port; 0 picks a free port")
    parser.add_argument("--floorplans", help="floor-plan folder (default: the sample district)")
    parser.add_argument(
        "--gop", type=float, default=2.0, metavar="SECONDS", help="keyframe interval (default 2)"
    )
    parser.add_argument("--fps", type=int, default=15, help="frames per second (default 15)")
    parser.add_argument("--codec", choices=("h264", "h265"), default="h264")
    parser.add_argument(
        "--main", action="store_true", help="also a 1920x1080 main stream per camera (CPU heavy)"
    )
    parser.add_argument("--no-rtsp", action="store_true", help="serve HTTP only")
    parser.add_argument("--rtsp-port", type=int, default=0, help="RTSP port; 0 (default) = free")
    parser.add_argument("--rtsp-user", help="require these RTSP credentials (Basic or Digest)")
    parser.add_argument("--rtsp-password")
    parser.add_argument("--cameras", metavar="ID,ID", help="only these cameras (default: all)")
    args = parser.parse_args(argv)
    if (args.rtsp_user is None) != (args.rtsp_password is None):
        parser.error("--rtsp-user and --rtsp-password go together")
    from dispatch_console.camsim.encoder import FfmpegNotFoundError
    from dispatch_console.camsim.server import SimCamera, SimConfig, Simulator, run_until_signalled
    from dispatch_console.floorplan.loader import FloorPlanError, load_district

    try:
        district = load_district(_floorplans(args.floorplans))
    except FloorPlanError as exc:
        print(f"camsim: {exc}", file=sys.stderr)
        return 1
    cameras = [SimCamera(c.id, c.name) for c in district.cameras()]
    if args.cameras:
        wanted = [i.strip() for i in args.cameras.split(",") if i.strip()]
        unknown = sorted(set(wanted) - {c.camera_id for c in cameras})
        if unknown:
            print(f"camsim: unknown camera(s): {', '.join(unknown)}", file=sys.stderr)
            return 1
        cameras = [c for c in cameras if c.camera_id in wanted]
    config = SimConfig(
        cameras=cameras,
        host=args.host,
        port=args.port,
        fps=args.fps,
        gop_s=args.gop,
        codec=args.codec,
        main=args.main,
        rtsp=not args.no_rtsp,
        rtsp_port=args.rtsp_port,
        rtsp_user=args.rtsp_user,
        rtsp_password=args.rtsp_password,
    )

    def ready(sim: Simulator) -> None:
        print(f"CAMSIM_URL={sim.http_url}", flush=True)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s camsim %(levelname)s %(message)s")
    try:
        asyncio.run(run_until_signalled(config, ready))
    except (FfmpegNotFoundError, OSError, ValueError, RuntimeError) as exc:
        print(f"camsim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _district(argv: list[str]) -> int:
    if argv and argv[0] == "user":
        from dispatch_console.district import provision

        return provision.main(argv[1:])
    if argv and argv[0] == "audit":
        from dispatch_console.district import audit_cli

        return audit_cli.main(argv[1:])
    if argv and argv[0] == "migrate":
        from dispatch_console.district import serve as district_serve

        return district_serve.migrate_main(argv[1:])
    if not argv or argv[0] != "serve":
        print(
            "usage: dispatch-console district serve --host H --port P --db PATH\n"
            "       dispatch-console district migrate --db PATH [--check]\n"
            "       dispatch-console district audit {verify,purge} --db PATH ...\n"
            "       dispatch-console district user --db PATH "
            "{add,disable,enable,unlock,reset-totp,list,log} ...",
            file=sys.stderr,
        )
        return 2
    from dispatch_console.district import serve

    return serve.main(argv[1:])


def _gateway(argv: list[str]) -> int:
    if not argv or argv[0] != "serve":
        print(
            "usage: dispatch-console gateway serve --district URL --secret-file PATH",
            file=sys.stderr,
        )
        return 2
    from dispatch_console.gateway import serve

    return serve.main(argv[1:])


def _floorplan(argv: list[str]) -> int:
    from dispatch_console.floorplan import commands

    return commands.main(argv)


def _demo(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console demo",
        description="The console against the bundled district: camera simulator, reference "
        "district server (SQLite) and two desks, police dispatch and district safety office.",
    )
    parser.add_argument(
        "--role",
        choices=("both", "dispatcher", "district"),
        default="both",
        help="which desk(s) to open (default: both, in two windows)",
    )
    parser.add_argument("--floorplans", help="floor-plan folder (default: the sample district)")
    parser.add_argument("--data-dir", help="where the demo keeps its database and outboxes")
    parser.add_argument(
        "--autoplay",
        action="store_true",
        help="declare an active-threat emergency at Lincoln High and open three cameras",
    )
    parser.add_argument("--screenshot", help="save the windows to PNG files and exit")
    parser.add_argument("--screenshot-after", type=float, default=8.0, metavar="SECONDS")
    args = parser.parse_args(argv)

    from dispatch_console.app import NO_DISPLAY_HELP, has_display

    if not has_display():
        print(NO_DISPLAY_HELP.format(command="demo"), file=sys.stderr)
        return 2
    from dispatch_console.district.launch import start_district_stack

    floorplans = _floorplans(args.floorplans)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="dispatch-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    from dispatch_console.support.logs import setup_logging

    # The same redacting, rotating log as the installed console (a test greps a demo run).
    log_file = setup_logging()
    logging.getLogger(__name__).info("demo %s; log %s", __version__, log_file)
    try:
        stack = start_district_stack(data_dir, floorplans)
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    try:
        print(
            f"district server: {stack.server_url}\nstream gateway: {stack.gateway_url}\n"
            f"camera simulator: {stack.camsim_url} (cameras pulled from {stack.camera_source})",
            flush=True,
        )
        from dispatch_console.demo import run_demo

        return run_demo(
            stack.server_url,
            data_dir,
            role=args.role,
            autoplay=args.autoplay,
            screenshot=Path(args.screenshot) if args.screenshot else None,
            screenshot_after_s=args.screenshot_after,
        )
    finally:
        stack.stop()


def _selftest(argv: list[str]) -> int:
    from dispatch_console.support import selftest

    return selftest.main(argv)


def _audit(argv: list[str]) -> int:
    from dispatch_console import audit_cli

    return audit_cli.main(argv)


def _support_bundle(argv: list[str]) -> int:
    from dispatch_console.support import bundle

    return bundle.main(argv)


def die_with_parent() -> None:
    """When a launcher asked for it, end with the launcher, even if it is killed.

    ``district.launch.start_process`` names itself in DISPATCH_CONSOLE_PARENT_PID; on
    Linux the child then asks the kernel for SIGTERM when its parent dies (and exits at
    once if that already happened). Done here in the child, not in a pre-exec hook,
    which is unsafe in a parent with threads.
    """
    expected = os.environ.pop("DISPATCH_CONSOLE_PARENT_PID", None)
    if not expected or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != expected:
        raise SystemExit(1)  # the launcher is already gone


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    die_with_parent()
    commands = {
        "demo": _demo,
        "district": _district,
        "gateway": _gateway,
        "camsim": _camsim,
        "floorplan": _floorplan,
    }
    commands |= {"selftest": _selftest, "support-bundle": _support_bundle, "audit": _audit}
    if argv and argv[0] in commands:
        try:
            return commands[argv[0]](argv[1:])
        except ModuleNotFoundError as exc:
            if not (exc.name or "").startswith(PARTS_NOT_IN_POLICE_PACKAGE):
                raise
            print(f"dispatch-console {argv[0]}: {NOT_INSTALLED}", file=sys.stderr)
            return 2
        except ConfigError as exc:  # an invalid settings file: one line, no traceback
            print(f"dispatch-console: invalid configuration: {exc}", file=sys.stderr)
            return 2
    parser = argparse.ArgumentParser(
        prog="dispatch-console",
        description="Live school cameras for police dispatch, only under an emergency grant. "
        "Without a command, opens the console's sign-in window.",
        epilog="commands: selftest | support-bundle | audit verify | demo | district serve | "
        "gateway serve | camsim  (each has --help)",
    )
    parser.add_argument("--version", action="version", version=f"dispatch-console {__version__}")
    parser.add_argument(
        "--server", help="district server URL (default: $DISPATCH_SERVER_URL or the built-in)"
    )
    args = parser.parse_args(argv)
    from dispatch_console.app import NO_DISPLAY_HELP, has_display, run_qt, run_signed_in
    from dispatch_console.services.settings import Settings

    if not has_display():
        print(NO_DISPLAY_HELP.format(command=""), file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env(server_url=_server_argument(args.server))
    except ConfigError as exc:  # an invalid settings file: one line, no traceback
        print(f"dispatch-console: invalid configuration: {exc}", file=sys.stderr)
        return 2
    from dispatch_console.support.logs import setup_logging

    log_file = setup_logging()
    logging.getLogger(__name__).info("dispatch-console %s; log %s", __version__, log_file)
    return run_qt(lambda: run_signed_in(settings))


def _server_argument(value: str | None) -> str | None:
    """``--server``, checked like ``district_api_url`` in a settings file."""
    if value is None:
        return None
    from dispatch_console.services.config_keys import parse_url

    try:
        return parse_url(value)
    except ValueError as exc:
        raise ConfigError("--server", "district_api_url", str(exc)) from None
