"""Benchmarks: ``python bench/run.py [METRIC ...]`` runs the named ones (or all).

Each figure is printed as one JSON line ``{"metric", "value", "unit", ...}`` with the
machine it was measured on, so numbers are never quoted without their context.

Metrics:
  ttff_p50_s   time from the click on a camera pin to the first painted frame of its
               tile, median over N opens (default 20), through the real UI, district
               server, stream gateway, camera simulator and libVLC. ttff_p90_s,
               ttff_max_s and ttff_open_view_p50_s (the part before libVLC starts:
               audit start made durable and delivered, stream ticket issued) come
               with it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    print(json.dumps({"metric": metric, "value": round(value, 4), "unit": unit,
                      "machine": machine(), **extra}), flush=True)  # fmt: skip


def bench_ttff(opens: int) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from dispatch_console.app import close_console, open_console, run_qt
    from dispatch_console.demo import demo_sign_in
    from dispatch_console.district.launch import start_process, stop_process
    from dispatch_console.domain.models import EmergencyType
    from dispatch_console.services.settings import Settings
    from dispatch_console.video.player import VideoPlayer

    floorplans = ROOT / "floorplans" / "riverside"
    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    camsim, camsim_url = start_process(
        ["camsim", "--port", "0", "--floorplans", str(floorplans)], "CAMSIM_URL"
    )
    server, server_url = start_process(
        ["district", "serve", "--host", "127.0.0.1", "--port", "0",
         "--db", str(data / "district.sqlite3"), "--floorplans", str(floorplans),
         "--camsim", camsim_url, "--seed-demo"],
        "DISTRICT_SERVER_URL",
    )  # fmt: skip
    samples: list[float] = []
    camera_id = "lhs-cam-02"
    to_tile: list[float] = []  # click → audit start durable and delivered, ticket issued
    direct: list[float] = []  # play() straight on the simulator → first frame decoded

    async def until(predicate: Callable[[], bool], within: float) -> None:
        deadline = time.monotonic() + within
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("benchmark step timed out")
            await asyncio.sleep(0.002)

    async def main() -> int:
        settings = Settings.from_env(server_url=server_url, data_dir=data / "console")
        desk = await open_console(settings, demo_sign_in("dispatcher"))
        window = desk.window
        window.resize(1400, 850)
        window.show()
        await desk.console.declare_emergency(
            "lincoln-hs", EmergencyType.ACTIVE_THREAT, "Benchmark: time to first frame"
        )
        for _ in range(opens):
            point = window.map.pin_position(camera_id).toPoint()
            clicked = time.perf_counter()
            QTest.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=point)
            await until(lambda: bool(window.grid.tiles), 10)
            to_tile.append(time.perf_counter() - clicked)
            tile = window.grid.tiles[0]
            await until(lambda: tile.first_frame_painted_at is not None, 20)  # noqa: B023
            assert tile.first_frame_painted_at is not None
            samples.append(tile.first_frame_painted_at - clicked)
            tile.close_button.click()
            await until(lambda: not window.grid.tiles and not desk.console.views, 10)
            await asyncio.sleep(0.2)
        window.close()
        await until(lambda: not window.isVisible(), 10)
        await close_console(desk)
        # Baseline in the same run: the player straight on the simulator's stream, with
        # no click, audit, ticket, gateway or painting.
        player = VideoPlayer(network_caching_ms=settings.network_caching_ms)
        first: list[float] = []
        player.first_frame.connect(lambda: first.append(time.perf_counter()))
        for _ in range(opens):
            first.clear()
            started = time.perf_counter()
            player.play(f"{camsim_url}/cameras/{camera_id}.ts")
            await until(lambda: bool(first), 20)
            direct.append(first[0] - started)
            player.stop()
            await asyncio.sleep(0.2)
        return 0

    try:
        run_qt(main)
    finally:
        stop_process(server)
        stop_process(camsim)
    samples.sort()
    p90 = samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))]
    emit("ttff_p50_s", statistics.median(samples), "s", opens=len(samples))
    emit("ttff_p90_s", p90, "s", opens=len(samples))
    emit("ttff_max_s", samples[-1], "s", opens=len(samples))
    emit("ttff_open_view_p50_s", statistics.median(to_tile), "s", opens=len(to_tile),
         note="before play(): audit start durable + delivered, ticket issued")  # fmt: skip
    baseline = statistics.median(direct)
    emit("ttff_direct_p50_s", baseline, "s", opens=len(direct),
         note="baseline: player on the simulator directly, no UI, audit or gateway")  # fmt: skip
    emit("ttff_vs_direct_ratio", statistics.median(samples) / baseline, "x")


BENCHMARKS: dict[str, Callable[[argparse.Namespace], None]] = {
    "ttff_p50_s": lambda args: bench_ttff(args.opens),
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("metrics", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--opens", type=int, default=20, help="opens for ttff (default 20)")
    args = parser.parse_args()
    unknown = [m for m in args.metrics if m not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown metric(s): {', '.join(unknown)}")
    for metric in args.metrics or list(BENCHMARKS):
        BENCHMARKS[metric](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
