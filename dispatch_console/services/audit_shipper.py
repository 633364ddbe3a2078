"""Delivers the outbox to the district's audit API, in order, at least once.

Network trouble is retried with capped exponential back-off; a record the server refuses
for good is kept and flagged (never deleted) so the district can reconcile it by hand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from .audit_outbox import AuditOutbox
from .district_client import AuditRejected, AuditStartMissing, DistrictClient
from .errors import ConsoleError

log = logging.getLogger(__name__)


class AuditShipper:
    def __init__(
        self,
        outbox: AuditOutbox,
        client: DistrictClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_backoff_s: float = 30.0,
    ) -> None:
        self._outbox = outbox
        self._client = client
        self._clock = clock
        self._max_backoff_s = max_backoff_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self.last_error: str | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-shipper")

    def kick(self) -> None:
        """Something new is in the outbox: deliver it now rather than at the next retry."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def flush(self) -> bool:
        """Deliver everything pending once; True when nothing deliverable is left."""
        async with self._flush_lock:
            # pending() returns one batch: go on until none is left, or a backlog longer
            # than a batch (after a long outage) would wait for the next kick. Each item
            # ends delivered, rejected (both leave pending()) or ends the flush.
            while batch := await self._outbox.pending():
                for item in batch:
                    try:
                        if item.kind == "start":
                            await self._client.audit_start(item.payload)
                        else:
                            await self._client.audit_end(item.payload)
                    except AuditStartMissing as exc:
                        # An end whose start the server refused for good can never land;
                        # flag it too rather than let it block every later record.
                        refused = await self._outbox.is_rejected(item.session_id, "start")
                        await self._outbox.mark_failed(item.seq, exc.detail, reject=refused)
                        self.last_error = exc.detail
                        if refused:
                            continue
                        return False
                    except AuditRejected as exc:
                        log.error(
                            "audit record %s/%s rejected: %s", item.session_id, item.kind, exc
                        )
                        await self._outbox.mark_failed(item.seq, exc.detail, reject=True)
                        self.last_error = exc.detail
                        continue
                    except ConsoleError as exc:
                        await self._outbox.mark_failed(item.seq, exc.detail)
                        self.last_error = exc.detail
                        return False
                    await self._outbox.mark_delivered(item.seq, self._clock())
            self.last_error = None
            return True

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            self._wake.clear()  # before flushing, so a kick during the flush is not lost
            try:
                ok = await self.flush()
            except ConsoleError as exc:  # the outbox itself failed; keep trying
                self.last_error = exc.detail
                ok = False
            if ok:
                backoff = 0.5
                await self._wake.wait()
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, self._max_backoff_s)
