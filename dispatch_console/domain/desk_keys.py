"""What the keyboard paths of a desk act on, decided without Qt.

A key acts on something the person did not point at, so which thing must be predictable:

* Ctrl+1 … Ctrl+9 open the floor's cameras numbered in *reading order* (rows from the
  top of the plan, left to right within a row). The map prints each number beside its
  pin, so a dispatcher reads "3" and presses Ctrl+3; the order does not depend on how
  the plan file happens to list its cameras. Search results would change under the
  dispatcher's hands as they type; the floor in view does not.
* Approve and deny act on the request that has waited longest, the one an approver
  with a phone ringing would take first (the list shows it first too).
"""

from __future__ import annotations

from collections.abc import Iterable

from .access_board import EmergencyStatus
from .models import Camera, Floor
from .policy import AccessAction

# Cameras whose positions differ by less than this (metres, north–south) share a row.
ROW_BAND_M = 6.0
NUMBERED_CAMERAS = 9


def numbered_cameras(floor: Floor) -> tuple[Camera, ...]:
    """The floor's first nine cameras in reading order: Ctrl+n opens the n-th."""
    ordered = sorted(
        floor.cameras,
        key=lambda c: (int(c.position[1] // ROW_BAND_M), c.position[0], c.position[1], c.id),
    )
    return tuple(ordered[:NUMBERED_CAMERAS])


def camera_number(floor: Floor, n: int) -> Camera | None:
    """The camera Ctrl+``n`` opens (1-based), if the floor has that many."""
    cameras = numbered_cameras(floor)
    return cameras[n - 1] if 1 <= n <= len(cameras) else None


def oldest_awaiting(
    statuses: Iterable[EmergencyStatus], action: AccessAction
) -> EmergencyStatus | None:
    """The emergency whose request has waited longest and that ``action`` may act on."""
    waiting = [s for s in statuses if s.request is not None and action in s.actions]
    return min(
        waiting,
        key=lambda s: s.request.requested_at if s.request is not None else s.emergency.declared_at,
        default=None,
    )
