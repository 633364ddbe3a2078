"""The ``dispatch-console`` command: the console, the demo, and the district's servers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import tempfile
from pathlib import Path

from dispatch_console import __version__

DEFAULT_FLOORPLANS = Path(__file__).resolve().parent.parent / "floorplans" / "riverside"


def _floorplans(value: str | None) -> Path:
    path = Path(value) if value else DEFAULT_FLOORPLANS
    if not (path / "district.json").is_file():
        raise SystemExit(f"dispatch-console: no district.json in {path}; pass --floorplans DIR")
    return path


def _camsim(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="dispatch-console camsim",
        description="Serve one live, labelled test stream per camera of a district.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8554, help="0 picks a free port")
    parser.add_argument("--floorplans", help="floor-plan folder (default: the sample district)")
    args = parser.parse_args(argv)
    from dispatch_console.district.camsim import CameraSimulator, FfmpegNotFoundError, SimCamera
    from dispatch_console.floorplan.loader import FloorPlanError, load_district

    try:
        district = load_district(_floorplans(args.floorplans))
    except FloorPlanError as exc:
        print(f"camsim: {exc}", file=sys.stderr)
        return 1
    cameras = [SimCamera(c.id, c.name) for c in district.cameras()]

    async def serve() -> None:
        sim = CameraSimulator(cameras, host=args.host, port=args.port)
        await sim.start()
        print(f"CAMSIM_URL=http://{args.host}:{sim.port}", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await sim.stop()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s camsim %(levelname)s %(message)s")
    try:
        asyncio.run(serve())
    except (FfmpegNotFoundError, OSError) as exc:
        print(f"camsim: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def _district(argv: list[str]) -> int:
    if not argv or argv[0] != "serve":
        print("usage: dispatch-console district serve --host H --port P --db PATH", file=sys.stderr)
        return 2
    from dispatch_console.district import serve

    return serve.main(argv[1:])


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
    from dispatch_console.district.launch import start_process, stop_process

    floorplans = _floorplans(args.floorplans)
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="dispatch-demo-"))
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    processes = []
    try:
        camsim, camsim_url = start_process(
            ["camsim", "--port", "0", "--floorplans", str(floorplans)], "CAMSIM_URL"
        )
        processes.append(camsim)
        server, server_url = start_process(
            [
                "district",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--db",
                str(data_dir / "district.sqlite3"),
                "--floorplans",
                str(floorplans),
                "--camsim",
                camsim_url,
                "--seed-demo",
            ],
            "DISTRICT_SERVER_URL",
        )
        processes.append(server)
        print(f"district server: {server_url}\ncamera simulator: {camsim_url}", flush=True)
        from dispatch_console.demo import run_demo

        return run_demo(
            server_url,
            data_dir,
            role=args.role,
            autoplay=args.autoplay,
            screenshot=Path(args.screenshot) if args.screenshot else None,
            screenshot_after_s=args.screenshot_after,
        )
    except RuntimeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    finally:
        for process in reversed(processes):
            with contextlib.suppress(Exception):
                stop_process(process)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"demo": _demo, "district": _district, "camsim": _camsim}
    if argv and argv[0] in commands:
        return commands[argv[0]](argv[1:])
    parser = argparse.ArgumentParser(
        prog="dispatch-console",
        description="Live school cameras for police dispatch, only under an emergency grant. "
        "Without a command, opens the console's sign-in window.",
        epilog="commands: demo | district serve | camsim  (each has --help)",
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
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings = Settings.from_env(server_url=args.server.rstrip("/") if args.server else None)
    return run_qt(lambda: run_signed_in(settings))
