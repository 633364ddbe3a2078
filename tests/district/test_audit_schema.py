"""The server's audit schema and the console's session record describe the same fields.

They are written twice on purpose (the server's pydantic models make the OpenAPI
description; the domain record is what the console stores), so this keeps them equal.
"""

from __future__ import annotations

from dataclasses import fields

from dispatch_console.district.schemas import AuditEndIn, AuditStartIn
from dispatch_console.domain.session import ViewingSession

END_FIELDS = {"session_id", "ended_at", "duration_ms", "end_reason"}


def test_start_schema_matches_the_session_start_record() -> None:
    record_fields = {f.name for f in fields(ViewingSession)} - (END_FIELDS - {"session_id"})
    assert set(AuditStartIn.model_fields) == record_fields


def test_end_schema_matches_the_session_end_record() -> None:
    assert set(AuditEndIn.model_fields) == END_FIELDS
