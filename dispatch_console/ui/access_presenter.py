"""Emergencies and police access on both desks: the "Emergencies and access" rows, the
district's decisions told to the dispatcher who waited, declaring, and the district's
actions with their forms (approve with a scope, deny with a reason, review a break-glass
grant).

Follows the access store's change sets: the rows are drawn again when they changed (or
when the clock or an action asks), decisions are announced from the change set's
``decided`` (the denial reason included).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from PySide6.QtCore import QObject

from dispatch_console.domain.access_store import AccessChanges, AccessStore
from dispatch_console.domain.models import Emergency, EmergencyType, Grant
from dispatch_console.domain.policy import AccessAction, grant_in_force, police_shareable
from dispatch_console.domain.session import parse_utc
from dispatch_console.services.console import Console
from dispatch_console.services.district_client import Decided
from dispatch_console.services.sse import ServerEvent

from .emergency_spot import EmergencySpotPresenter
from .grant_dialogs import BuildingChoice, GrantTermsDialog, NoteDialog, deny_dialog, review_dialog
from .main_window import MainWindow
from .operations import OperationRunner


class AccessPresenter(QObject):
    def __init__(
        self,
        console: Console,
        window: MainWindow,
        runner: OperationRunner,
        store: AccessStore,
        *,
        sync: Callable[[], AccessChanges],
        current_school: Callable[[], str | None],
    ) -> None:
        """``sync``: bring the store up to the console's access state now (its
        subscribers, this one included, hear what changed); ``current_school``: the
        school the map shows."""
        super().__init__(window)
        self.console = console
        self.window = window
        self.runner = runner
        self.store = store
        self._sync = sync
        self._current_school = current_school
        # Set by the controller once built (it needs the map's school handler first).
        self.spot: EmergencySpotPresenter | None = None
        # The district desk's open forms (kept so tests and shortcuts can reach them).
        self.grant_dialog: GrantTermsDialog | None = None
        self.review_dialog: NoteDialog | None = None
        self.deny_dialog: NoteDialog | None = None
        window.emergency.declare_requested.connect(self._on_declare)
        window.access.action_requested.connect(self._on_access_action)
        if console.live is not None:
            console.live.event_listeners.append(self._on_live_event)

    # -- the access store's changes ----------------------------------------------------

    def on_access_changes(self, changes: AccessChanges) -> None:
        district = self.console.district
        if district is None or self.console.user is None:
            return
        if self.console.is_police:
            # The dispatcher who waited hears the district's answer without looking.
            names = {school.id: school.name for school in district.schools}
            for decided in changes.decided:
                school = names.get(decided.school_id, decided.school_id)
                if decided.granted and decided.grant is not None:
                    until = decided.grant.expires_at.astimezone().strftime("%H:%M")
                    text = f"The district approved police access at {school} until {until}."
                    self.window.show_message(text, "info")
                else:
                    reason = decided.reason
                    self.window.show_message(
                        f"The district denied police access at {school}"
                        + (f": {reason}" if reason else "."),
                        "warning",
                        timeout_ms=60000,
                    )
        if changes.statuses_changed or changes.decided:
            self.show_rows()

    def show_rows(self) -> None:
        district = self.console.district
        if district is None or self.console.user is None:
            return
        names = {school.id: school.name for school in district.schools}
        self.window.access.show_statuses(self.store.statuses, names)

    def refresh_panel(self) -> None:
        """The rows from the access state as it is now (re-enables a row's buttons)."""
        changes = self._sync()
        if not (changes.statuses_changed or changes.decided):
            self.show_rows()

    # -- declaring -----------------------------------------------------------------------

    def _on_declare(self, school_id: str, kind: str, threat_basis: str) -> None:
        self.window.emergency.declare.setEnabled(False)

        def done(declared: object) -> None:
            self.window.emergency.declare.setEnabled(True)
            if self.spot is not None:
                self.spot.clear()  # the declared emergency carries it now
            self.window.show_message("Emergency declared. " + self._grant_text(), "warning")

        agency = self.window.emergency.chosen_agency()  # a district declarer's choice
        # "Declare emergency here…"
        location = self.spot.location_for(school_id) if self.spot is not None else None
        self.runner.run(
            self.console.declare_emergency(
                school_id, EmergencyType(kind), threat_basis, agency, location
            ),
            done,
            lambda _error: self.window.emergency.declare.setEnabled(True),
        )

    def _grant_text(self) -> str:
        school = self._current_school()
        if school and grant_in_force(self.console.access, school, datetime.now(UTC)):
            return "Police access is granted: shareable cameras are unlocked."
        return "Police access waits for the district's approval."

    # -- the district's actions ----------------------------------------------------------

    def _on_access_action(self, action: str, target_id: str) -> None:
        kind = AccessAction(action)
        if kind is AccessAction.APPROVE_SCOPED:
            self._ask_grant_terms(target_id)
            return
        if kind is AccessAction.REVIEW:
            self.ask_review(target_id)
            return
        if kind is AccessAction.DENY:
            self._ask_deny_reason(target_id)
            return
        console = self.console
        operation: Coroutine[Any, Any, object]
        if kind is AccessAction.APPROVE:
            operation = console.approve_request(target_id)
        elif kind is AccessAction.EXTEND:
            operation = console.extend_grant(target_id)
        elif kind is AccessAction.REVOKE:
            operation = console.revoke_grant(target_id)
        else:
            operation = console.end_emergency(target_id)
        self._run_access_action(kind, operation)

    def _run_access_action(
        self, kind: AccessAction, operation: Coroutine[Any, Any, object]
    ) -> None:
        def done(result: object) -> None:
            self.refresh_panel()  # re-enables the row's buttons
            text, level = self._action_message(kind, result)
            self.window.show_message(text, level)

        self.runner.run(operation, done, lambda _error: self.refresh_panel())

    def _ask_grant_terms(self, request_id: str) -> None:
        """Approve… : which buildings or cameras, for how long (the dialog's choices are
        the cameras the policy lets police see)."""
        request = next((r for r in self.console.access.requests if r.id == request_id), None)
        district = self.console.district
        if request is None or district is None:
            self.refresh_panel()
            return
        school = district.school(request.school_id)
        choices = [
            BuildingChoice(
                building.id,
                building.name,
                tuple(
                    (c.id, c.name)
                    for floor in building.floors
                    for c in floor.cameras
                    if police_shareable(c)
                ),
            )
            for building in school.buildings
        ]
        dialog = GrantTermsDialog(school.name, choices, self.window)
        self.grant_dialog = dialog

        def approve() -> None:
            terms = dialog.terms()
            self._run_access_action(
                AccessAction.APPROVE,
                self.console.approve_request(
                    request_id,
                    minutes=terms.minutes,
                    buildings=terms.buildings,
                    cameras=terms.cameras,
                ),
            )

        dialog.accepted.connect(approve)
        dialog.rejected.connect(self.refresh_panel)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def ask_review(self, grant_id: str, grant: Grant | None = None) -> None:
        """``grant``: from the to-review list, which keeps grants no longer in force."""
        grant = grant or next((g for g in self.console.access.grants if g.id == grant_id), None)
        district = self.console.district
        if grant is None or district is None:
            self.refresh_panel()
            return
        emergency = next(
            (e for e in self.console.access.emergencies if e.id == grant.emergency_id), None
        )
        when = grant.granted_at.astimezone().strftime("%H:%M")
        description = (
            f"Break-glass grant to {grant.agency} at {district.school(grant.school_id).name}, "
            f"opened {when}"
            + (f" for: {emergency.threat_basis}" if emergency else "")
            + ". Record what the district's review found."
        )
        dialog = review_dialog(description, self.window)
        self.review_dialog = dialog
        dialog.accepted.connect(
            lambda: self._run_access_action(
                AccessAction.REVIEW, self.console.review_grant(grant_id, dialog.text())
            )
        )
        dialog.rejected.connect(self.refresh_panel)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _ask_deny_reason(self, request_id: str) -> None:
        """Deny… : the dispatcher who asked is told why, in the district's words."""
        request = next((r for r in self.console.access.requests if r.id == request_id), None)
        district = self.console.district
        if request is None or district is None:
            self.refresh_panel()
            return
        waited = request.requested_at.astimezone().strftime("%H:%M")
        dialog = deny_dialog(
            f"{request.requested_by} ({request.agency}) asked at {waited} for the cameras at "
            f"{district.school(request.school_id).name}. Say why the district denies it.",
            self.window,
        )
        self.deny_dialog = dialog
        dialog.accepted.connect(
            lambda: self._run_access_action(
                AccessAction.DENY, self.console.deny_request(request_id, dialog.text())
            )
        )
        dialog.rejected.connect(self.refresh_panel)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def _action_message(self, kind: AccessAction, result: object) -> tuple[str, str]:
        school = ""
        if isinstance(result, Decided):
            school = result.request.school_id
        elif isinstance(result, Grant | Emergency):
            school = result.school_id
        district = self.console.district
        with contextlib.suppress(KeyError):
            school = district.school(school).name if district else school
        grant = result.grant if isinstance(result, Decided) else result
        until = grant.expires_at.astimezone().strftime("%H:%M") if isinstance(grant, Grant) else ""
        if kind is AccessAction.APPROVE:
            return f"Police access approved at {school} until {until}.", "info"
        if kind is AccessAction.DENY:
            return f"Police access denied at {school}.", "info"
        if kind is AccessAction.EXTEND:
            return f"Police access at {school} extended until {until}.", "info"
        if kind is AccessAction.REVOKE:
            return f"Police access at {school} revoked: open police feeds close now.", "warning"
        if kind is AccessAction.REVIEW:
            return f"Review of the break-glass grant at {school} recorded.", "info"
        return f"Emergency ended at {school}: police access ended with it.", "warning"

    # -- live events ---------------------------------------------------------------------

    def _on_live_event(self, event: ServerEvent) -> None:
        if event.kind == "request.denied" and event.data.get("reason"):
            emergency_id = str(event.data.get("emergency_id", ""))
            self.store.hear_denial(emergency_id, str(event.data["reason"]))
        if event.kind == "grant.expiring":
            district = self.console.district
            names = {s.id: s.name for s in district.schools} if district else {}
            school_id = str(event.data.get("school_id", ""))
            school = names.get(school_id, school_id)
            until = parse_utc(str(event.data["expires_at"])).astimezone().strftime("%H:%M")
            if self.console.is_police:
                text = (
                    f"Police access at {school} ends at {until}. If you still need the "
                    "cameras, ask the district to extend it now."
                )
            else:
                text = f"The police grant at {school} ends at {until}."
            self.window.show_message(text, "warning", timeout_ms=60000)
