"""What libVLC does beside playing: its log reaches ours redacted, and it writes nothing
to disk while police video plays (issue 10, safety)."""

from __future__ import annotations

import logging
import os
import pwd
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from dispatch_console.district.launch import DistrictStack, start_district_stack
from dispatch_console.support.logs import LOG_FILE
from dispatch_console.video import player as player_module
from dispatch_console.video.player import VideoPlayer, wait_for_releases
from tests.gateway.flow import Viewer
from tests.paths import SAMPLE_DISTRICT

pytestmark = pytest.mark.timeout(120)


def test_libvlc_errors_reach_our_log_with_the_token_redacted(
    qtbot: QtBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="dispatch_console.video.libvlc")
    # libVLC frees and reuses its objects' memory: an earlier test's connection error from
    # an object at the same address would count as a repeat and be held back 30 s.
    with player_module._repeats_lock:
        player_module._repeats.clear()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens
    player = VideoPlayer()
    with qtbot.waitSignal(player.failed, timeout=10000):
        player.play(f"http://127.0.0.1:{port}/x.ts?token=SECRET123")

    def libvlc_lines() -> list[logging.LogRecord]:
        return [r for r in caplog.records if r.name == "dispatch_console.video.libvlc"]

    # libVLC names the address it could not open, ticket included, in its own words.
    qtbot.waitUntil(
        lambda: any(f"127.0.0.1:{port}/x.ts" in r.getMessage() for r in libvlc_lines()),
        timeout=5000,
    )
    assert all(r.levelno >= logging.WARNING for r in libvlc_lines())
    assert any(r.levelno >= logging.ERROR for r in libvlc_lines())
    assert "SECRET123" not in caplog.text
    assert any("/x.ts[***]" in r.getMessage() for r in libvlc_lines())
    # The message was formatted (printf arguments filled in), not its bare format string.
    assert not any("%s" in r.getMessage() for r in libvlc_lines())


def _real_home() -> Path:
    return Path(pwd.getpwuid(os.getuid()).pw_dir)


def _snapshot(roots: list[Path]) -> dict[Path, tuple[int, int]]:
    """Every file under the roots: (size, mtime in ns)."""
    files: dict[Path, tuple[int, int]] = {}
    for root in roots:
        for folder, _dirs, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                try:
                    stat = path.stat()
                except FileNotFoundError:
                    continue
                files[path] = (stat.st_size, stat.st_mtime_ns)
    return files


CAMERAS = tuple(f"lhs-cam-0{n}" for n in range(1, 5))


@pytest.fixture(scope="module")
def four_camera_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistrictStack]:
    """Simulator (these four cameras only: fifteen encoders start slowly on a busy
    machine), district server and gateway."""
    stack = start_district_stack(
        tmp_path_factory.mktemp("district-no-disk"),
        SAMPLE_DISTRICT,
        camsim_args=("--cameras", ",".join(CAMERAS)),
        server_args=["--insecure-allow-totp-reuse"],
    )
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def console_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """The folders a console writes to (XDG data, state and config are under tmp_path,
    see isolated_machine), a temp folder of the test's own (TMPDIR, which libVLC reads
    too), and libVLC's own folders in this user's real home (never created here)."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    home = _real_home()
    vlc_dirs = [
        home / ".cache" / "vlc",
        home / ".local" / "share" / "vlc",
        home / ".config" / "vlc",
    ]
    yield [tmp_path, *vlc_dirs]


def test_four_police_streams_write_nothing_to_disk(
    qtbot: QtBot, four_camera_stack: DistrictStack, console_dirs: list[Path], tmp_path: Path
) -> None:
    from dispatch_console.support.logs import setup_logging

    # The console's own files: the log (allowed to grow) and an audit outbox beside it.
    log_dir = tmp_path / "xdg-state" / "log"
    outbox = tmp_path / "xdg-data" / "dispatch-console" / "audit-outbox.sqlite3"
    outbox.parent.mkdir(parents=True)
    outbox.write_bytes(b"")
    root = logging.getLogger()
    handlers = list(root.handlers)
    setup_logging(logging.INFO, log_dir)
    allowed = {log_dir / LOG_FILE, outbox, outbox.with_name(outbox.name + "-wal")}
    viewer = Viewer(four_camera_stack.server_url)
    viewer.declare("lincoln-hs")
    players = [VideoPlayer() for _ in range(4)]
    try:
        urls = [viewer.stream_url(camera) for camera in CAMERAS]
        for player, url in zip(players, urls, strict=True):
            player.play(url)
        qtbot.waitUntil(lambda: all(p.frames_shown >= 2 for p in players), timeout=20000)
        before = _snapshot(console_dirs)
        shown = [p.frames_shown for p in players]
        qtbot.wait(4000)
        # Still playing: every stream showed new pictures while the folders were watched.
        qtbot.waitUntil(
            lambda: all(p.frames_shown > s for p, s in zip(players, shown, strict=True)),
            timeout=20000,
        )
        after = _snapshot(console_dirs)
    finally:
        for player in players:
            player.stop()
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        viewer.close()
    assert wait_for_releases(10.0)
    grew = {
        str(path): (before.get(path), now)
        for path, now in after.items()
        if before.get(path) != now and path not in allowed
    }
    assert grew == {}, f"files written while police video played: {grew}"
    assert not any(d.exists() for d in console_dirs[1:]), "libVLC made its own folders"
