"""Benchmarks: ``python bench/run.py [METRIC ...]`` runs the named ones (or all).

Each figure is printed as one JSON line ``{"metric", "value", "unit", ...}`` with the
machine it was measured on, so numbers are never quoted without their context.

Metrics:
  ttff_p50_s   time from the click on a camera pin to the first painted frame of its
               tile, over N opens (default 20) at random phases of the camera's GOP,
               for GOPs of 2 s and 4 s, through the real UI, district server, stream
               gateway (RTSP from the camera-like simulator) and libVLC. With it:
               ttff_p95_s, ttff_max_s, ttff_open_view_p50_s (the part before libVLC
               starts), live_latency_p95_s (capture to paint, read from the picture's
               capture-time strip), live_after_click_p50_s (click until the picture is
               within 50 ms of its steady latency), and the baseline ttff_direct_p50_s
               (libVLC on the camera's own stream, joined mid-GOP, no gateway).
  revocation_to_cut_s
               p95 over N runs: from the revoke request to the end of an open stream.
  gateway_cpu_cores_per_50_viewers
               the gateway's CPU with 50 viewers of one camera (one viewer as the
               baseline), and upstream_sessions_per_camera (must be 1).
  approval_propagation_s
               two real desks in one process (bench/desk_bench.py), N runs: click Approve
               on the district desk -> the dispatcher's pins unlocked, and a police click
               on a pin -> the session's row on the district board (audit_notify_*),
               both carried by the live event stream; GET /health as the baseline.
  token_check_beside_writes_ms
               the district's token check (p50/p95/max) while another thread holds
               5 ms write transactions back to back, and the same checks alone
               (bench/district_bench.py).
  open_view_p50_s
               Console.open_view (audit start durable locally and delivered, stream
               ticket issued) then close_view, headless, on a dispatcher's console
               against the real district server process; p50/p95 over N opens, with a
               bare GET /health round trip on the same connection as the baseline.
               A 44 ms Nagle stall per request would show here first.
  audit_outage 100*N sessions recorded while the district server is down (it is
               killed), then the server restarts on the same port and database: time to
               drain, and lost, duplicated and left-open counts (all 0).
  audit_kill9  a headless console (the desks' Console class) killed with SIGKILL at
               random points 5*N times, then recovered; prints lost, duplicated and
               left-open counts on the server, which must all be 0.
  map          the map benchmarks (bench/map_bench.py), a separate group that the default
               run leaves out: map_load_s, map_frame_ms, map_settle_ms,
               coverage_query_ms and visibility_build_s on a generated 2,000-camera,
               60-building district.
               Each is also selectable by name.
  audit_outbox_events_per_s
               records made durable per second in a real outbox (synchronous=FULL), one
               writer and 36 concurrent writers (group commit); bench/audit_bench.py.
  audit_drain_10k_s
               10,000 queued records drained by the real shipper to a real district
               server on loopback: 36 sessions through a 69-minute outage, a heartbeat
               every 15 s each (--short-sessions: 5,000 starts and ends instead).
  audit_verify_100k_s
               `district audit verify` over 100,000 chained records (2,500 sessions with
               heartbeats), with a plain read of the same rows as the baseline.
  grid36_cpu_cores
               36 live tiles (6x6) through the gateway on this machine: the console's CPU,
               frames painted per tile, event-loop lag, RSS, and tearing down 36 players
               at once; one tile and 36 hidden as baselines (bench/grid_bench.py).
  grid16_cpu_cores, ui_lag_p99_ms, layout_switch_ms
               one run of 16 live tiles (4x4) through the gateway: the console's CPU
               (hidden grid as the baseline), frames painted per tile, event-loop lag,
               and layout switches with the 16 playing (none may reopen a stream).
  rss_mb_grid36
               the resident memory of the grid36_cpu_cores run (the same run).
  main_switch_gap_ms
               a tile maximized and restored N/2 times: the time with no new picture when
               it moves between the sub and the real 1080p main stream (gateway, one
               session), and samples with no picture (must be 0).
  audit_faults  N sessions delivered through a proxy that answers 500, HTML 200, empty
               200, {"status":"ok"}, 429 and 204 in turn; prints lost, duplicated and
               left-open counts on the server, which must all be 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


def bench_ttff(opens: int, gop_s: float) -> None:
    """Click to first painted frame, joining a camera-like encoder at random GOP phases.

    The simulator runs one continuous encoder per camera (as a camera does) and the
    gateway pulls it over RTSP, so each click lands somewhere in a GOP. The tile's
    painted pictures carry their capture time (the strip), which gives the latency a
    dispatcher sees: ``live_latency_p95_s`` once settled, and ``live_after_click_p50_s``,
    how long after the click the picture is within 50 ms of that steady latency.
    """
    import random

    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from bench.waiting import until
    from dispatch_console.app import close_console, open_console, run_qt
    from dispatch_console.camsim import timestrip
    from dispatch_console.demo import demo_sign_in
    from dispatch_console.district.launch import camsim_rtsp, stop_process
    from dispatch_console.domain.models import EmergencyType
    from dispatch_console.services.settings import Settings
    from dispatch_console.video.player import VideoPlayer

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    processes, server_url, camsim_url = district_processes(
        data, camsim_options=("--gop", str(gop_s))
    )
    rng = random.Random(20261125)
    samples: list[float] = []
    camera_id = "lhs-cam-02"
    to_tile: list[float] = []  # click → audit start durable and delivered, ticket issued
    direct: list[float] = []  # play() straight on the simulator → first frame decoded
    steady: list[float] = []  # capture → paint, from 2 s after the first picture
    live_after: list[float] = []  # click → picture within 50 ms of steady latency

    async def main() -> int:
        settings = Settings.from_env(server_url=server_url, data_dir=data / "console")
        desk = await open_console(settings, demo_sign_in("dispatcher"))
        window = desk.window
        window.resize(1400, 850)
        window.show()
        await desk.console.declare_emergency(
            "lincoln-hs", EmergencyType.ACTIVE_THREAT, "Benchmark: time to first frame"
        )
        await asyncio.sleep(gop_s + 3)  # the grant's prewarm connects the school's cameras
        for _ in range(opens):
            await asyncio.sleep(rng.uniform(0, gop_s))  # a random phase of the GOP
            point = window.map.pin_position(camera_id).toPoint()
            clicked = time.perf_counter()
            QTest.mouseClick(window.map.viewport(), Qt.MouseButton.LeftButton, pos=point)
            await until(lambda: bool(window.grid.tiles), 10)
            to_tile.append(time.perf_counter() - clicked)
            tile = window.grid.tiles[0]
            painted: list[tuple[float, int]] = []  # (since click, capture → paint ms)

            def on_paint(
                _count: int,
                tile: object = tile,
                painted: list[tuple[float, int]] = painted,
                clicked: float = clicked,
            ) -> None:
                image = tile.image  # type: ignore[attr-defined]  # a property
                if image is None:
                    return
                value = timestrip.read_rgb32(
                    bytes(image.constBits()), image.width(), image.height(), image.bytesPerLine()
                )
                if value is not None:
                    now_ms = int(time.time() * 1000)
                    painted.append((time.perf_counter() - clicked, timestrip.age_ms(value, now_ms)))

            tile.frame_painted.connect(on_paint)
            await until(lambda: tile.first_frame_painted_at is not None, 20)  # noqa: B023
            assert tile.first_frame_painted_at is not None
            samples.append(tile.first_frame_painted_at - clicked)
            await asyncio.sleep(3.0)
            settled = [age for at, age in painted if at > samples[-1] + 2.0]
            if settled:
                level = statistics.median(settled)
                steady.extend(a / 1000 for a in settled)
                within = [at for at, age in painted if age <= level + 50]
                if within:
                    live_after.append(within[0])
            tile.close_button.click()
            await until(lambda: not window.grid.tiles and not desk.console.views, 10)
        window.close()
        await until(lambda: not window.isVisible(), 10)
        await close_console(desk)
        # Baseline in the same run: the player straight on the simulator's HTTP stream
        # (joined mid-GOP, no cache), with no click, audit, ticket, gateway or painting.
        player = VideoPlayer(network_caching_ms=settings.network_caching_ms)
        first: list[float] = []
        player.first_frame.connect(lambda: first.append(time.perf_counter()))
        for _ in range(opens):
            await asyncio.sleep(rng.uniform(0, gop_s))
            first.clear()
            started = time.perf_counter()
            player.play(f"{camsim_url}/cameras/{camera_id}.ts")
            await until(lambda: bool(first), 20)
            direct.append(first[0] - started)
            player.stop()
        return 0

    def source_ages() -> list[float]:
        """The camera's own pictures' age as they arrive (the simulator's RTSP stream,
        decoded by FFmpeg at once), measured after the clicks so as not to load them."""
        rtsp = camsim_rtsp(camsim_url)
        url = f"{rtsp}/cameras/{camera_id}" if rtsp else f"{camsim_url}/cameras/{camera_id}.ts"
        done = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "source_latency.py"), url, "5"],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        ages: list[int] = json.loads(done.stdout)
        return [age / 1000 for age in ages[15:]]  # from 1 s in, as the tiles' settled ones

    try:
        run_qt(main)
        source = source_ages()
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    extra = {"gop_s": gop_s, "opens": len(samples)}
    emit("ttff_p50_s", statistics.median(samples), "s", **extra)
    emit("ttff_p95_s", percentile(samples, 0.95), "s", **extra)
    emit("ttff_max_s", max(samples), "s", **extra)
    emit("ttff_open_view_p50_s", statistics.median(to_tile), "s", **extra,
         note="before play(): audit start durable + delivered, ticket issued")  # fmt: skip
    baseline = statistics.median(direct)
    emit("ttff_direct_p50_s", baseline, "s", **extra,
         note="baseline: libVLC on the camera's stream, joined mid-GOP, no gateway")  # fmt: skip
    emit("ttff_vs_direct_ratio", statistics.median(samples) / baseline, "x", **extra)
    if steady:
        emit("live_latency_p95_s", percentile(steady, 0.95), "s", **extra,
             note="capture to paint, from the strip, 2-3 s after the first picture")  # fmt: skip
    if source:
        emit("live_latency_source_p95_s", percentile(source, 0.95), "s", **extra,
             note="baseline: the camera's own RTSP pictures' age on arrival, decoded at "
             "once by FFmpeg (the simulator's encoder and RTSP server)")  # fmt: skip
    if steady and source:
        emit("live_latency_added_p50_s", statistics.median(steady) - statistics.median(source),
             "s", **extra, note="what the gateway and the console add: the tile's median "
             "age minus the source's, same run")  # fmt: skip
    if live_after:
        emit("live_after_click_p50_s", statistics.median(live_after), "s", **extra)


def district_processes(
    data: Path, *server_options: str, camsim_options: tuple[str, ...] = ()
) -> tuple[list[object], str, str]:
    """Camera simulator, district server and gateway as child processes (the server
    first in the list), the server's URL and the simulator's."""
    from dispatch_console.district.launch import start_district_stack

    stack = start_district_stack(
        data, ROOT / "floorplans" / "riverside", camsim_args=camsim_options,
        server_args=server_options,
    )  # fmt: skip
    camsim, server, gateway = stack.processes
    return [server, gateway, camsim], stack.server_url, stack.camsim_url


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_open_view(opens: int) -> None:
    from dispatch_console.district.launch import stop_process
    from dispatch_console.district.seed import demo_account
    from dispatch_console.domain.models import EmergencyType, EndReason
    from dispatch_console.domain.totp import totp
    from dispatch_console.services.audit_outbox import AuditOutbox
    from dispatch_console.services.console import Console
    from dispatch_console.services.district_client import DistrictClient

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    processes, server_url, _ = district_processes(data)
    opened: list[float] = []
    health: list[float] = []

    async def main() -> None:
        account = demo_account("dispatcher")
        signed = DistrictClient(server_url)
        console = Console(signed, AuditOutbox(data / "outbox.sqlite3"), workstation_id="bench")
        otp = totp(account.totp_secret, time.time())
        await console.sign_in(account.username, account.password, otp)
        await console.start()
        await console.declare_emergency(
            "lincoln-hs", EmergencyType.ACTIVE_THREAT, "Benchmark: open_view"
        )
        http = signed._http  # the same kept-alive connection the console uses
        for n in range(opens):
            t0 = time.perf_counter()
            await http.get("/api/v1/health")
            health.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            view = await console.open_view("lhs-cam-02" if n % 2 else "lhs-cam-05")
            opened.append(time.perf_counter() - t0)
            await console.close_view(view.session.session_id, EndReason.CLOSED_BY_USER)
        await console.shutdown()
        console.outbox.close()
        await signed.aclose()

    try:
        asyncio.run(main())
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    emit("open_view_p50_s", statistics.median(opened), "s", opens=len(opened))
    emit("open_view_p95_s", percentile(opened, 0.95), "s", opens=len(opened))
    emit("health_roundtrip_p50_s", statistics.median(health), "s", requests=len(health),
         note="baseline: GET /health on the same connection")  # fmt: skip


def bench_audit_faults(sessions: int) -> None:
    import itertools
    from datetime import UTC, datetime, timedelta

    from dispatch_console.district.launch import stop_process
    from dispatch_console.domain.models import EndReason
    from dispatch_console.domain.session import end_session
    from dispatch_console.services.audit_outbox import AuditOutbox
    from dispatch_console.services.audit_shipper import AuditShipper
    from dispatch_console.services.district_client import DistrictClient
    from tests.conftest import signed_in_client
    from tests.services.test_audit_delivery_faults import LIES, LyingProxy, audit_counts
    from tests.services.test_audit_shipper import JEFFERSON_CAMERAS, demo_user, new_session

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    processes, server_url, _ = district_processes(data)
    result: dict[str, int] = {}
    flushes = 0

    async def main() -> None:
        nonlocal flushes
        dispatcher = await signed_in_client(server_url, "dispatcher")
        auditor = await signed_in_client(server_url, "safety")
        assert dispatcher.token is not None
        turns = itertools.cycle([None, *itertools.chain.from_iterable((x, None) for x in LIES)])
        with LyingProxy(server_url, turns) as proxy:
            client = DistrictClient(proxy.url)
            client.use_token(dispatcher.token)
            outbox = AuditOutbox(data / "outbox.sqlite3")
            shipper = AuditShipper(outbox, client)
            user = demo_user("dispatcher")
            start = datetime.now(UTC) - timedelta(seconds=sessions + 5)
            made = []
            for n in range(sessions):
                at = start + timedelta(seconds=n)
                session = new_session(user, JEFFERSON_CAMERAS[n % 2], at)
                await outbox.record_start(session)
                ended = end_session(session, EndReason.CLOSED_BY_USER, at + timedelta(seconds=1))
                await outbox.record_end(ended)
                made.append(session)
            while not await shipper.flush():
                flushes += 1
            result.update(await audit_counts(auditor, made))
            result.update(await outbox.counts())
            result["lies_told"] = proxy.lies_told
            outbox.close()
            await client.aclose()
        await dispatcher.aclose()
        await auditor.aclose()

    try:
        asyncio.run(main())
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    for key in ("lost", "duplicated", "left_open"):
        emit(f"audit_faults_{key}", result[key], "sessions", sessions=sessions,
             lies_told=result["lies_told"], retries=flushes)  # fmt: skip


def bench_audit_kill9(kills: int) -> None:
    import random
    import signal
    import sqlite3

    from dispatch_console.district.launch import stop_process
    from tests.services.test_kill_harness import driver

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    # The per-user start limit would turn a fast kill loop into 429s, and each restart
    # signs in again within the same 30 s one-time-code step.
    processes, server_url, _ = district_processes(
        data, "--audit-starts-per-minute", "100000", "--insecure-allow-totp-reuse"
    )
    outbox = data / "outbox.sqlite3"
    rng = random.Random()
    try:
        for _ in range(kills):
            process = driver(server_url, outbox, 100_000)
            time.sleep(rng.uniform(0.8, 2.5))
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=10)
        final = driver(server_url, outbox, 1)
        _out, err = final.communicate(timeout=120)
        if final.returncode != 0:
            print(err, file=sys.stderr)
        with sqlite3.connect(outbox) as db:
            started = {s for (s,) in db.execute("SELECT session_id FROM outbox WHERE kind='start'")}
            undelivered = db.execute(
                "SELECT session_id, kind, last_error FROM outbox WHERE delivered_at IS NULL"
            ).fetchall()
        for row in undelivered:
            print("undelivered:", row, file=sys.stderr)

        counts = stored_counts(data / "district.sqlite3", started)
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    for key, value in counts.items():
        emit(f"audit_kill9_{key}", value, "sessions", sessions=len(started), kills=kills)


def stored_counts(db_path: Path, ids: set[str]) -> dict[str, int]:
    """Lost, duplicated and left-open sessions, read from the server's own database.

    The API lists at most 1,000 sessions, and a long run makes more.
    """
    import sqlite3

    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT session_id, ended_at FROM audit_sessions").fetchall()
    found = [(sid, ended) for sid, ended in rows if sid in ids]
    seen = [sid for sid, _ in found]
    return {
        "lost": len(ids - set(seen)),
        "duplicated": len(seen) - len(set(seen)),
        "left_open": sum(1 for _, ended in found if ended is None),
    }


def bench_audit_outage(sessions: int) -> None:
    from datetime import UTC, datetime, timedelta
    from urllib.parse import urlsplit

    from dispatch_console.district.launch import camsim_rtsp, start_process, stop_process
    from dispatch_console.domain.models import EndReason
    from dispatch_console.domain.session import end_session
    from dispatch_console.services.audit_outbox import AuditOutbox
    from dispatch_console.services.audit_shipper import AuditShipper
    from tests.conftest import signed_in_client
    from tests.services.test_audit_shipper import JEFFERSON_CAMERAS, demo_user, new_session

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    options = ("--audit-starts-per-minute", "1000000", "--insecure-allow-totp-reuse")
    processes, server_url, camsim_url = district_processes(data, *options)
    port = urlsplit(server_url).port
    result: dict[str, float] = {}

    async def main() -> None:
        dispatcher = await signed_in_client(server_url, "dispatcher")
        outbox = AuditOutbox(data / "outbox.sqlite3")
        shipper = AuditShipper(outbox, dispatcher)
        user = demo_user("dispatcher")
        stop_process(processes[0])  # type: ignore[arg-type]  # the district goes down
        start = datetime.now(UTC) - timedelta(seconds=sessions + 5)
        made = []
        for n in range(sessions):
            at = start + timedelta(milliseconds=500 * n)
            session = new_session(user, JEFFERSON_CAMERAS[n % 2], at)
            await outbox.record_start(session)
            await outbox.record_end(
                end_session(session, EndReason.CLOSED_BY_USER, at + timedelta(milliseconds=400))
            )
            made.append(session)
        assert not await shipper.flush()  # nobody answers
        server, _ = start_process(
            ["district", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--db", str(data / "district.sqlite3"),
             "--floorplans", str(ROOT / "floorplans" / "riverside"),
             "--camsim", camsim_rtsp(camsim_url) or camsim_url,
             "--gateway-secret-file", str(data / "gateway.secret"), *options],
            "DISTRICT_SERVER_URL",
        )  # fmt: skip
        processes[0] = server
        back = time.perf_counter()
        while not await shipper.flush():  # what the woken shipper does, without its timer
            pass
        result["drain_s"] = time.perf_counter() - back
        result.update(stored_counts(data / "district.sqlite3", {s.session_id for s in made}))
        outbox.close()
        await dispatcher.aclose()

    try:
        asyncio.run(main())
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    emit("audit_outage_drain_s", result["drain_s"], "s", sessions=sessions,
         note="from the district's return to an empty outbox")  # fmt: skip
    for key in ("lost", "duplicated", "left_open"):
        emit(f"audit_outage_{key}", result[key], "sessions", sessions=sessions)


def _process_cpu_s(pid: int) -> float:
    """User plus system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_revocation(runs: int) -> None:
    """From the revoke request to the end of an open stream at the gateway, over HTTP."""
    import threading

    import httpx

    from dispatch_console.district.launch import stop_process
    from tests.gateway.flow import Viewer

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    options = ("--audit-starts-per-minute", "1000000", "--insecure-allow-totp-reuse")
    processes, server_url, _ = district_processes(data, *options)
    cuts: list[float] = []
    try:
        police, safety = Viewer(server_url), Viewer(server_url, "safety")
        for _ in range(runs):
            declared = police.declare("lincoln-hs")
            url = police.stream_url("lhs-cam-02")
            ended = threading.Event()
            started = threading.Event()

            def read(url: str = url, ended: threading.Event = ended,
                     started: threading.Event = started) -> None:  # fmt: skip
                try:
                    with httpx.stream("GET", url, timeout=30) as response:
                        for _chunk in response.iter_raw():
                            started.set()
                except httpx.HTTPError:
                    pass
                ended.set()

            threading.Thread(target=read, daemon=True).start()
            assert started.wait(30), "the stream never started"
            revoked = time.perf_counter()
            answer = safety.http.post(
                f"/api/v1/grants/{declared['grant']['id']}/revoke", headers=safety.headers
            )
            assert answer.status_code == 200, answer.text
            assert ended.wait(10), "the stream was not cut"
            cuts.append(time.perf_counter() - revoked)
            safety.http.post("/api/v1/schools/lincoln-hs/clear", headers=safety.headers)
            police.end_emergency(declared["emergency"]["id"], as_user=safety)
        police.close()
        safety.close()
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    emit("revocation_to_cut_p50_s", statistics.median(cuts), "s", runs=len(cuts))
    emit("revocation_to_cut_s", percentile(cuts, 0.95), "s", runs=len(cuts), note="p95")


