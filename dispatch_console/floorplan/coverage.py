""" "Which cameras see this spot" for one user: geometry from visibility, rights from the policy.

The rights are not decided here: every candidate goes through ``policy.can_view``, the
same function the district server asks before it signs a stream link, so a spot query
can never offer a camera that the pin would refuse.
"""

from __future__ import annotations

from datetime import datetime

from dispatch_console.domain.models import AccessContext, Camera, Floor, Point, User
from dispatch_console.domain.policy import can_view

from .visibility import VisibilityIndex


def cameras_covering(
    index: VisibilityIndex,
    floor: Floor,
    spot: Point,
    user: User,
    context: AccessContext,
    now: datetime,
) -> list[Camera]:
    """Cameras this user may watch now whose visible area holds the spot, nearest first."""
    return [
        camera
        for camera in index.floor(floor).covering(spot)
        if can_view(user, camera, context, now).allowed
    ]
