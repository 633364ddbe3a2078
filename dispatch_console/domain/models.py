"""The district's things as plain, immutable values.

Times are timezone-aware UTC datetimes. Coordinates are metres in the floor's own plan
frame (x to the right, y down, as drawn), so the UI can draw them without reprojection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .plan_calibration import Similarity


class Role(StrEnum):
    POLICE_DISPATCHER = "police_dispatcher"
    POLICE_SUPERVISOR = "police_supervisor"
    DISTRICT_SAFETY_OFFICER = "district_safety_officer"
    SCHOOL_ADMIN = "school_admin"
    FACILITIES = "facilities"


class RoomKind(StrEnum):
    """What a room is used for; this, not a camera flag, decides police visibility."""

    HALLWAY = "hallway"
    CAFETERIA = "cafeteria"
    GYM = "gym"
    AUDITORIUM = "auditorium"
    ENTRANCE = "entrance"
    STAIRWELL = "stairwell"
    EXTERIOR = "exterior"
    PARKING = "parking"
    CLASSROOM = "classroom"
    RESTROOM = "restroom"
    LOCKER_ROOM = "locker_room"
    NURSE = "nurse"
    COUNSELING = "counseling"
    OFFICE = "office"
    # Anything an import could not place (an unknown IMDF category, a storeroom ...).
    # Not a common area, so private: the policy shares only what it names.
    OTHER = "other"


class EmergencyType(StrEnum):
    ACTIVE_THREAT = "active_threat"
    EXPLOSION_OR_FIRE = "explosion_or_fire"
    MEDICAL = "medical"
    LOCKDOWN = "lockdown"
    SEVERE_WEATHER = "severe_weather"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _EMERGENCY_LABELS[self]


_EMERGENCY_LABELS = {
    EmergencyType.ACTIVE_THREAT: "Active threat (shooter / intruder)",
    EmergencyType.EXPLOSION_OR_FIRE: "Explosion or fire",
    EmergencyType.MEDICAL: "Medical",
    EmergencyType.LOCKDOWN: "Lockdown",
    EmergencyType.SEVERE_WEATHER: "Severe weather",
    EmergencyType.OTHER: "Other",
}


class EndReason(StrEnum):
    """How a viewing session ended, as the audit record states it."""

    CLOSED_BY_USER = "closed_by_user"
    GRANT_EXPIRED = "grant_expired"
    GRANT_REVOKED = "grant_revoked"
    EMERGENCY_ENDED = "emergency_ended"
    STREAM_FAILED = "stream_failed"
    APPLICATION_EXIT = "application_exit"
    RECOVERED_AFTER_CRASH = "recovered_after_crash"
    # The grid filled up while the feed was opening, so it was never shown: not the user.
    GRID_FULL = "grid_full"
    # The sign-in ended (expired, or ended by the district): the feed closed with it.
    SIGNED_OUT = "signed_out"
    # The desk locked itself after the user left it idle (video is hidden at once).
    LOCKED = "locked"


Point = tuple[float, float]


@dataclass(frozen=True)
class User:
    id: str
    username: str
    display_name: str
    agency: str
    role: Role
    # Schools a school_admin is attached to; empty for every other role.
    schools: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Room:
    id: str
    name: str
    kind: RoomKind
    outline: tuple[Point, ...]


@dataclass(frozen=True)
class Wall:
    """A wall drawn as a polyline; it blocks a camera's view except where an opening is."""

    id: str
    path: tuple[Point, ...]


@dataclass(frozen=True)
class Opening:
    """A door or open passage: the stretch of wall between its two ends does not block."""

    id: str
    kind: str  # "door" or "opening"
    ends: tuple[Point, Point]


@dataclass(frozen=True)
class Background:
    """A floor-plan drawing (PNG, JPEG, SVG or PDF) placed under the plan.

    ``bounds`` is where the image's top-left and bottom-right corners fall in the plan,
    in metres: the two-point placement that lines a drawing up with the rooms.
    """

    image: str
    bounds: tuple[float, float, float, float]
    # A drawing placed by two calibration points (``floorplan import-image``) may be
    # rotated: then ``bounds`` is only the box it covers and ``placement`` places it.
    placement: Similarity | None = None
    # The server's digest of the file, so a console caches one download per version.
    sha256: str = ""


@dataclass(frozen=True)
class StreamProfile:
    """One of a camera's streams ("main" full resolution, "sub" for grids).

    Addresses are not here: they live in the district's camera registry, which only
    gateways receive. The plan says what the camera offers, not where to fetch it.
    """

    name: str
    codec: str = ""
    width: int = 0
    height: int = 0
    fps: float = 0.0


