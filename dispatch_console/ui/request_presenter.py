"""The request's state on both desks: the police school list, "Ask to extend", the FERPA
notice, and the district desk hearing that police ask for more time.

Police desk: every school's emergency state in a compact list (click to open its plan),
the request with its countdown in "Emergencies and access", an "Ask to extend" button
while a grant ends within five minutes, and the FERPA notice while any police video is in
the grid. District desk: a request to extend shows as a message naming the school and the
grant's end; the row's own Extend button is the answer. The rules and wording are in
``domain.access_board``; this class only wires them to the widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QObject

from dispatch_console.domain.access_board import EndedEmergency, ended_since
from dispatch_console.domain.models import AccessContext, Grant
from dispatch_console.domain.session import parse_utc
from dispatch_console.services.console import Console
from dispatch_console.services.errors import ConsoleError
from dispatch_console.services.sse import ServerEvent

from .main_window import MainWindow
from .operations import OperationRunner


def _utc_now() -> datetime:
    return datetime.now(UTC)


class RequestPresenter(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        runner: OperationRunner,
        *,
        open_school: Callable[[str], None],
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        super().__init__(window)
        self.console = console
        self.window = window
        self.runner = runner
        self._clock = clock
        self._seen = AccessContext()
        # The last emergency each school saw end, while this desk was open.
        self.ended: dict[str, EndedEmergency] = {}
        console.access_listeners.append(self.refresh)
        if console.live is not None:
            console.live.event_listeners.append(self._on_live_event)
        window.access.extension_requested.connect(self.ask_extension)
        if window.schools is not None:
            window.schools.school_chosen.connect(open_school)
        # A tile opens through the controller (which calls show_ferpa_notice); a view that
        # ends takes its tile away first, then tells this listener.
        console.view_ended_listeners.append(lambda _session: self.show_ferpa_notice())

    def refresh(self) -> None:
        """The school list from the access state as it is now (emergencies that left it
        since the last look are "ended")."""
        access = self.console.access
        for gone in ended_since(self._seen, access, self._clock()):
            self.ended[gone.school_id] = gone
        self._seen = access
        district, schools = self.console.district, self.window.schools
        if district is None or schools is None or self.console.user is None:
            return
        schools.show_state(district, self.console.emergency_statuses(), self.ended)

    def show_ferpa_notice(self) -> None:
        """Police only, and only while a tile of school video is in the grid."""
        notice = self.window.ferpa
        if notice is not None:
            notice.setVisible(self.console.is_police and bool(self.window.grid.tiles))

    # -- "Ask to extend" ------------------------------------------------------------------

    def ask_extension(self, grant_id: str) -> None:
        def asked(grant: Grant) -> None:
            self.window.access.extension_answered(grant_id, True)
            until = grant.expires_at.astimezone().strftime("%H:%M")
            self.window.show_message(
                f"The district safety office was asked to extend police access at "
                f"{self._school_name(grant.school_id)} (now ending {until}). Their answer "
                "shows here when they decide.",
            )

        def failed(_error: ConsoleError) -> None:
            self.window.access.extension_answered(grant_id, False)

        self.runner.run(self.console.request_extension(grant_id), asked, failed)

    def _school_name(self, school_id: str) -> str:
        district = self.console.district
        names = {s.id: s.name for s in district.schools} if district else {}
        return names.get(school_id, school_id)

    def _on_live_event(self, event: ServerEvent) -> None:
        if event.kind != "grant.extension_requested" or self.console.is_police:
            return
        data = event.data
        try:
            ends = parse_utc(str(data.get("expires_at"))).astimezone().strftime("%H:%M")
        except ValueError:
            ends = "soon"
        self.window.show_message(
            f"{data.get('requested_by', 'Police')} ({data.get('agency', '')}) ask to extend "
            f"police access at {self._school_name(str(data.get('school_id', '')))}, which "
            f"ends at {ends}. Use Extend in Emergencies and access to grant more time.",
            "warning",
            timeout_ms=60000,
        )
