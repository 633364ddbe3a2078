"""District storage under concurrent load: a short read beside long writes.

``token_check_beside_writes_ms``: the district checks a sign-in token on every request
(``sign_in_store.token_user``). Here one thread holds write transactions of 5 ms each (a
slow disk's fsync, or a long write such as a retention purge step) back to back, while
another checks a token every 2 ms; p50/p95/max of the check. The baseline in the same
run is the same checks with no writer. Before reads had connections of their own, each
check waited for the writer's lock (about the length of one write transaction).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

Emit = Callable[..., None]
WRITE_HOLD_S = 0.005


def bench_token_check_beside_writes(
    emit: Emit, percentile: Callable[[list[float], float], float], checks: int = 400
) -> None:
    from dispatch_console.district import account_store, sign_in_store
    from dispatch_console.district.auth import create_user
    from dispatch_console.district.db import Database
    from dispatch_console.district.token_hashes import token_hash
    from dispatch_console.domain.models import Role, User

    now = datetime.now(UTC)
    db = Database(Path(tempfile.mkdtemp(prefix="dispatch-bench-reads-")) / "district.db")
    user = User("u-1", "pat", "Pat Doe", "Metro PD", Role.POLICE_DISPATCHER)
    create_user(db, user, "a-long-password-1", "JBSWY3DPEHPK3PXP", now)
    hashed = token_hash("bench-token")
    signed_in = account_store.accept_sign_in(db, "u-1", None, hashed, now, now + timedelta(hours=1))
    assert signed_in == "ok"

    def check_all() -> list[float]:
        took = []
        for _ in range(checks):
            began = time.perf_counter()
            assert sign_in_store.token_user(db, hashed, now) is not None
            took.append((time.perf_counter() - began) * 1000)
            time.sleep(0.002)
        return took

    alone = check_all()
    stop = threading.Event()
    writes = 0

    def writer() -> None:
        nonlocal writes
        while not stop.is_set():
            with db.transaction() as conn:
                conn.execute(
                    "INSERT INTO admin_actions(at, actor, action, subject) VALUES (?, ?, ?, ?)",
                    (now.isoformat(), "bench", "hold", "write lock"),
                )
                time.sleep(WRITE_HOLD_S)
            writes += 1
            time.sleep(0.0005)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        beside = check_all()
    finally:
        stop.set()
        thread.join()
        db.close()
    hold = f"{WRITE_HOLD_S * 1000:g} ms"
    note = f"{checks} checks, SQLite WAL synchronous=FULL, writer holding {hold}"
    for name, samples in (("token_check_beside_writes", beside), ("token_check_alone", alone)):
        emit(f"{name}_p50_ms", statistics.median(samples), "ms", note=note)
        emit(f"{name}_p95_ms", percentile(samples, 0.95), "ms", note=note)
        emit(f"{name}_max_ms", max(samples), "ms", note=note)
    emit("token_check_writes_beside", writes, "transactions", note=note)
