"""The police package, end to end: build the .deb, install it with dpkg, run the installed
``dispatch-console --version`` and ``selftest`` against the demo district, remove it, and
check that nothing but user data is left.

It installs into the real system (/opt, /usr, /etc), so it runs only as root on a
machine where the package is not installed already, one run at a time; CI (``CI`` set)
must be able to run it and fails otherwise, a developer's machine skips it with the
reason. Unpacking with ``dpkg-deb -x`` would not test the package's installation.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatch_console import __version__
from dispatch_console.district.launch import DistrictStack
from tests.paths import ROOT

pytestmark = pytest.mark.slow

PACKAGE = "dispatch-console"
SYSTEM_CONFIG = Path("/etc/dispatch-console/config.toml")
LOCK = Path("/tmp/dispatch-console-deb-test.lock")


def _not_installable() -> str | None:
    if shutil.which("dpkg") is None or shutil.which("dpkg-deb") is None:
        return "not a Debian system (no dpkg)"
    if os.geteuid() != 0:
        return "installing a package needs root"
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True
    )
    if "installed" in installed.stdout or Path("/opt/dispatch-console").exists():
        return f"{PACKAGE} is already installed here; this test leaves it alone"
    return None


def _cannot(reason: str) -> None:
    """Skip on a developer's machine that cannot or must not install the package here
    (not Debian, not root, already installed, another run installing); CI, which is
    always a fresh root Debian machine, fails instead, so the check is never skipped there."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the package test, but: {reason}")
    pytest.skip(reason)


@pytest.fixture
def install_lock() -> Iterator[None]:
    with LOCK.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _cannot("another test run is installing the package right now")
        if reason := _not_installable():
            _cannot(reason)
        yield


def run(args: list[str], *, timeout: float = 300, **kwargs: object) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


def user_env(home: Path) -> dict[str, str]:
    """A user's session on a machine without a screen: nothing from this test run."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "QT_QPA_PLATFORM": "offscreen",
    }


def in_keyring_session(command: str) -> list[str]:
    """Run ``command`` in a D-Bus session with an unlocked GNOME keyring, as on a desktop."""
    if shutil.which("dbus-run-session") and shutil.which("gnome-keyring-daemon"):
        unlock = "echo selftest | gnome-keyring-daemon --unlock --components=secrets >/dev/null"
        return ["dbus-run-session", "--", "sh", "-c", f"{unlock}; {command}"]
    return ["sh", "-c", command]


def test_deb_installs_checks_itself_and_removes_cleanly(
    install_lock: None, district_stack: DistrictStack, tmp_path: Path
) -> None:
    deb = run(
        ["bash", str(ROOT / "packaging" / "build-deb.sh"), "--out", str(tmp_path)], timeout=600
    )
    deb_path = Path(deb.strip().splitlines()[-1])
    assert (
        deb_path.name
        == f"{PACKAGE}_{__version__}_{run(['dpkg', '--print-architecture']).strip()}.deb"
    )
    contents = run(["dpkg-deb", "--contents", str(deb_path)])
    assert (
        "dispatch_console/district/" not in contents and "dispatch_console/camsim/" not in contents
    )

    home = tmp_path / "home"
    (home / ".config" / "dispatch-console").mkdir(parents=True)
    user_settings = home / ".config" / "dispatch-console" / "settings.toml"
    user_settings.write_text("network_caching_ms = 150\n")  # user data, must survive removal

    # "drwxr-xr-x root/root 0 2025-01-01 00:00 ./opt/dispatch-console/" (symlinks: "-> x")
    shipped = [Path(line.split()[5].removeprefix(".")) for line in contents.splitlines()]
    existed_before = {p for p in shipped if p.exists() or p.is_symlink()}
    run(
        ["dpkg", "-i", str(deb_path)],
        timeout=600,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )
    try:
        assert Path("/usr/bin/dispatch-console").exists()
        assert Path("/usr/share/applications/dispatch-console.desktop").is_file()
        assert Path("/usr/share/icons/hicolor/scalable/apps/dispatch-console.svg").is_file()

        env = user_env(home)
        shown = run(["dispatch-console", "--version"], env=env)
        assert shown.strip() == f"{PACKAGE} {__version__}"

        missing = subprocess.run(
            ["dispatch-console", "district", "serve"], capture_output=True, text=True, env=env
        )
        assert missing.returncode == 2 and "not part of this installation" in missing.stderr

        SYSTEM_CONFIG.write_text(
            f'district_api_url = "{district_stack.server_url}"\nlocked = ["district_api_url"]\n'
        )
        selftest = subprocess.run(
            in_keyring_session("dispatch-console selftest --json"),
            capture_output=True, text=True, timeout=180, env=env,
        )  # fmt: skip
        report = json.loads(selftest.stdout)
        checks = {c["name"]: c for c in report["checks"]}
        # Every check passes on a fresh install, before anyone signs in: the event stream
        # through the district's probe, video through the gateway's test pattern.
        for name in (
            "configuration", "libvlc", "qt-platform", "district-api", "event-stream",
            "gateway-stream",
        ):  # fmt: skip
            assert checks[name]["status"] == "pass", checks[name]
        if shutil.which("gnome-keyring-daemon"):
            assert checks["keyring"]["status"] == "pass", checks["keyring"]
        assert "(locked)" not in checks["configuration"]["detail"]  # detail names the files
        assert str(SYSTEM_CONFIG) in checks["configuration"]["detail"]
        failures = [c for c in checks.values() if c["status"] == "fail"]
        assert (selftest.returncode != 0) is bool(failures), selftest.stderr

        bundle = home / "support.zip"
        run(in_keyring_session(f"dispatch-console support-bundle -o {bundle}"), env=env)
        assert bundle.is_file()
    finally:
        run(["dpkg", "--purge", PACKAGE], timeout=300)

    state = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True
    )
    assert "installed" not in state.stdout.replace("not-installed", "")
    left = [p for p in shipped if (p.exists() or p.is_symlink()) and p not in existed_before]
    assert left == [], f"left behind after purge: {left}"
    assert not Path("/opt/dispatch-console").exists() and not SYSTEM_CONFIG.parent.exists()
    assert user_settings.read_text() == "network_caching_ms = 150\n" and bundle.is_file()
