"""The server's audit schema and the console's session record describe the same fields.

They are written twice on purpose (the server's pydantic models make the OpenAPI
description; the domain record is what the console stores), so this keeps them equal.
"""

from __future__ import annotations

from dataclasses import MISSING, fields

from dispatch_console.district.schemas import AuditEndIn, AuditStartIn, HeartbeatIn
from dispatch_console.domain.session import ViewingSession

# A record's place in its workstation's hash chain travels beside the record.
TRANSPORT = {"chain"}


def _session() -> ViewingSession:
    required = {
        f.name: "x"
        for f in fields(ViewingSession)
        if f.default is MISSING and f.default_factory is MISSING
    }
    return ViewingSession(**required)  # type: ignore[arg-type]


def test_start_schema_matches_the_session_start_record() -> None:
    assert set(AuditStartIn.model_fields) - TRANSPORT == set(_session().start_record())


def test_end_schema_matches_the_session_end_record() -> None:
    assert set(AuditEndIn.model_fields) - TRANSPORT == {
        "session_id",
        "ended_at",
        "duration_ms",
        "end_reason",
    }


def test_every_audit_record_can_carry_its_chain_link() -> None:
    for model in (AuditStartIn, AuditEndIn, HeartbeatIn):
        assert "chain" in model.model_fields
