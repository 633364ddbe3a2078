"""One signed-in console: the district, the access state and the open viewing sessions.

This is the application's workflow, kept free of Qt so it can be driven and tested
without widgets. Widgets ask it for decisions (which come from the domain policy) and
call its coroutines through the UI's operation runner.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dispatch_console import __version__
from dispatch_console.domain.access_board import EmergencyStatus, emergency_statuses
from dispatch_console.domain.audit_basis import recorded_emergency, recorded_threat_basis
from dispatch_console.domain.audit_health import DEFAULT_ALARM_AFTER, AuditHealth, audit_health
from dispatch_console.domain.models import (
    AccessContext,
    Camera,
    District,
    Emergency,
    EmergencyLocation,
    EmergencyType,
    EndReason,
    Grant,
    User,
)
from dispatch_console.domain.policy import (
    EXTENSION_STEP,
    Decision,
    can_view,
    is_police,
    may_approve,
)
from dispatch_console.domain.session import (
    HEARTBEAT_INTERVAL_S,
    PictureGap,
    ViewingSession,
    elapsed_ms,
    end_session,
    stamp_after_start,
    start_session,
)
from dispatch_console.domain.stream_hosts import stream_host_refusal
from dispatch_console.floorplan.loader import FloorPlanError, district_from_document

from .audit_outbox import AuditOutbox
from .audit_shipper import DEFAULT_KEEP_DELIVERED, AuditShipper
from .credentials import RememberedSignIn, TokenStore
from .district_client import Decided, Declared, DistrictClient, StreamTicket, stream_link_of
from .errors import (
    AccessDenied,
    BadServerAnswer,
    ConsoleError,
    NotSignedIn,
    ServerUnreachable,
    SignInFailed,
    StreamFailed,
)
from .live_updates import MAX_BACKOFF_S, LiveUpdates
from .stream_probe import gateway_refusal

log = logging.getLogger(__name__)


class ViewAlreadyOpen(ConsoleError):
    title = "Already open"


@dataclass(frozen=True)
class OpenedView:
    session: ViewingSession
    ticket: StreamTicket


def _now() -> datetime:
    return datetime.now(UTC)


class Console:
    def __init__(
        self,
        client: DistrictClient,
        outbox: AuditOutbox,
        *,
        workstation_id: str,
        clock: Callable[[], datetime] = _now,
        keep_delivered: timedelta = DEFAULT_KEEP_DELIVERED,
        token_store: TokenStore | None = None,
        allowed_stream_hosts: tuple[str, ...] = (),
        monotonic: Callable[[], float] = time.monotonic,
        heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S,
        audit_alarm_after: timedelta = DEFAULT_ALARM_AFTER,
    ) -> None:
        self.client = client
        # Where each new sign-in's token goes (the OS keyring); None keeps it in memory.
        self._token_store = token_store
        self.outbox = outbox
        self.shipper = AuditShipper(outbox, client, clock=clock, keep_delivered=keep_delivered)
        self.workstation_id = workstation_id
        # IT's list of gateway hosts stream links may point at (empty: any).
        self.allowed_stream_hosts = allowed_stream_hosts
        self._clock = clock
        # Durations and every stamp after a session's start count on this clock, so a
        # wall clock stepped mid-session cannot stretch or shrink the record.
        self._monotonic = monotonic
        self._heartbeat_interval_s = heartbeat_interval_s
        self._heartbeat_tasks: dict[str, asyncio.Task[None]] = {}
        self.audit_alarm_after = audit_alarm_after
        # Told when the audit trail forced a feed shut (a heartbeat could not be written):
        # the session id and why, for the desk to say.
        self.audit_stop_listeners: list[Callable[[str, str], None]] = []
        self.user: User | None = None
        self.district: District | None = None
        self.access = AccessContext()
        self.views: dict[str, ViewingSession] = {}
        # Each open view's stream link (memory only: it opens the stream for a minute),
        # and the gateway's reason when a feed failed (see stream_failed).
        self._stream_urls: dict[str, str] = {}
        self.failure_reasons: dict[str, str] = {}
        self.access_listeners: list[Callable[[], None]] = []
        self.view_ended_listeners: list[Callable[[ViewingSession], None]] = []
        # Told before a session's end is stamped, so the player stops first and no frame
        # is painted after the recorded end.
        self.view_closing_listeners: list[Callable[[ViewingSession], None]] = []
        # Camera ids with a view open or opening: one view per camera, even when two
        # clicks arrive before the first start is on disk.
        self._cameras_in_use: set[str] = set()
        # Ends stamped but not yet durable (say, the disk was full): retried until they are.
        self._unwritten_ends: dict[str, ViewingSession] = {}
        self._end_retry_task: asyncio.Task[None] | None = None
        self._refresh_lock = asyncio.Lock()
        # Told once when the district ends this sign-in (expired after a shift, signed
        # out elsewhere, locked): the desk asks for a new sign-in in place.
        self.sign_in_lost_listeners: list[Callable[[], None]] = []
        self.sign_in_lost = False
        # Why the district server cannot be reached right now (None when it can);
        # listeners hear of every change, so the UI can say it and say when it is over.
        self.connection_problem: str | None = None
        self.connection_listeners: list[Callable[[str | None], None]] = []
        self.live: LiveUpdates | None = None
        # Whether this sign-in is remembered for the next start (its refresh token is in
        # the keyring), and why not when the user asked and it could not be.
        self.remembered = False
        self.remember_problem: str | None = None

    # -- sign-in and start-up ---------------------------------------------------------

    async def sign_in(
        self, username: str, password: str, otp: str, *, remember: bool = False
    ) -> User:
        """Sign in; ``remember`` asks the district for a remembered sign-in, kept in the
        OS keyring for the next start (``remember_problem`` says why when it was not)."""
        self.user = await self.client.login(username, password, otp, remember=remember)
        await self._store_token()
        if remember:
            await self._keep_remembered()
        return self.user

    async def resume(self, remembered: RememberedSignIn) -> User:
        """Start from a remembered sign-in instead of a password and one-time code.

        The district retires the refresh token it is given and hands out another, which
        replaces it in the keyring. A refusal (ended, expired, used twice, account
        locked) forgets it here too, so the next start asks for a full sign-in.
        """
        try:
            user = await self.client.resume(remembered.refresh_token.reveal())
        except SignInFailed:
            if self._token_store is not None:
                await self._token_store.forget_remembered()
            raise
        if user.username != remembered.username:
            raise BadServerAnswer(
                f"The district answered a remembered sign-in of {remembered.username} "
                f"with the account {user.username}."
            )
        self.user = user
        await self._store_token()
        await self._keep_remembered()
        return user

    async def _keep_remembered(self) -> None:
        refresh, user = self.client.refresh_token, self.user
        if refresh is None or user is None:
            self.remember_problem = (
                "The district does not allow remembering sign-ins: you will sign in with "
                "your password and one-time code at the next start."
            )
            return
        if self._token_store is None or not await self._token_store.remember(
            user.username, refresh
        ):
            self.remember_problem = (
                "This computer's password store cannot keep the sign-in: you will sign in "
                "with your password and one-time code at the next start."
            )
            return
        self.remember_problem = None
        self.remembered = True

    async def _store_token(self) -> None:
        token = self.client.token
        if self._token_store is not None and token is not None and self.user is not None:
            await self._token_store.save(self.user.username, token)

    async def start(self) -> list[ViewingSession]:
        """Load the district, recover crashed sessions and start shipping the audit trail."""
        recovered = await self.outbox.recover_unfinished()
        self.shipper.start()
        if recovered:
            log.warning("ended %d viewing session(s) left open by a crash", len(recovered))
            self.shipper.kick()
        document = await self.client.district_document()
        try:
            self.district = district_from_document(document, "district server registry")
        except FloorPlanError as exc:
            raise BadServerAnswer(f"The district's floor plans are invalid. {exc}") from None
        await self.refresh_access()
        return recovered

    def follow_live_updates(self, max_backoff_s: float = MAX_BACKOFF_S) -> LiveUpdates:
        """Keep the access state fresh from the district's event stream, so feeds close
        by themselves when a grant ends and approvals show as they happen."""
        if self.live is None:
            self.live = LiveUpdates(self, max_backoff_s=max_backoff_s)
            self.live.start()
        return self.live

    async def _lose_sign_in(self) -> None:
        if self.sign_in_lost:
            return
        self.sign_in_lost = True
        await self.close_all(EndReason.SIGNED_OUT)
        for listener in list(self.sign_in_lost_listeners):
            listener()

    async def sign_in_again(self, username: str, password: str, otp: str) -> User:
        """Sign the same user in again after the district ended the sign-in.

        Only the same account may continue: this workstation's outbox and open incident
        view belong to it. Records written meanwhile go out with the new token.
        """
        current = self._require_user()
        if username.strip() != current.username:
            raise SignInFailed(
                f"This desk belongs to {current.username}: sign in as that user to go on, "
                "or exit the console to change user."
            )
        user = await self.client.login(current.username, password, otp, remember=self.remembered)
        self.user = user
        self.sign_in_lost = False
        await self._store_token()  # the keyring must not keep the ended token
        if self.remembered:
            await self._keep_remembered()
        self.shipper.connection_restored()
        await self.refresh_access()
        return user

    # -- access ------------------------------------------------------------------------

    def _require_user(self) -> User:
        if self.user is None:
            raise NotSignedIn("Sign in first.")
        return self.user

    def decision(self, camera: Camera) -> Decision:
        return can_view(self._require_user(), camera, self.access, self._clock())

    async def refresh_access(self) -> None:
        """Fetch and apply the access state; one refresh at a time.

        Overlapping refreshes once let a slow, older answer overwrite a newer one, so
        approval messages repeated and pins flickered.
        """
        async with self._refresh_lock:
            try:
                await self._refresh_access()
            except NotSignedIn:
                # Whoever noticed first (the poll, a failed stream), feeds close as
                # signed_out and the desk asks for a new sign-in.
                await self._lose_sign_in()
                raise

    async def _refresh_access(self) -> None:
        try:
            access = await self.client.access()
        except (ServerUnreachable, BadServerAnswer) as exc:
            self._set_connection_problem(f"{exc.title}: {exc.detail}")
            raise
        if self.connection_problem is not None:
            self.shipper.connection_restored()
        self._set_connection_problem(None)
        changed = access != self.access
        self.access = access
        if changed:
            for listener in list(self.access_listeners):
                listener()
        await self._close_views_without_access()

    def _set_connection_problem(self, problem: str | None) -> None:
        if problem == self.connection_problem:
            return
        if problem is None:
            log.info("district server reachable again")
        else:
            log.warning("district server: %s", problem)
        self.connection_problem = problem
        for listener in list(self.connection_listeners):
            listener(problem)

    async def _close_views_without_access(self) -> None:
        if self.district is None:
            return
        now = self._clock()
        for session in list(self.views.values()):
            camera = self.district.camera(session.camera_id)
            if not self.decision(camera):
                await self.close_view(session.session_id, self._why_access_ended(session, now))

    def _why_access_ended(self, session: ViewingSession, now: datetime) -> EndReason:
        emergency = next((e for e in self.access.emergencies if e.id == session.emergency_id), None)
        if emergency is None or not emergency.is_active(now):
            return EndReason.EMERGENCY_ENDED
        grant = next((g for g in self.access.grants if g.id == session.grant_id), None)
        if grant is not None and now >= grant.expires_at:
            return EndReason.GRANT_EXPIRED
        return EndReason.GRANT_REVOKED

    async def declare_emergency(
        self,
        school_id: str,
        kind: EmergencyType,
        threat_basis: str,
        agency: str | None = None,
        location: EmergencyLocation | None = None,
    ) -> Declared:
        """``agency``: the police agency a district declarer declares for; ``location``:
        the spot on the school's plan (the server checks it belongs to the school)."""
        if not threat_basis.strip():
            raise ConsoleError(
                "State the threat basis: the district must record why live video was needed."
            )
        declared = await self.client.declare_emergency(
            school_id, kind, threat_basis.strip(), agency, location
        )
        await self.refresh_access()
        return declared

    def emergency_statuses(self) -> tuple[EmergencyStatus, ...]:
        """The "Emergencies and access" board for this user, from the last access state."""
        return emergency_statuses(self.access, self._require_user(), self._clock())

    # -- the district safety office's decisions -----------------------------------------
    # The server checks every one of these again; the console only refuses early with a
    # clear reason, and refreshes the access state afterwards so every panel catches up.

    def _require_approver(self, what: str) -> None:
        if not may_approve(self._require_user()):
            raise ConsoleError(f"Only the district safety office may {what}.")

    async def approve_request(
        self,
        request_id: str,
        *,
        minutes: int | None = None,
        buildings: tuple[str, ...] = (),
        cameras: tuple[str, ...] = (),
    ) -> Decided:
        """Grant the request: the whole school by default, or the buildings and cameras
        named, for ``minutes`` (the server checks the scope and bounds, and says why not)."""
        self._require_approver("approve police access")
        decided = await self.client.approve_request(
            request_id, minutes=minutes, buildings=buildings, cameras=cameras
        )
        await self.refresh_access()
        return decided

    async def review_grant(self, grant_id: str, note: str) -> Grant:
        """Record the district's review of a break-glass grant."""
        self._require_approver("review a break-glass grant")
        if not note.strip():
            raise ConsoleError("Write what the review found: the note is the district's record.")
        grant = await self.client.review_grant(grant_id, note.strip())
        await self.refresh_access()
        return grant

    async def deny_request(self, request_id: str, reason: str = "") -> Decided:
        """Deny, telling the requesting desk why (the server passes the reason on)."""
        self._require_approver("deny police access")
        decided = await self.client.deny_request(request_id, reason)
        await self.refresh_access()
        return decided

    async def extend_grant(
        self, grant_id: str, minutes: int = int(EXTENSION_STEP.total_seconds() // 60)
    ) -> Grant:
        self._require_approver("extend police access")
        grant = await self.client.extend_grant(grant_id, minutes)
        await self.refresh_access()
        return grant

    async def revoke_grant(self, grant_id: str) -> Grant:
        self._require_approver("revoke police access")
        grant = await self.client.revoke_grant(grant_id)
        await self.refresh_access()
        return grant

    async def revoke_agency(self, agency: str) -> list[Grant]:
        """Revoke every grant of one police agency in force (the server's one revoke rule)."""
        self._require_approver("revoke police access")
        grants = await self.client.revoke_agency(agency)
        await self.refresh_access()
        return grants

    async def request_extension(self, grant_id: str) -> Grant:
        """Ask the district for more time on this agency's grant (police only: approvers
        extend). Nothing changes until the district decides; its answer arrives as usual."""
        if not self.is_police:
            raise ConsoleError("The district extends grants itself: use Extend.")
        return await self.client.request_extension(grant_id)

    async def end_emergency(self, emergency_id: str) -> Emergency:
        self._require_approver("end an emergency")
        emergency = await self.client.end_emergency(emergency_id)
        await self.refresh_access()
        return emergency

    # -- viewing sessions -------------------------------------------------------------

    async def open_view(self, camera_id: str) -> OpenedView:
        """Audit first, then ask for the stream: no durable record, no video."""
        user = self._require_user()
        if self.district is None:
            raise ConsoleError("The district's floor plans are not loaded yet.")
        camera = self.district.camera(camera_id)
        decision = self.decision(camera)
        if not decision:
            raise AccessDenied(decision.reason)
        if camera_id in self._cameras_in_use:
            raise ViewAlreadyOpen(f"{camera.name} is already open in the grid.")
        self._cameras_in_use.add(camera_id)
        try:
            session = await self._start_audited(user, camera, decision)
        except BaseException:
            self._cameras_in_use.discard(camera_id)
            raise
        try:
            # Only this session's own start must be on the server before its stream is
            # asked for; any backlog drains beside it.
            self.shipper.kick()
            # One round trip on the click path: the start's answer carries the link.
            delivered, answer = await self.shipper.deliver_start(session.session_id, "sub")
            if not delivered:
                raise ConsoleError(
                    "The viewing session could not be reported to the district"
                    + (f": {self.shipper.last_error}" if self.shipper.last_error else ".")
                )
            link = stream_link_of(answer) if answer is not None else None
            # A start the background flush delivered first (or an older server) came
            # back without a link: ask for it on its own.
            ticket = link or await self.client.stream_ticket(camera.id, session.session_id)
            self._check_stream_host(ticket)
        except ConsoleError as exc:
            signed_out = isinstance(exc, NotSignedIn)
            reason = EndReason.SIGNED_OUT if signed_out else EndReason.STREAM_FAILED
            await self.close_view(session.session_id, reason)
            if signed_out:
                await self._lose_sign_in()
            raise
        self._stream_urls[session.session_id] = ticket.url
        return OpenedView(session, ticket)

    async def fresh_stream_link(self, session: ViewingSession, stream: str = "sub") -> StreamTicket:
        """A new link for an open session (a reconnect, or the main stream for a large
        tile): same session, same audit record; the district re-checks access."""
        ticket = await self.client.stream_ticket(session.camera_id, session.session_id, stream)
        self._check_stream_host(ticket)
        return ticket

    def _check_stream_host(self, ticket: StreamTicket) -> None:
        refusal = stream_host_refusal(ticket.url, self.allowed_stream_hosts)
        if refusal is not None:
            log.warning("stream link refused: %s", refusal)
            raise StreamFailed(refusal)

    async def _start_audited(
        self, user: User, camera: Camera, decision: Decision
    ) -> ViewingSession:
        assert self.district is not None
        emergency = self._emergency_for(camera, decision)
        session = start_session(
            user=user,
            camera=camera,
            school=self.district.school(camera.school_id),
            workstation_id=self.workstation_id,
            app_version=__version__,
            emergency_id=emergency.id if emergency else None,
            grant_id=decision.grant.id if decision.grant else None,
            threat_basis=recorded_threat_basis(emergency, decision),
            now=self._clock(),
            mono_now_s=self._monotonic(),
        )
        await self.outbox.record_start(session)
        self.views[session.session_id] = session
        self._heartbeat_tasks[session.session_id] = asyncio.create_task(
            self._beat(session), name=f"audit-heartbeat-{session.session_id}"
        )
        return session

    async def _beat(self, session: ViewingSession) -> None:
        """Write a heartbeat every interval while the session is open.

        If one cannot be written (full disk, read-only or damaged outbox), the feed is
        closed: after a crash the session would end at its last durable mark, so video
        shown past it would be viewing the district never hears of. The end is retried
        by the end-retry like any unwritten end; the reason recorded is stream_failed
        (the agreement's list of end reasons has no other), and the desk is told why.
        """
        session_id = session.session_id
        while True:
            await asyncio.sleep(self._heartbeat_interval_s)
            if session_id not in self.views or session_id in self._unwritten_ends:
                return
            at = stamp_after_start(session, elapsed_ms(session, self._monotonic()))
            if not await self._write_heartbeat(session, at):
                self._heartbeat_tasks.pop(session_id, None)
                return

    async def _write_heartbeat(
        self, session: ViewingSession, at: str, gaps: tuple[PictureGap, ...] = ()
    ) -> bool:
        """Write one heartbeat and have it shipped; on failure close the feed (False)."""
        session_id = session.session_id
        try:
            await self.outbox.record_heartbeat(session, at, gaps)
        except ConsoleError as exc:
            why = f"The feed was closed because the audit trail could not be written: {exc.detail}"
            log.error("heartbeat of %s not written: %s", session_id, exc.detail)
            self.failure_reasons[session_id] = why
            for listener in list(self.audit_stop_listeners):
                listener(session_id, why)
            try:
                await self.close_view(session_id, EndReason.STREAM_FAILED)
            except ConsoleError as end_exc:  # kept and retried by the end-retry
                log.warning("end of %s not written yet: %s", session_id, end_exc.detail)
            return False
        self.shipper.kick()
        return True

    async def record_picture_gap(
        self, session_id: str, lost_mono_s: float, back_mono_s: float, reason: str
    ) -> None:
        """Tell the district, at once, that an open view had no picture for a while.

        A reconnect keeps the viewing session (one look at one camera, one record); the
        gap (last picture before the loss to the first after it, on the monotonic clock
        the session's times count on) goes in a heartbeat written when the picture is
        back, so a reviewer sees when the dispatcher could not see.
        """
        session = self.views.get(session_id)
        if session is None or session.started_mono_s is None or session_id in self._unwritten_ends:
            return

        started_mono_s = session.started_mono_s

        def stamp(mono_s: float) -> str:
            return stamp_after_start(session, max(0, round((mono_s - started_mono_s) * 1000)))

        gap = PictureGap(stamp(lost_mono_s), stamp(back_mono_s), reason)
        await self._write_heartbeat(session, gap.ended_at, (gap,))

    def _emergency_for(self, camera: Camera, decision: Decision) -> Emergency | None:
        return recorded_emergency(
            decision.grant,
            self.access.emergencies,
            camera.school_id,
            standing=not self.is_police,
            now=self._clock(),
        )

    async def close_view(self, session_id: str, reason: EndReason) -> ViewingSession | None:
        """End a view; the session stays open here until its end is durable on disk.

        If the write fails (a full disk), the stamped end is kept and retried in the
        background, so the recorded time is the moment the user closed it.
        """
        ended = self._unwritten_ends.get(session_id)
        if ended is None:
            session = self.views.get(session_id)
            if session is None:
                return None
            for listener in list(self.view_closing_listeners):
                listener(session)
            ended = end_session(session, reason, self._clock(), self._monotonic())
            self._unwritten_ends[session_id] = ended
        try:
            await self.outbox.record_end(ended)
        except ConsoleError:
            self._retry_unwritten_ends()
            raise
        self._ended(ended)
        return ended

    def _ended(self, ended: ViewingSession) -> None:
        if self._unwritten_ends.pop(ended.session_id, None) is None:
            return  # another attempt finished it first
        self.views.pop(ended.session_id, None)
        beating = self._heartbeat_tasks.pop(ended.session_id, None)
        if beating is not None and beating is not asyncio.current_task():
            beating.cancel()
        self._stream_urls.pop(ended.session_id, None)
        self._cameras_in_use.discard(ended.camera_id)
        self.shipper.kick()
        for listener in list(self.view_ended_listeners):
            listener(ended)

    def _retry_unwritten_ends(self, interval_s: float = 1.0) -> None:
        if self._end_retry_task is not None and not self._end_retry_task.done():
            return

        async def retry() -> None:
            while self._unwritten_ends:
                await asyncio.sleep(interval_s)
                for ended in list(self._unwritten_ends.values()):
                    try:
                        await self.outbox.record_end(ended)
                    except ConsoleError as exc:
                        log.warning("session end still not written: %s", exc.detail)
                        break
                    self._ended(ended)

        self._end_retry_task = asyncio.create_task(retry(), name="audit-end-retry")

    async def stream_failed(self, session_id: str) -> ViewingSession | None:
        """A feed died: find out first whether access ended, so the record says why.

        The gateway cuts streams when a grant ends, often before this console's next
        access poll; recording that as a stream failure would misstate the audit trail.
        """
        try:
            await self.refresh_access()  # closes the view with the access reason if so
        except ConsoleError as exc:
            log.warning("access check after a stream failure failed: %s", exc)
        url = self._stream_urls.get(session_id)
        if url is not None and session_id in self.views:
            reason = await gateway_refusal(url)
            if reason is not None:
                self.failure_reasons[session_id] = reason
        return await self.close_view(session_id, EndReason.STREAM_FAILED)

    async def audit_health(self) -> AuditHealth:
        """The desk's audit state now: delivered, queued or failing, the alarm, the skew."""
        return audit_health(
            await self.shipper.queue(),
            self._clock(),
            alarm_after=self.audit_alarm_after,
            skew_s=self.client.clock_skew_s,
        )

    def watching_an_active_emergency(self) -> bool:
        """Whether a feed is open under an emergency still in progress (idle lock rule)."""
        now = self._clock()
        active = {e.id for e in self.access.emergencies if e.is_active(now)}
        return any(s.emergency_id in active for s in self.views.values())

    async def lock(self) -> None:
        """The desk locks itself: every feed ends as "locked" (the user must sign in
        again to go on; the sign-in itself stays, so records still go out meanwhile)."""
        await self.close_all(EndReason.LOCKED)

    async def close_all(self, reason: EndReason) -> None:
        for session_id in list(self.views):
            try:
                await self.close_view(session_id, reason)
            except ConsoleError as exc:  # kept and retried; go on closing the others
                log.warning("could not record the end of %s: %s", session_id, exc.detail)

    async def shutdown(
        self,
        flush_timeout_s: float = 3.0,
        logout_timeout_s: float = 2.0,
        *,
        sign_out: bool = False,
    ) -> None:
        """Close every view and try briefly to deliver the trail, then end the sign-in.

        An exit keeps a remembered sign-in for the next start; ``sign_out`` ends it, on
        the district and in the keyring, so the next start asks for a full sign-in.
        """
        if self.live is not None:
            await self.live.stop()
        await self.close_all(EndReason.SIGNED_OUT if sign_out else EndReason.APPLICATION_EXIT)
        try:
            await asyncio.wait_for(self.shipper.flush(), flush_timeout_s)
        except (TimeoutError, ConsoleError) as exc:
            log.warning("audit records left for the next start: %s", exc)
        await self.shipper.stop()
        # Sign out last, after the ends went out with this token: the district then ends
        # the sign-in, so a token left in memory or the keyring is worth nothing.
        keep = self.remembered and not sign_out
        try:
            await asyncio.wait_for(self.client.logout(keep_remembered=keep), logout_timeout_s)
        except (TimeoutError, ConsoleError) as exc:
            log.warning("sign-out at exit did not reach the district: %s", exc)
        # Signed out: the keyring keeps no token of this sign-in either, nor (when the
        # user signed out) the remembered sign-in, even if the district was unreachable.
        if self._token_store is not None and self.user is not None:
            await self._token_store.forget(self.user.username)
            if sign_out:
                await self._token_store.forget_remembered()
                self.remembered = False

    @property
    def is_police(self) -> bool:
        return self.user is not None and is_police(self.user)

    @property
    def may_approve(self) -> bool:
        return self.user is not None and may_approve(self.user)
