"""Under what a session is recorded: the one rule both the console and the district call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dispatch_console.domain.audit_basis import (
    STANDING_ACCESS_BASIS,
    recorded_emergency,
    recorded_grant,
    recorded_threat_basis,
)
from dispatch_console.domain.models import Emergency, EmergencyType, Grant
from dispatch_console.domain.policy import Decision

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
EMERGENCY = Emergency(
    id="em-1",
    school_id="lincoln-hs",
    type=EmergencyType.ACTIVE_THREAT,
    threat_basis="Caller reports a man with a gun",
    declared_by="Dana Reyes",
    declared_at=NOW - timedelta(minutes=30),
)
GRANT = Grant(
    id="gr-1",
    emergency_id="em-1",
    school_id="lincoln-hs",
    agency="Riverside PD",
    granted_at=NOW - timedelta(minutes=20),
    expires_at=NOW - timedelta(minutes=1),
    approved_by="Sam Ortiz",
)
SKEW = timedelta(minutes=2)


def test_the_grant_in_force_wins() -> None:
    decision = Decision(True, "granted", GRANT)
    assert recorded_grant(decision, None, late=False, client_start=NOW, clock_skew=SKEW) is GRANT


def test_a_late_start_keeps_the_grant_it_began_under_but_only_then() -> None:
    refused = Decision(False, "the grant expired")
    during = NOW - timedelta(minutes=10)
    assert recorded_grant(refused, GRANT, late=True, client_start=during, clock_skew=SKEW) is GRANT
    assert recorded_grant(refused, GRANT, late=False, client_start=during, clock_skew=SKEW) is None
    after = NOW
    assert recorded_grant(refused, GRANT, late=True, client_start=after, clock_skew=SKEW) is None


def test_standing_access_takes_the_schools_active_emergency_police_never_do() -> None:
    assert recorded_emergency(None, [EMERGENCY], "lincoln-hs", standing=True, now=NOW) is EMERGENCY
    assert recorded_emergency(None, [EMERGENCY], "lincoln-hs", standing=False, now=NOW) is None
    assert recorded_emergency(GRANT, [EMERGENCY], "other", standing=False, now=NOW) is EMERGENCY


def test_the_threat_basis_says_why_the_session_could_happen() -> None:
    assert recorded_threat_basis(EMERGENCY, Decision(True, "")) == EMERGENCY.threat_basis
    assert recorded_threat_basis(None, Decision(True, "")) == STANDING_ACCESS_BASIS
    refused = recorded_threat_basis(None, Decision(False, "no emergency is declared"))
    assert refused.endswith("no emergency is declared") and refused.startswith("No access")
