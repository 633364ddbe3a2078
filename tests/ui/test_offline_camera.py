"""A camera the gateway cannot reach shows as offline on the map, with the gateway's own
reason, word for word."""

from __future__ import annotations

from pathlib import Path

import httpx

from dispatch_console.domain.models import EmergencyType
from dispatch_console.domain.stream_tokens import link_key
from dispatch_console.ui.map_view import PinLook
from tests.conftest import DistrictStack, LoopRunner, eventually, signed_in_client
from tests.ui.desk import close_desk, desk_settings, open_desk

CAMERA = "lhs-cam-09"  # used by no other UI test
REASON = "The camera refused the district's credentials."


def _report(stack: DistrictStack, state: str, reason: str | None) -> None:
    """Report a camera state to the district as its gateway does (same link key)."""
    key = link_key(stack.secret_file.read_bytes().strip())
    answer = httpx.post(
        f"{stack.server_url}/api/v1/gateway/status",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "statuses": [
                {"camera_id": CAMERA, "stream": "sub", "state": state, "reason": reason, "since": 0}
            ]
        },
    )
    assert answer.status_code == 204, answer.text


def _gateway_state(stack: DistrictStack) -> str | None:
    key = link_key(stack.secret_file.read_bytes().strip())
    metrics = httpx.get(
        f"{stack.gateway_url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=5
    ).json()
    for upstream in metrics["upstreams"]:
        if upstream["camera_id"] == CAMERA and upstream["stream"] == "sub":
            return str(upstream["state"])
    return None


def test_an_offline_camera_shows_the_gateways_reason_on_its_pin(
    qloop: LoopRunner, district_stack: DistrictStack, tmp_path: Path
) -> None:
    settings = desk_settings(district_stack.server_url, tmp_path)

    async def scenario() -> None:
        desk = await open_desk(settings, "dispatcher")
        auditor = await signed_in_client(district_stack.server_url, "safety")
        declared = await desk.console.declare_emergency(
            "lincoln-hs", EmergencyType.EXPLOSION_OR_FIRE, "Smoke reported in the gym"
        )
        if declared.grant is None:
            # The shared server may hold the school after another test's revoke: then the
            # declaration waits for an approver, as in real life.
            assert declared.request_id is not None
            await auditor.approve_request(declared.request_id)
        await desk.console.refresh_access()
        try:
            # The grant's prewarm makes the gateway connect the camera and report it
            # online; report it offline only after that, or the gateway's report wins.
            await eventually(lambda: _gateway_state(district_stack) == "online", 30, "online")

            def offline() -> bool:
                # Again and again: the gateway's own "online" report may still be on its
                # way to the district and would overwrite a single one.
                _report(district_stack, "offline", REASON)
                states = desk.controller.pin_states(_floor_of(desk, CAMERA))
                return states[CAMERA].look is PinLook.OFFLINE

            await eventually(offline, 10, "the offline pin")
            state = desk.controller.pin_states(_floor_of(desk, CAMERA))[CAMERA]
            assert state.reason == f"Offline: {REASON}"
            _report(district_stack, "online", None)

            def back() -> bool:
                states = desk.controller.pin_states(_floor_of(desk, CAMERA))
                return states[CAMERA].look is PinLook.UNLOCKED

            await eventually(back, 5, "the pin unlocked again")
        finally:
            _report(district_stack, "online", None)
            assert declared.emergency is not None
            await auditor.end_emergency(declared.emergency.id)
            await auditor.aclose()
            await close_desk(desk)

    qloop.run(scenario())


def _floor_of(desk: object, camera_id: str) -> object:
    district = desk.console.district  # type: ignore[attr-defined]
    for school in district.schools:
        for building in school.buildings:
            for floor in building.floors:
                if any(c.id == camera_id for c in floor.cameras):
                    return floor
    raise AssertionError(camera_id)
