"""Finding cameras by what a dispatcher remembers: a name, a room, or a number.

"gym", "112", "cam-07" and "main hall east" should all land on the right camera. Best
matches come first: the camera's own id or number, then names that start with the words
typed, then anything that merely contains them.
"""

from __future__ import annotations

import re

from dispatch_console.domain.models import Camera, District


def _numbers(text: str) -> set[str]:
    return {n.lstrip("0") or "0" for n in re.findall(r"\d+", text)}


def _score(camera: Camera, rooms: dict[str, str], query: str) -> int | None:
    """Lower is better; None when the camera does not match at all."""
    q = query.casefold().strip()
    names = [camera.name.casefold(), camera.display_name.casefold()]
    room = rooms.get(camera.room_id, "").casefold()
    haystack = " ".join([*names, room, camera.id.casefold(), camera.room_id.casefold()])
    if q == camera.id.casefold():
        return 0
    if q.isdigit() and (q.lstrip("0") or "0") in _numbers(camera.id + " " + camera.name):
        return 1
    if any(name.startswith(q) for name in names):
        return 2
    if q.isdigit() and (q.lstrip("0") or "0") in _numbers(room + " " + camera.room_id):
        return 3
    if all(word in haystack for word in q.split()):
        return 4
    return None


def find_cameras(district: District, query: str) -> list[Camera]:
    """Cameras matching the query, best first (ties in plan order)."""
    if not query.strip():
        return []
    rooms = {
        room.id: room.name
        for school in district.schools
        for building in school.buildings
        for floor in building.floors
        for room in floor.rooms
    }
    scored = [
        (score, index, camera)
        for index, camera in enumerate(district.cameras())
        if (score := _score(camera, rooms, query)) is not None
    ]
    return [camera for _, _, camera in sorted(scored, key=lambda item: item[:2])]
