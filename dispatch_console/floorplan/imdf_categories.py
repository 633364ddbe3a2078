"""IMDF unit categories as our room kinds.

IMDF (the Indoor Mapping Data Format, OGC Community Standard 20-094) gives every unit a
category. Police sharing is decided by room kind, so this table is a privacy decision:
a category lands in a common area only when it clearly is one. Anything unlisted, and
anything ambiguous (elevators, lounges, kitchens, storerooms), becomes ``other``, which
the policy treats as private.
"""

from __future__ import annotations

from dispatch_console.domain.models import RoomKind
from dispatch_console.domain.policy import is_private_room

UNIT_KINDS: dict[str, RoomKind] = {
    "walkway": RoomKind.HALLWAY,
    "footbridge": RoomKind.HALLWAY,
    "ramp": RoomKind.HALLWAY,
    "movingwalkway": RoomKind.HALLWAY,
    "lobby": RoomKind.ENTRANCE,
    "stairs": RoomKind.STAIRWELL,
    "steps": RoomKind.STAIRWELL,
    "escalator": RoomKind.STAIRWELL,
    "foodservice": RoomKind.CAFETERIA,
    "fitnessroom": RoomKind.GYM,
    "recreation": RoomKind.GYM,
    "auditorium": RoomKind.AUDITORIUM,
    "theater": RoomKind.AUDITORIUM,
    "movietheater": RoomKind.AUDITORIUM,
    "parking": RoomKind.PARKING,
    "fieldofplay": RoomKind.EXTERIOR,
    "unenclosedarea": RoomKind.EXTERIOR,
    "terrace": RoomKind.EXTERIOR,
    "vegetation": RoomKind.EXTERIOR,
    "classroom": RoomKind.CLASSROOM,
    "laboratory": RoomKind.CLASSROOM,
    "library": RoomKind.CLASSROOM,
    "restroom": RoomKind.RESTROOM,
    "restroom.family": RoomKind.RESTROOM,
    "restroom.female": RoomKind.RESTROOM,
    "restroom.male": RoomKind.RESTROOM,
    "restroom.transgender": RoomKind.RESTROOM,
    "restroom.unisex": RoomKind.RESTROOM,
    "restroom.wheelchair": RoomKind.RESTROOM,
    "restroom.family.wheelchair": RoomKind.RESTROOM,
    "restroom.female.wheelchair": RoomKind.RESTROOM,
    "restroom.male.wheelchair": RoomKind.RESTROOM,
    "restroom.transgender.wheelchair": RoomKind.RESTROOM,
    "restroom.unisex.wheelchair": RoomKind.RESTROOM,
    "shower": RoomKind.LOCKER_ROOM,
    "firstaid": RoomKind.NURSE,
    "mothersroom": RoomKind.NURSE,
    "office": RoomKind.OFFICE,
    "conferenceroom": RoomKind.OFFICE,
    "huddleroom": RoomKind.OFFICE,
    "phoneroom": RoomKind.OFFICE,
    "mailroom": RoomKind.OFFICE,
    "waitingroom": RoomKind.OFFICE,
}

# Units that are wall material, not rooms: their outlines become walls.
WALL_CATEGORIES = frozenset(
    {"brick", "concrete", "drywall", "glass", "wood", "column", "structure"}
)
# Units that are holes in the floor: neither rooms nor walls.
VOID_CATEGORIES = frozenset({"opentobelow"})
# Open areas: their edges are not walls (a corridor runs into a lobby without one).
OPEN_CATEGORIES = frozenset(
    {
        "walkway",
        "lobby",
        "unenclosedarea",
        "terrace",
        "vegetation",
        "parking",
        "fieldofplay",
        "footbridge",
        "ramp",
        "movingwalkway",
        "steps",
    }
)


def room_kind(category: str) -> RoomKind:
    """Our room kind for an IMDF unit category; unknown categories are private (other)."""
    return UNIT_KINDS.get(category, RoomKind.OTHER)


def privacy_class(kind: RoomKind) -> str:
    """How the policy treats this kind: shareable with police in an emergency, or never."""
    return "private" if is_private_room(kind) else "common"
