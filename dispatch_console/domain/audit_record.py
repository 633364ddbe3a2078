"""The viewing session's audit record: the names of its fields, once, for both sides.

The console builds the record (``session.ViewingSession``) and sends its start and its
end; the district stores it (the ``audit_sessions`` table), publishes it
(``AuditSessionOut``) and exports it (CSV). Each spells the fields in its own terms, a
frozen dataclass, a table, a pydantic model carrying the API's descriptions, but all of
them name the fields listed here: the console's records and the district's column lists
are built from these tuples, and tests/district/test_audit_schema.py fails the moment
the table, the models or the dataclass name a field these do not (or miss one).

Plain names, no types: the domain imports no I/O and no pydantic, and each side keeps
the types its own format needs.
"""

from __future__ import annotations

# What the console records when a session starts and sends as its start, in this order.
# The district keeps the client's ``started_at`` as ``client_started_at``; its own
# ``started_at`` is when the start arrived (the record is the server's: server.py).
START_FIELDS: tuple[str, ...] = (
    "session_id",
    "user_id",
    "user_name",
    "agency",
    "role",
    "workstation_id",
    "app_version",
    "camera_id",
    "camera_name",
    "school_id",
    "school_name",
    "building_id",
    "building_name",
    "floor_id",
    "floor_name",
    "emergency_id",
    "grant_id",
    "threat_basis",
    "started_at",
)

# What the console adds when the session ends; its end record is these and the id.
END_FIELDS: tuple[str, ...] = ("ended_at", "duration_ms", "end_reason")

# What the district adds from its own truth, and publishes with the record.
DISTRICT_FIELDS: tuple[str, ...] = (
    "room_kind",
    "client_started_at",
    "late",
    "start_received_at",
    "end_received_at",
    "last_heartbeat_at",
)

# What the district keeps for itself: the client's start exactly as sent (a replay is
# judged on it) and when the last recorded heartbeat arrived (for the overdue check).
DISTRICT_PRIVATE_FIELDS: tuple[str, ...] = ("client_record", "heartbeat_received_at")

# The record as the district publishes it (the API adds ``heartbeat_overdue``, which is
# worked out when asked, never stored).
PUBLISHED_FIELDS: tuple[str, ...] = START_FIELDS + END_FIELDS + DISTRICT_FIELDS

# The record as the district stores it: one column each.
STORED_FIELDS: tuple[str, ...] = PUBLISHED_FIELDS + DISTRICT_PRIVATE_FIELDS

# The CSV export's columns, in the order an auditor reads them: the names a reader
# knows a place by rather than the registry's ids, and no receive times but the start's.
EXPORT_FIELDS: tuple[str, ...] = (
    "session_id",
    "started_at",
    "ended_at",
    "duration_ms",
    "end_reason",
    "user_id",
    "user_name",
    "agency",
    "role",
    "workstation_id",
    "school_name",
    "building_name",
    "floor_name",
    "camera_id",
    "camera_name",
    "room_kind",
    "emergency_id",
    "grant_id",
    "threat_basis",
    "client_started_at",
    "late",
    "last_heartbeat_at",
)
