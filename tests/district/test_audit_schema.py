"""The viewing session's audit record is named once (``domain.audit_record``); every
place that spells it out names exactly those fields.

The console's dataclass and the records it sends, the district's request and response
models (they make the OpenAPI description, so they keep their own types and words), the
``audit_sessions`` table the migrations build, and the CSV export: a field added to one
and not to the list (or to the list and not to one) fails here, before a record loses a
field on its way from the console to the district's export.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, replace
from pathlib import Path

from dispatch_console.district import audit_store, session_store
from dispatch_console.district.db import Database
from dispatch_console.district.schemas import (
    AuditEndIn,
    AuditSessionOut,
    AuditStartIn,
    AuditStartOut,
    HeartbeatIn,
)
from dispatch_console.domain.audit_record import (
    DISTRICT_PRIVATE_FIELDS,
    END_FIELDS,
    EXPORT_FIELDS,
    PUBLISHED_FIELDS,
    START_FIELDS,
    STORED_FIELDS,
)
from dispatch_console.domain.models import EndReason
from dispatch_console.domain.session import ViewingSession

# A record's place in its workstation's hash chain travels beside the record.
TRANSPORT = {"chain"}
# Worked out when the record is asked for, never stored.
COMPUTED = {"heartbeat_overdue"}
# Only in the answer to a start: the stream link asked for with it.
START_ANSWER = {"stream_link", "stream_refusal"}


def _session() -> ViewingSession:
    required = {
        f.name: "x"
        for f in fields(ViewingSession)
        if f.default is MISSING and f.default_factory is MISSING
    }
    return ViewingSession(**required)  # type: ignore[arg-type]


def test_the_lists_do_not_overlap() -> None:
    assert len(set(STORED_FIELDS)) == len(STORED_FIELDS)
    assert set(STORED_FIELDS) == set(PUBLISHED_FIELDS) | set(DISTRICT_PRIVATE_FIELDS)


def test_the_console_records_the_start_and_end_fields_in_order() -> None:
    kept = [f.name for f in fields(ViewingSession) if f.name != "started_mono_s"]
    assert kept == [*START_FIELDS, *END_FIELDS]
    session = _session()
    assert list(session.start_record()) == list(START_FIELDS)
    ended = replace(session, ended_at="x", duration_ms=1, end_reason=EndReason.CLOSED_BY_USER)
    assert list(ended.end_record()) == ["session_id", *END_FIELDS]


def test_start_schema_matches_the_session_start_record() -> None:
    assert set(AuditStartIn.model_fields) - TRANSPORT == set(START_FIELDS)
    assert set(AuditStartIn.model_fields) - TRANSPORT == set(_session().start_record())


def test_end_schema_matches_the_session_end_record() -> None:
    assert set(AuditEndIn.model_fields) - TRANSPORT == {"session_id", *END_FIELDS}


def test_the_published_record_is_the_listed_one() -> None:
    assert set(AuditSessionOut.model_fields) - COMPUTED == set(PUBLISHED_FIELDS)
    assert set(AuditStartOut.model_fields) - COMPUTED - START_ANSWER == set(PUBLISHED_FIELDS)


def test_the_table_has_a_column_for_each_stored_field_and_no_other(tmp_path: Path) -> None:
    """Every migration applied, as a new district's database gets them."""
    db = Database(tmp_path / "district.db")
    try:
        columns = db.read(lambda conn: conn.columns("audit_sessions"))
    finally:
        db.close()
    assert columns == set(STORED_FIELDS)


def test_the_district_reads_and_exports_the_listed_fields() -> None:
    assert session_store.COLUMNS.split(", ") == list(STORED_FIELDS)
    assert audit_store.CSV_COLUMNS == EXPORT_FIELDS
    assert set(EXPORT_FIELDS) <= set(PUBLISHED_FIELDS)
    header = audit_store.sessions_csv([]).splitlines()[0]
    assert header.split(",") == list(EXPORT_FIELDS)


def test_every_audit_record_can_carry_its_chain_link() -> None:
    for model in (AuditStartIn, AuditEndIn, HeartbeatIn):
        assert "chain" in model.model_fields
