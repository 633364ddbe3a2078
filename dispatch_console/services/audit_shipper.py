"""Delivers the outbox to the district's audit API, in order, at least once.

A record counts as delivered only when the server answers with its own record of that
session (see ``DistrictClient.audit_start``). Transient trouble (network, 5xx, 429, an
answer that is not the server's) is retried with capped, jittered exponential back-off;
a record the server refuses for good is kept and flagged (never deleted) so the district
can reconcile it by hand.

The shipper's loop is supervised: any failure, even one nobody foresaw, is reported and
retried, because a dead shipper silently stops the audit trail for the rest of the shift.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from dispatch_console.domain.audit_health import AuditQueue

from .audit_outbox import AuditOutbox, OutboxItem
from .district_client import (
    AuditRejected,
    AuditStartMissing,
    AuditUnexpectedAnswer,
    DistrictClient,
)
from .errors import ConsoleError

log = logging.getLogger(__name__)

BASE_BACKOFF_S = 0.5
# How long acknowledged records stay in the outbox before they are pruned: long enough to
# reconcile with the district by hand after an incident, short enough to stay small.
DEFAULT_KEEP_DELIVERED = timedelta(days=7)


class _Outcome(Enum):
    DELIVERED = "delivered"
    SKIPPED = "skipped"  # refused for good: flagged, and later records go on
    RESENT_START = "resent_start"  # the server lacked the start: it is queued again
    FAILED = "failed"  # transient: stop here and retry later, keeping the order


class AuditShipper:
    def __init__(
        self,
        outbox: AuditOutbox,
        client: DistrictClient,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        max_backoff_s: float = 30.0,
        jitter: Callable[[], float] = random.random,
        keep_delivered: timedelta = DEFAULT_KEEP_DELIVERED,
    ) -> None:
        self._keep_delivered = keep_delivered
        self._outbox = outbox
        self._client = client
        self._clock = clock
        self._max_backoff_s = max_backoff_s
        self._jitter = jitter
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._flush_lock = asyncio.Lock()
        self._backoff_s = BASE_BACKOFF_S
        self.last_error: str | None = None
        # The server's answers to starts delivered with a stream request, until taken.
        self._start_answers: dict[str, dict[str, Any]] = {}
        # Set when something answered in the server's place: worth an operator's eyes even
        # though delivery is retried. Cleared by the next clean flush.
        self.alarm: str | None = None
        # Hear of every change of ``problem`` (None when delivery is healthy again).
        self.problem_listeners: list[Callable[[str | None], None]] = []
        self._problem: str | None = None

    @property
    def problem(self) -> str | None:
        """Why audit delivery is failing right now, for the desk's banner; None if it is not."""
        return self._problem

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="audit-shipper")

    def kick(self) -> None:
        """Something new is in the outbox: deliver it now rather than at the next retry."""
        self._wake.set()

    def connection_restored(self) -> None:
        """The district answers again: retry at once, with the back-off reset."""
        self._backoff_s = BASE_BACKOFF_S
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _deliver(self, item: OutboxItem, stream: str | None = None) -> _Outcome:
        body = item.wire_body()  # the record with its chain link
        try:
            if item.kind == "start":
                answer = await self._client.audit_start(body, stream)
                if stream is not None:
                    self._start_answers[item.session_id] = answer
            elif item.kind == "heartbeat":
                await self._client.audit_heartbeat(body)
            else:
                await self._client.audit_end(body)
        except AuditStartMissing as exc:
            self.last_error = exc.detail
            if await self._outbox.is_rejected(item.session_id, "start"):
                # An end (or heartbeat) whose start the server refused for good can
                # never land; flag it too rather than let it block every later record.
                await self._outbox.mark_failed(item.seq, exc.detail, reject=True)
                return _Outcome.SKIPPED
            # The start was marked delivered on an answer that was not the server's (or
            # the server lost it): send it again, then this record.
            log.warning(
                "audit %s %s: the server lacks its start; re-sending", item.kind, item.session_id
            )
            await self._outbox.requeue(item.session_id, "start")
            await self._outbox.mark_failed(item.seq, exc.detail)
            return _Outcome.RESENT_START
        except AuditRejected as exc:
            log.error("audit record %s/%s rejected: %s", item.session_id, item.kind, exc)
            await self._outbox.mark_failed(item.seq, exc.detail, reject=True)
            self.last_error = exc.detail
            return _Outcome.SKIPPED
        except AuditUnexpectedAnswer as exc:
            log.error("audit record %s/%s: %s", item.session_id, item.kind, exc.detail)
            self.alarm = exc.detail
            await self._outbox.mark_failed(item.seq, exc.detail)
            self.last_error = exc.detail
            return _Outcome.FAILED
        except ConsoleError as exc:
            await self._outbox.mark_failed(item.seq, exc.detail)
            self.last_error = exc.detail
            return _Outcome.FAILED
        await self._outbox.mark_delivered(item.seq, self._clock())
        return _Outcome.DELIVERED

    async def deliver_start(
        self, session_id: str, stream: str | None = None
    ) -> tuple[bool, dict[str, Any] | None]:
        """Deliver this one session's start now, ahead of any backlog.

        Opening a feed needs only its own start on the server; waiting for a whole
        backlog after an outage once made the first click take minutes. The server's
        idempotency makes a race with the background flush harmless. With ``stream``,
        the server's answer (which then carries the stream link) comes back too; it is
        None when the start had gone out already without asking for one.
        """
        item = await self._outbox.undelivered(session_id, "start")
        if item is None:
            return True, None
        delivered = await self._deliver(item, stream) is _Outcome.DELIVERED
        return delivered, self._start_answers.pop(session_id, None)

    async def flush(self) -> bool:
        """Deliver everything pending once; True when nothing deliverable is left."""
        async with self._flush_lock:
            resent: set[str] = set()
            # pending() returns one batch: go on until none is left, or a backlog longer
            # than a batch (after a long outage) would wait for the next kick.
            while batch := await self._outbox.pending():
                for item in batch:
                    outcome = await self._deliver(item)
                    if outcome is _Outcome.FAILED:
                        return False
                    if outcome is _Outcome.RESENT_START:
                        if item.session_id in resent:
                            return False  # the server lost it twice: back off
                        resent.add(item.session_id)
                        break  # fetch again: the start now comes before its end
            self.last_error = None
            self.alarm = None
            return True

    async def _prune(self) -> None:
        try:
            pruned = await self._outbox.prune_delivered(self._clock() - self._keep_delivered)
        except ConsoleError as exc:  # pruning can wait; delivery must not
            log.warning("outbox not pruned: %s", exc.detail)
            return
        if pruned:
            log.info("pruned %d delivered audit records", pruned)

    async def queue(self) -> AuditQueue:
        """What waits for delivery and why it fails, for the desk's audit health."""
        counts = await self._outbox.counts()
        oldest = await self._outbox.oldest_pending() if counts["pending"] else None
        return AuditQueue(counts["pending"], oldest, self._problem)

    def _set_problem(self, problem: str | None) -> None:
        if problem == self._problem:
            return
        self._problem = problem
        for listener in list(self.problem_listeners):
            listener(problem)

    async def _run(self) -> None:
        while True:
            self._wake.clear()  # before flushing, so a kick during the flush is not lost
            try:
                ok = await self.flush()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # supervised: report, back off, go on
                log.exception("audit delivery failed unexpectedly")
                self.last_error = (
                    exc.detail if isinstance(exc, ConsoleError) else f"{type(exc).__name__}: {exc}"
                )
                ok = False
            if ok:
                self._backoff_s = BASE_BACKOFF_S
                self._set_problem(None)
                await self._prune()
                await self._wake.wait()
                continue
            self._set_problem(self.alarm or self.last_error or "audit delivery is failing")
            # Jitter spreads the retries of many workstations after a district outage.
            delay = self._backoff_s * (0.5 + self._jitter())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                # Only a retry the timer chose doubles the delay: kicks by new sessions
                # must not push the next attempt further away.
                self._backoff_s = min(self._backoff_s * 2, self._max_backoff_s)
