"""The district desk's own work, beside the emergency list the controller runs:

- police requests arriving: a card, a desktop notification and a sound (``notifications``);
- break-glass grants waiting for review, each with "Review…" (``district_side``);
- the police agencies holding grants, each with "Revoke all of <agency>…" in two clicks;
- who is watching what now, as badges on the plan (``watched_overlay``);
- the declare control: shown only where the policy lets this user declare, and saying
  for which police agency.

Built by the controller for the district desk only; it follows the live event stream
and the access state itself. The rules and words are ``domain.district_desk``'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QScrollArea, QWidget

from dispatch_console.domain.district_desk import (
    RequestNotice,
    Watcher,
    agencies_with_grants,
    declare_offer,
    notified_of_requests,
    police_agencies,
    request_notice,
    review_item,
    watchers_by_camera,
)
from dispatch_console.domain.models import Grant, User
from dispatch_console.services.console import Console
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.sse import ServerEvent

from .district_side import DistrictSidePanel
from .main_window import MainWindow
from .notifications import AlertChoices, RequestNotifier, Sound
from .operations import OperationRunner
from .watched_overlay import WatchedOverlay

log = logging.getLogger(__name__)

# Waiting times on the cards, "for N min" on the badges: they move on by themselves.
TICK_MS = 15_000
# Events after which the lists are read again.
_REVIEW_EVENTS = ("grant.", "emergency.", "connected", "resync")
_WATCH_EVENTS = ("viewing.", "connected", "resync")


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M")


class DistrictDeskPresenter(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        runner: OperationRunner,
        *,
        review: Callable[[Grant], None],
        alerts: AlertChoices,
        sound: Sound | None,
    ) -> None:
        super().__init__(window)
        self.console, self.window, self.runner = console, window, runner
        self._review = review
        # Over the top right of the desk's own area, below the declare row (not over the
        # side panel, whose "Review…" buttons must stay reachable).
        self.notifier = RequestNotifier(
            window.centralWidget() or window, alerts, sound, anchor=window.emergency
        )
        self.notifier.chosen.connect(self.show_request)
        self.side = DistrictSidePanel(window)
        self.side.review_requested.connect(self._on_review)
        self.side.revoke_all_requested.connect(self._on_revoke_all)
        self.dock = QDockWidget("Review and agencies", window)
        self.dock.setObjectName("districtSideDock")
        self.dock.setWidget(self.side)
        self.dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.dock.setMinimumWidth(300)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.overlay = WatchedOverlay(window.map)
        self.watchers: dict[str, tuple[Watcher, ...]] = {}
        self._to_review: list[Grant] = []
        # Requests announced on the stream whose details the access state has not
        # brought yet (the event comes first, the refresh right after it).
        self._announced: set[str] = set()
        self._notified: set[str] = set()
        self._agencies: tuple[str, ...] = ()
        self._accounts: tuple[User, ...] = ()
        self._reading_watchers = False
        self._watchers_again = False
        self.focused_request: str | None = None
        # After the controller's own handlers (connected first), which show the floor.
        window.school.currentIndexChanged.connect(lambda _i: self._on_school_changed())
        window.emergency.agency.currentIndexChanged.connect(lambda _i: self.update_declare_offer())
        window.floors.currentChanged.connect(lambda _i: self._draw_watchers())
        console.access_listeners.append(self._on_access_changed)
        if console.live is not None:
            console.live.event_listeners.append(self.on_live_event)
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        window.closed.connect(self.close)

    def start(self) -> None:
        """Read what the lists show, once the console is loaded."""
        self._timer.start()
        self.refresh_reviews()
        self.refresh_watchers()
        self._load_agencies()
        self._on_access_changed()

    def close(self) -> None:
        self._timer.stop()
        self.notifier.close()
        close = getattr(self.notifier.sound, "close", None)
        if callable(close):
            close()

    # -- live events and the access state --------------------------------------------

    def on_live_event(self, event: ServerEvent) -> None:
        if event.kind == "request.pending" and notified_of_requests(self._user()):
            self._announced.add(str(event.data.get("subject", "")))
            self._notify_announced()
        if event.kind.startswith(_REVIEW_EVENTS):
            self.refresh_reviews()
        if event.kind.startswith(_WATCH_EVENTS):
            self.refresh_watchers()

    def _user(self) -> User:
        user = self.console.user
        if user is None:
            raise RuntimeError("the district desk needs a signed-in user")
        return user

    def _on_access_changed(self) -> None:
        self._notify_announced()
        access = self.console.access
        pending = {r.id for r in access.requests if r.is_pending}
        for request_id in self.notifier.cards.request_ids:
            if request_id not in pending:  # decided (here or elsewhere), or withdrawn
                self.notifier.cards.remove(request_id)
        self.side.show_agencies(agencies_with_grants(access.grants, datetime.now(UTC)))
        # The panel is as wide as its widest "Revoke all of <agency>…" button.
        self.dock.setMinimumWidth(max(300, self.side.wanted_width()))
        agencies = police_agencies(self._accounts, access.grants, access.requests)
        if agencies != self._agencies:
            self._agencies = agencies
            self._fill_agencies()

    def _notify_announced(self) -> None:
        access = self.console.access
        for request in access.requests:
            if request.id in self._announced and request.is_pending:
                self._announced.discard(request.id)
                if request.id not in self._notified:
                    self._notified.add(request.id)
                    self.notifier.notify(self._notice(request.id))

    def _notice(self, request_id: str) -> RequestNotice:
        access, district = self.console.access, self.console.district
        request = next(r for r in access.requests if r.id == request_id)
        emergency = next((e for e in access.emergencies if e.id == request.emergency_id), None)
        school = request.school_id
        if district is not None:
            school = next((s.name for s in district.schools if s.id == school), school)
        return request_notice(
            request, emergency, school, datetime.now(UTC), _clock(request.requested_at)
        )

    def _tick(self) -> None:
        pending = {r.id for r in self.console.access.requests if r.is_pending}
        for request_id in self.notifier.cards.request_ids:
            if request_id in pending:
                self.notifier.cards.update_notice(self._notice(request_id))
        self._show_review_items()
        self._draw_watchers()

    def show_request(self, request_id: str) -> None:
        """The notification was clicked: bring the desk forward, the request's row into
        view and the focus onto its Approve button."""
        request = next((r for r in self.console.access.requests if r.id == request_id), None)
        window = self.window
        if window.isMinimized():
            window.showNormal()
        window.raise_()
        window.activateWindow()
        if request is None:
            window.show_message("That request has been decided already.")
            return
        row = window.access.row(request.emergency_id)
        if row is None:
            return
        self.focused_request = request_id
        scroll: QWidget | None = row.parentWidget()
        while scroll is not None and not isinstance(scroll, QScrollArea):
            scroll = scroll.parentWidget()
        if isinstance(scroll, QScrollArea):
            scroll.ensureWidgetVisible(row)
        target = row.approve if not row.approve.isHidden() else row
        target.setFocus(Qt.FocusReason.OtherFocusReason)

    # -- break-glass grants to review --------------------------------------------------

    def refresh_reviews(self) -> None:
        def show(grants: list[Grant]) -> None:
            self._to_review = grants
            self._show_review_items()

        self.runner.run(self.console.client.grants_to_review(), show, self._quietly)

    def _show_review_items(self) -> None:
        district, now = self.console.district, datetime.now(UTC)
        names = {s.id: s.name for s in district.schools} if district else {}
        self.side.show_reviews(
            [
                review_item(g, names.get(g.school_id, g.school_id), now, _clock(g.granted_at))
                for g in self._to_review
            ]
        )

    def _on_review(self, grant_id: str) -> None:
        grant = next((g for g in self._to_review if g.id == grant_id), None)
        if grant is not None:
            self._review(grant)

    # -- revoke all of an agency -------------------------------------------------------

    def _on_revoke_all(self, agency: str) -> None:
        row = self.side.agency_row(agency)
        if row is not None:
            row.revoke.setEnabled(False)

        def done(grants: list[Grant]) -> None:
            schools = len({g.school_id for g in grants})
            if grants:
                self.window.show_message(
                    f"All police access of {agency} revoked ({len(grants)} grant(s) at "
                    f"{schools} school(s)): its open feeds close now.",
                    "warning",
                )
            else:
                self.window.show_message(f"{agency} held no grant in force any more.")
            self._on_access_changed()

        self.runner.run(self.console.revoke_agency(agency), done, lambda _e: None)

    # -- who is watching what ----------------------------------------------------------

    def refresh_watchers(self) -> None:
        """Read who watches what. One read at a time; a change heard while a read is
        under way is read again when it is back, since that read may predate it (a
        revoke's grant event, then the session's end: the mark must go)."""
        if self._reading_watchers:
            self._watchers_again = True
            return
        self._reading_watchers = True
        self._watchers_again = False

        def read_again_if_changed() -> None:
            self._reading_watchers = False
            if self._watchers_again:
                self.refresh_watchers()

        def show(sessions: list[dict[str, object]]) -> None:
            self.watchers = watchers_by_camera(sessions)
            self._draw_watchers()
            read_again_if_changed()

        def failed(error: ConsoleError) -> None:
            self._quietly(error)
            read_again_if_changed()

        self.runner.run(self.console.client.audit_sessions(active=True, limit=200), show, failed)

    def _draw_watchers(self) -> None:
        self.overlay.show(self.watchers, datetime.now(UTC))

    # -- declare, and for whom -----------------------------------------------------------

    def _load_agencies(self) -> None:
        def loaded(accounts: list[User]) -> None:
            self._accounts = tuple(accounts)
            self._on_access_changed()

        if self.console.may_approve:
            self.runner.run(self.console.client.accounts(), loaded, self._quietly)

    def _fill_agencies(self) -> None:
        box = self.window.emergency.agency
        chosen = box.currentData()
        box.blockSignals(True)
        box.clear()
        for agency in self._agencies:
            box.addItem(agency, agency)
        if chosen in self._agencies:
            box.setCurrentIndex(self._agencies.index(chosen))
        box.blockSignals(False)
        self.update_declare_offer()

    def _on_school_changed(self) -> None:
        self.update_declare_offer()
        self._draw_watchers()  # another floor is on the plan: its badges

    def update_declare_offer(self) -> None:
        school_id = self.window.school.currentData()
        user = self.console.user
        if user is None or not isinstance(school_id, str):
            return
        agency = self.window.emergency.agency.currentData()
        offer = declare_offer(user, school_id, agency if isinstance(agency, str) else None)
        self.window.emergency.offer_declare(
            offer.shown, offer.label, on_behalf=bool(self._agencies), blocked=offer.blocked
        )

    def _quietly(self, error: ConsoleError) -> None:
        """Background reads say nothing on failure: the connection banner already does."""
        log.warning("district desk read failed: %s", error)
