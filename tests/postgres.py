"""A throwaway PostgreSQL cluster for the tests: Debian's server binaries, a temp directory.

``initdb`` into a temporary directory, ``pg_ctl start`` on a free loopback port with the
unix socket in that directory too (nothing of the machine's own PostgreSQL is touched, and
none needs to run), and ``pg_ctl stop`` plus removal at the end. PostgreSQL refuses to
run as root, so as root the cluster runs as the ``postgres`` user Debian's package creates.

Where the server binaries are missing, a developer's machine skips the PostgreSQL tests
and says why; CI (``CI`` set: a fresh Debian machine where ``scripts/dev.sh test``
installs the ``postgresql`` package) fails instead, so they are never skipped there.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# The engine the district's HTTP tests run on (tests/conftest.py ``district_database``):
# ``DISTRICT_TEST_DATABASE=postgresql`` for the second one. Read once, here: the tests'
# isolation fixture clears every ``DISPATCH_*`` variable, hence the name.
HTTP_TESTS_ENGINE = os.environ.get("DISTRICT_TEST_DATABASE", "sqlite")
if HTTP_TESTS_ENGINE not in ("sqlite", "postgresql"):
    raise ValueError(
        f"DISTRICT_TEST_DATABASE must be sqlite or postgresql, not {HTTP_TESTS_ENGINE!r}"
    )


def _cannot(reason: str) -> None:
    """Skip on a developer's machine; fail on CI, which must run these tests."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests, but: {reason}")
    pytest.skip(reason)


def server_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin directory (Debian's layout)."""

    def version(bin_dir: Path) -> tuple[int, ...]:  # /usr/lib/postgresql/15/bin -> (15,)
        return tuple(int(p) for p in re.findall(r"\d+", bin_dir.parent.name))

    found = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    return max(found, key=version) if found else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """One running cluster; ``database()`` hands out fresh databases on it."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.root = Path(tempfile.mkdtemp(prefix="dispatch-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            import pwd  # POSIX only; this module is imported by every test run

            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                shutil.rmtree(self.root)
                _cannot("running as root and there is no 'postgres' user to run PostgreSQL as")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            for needed in (self.bin, self.root):
                self._let_postgres_reach(needed)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    def _let_postgres_reach(self, path: Path) -> None:
        """The postgres user must be able to enter every folder above its programs and
        its data. A system root made with ``mktemp -d`` (a chroot, as a fresh-machine
        check builds one) is 0700, so every exec as postgres fails with "Permission
        denied"; as root here, that one folder is opened for entering (not reading)."""
        for folder in reversed(path.parents):
            mode = folder.stat().st_mode
            if mode & stat.S_IXOTH:
                continue
            if folder != Path("/"):
                shutil.rmtree(self.root)
                _cannot(f"the postgres user cannot enter {folder} (mode {oct(mode & 0o777)})")
            os.chmod(folder, mode | stat.S_IXOTH)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({done.returncode}):\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        # fsync stays on, as on a district's server: the server reports what a commit is
        # worth (Database.synchronous), and turning it off saved no measurable time here.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c max_connections=200"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser on the maintenance database."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.encode())

    def create_database(self, template: str | None = None) -> str:
        """A new, empty (or copied from ``template``) database; its name."""
        name = f"t_{uuid.uuid4().hex[:12]}"
        self.admin(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))
        return name

    def drop_database(self, name: str) -> None:
        with contextlib.suppress(Exception):
            self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    @contextlib.contextmanager
    def database(self, template: str | None = None) -> Iterator[str]:
        """A fresh database's URL for the length of the block."""
        name = self.create_database(template)
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)


def start_cluster() -> Cluster:
    """Start a cluster, or skip (developer) / fail (CI) with the reason it cannot start."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _cannot("psycopg is not installed (pip install -e '.[dev]')")
    bin_dir = server_binaries()
    if bin_dir is None:
        _cannot(
            "PostgreSQL's server is not installed (Debian: apt-get install postgresql; "
            "`bash scripts/dev.sh test` installs it)"
        )
        raise AssertionError("unreachable")
    cluster = Cluster(bin_dir)
    try:
        cluster.start()
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        cluster.stop()
        _cannot(f"the throwaway PostgreSQL cluster did not start: {exc}")
    return cluster
