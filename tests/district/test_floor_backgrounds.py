"""GET /api/v1/floors/{floor_id}/background over real HTTP: signed-in users get the file the
plan names, with its type and digest; nothing outside the floor-plan folder is ever served,
whatever the path or id a client sends."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dispatch_console.district.db import Database
from dispatch_console.district.seed import demo_account
from dispatch_console.district.serve import ThreadedServer
from dispatch_console.district.server import create_app
from dispatch_console.domain.totp import totp
from dispatch_console.floorplan.loader import district_from_document
from dispatch_console.services.district_client import DistrictClient
from dispatch_console.services.drawing_cache import DrawingCache
from tests.clock import FakeClock
from tests.floorplan.drawings import write_png, write_svg
from tests.paths import SAMPLE_DISTRICT

API = "/api/v1"
LINCOLN = "lincoln-high.json"


def _floors(school: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for b in school["buildings"] for f in b["floors"]]


@pytest.fixture
def plans(tmp_path: Path) -> Path:
    """The sample district with a calibrated PNG, an SVG, and a drawing that is a link out."""
    root = tmp_path / "plans"
    shutil.copytree(SAMPLE_DISTRICT, root)
    school = json.loads((root / LINCOLN).read_text())
    first, second = _floors(school)[:2]
    width = first["width_m"]
    write_png(root / "lhs-1.png", 300, 200)
    first["background"] = {
        "image": "lhs-1.png",
        "size_px": [300, 200],
        "calibration": [{"pixel": [0, 0], "plan": [0, 0]}, {"pixel": [300, 0], "plan": [width, 0]}],
    }
    write_svg(root / "lhs-2.svg", second["width_m"], second["height_m"])
    second["background"] = {"image": "lhs-2.svg", "bounds": [0, 0, 10, 10]}
    (root / LINCOLN).write_text(json.dumps(school))
    # A drawing named in the plan that is a link to a PNG outside the folder.
    outside = write_png(tmp_path / "secret.png", 60, 60)
    jefferson = json.loads((root / "jefferson-elementary.json").read_text())
    (root / "jeff-1.png").symlink_to(outside)
    _floors(jefferson)[0]["background"] = {"image": "jeff-1.png", "bounds": [0, 0, 10, 10]}
    (root / "jefferson-elementary.json").write_text(json.dumps(jefferson))
    return root


@pytest.fixture
def server(plans: Path, tmp_path: Path, seeded_db: Path) -> Iterator[tuple[str, dict[str, str]]]:
    db_path = tmp_path / "district.db"
    shutil.copy(seeded_db, db_path)
    db = Database(db_path)
    clock = FakeClock()
    app = create_app(db=db, floorplans_dir=plans, camera_sources={}, clock=clock)
    with ThreadedServer(app) as running, httpx.Client(base_url=running.url, timeout=5) as http:
        account = demo_account("dispatcher")
        answer = http.post(
            f"{API}/auth/login",
            json={
                "username": "dispatcher",
                "password": account.password,
                "otp": totp(account.totp_secret, clock().timestamp()),
            },
        )
        assert answer.status_code == 200, answer.text
        yield running.url, {"Authorization": f"Bearer {answer.json()['token']}"}
    db.close()


def _raw(url: str, target: bytes, token: str = "") -> tuple[int, bytes]:
    """Send the request line exactly as written (no client normalises the path)."""
    host, port = url.removeprefix("http://").split(":")
    auth = f"Authorization: Bearer {token}\r\n".encode() if token else b""
    request = b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + auth + b"Connection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_the_document_links_each_drawing_and_the_file_comes_with_its_type(
    server: tuple[str, dict[str, str]], plans: Path
) -> None:
    url, who = server
    with httpx.Client(base_url=url, timeout=5) as http:
        document = http.get(f"{API}/district", headers=who).json()
        lincoln = next(s for s in document["schools"] if s["id"] == "lincoln-hs")
        first, second = _floors(lincoln)[:2]
        png = (plans / "lhs-1.png").read_bytes()
        assert first["background"]["sha256"] == hashlib.sha256(png).hexdigest()
        assert first["background"]["href"] == f"{API}/floors/{first['id']}/background"
        answer = http.get(first["background"]["href"], headers=who)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["etag"] == f'"{first["background"]["sha256"]}"'
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.content == png
        svg = http.get(second["background"]["href"], headers=who)
        assert svg.headers["content-type"].startswith("image/svg+xml")
        assert "sandbox" in svg.headers["content-security-policy"]
        # The drawing that is a link out of the folder is neither linked nor served.
        jefferson = next(s for s in document["schools"] if s["id"] != "lincoln-hs")
        linked = _floors(jefferson)[0]
        assert "href" not in linked["background"] and "sha256" not in linked["background"]
        refused = http.get(f"{API}/floors/{linked['id']}/background", headers=who)
        assert refused.status_code == 404
        assert refused.headers["content-type"] == "application/problem+json"
        # A floor without a drawing, and no sign-in.
        plain = _floors(lincoln)[2]["id"] if len(_floors(lincoln)) > 2 else "no-such-floor"
        assert http.get(f"{API}/floors/{plain}/background", headers=who).status_code == 404
        assert http.get(first["background"]["href"]).status_code == 401


@pytest.mark.parametrize(
    "target",
    [
        b"/api/v1/floors/../../../../etc/passwd/background",
        b"/api/v1/floors/..%2f..%2f..%2fetc%2fpasswd/background",
        b"/api/v1/floors/%2e%2e%2fsecret.png/background",
        b"/api/v1/floors/..%5c..%5csecret.png/background",
        b"/api/v1/floors/%2fetc%2fpasswd/background",
        b"/api/v1/floors/jeff-1.png/background",
        b"/api/v1/floors/lhs-1%00/background",
        b"/api/v1/floors/" + b"A" * 4000 + b"/background",
        b"/api/v1/floors/%ff%fe/background",
    ],
)
def test_hostile_ids_and_paths_get_no_file(
    server: tuple[str, dict[str, str]], target: bytes
) -> None:
    url, who = server
    token = who["Authorization"].removeprefix("Bearer ")
    status, body = _raw(url, target, token)
    assert status in (400, 404, 414, 422), (status, body[:200])
    assert b"root:" not in body and b"\x89PNG" not in body


def test_a_drawing_swapped_for_a_link_after_start_is_no_longer_served(
    server: tuple[str, dict[str, str]], plans: Path, tmp_path: Path
) -> None:
    url, who = server
    with httpx.Client(base_url=url, timeout=5) as http:
        document = http.get(f"{API}/district", headers=who).json()
        href = _floors(document["schools"][0])[0]["background"]["href"]
        assert http.get(href, headers=who).status_code == 200
        (plans / "lhs-1.png").unlink()
        (plans / "lhs-1.png").symlink_to(tmp_path / "secret.png")
        answer = http.get(href, headers=who)
        assert answer.status_code == 404
        assert b"\x89PNG" not in answer.content


def test_the_console_fetches_a_drawing_once_and_refuses_one_that_changed(
    server: tuple[str, dict[str, str]], plans: Path, tmp_path: Path
) -> None:
    """The console's cache: downloaded once per digest, vetted, never a mismatched body."""
    url, who = server
    cache_dir = tmp_path / "cache"

    async def scenario() -> tuple[Path | None, bytes, Path | None, Path | None, str]:
        client = DistrictClient(url)
        client.use_token(who["Authorization"].removeprefix("Bearer "))
        try:
            district = district_from_document(await client.district_document())
            floor = district.school("lincoln-hs").buildings[0].floors[0]
            cache = DrawingCache(client, cache_dir)
            first = await cache.drawing(floor)
            content = first.read_bytes() if first is not None else b""
            # Once cached, the server is not asked again (even when it no longer answers).
            (plans / "lhs-1.png").unlink()
            again = await cache.drawing(floor)
            # A drawing changed on the server after the document was read: not drawn.
            write_png(plans / "lhs-1.png", 301, 200)
            for cached in cache_dir.iterdir():
                cached.unlink()
            changed = await cache.drawing(floor)
            return first, content, again, changed, cache.notes.get(floor.id, "")
        finally:
            await client.aclose()

    first, content, again, changed, note = asyncio.run(scenario())
    assert first is not None and first.parent == cache_dir
    assert content.startswith(b"\x89PNG")
    assert again == first
    assert changed is None and "digest" in note
    assert list(cache_dir.iterdir()) == []
