"""The console's access state as a store: snapshots in, typed change sets out.

The district's access state (emergencies, grants, requests, offline cameras) reaches the
console as whole snapshots: each refresh of ``/access`` and each live event that triggers
one. The desks used to redraw everything on any difference. ``transition`` compares the
old state with the new snapshot and says, in an ``AccessChanges``, exactly what differs
(which schools' emergencies, which grants appeared or ended, which requests the district
decided and why), so each presenter redraws only what a change touches — the pattern of
napari's evented models and Anki's ``OpChanges``.

Pure: no Qt, no I/O, no clock of its own (``now`` is an argument). ``AccessStore`` is the
small mutable holder the desk keeps; its transitions are these pure functions.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Protocol, TypeVar

from .access_board import EmergencyStatus, decided_since, emergency_statuses
from .models import AccessContext, Grant, User


@dataclass(frozen=True)
class RequestDecision:
    """A police request the district decided between two snapshots."""

    emergency_id: str
    school_id: str
    granted: bool
    # The grant in force after an approval.
    grant: Grant | None
    # The district's words on a denial ("" when it gave none).
    reason: str = ""


@dataclass(frozen=True)
class AccessChanges:
    """What one transition changed. Empty sets mean "nothing of that kind changed"."""

    # Schools whose emergencies appeared, changed or ended.
    emergency_schools: frozenset[str] = frozenset()
    # Grants new in this snapshot, and grants that left it or were revoked.
    grants_started: tuple[Grant, ...] = ()
    grants_ended: tuple[Grant, ...] = ()
    # Schools with any difference in their grants (new, ended, extended, re-scoped).
    grant_schools: frozenset[str] = frozenset()
    # Schools whose requests appeared, changed or left.
    request_schools: frozenset[str] = frozenset()
    # Requests the district decided since the last state (police desks announce them).
    decided: tuple[RequestDecision, ...] = ()
    # Cameras whose gateway problem appeared, changed or cleared.
    camera_problems: frozenset[str] = frozenset()
    # The "Emergencies and access" rows differ (new rows, other actions, other waits).
    statuses_changed: bool = False

    @property
    def schools(self) -> frozenset[str]:
        """Every school whose access state changed."""
        return self.emergency_schools | self.grant_schools | self.request_schools

    @property
    def snapshot_changed(self) -> bool:
        return bool(self.schools or self.camera_problems)

    def __bool__(self) -> bool:
        return self.snapshot_changed or self.statuses_changed or bool(self.decided)

    def pins_stale(self, school_id: str, camera_ids: Collection[str] = ()) -> bool:
        """Whether a floor of ``school_id`` showing ``camera_ids`` must recompute its pins:
        the policy's decision for a camera reads its own school's emergencies and grants
        only, and the pin's look the camera's gateway problem."""
        if school_id in self.emergency_schools or school_id in self.grant_schools:
            return True
        return any(camera_id in self.camera_problems for camera_id in camera_ids)

    def banner_stale(self, school_id: str) -> bool:
        """Whether the banner of ``school_id`` (emergency, grant, waiting request) changed."""
        return school_id in self.schools


@dataclass(frozen=True)
class AccessState:
    """The last snapshot, the board rows worked out from it, and the denial reasons the
    live events carried (``request.denied``) until a decision message used them."""

    snapshot: AccessContext = field(default_factory=AccessContext)
    statuses: tuple[EmergencyStatus, ...] = ()
    denial_reasons: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


class _OfSchool(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def school_id(self) -> str: ...


_T = TypeVar("_T", bound=_OfSchool)


def _by_id(items: Iterable[_T]) -> dict[str, _T]:
    return {item.id: item for item in items}


def _changed_schools(before: Mapping[str, _OfSchool], after: Mapping[str, _OfSchool]) -> set[str]:
    """The schools of every item that appeared, changed or left."""
    schools: set[str] = set()
    for key in before.keys() | after.keys():
        old, new = before.get(key), after.get(key)
        if old != new:
            schools.update(item.school_id for item in (old, new) if item is not None)
    return schools


def transition(
    state: AccessState, snapshot: AccessContext, user: User, now: datetime
) -> tuple[AccessState, AccessChanges]:
    """The state after ``snapshot`` arrived (or time moved on, with the same snapshot),
    and what changed."""
    old = state.snapshot
    statuses = emergency_statuses(snapshot, user, now)
    reasons = dict(state.denial_reasons)
    decided = []
    for status, granted in decided_since(state.statuses, statuses):
        emergency_id = status.emergency.id
        reason = reasons.pop(emergency_id, "")
        if not granted and not reason and status.denied is not None:
            reason = status.denied.decision_note
        decided.append(
            RequestDecision(
                emergency_id,
                status.emergency.school_id,
                granted and status.grant is not None,
                status.grant if granted else None,
                "" if granted else reason,
            )
        )
    old_grants, new_grants = _by_id(old.grants), _by_id(snapshot.grants)
    started = tuple(g for gid, g in new_grants.items() if gid not in old_grants)
    ended = tuple(g for gid, g in old_grants.items() if gid not in new_grants) + tuple(
        g
        for gid, g in new_grants.items()
        if gid in old_grants and g.revoked_at is not None and old_grants[gid].revoked_at is None
    )
    old_requests, new_requests = _by_id(old.requests), _by_id(snapshot.requests)
    old_problems, new_problems = dict(old.camera_problems), dict(snapshot.camera_problems)
    changes = AccessChanges(
        emergency_schools=frozenset(
            _changed_schools(_by_id(old.emergencies), _by_id(snapshot.emergencies))
        ),
        grants_started=started,
        grants_ended=ended,
        grant_schools=frozenset(_changed_schools(old_grants, new_grants)),
        request_schools=frozenset(_changed_schools(old_requests, new_requests)),
        decided=tuple(decided),
        camera_problems=frozenset(
            camera
            for camera in old_problems.keys() | new_problems.keys()
            if old_problems.get(camera) != new_problems.get(camera)
        ),
        statuses_changed=statuses != state.statuses,
    )
    return AccessState(snapshot, statuses, MappingProxyType(reasons)), changes


def denial_heard(state: AccessState, emergency_id: str, reason: str) -> AccessState:
    """A ``request.denied`` live event: keep its reason for the decision message."""
    if not reason:
        return state
    reasons = {**state.denial_reasons, emergency_id: reason}
    return AccessState(state.snapshot, state.statuses, MappingProxyType(reasons))


Listener = Callable[[AccessChanges], None]


class AccessStore:
    """Holds the current ``AccessState``; ``apply`` runs a transition and tells every
    subscriber the change set (only when something changed)."""

    def __init__(self) -> None:
        self.state = AccessState()
        self._listeners: list[Listener] = []

    @property
    def snapshot(self) -> AccessContext:
        return self.state.snapshot

    @property
    def statuses(self) -> tuple[EmergencyStatus, ...]:
        return self.state.statuses

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def apply(self, snapshot: AccessContext, user: User, now: datetime) -> AccessChanges:
        self.state, changes = transition(self.state, snapshot, user, now)
        if changes:
            for listener in list(self._listeners):
                listener(changes)
        return changes

    def hear_denial(self, emergency_id: str, reason: str) -> None:
        self.state = denial_heard(self.state, emergency_id, reason)