def bench_fan_out(viewers: int) -> None:
    """Gateway CPU with many viewers of one camera, and the camera sessions it opened.

    Viewers are plain sockets in this process reading as fast as they can; the gateway's
    CPU is read from /proc over 10 s, with one viewer as the baseline in the same run.
    """
    import socket
    import threading

    import httpx

    from dispatch_console.district.launch import stop_process
    from dispatch_console.domain.stream_tokens import link_key
    from tests.gateway.flow import Viewer

    data = Path(tempfile.mkdtemp(prefix="dispatch-bench-"))
    options = ("--audit-starts-per-minute", "1000000", "--insecure-allow-totp-reuse")
    processes, server_url, _ = district_processes(data, *options)
    gateway_pid = processes[1].pid  # type: ignore[attr-defined]
    key = link_key((data / "gateway.secret").read_bytes().strip())
    stop = threading.Event()
    results: dict[str, float] = {}

    def reader(url: str) -> None:
        target = httpx.URL(url)
        with socket.create_connection((target.host, target.port or 80)) as sock:
            sock.sendall(f"GET {target.raw_path.decode()} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            sock.settimeout(1)
            while not stop.is_set():
                try:
                    if not sock.recv(65536):
                        return
                except TimeoutError:
                    continue

    def measure(count: int) -> float:
        stop.clear()
        threads = [
            threading.Thread(target=reader, args=(police.stream_url("lhs-cam-02"),), daemon=True)
            for _ in range(count)
        ]
        for thread in threads:
            thread.start()
        time.sleep(3)  # all connected and streaming
        before, started = _process_cpu_s(gateway_pid), time.perf_counter()
        time.sleep(10)
        cores = (_process_cpu_s(gateway_pid) - before) / (time.perf_counter() - started)
        stop.set()
        for thread in threads:
            thread.join(5)
        return cores

    try:
        police = Viewer(server_url)
        police.declare("lincoln-hs")
        time.sleep(5)  # the prewarm connects the school's cameras
        results["one"] = measure(1)
        results["many"] = measure(viewers)
        gateway_url = police.stream_url("lhs-cam-02").split("/streams/")[0]
        metrics = httpx.get(
            f"{gateway_url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=5
        ).json()
        upstreams = [u for u in metrics["upstreams"] if u["camera_id"] == "lhs-cam-02"]
        results["sessions"] = sum(u["connections_made"] for u in upstreams)
        police.close()
    finally:
        for process in processes:
            stop_process(process)  # type: ignore[arg-type]
    emit("gateway_cpu_cores_per_50_viewers", results["many"] * 50 / viewers, "cores",
         viewers=viewers, note="one camera, 640x360 H.264 15 fps over RTSP")  # fmt: skip
    emit("gateway_cpu_cores_one_viewer", results["one"], "cores", note="baseline, same run")
    emit("upstream_sessions_per_camera", results["sessions"], "sessions", viewers=viewers)


BENCHMARKS: dict[str, Callable[[argparse.Namespace], None]] = {
    "audit_outage": lambda args: bench_audit_outage(args.opens * 100),
    "audit_kill9": lambda args: bench_audit_kill9(args.opens * 5),
    "ttff_p50_s": lambda args: [bench_ttff(args.opens, gop) for gop in (2.0, 4.0)],
    # The server allows 60 session starts per user per minute: stay under it.
    "open_view_p50_s": lambda args: bench_open_view(min(args.opens * 2, 55)),
    "audit_faults": lambda args: bench_audit_faults(args.opens * 5),
    "revocation_to_cut_s": lambda args: bench_revocation(args.opens),
    "gateway_cpu_cores_per_50_viewers": lambda args: bench_fan_out(50),
    "audit_outbox_events_per_s": lambda args: bench_outbox_events(emit),
    "audit_drain_10k_s": lambda args: bench_drain_10k(
        emit, district_processes, not args.short_sessions
    ),
    "audit_verify_100k_s": lambda args: bench_verify_100k(emit),
    "token_check_beside_writes_ms": lambda args: bench_token_checks(emit, percentile),
    "approval_propagation_s": lambda args: bench_desk_propagation(
        args.opens, emit, percentile, district_processes
    ),
    "grid36_cpu_cores": lambda args: _once(
        "grid36", lambda: bench_grid36(emit, district_processes, percentile)
    ),
    "rss_mb_grid36": lambda args: _once(
        "grid36", lambda: bench_grid36(emit, district_processes, percentile)
    ),
    **{
        name: lambda args: _once(
            "grid16", lambda: bench_grid16(emit, district_processes, percentile)
        )
        for name in ("grid16_cpu_cores", "ui_lag_p99_ms", "layout_switch_ms")
    },
    "main_switch_gap_ms": lambda args: bench_main_switch(
        max(2, args.opens // 2), emit, district_processes
    ),
}


_ran: set[str] = set()


def _once(group: str, run: Callable[[], None]) -> None:
    """Run a benchmark that measures several named figures once per invocation."""
    if group not in _ran:
        _ran.add(group)
        run()


def bench_grid16(*args: Any) -> None:
    from bench.grid_bench import bench_grid16 as run

    run(*args)


def bench_grid36(*args: Any) -> None:
    from bench.grid_bench import bench_grid36 as run

    run(*args)


def bench_main_switch(*args: Any) -> None:
    from bench.grid_bench import bench_main_switch as run

    run(*args)


def bench_outbox_events(*args: Any) -> None:
    from bench.audit_bench import bench_outbox_events as run

    run(*args)


def bench_drain_10k(*args: Any) -> None:
    from bench.audit_bench import bench_drain_10k as run

    run(*args)


def bench_verify_100k(*args: Any) -> None:
    from bench.audit_bench import bench_verify_100k as run

    run(*args)


def bench_token_checks(*args: Any) -> None:
    from bench.district_bench import bench_token_check_beside_writes as run

    run(*args)


def bench_desk_propagation(runs: int, *args: Any) -> None:
    from bench.desk_bench import bench_desk_propagation as run

    run(runs, *args)


def _map_group(metrics: set[str]) -> None:
    from bench.map_bench import bench_map

    bench_map(emit, metrics)


def main() -> int:
    from bench.map_bench import MAP_METRICS

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("metrics", nargs="*", help=f"any of {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--opens", type=int, default=20, help="opens for ttff (default 20)")
    parser.add_argument(
        "--short-sessions",
        action="store_true",
        help="audit_drain_10k_s: 5,000 sessions of a start and an end instead of the "
        "realistic backlog (36 sessions with heartbeats)",
    )
    args = parser.parse_args()
    map_wanted = {m for m in args.metrics if m in MAP_METRICS}
    if "map" in args.metrics:
        map_wanted = set(MAP_METRICS)
    video = [m for m in args.metrics if m not in MAP_METRICS and m != "map"]
    unknown = [m for m in video if m not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown metric(s): {', '.join(unknown)}")
    if map_wanted:
        _map_group(map_wanted)
    for metric in video if args.metrics else list(BENCHMARKS):
        BENCHMARKS[metric](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
