"""A real gateway process linked to a district server a test built in-process (with a
clock it can move).

The gateway runs as its own process, as in production, and so PyAV never shares the test
process with libVLC (see tests/av_child.py)."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from dispatch_console.district.launch import start_process, stop_process
from dispatch_console.gateway.sources import Credentials

TEST_SECRET = b"test-gateway-secret-" + b"0123456789abcdef" * 2


class ThreadedGateway:
    """``dispatch-console gateway serve`` for one test (the name is historical)."""

    def __init__(
        self,
        district_url: str,
        secret: bytes = TEST_SECRET,
        *,
        credentials: dict[str, Credentials] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="gateway-")
        folder = Path(self._dir.name)
        (folder / "secret").write_bytes(secret)
        self._args = [
            "gateway", "serve", "--district", district_url,
            "--secret-file", str(folder / "secret"), "--port", "0", *extra_args,
        ]  # fmt: skip
        if credentials:
            path = folder / "credentials.json"
            path.write_text(
                json.dumps(
                    {
                        k: {"username": c.username, "password": c.password}
                        for k, c in credentials.items()
                    }
                )
            )
            self._args += ["--credentials", str(path)]
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        self._process, self.url = start_process(self._args, "GATEWAY_URL")
        return self.url

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
            self._process = None
        self._dir.cleanup()

    def __enter__(self) -> ThreadedGateway:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
