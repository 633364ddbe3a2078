"""Who may declare, enforced by the server with the policy's own rule (policy.may_declare):
police and approvers anywhere, a school administrator at their own schools, facilities
staff nowhere. The district desk shows its declare row by the same function."""

from __future__ import annotations

import pytest

from tests.district.test_server import API, District, district  # noqa: F401  (fixture)

pytestmark = pytest.mark.timeout(60)


def _declare(d: District, who: str, school: str) -> int:
    answer = d.http.post(
        f"{API}/emergencies",
        headers=d.login(who),
        json={"school_id": school, "type": "medical", "threat_basis": "Role test"},
    )
    return answer.status_code


def test_the_server_lets_each_role_declare_where_the_policy_says(district: District) -> None:  # noqa: F811
    assert _declare(district, "facilities", "lincoln-hs") == 403
    assert _declare(district, "lincoln-admin", "jefferson-es") == 403
    assert _declare(district, "lincoln-admin", "lincoln-hs") == 201
    assert _declare(district, "safety", "jefferson-es") == 201
    assert _declare(district, "dispatcher", "jefferson-es") == 201