@dataclass(frozen=True)
class Camera:
    id: str
    name: str
    school_id: str
    building_id: str
    floor_id: str
    position: Point
    heading_deg: float
    fov_deg: float
    range_m: float
    # Filled in by the floor-plan loader from the room polygon that contains the position.
    room_id: str
    room_kind: RoomKind
    # What the district's configuration says; the policy still overrides it for
    # cameras standing in private rooms.
    configured_shareable: bool = True
    # The name the audit record and the tiles use ("Main Hall East — 1st floor");
    # the plan may give one, else the camera's name stands in.
    logical_name: str = ""
    streams: tuple[StreamProfile, ...] = ()

    @property
    def display_name(self) -> str:
        return self.logical_name or self.name


@dataclass(frozen=True)
class Floor:
    id: str
    name: str
    level: int
    rooms: tuple[Room, ...]
    cameras: tuple[Camera, ...]
    width_m: float
    height_m: float
    walls: tuple[Wall, ...] = ()
    openings: tuple[Opening, ...] = ()
    background: Background | None = None


@dataclass(frozen=True)
class Building:
    id: str
    name: str
    floors: tuple[Floor, ...]


@dataclass(frozen=True)
class School:
    id: str
    name: str
    address: str
    buildings: tuple[Building, ...]

    def cameras(self) -> tuple[Camera, ...]:
        return tuple(c for b in self.buildings for f in b.floors for c in f.cameras)

    def floor(self, floor_id: str) -> Floor:
        for building in self.buildings:
            for floor in building.floors:
                if floor.id == floor_id:
                    return floor
        raise KeyError(floor_id)

    def building(self, building_id: str) -> Building:
        for building in self.buildings:
            if building.id == building_id:
                return building
        raise KeyError(building_id)


@dataclass(frozen=True)
class District:
    id: str
    name: str
    schools: tuple[School, ...]
    # Problems the loader found but could live with (e.g. a camera configured as
    # shareable that stands in a classroom). Shown to the district, never silently dropped.
    warnings: tuple[str, ...] = ()

    def school(self, school_id: str) -> School:
        for school in self.schools:
            if school.id == school_id:
                return school
        raise KeyError(school_id)

    def camera(self, camera_id: str) -> Camera:
        for school in self.schools:
            for camera in school.cameras():
                if camera.id == camera_id:
                    return camera
        raise KeyError(camera_id)

    def cameras(self) -> tuple[Camera, ...]:
        return tuple(c for s in self.schools for c in s.cameras())


@dataclass(frozen=True)
class EmergencyLocation:
    """Where on which floor the emergency is, in that floor's plan metres.

    Declared with the emergency so every desk marks the same spot and the dispatcher's
    desk can offer the cameras that see it the moment access is granted.
    """

    floor_id: str
    x: float
    y: float


@dataclass(frozen=True)
class Emergency:
    id: str
    school_id: str
    type: EmergencyType
    threat_basis: str
    declared_by: str
    declared_at: datetime
    ended_at: datetime | None = None
    # Optional: a declaration made from the plan carries the spot it was made at.
    location: EmergencyLocation | None = None

    def is_active(self, now: datetime) -> bool:
        return self.declared_at <= now and (self.ended_at is None or now < self.ended_at)


@dataclass(frozen=True)
class Grant:
    """Police access to a school's shareable cameras (all, or a scope), for one emergency."""

    id: str
    emergency_id: str
    school_id: str
    agency: str
    granted_at: datetime
    expires_at: datetime
    approved_by: str
    break_glass: bool = False
    needs_review: bool = False
    revoked_at: datetime | None = None
    # The scope: some buildings and/or listed cameras of the school; both empty means
    # the whole school. Whether a camera is covered is the policy's call (grant_covers).
    buildings: tuple[str, ...] = ()
    cameras: tuple[str, ...] = ()
    # A break-glass grant's review, as the district recorded it.
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    review_note: str | None = None

    @property
    def whole_school(self) -> bool:
        return not self.buildings and not self.cameras

    def is_in_force(self, now: datetime) -> bool:
        if self.revoked_at is not None and self.revoked_at <= now:
            return False
        return self.granted_at <= now < self.expires_at


@dataclass(frozen=True)
class AccessRequest:
    """Police asking the district for a grant during an emergency that is not break-glass."""

    id: str
    emergency_id: str
    school_id: str
    agency: str
    requested_by: str
    requested_at: datetime
    status: str  # "pending", "approved", "denied" or "cancelled"
    decided_by: str | None = None
    decided_at: datetime | None = None
    # The approver's reason, when the request was denied.
    decision_note: str = ""

    @property
    def is_pending(self) -> bool:
        return self.status == "pending"


@dataclass(frozen=True)
class AccessContext:
    """What the policy needs to know about the world at one moment."""

    emergencies: tuple[Emergency, ...] = ()
    grants: tuple[Grant, ...] = ()
    # Requests still waiting for a district approver (police see their agency's only).
    requests: tuple[AccessRequest, ...] = ()
    # Cameras the gateways cannot relay now, with the gateway's reason. Not a policy
    # input: an offline camera is still allowed, it just has no picture to give.
    camera_problems: tuple[tuple[str, str], ...] = ()
