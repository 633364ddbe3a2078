"""The Windows recipe's parts that can be checked on Linux: the Group Policy template
names exactly the settings the console parses, with the same bounds, and the bundle's
libVLC pinning. Building the bundle and installer needs a Windows builder."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from dispatch_console.services.config_files import ConfigError, policy_layer
from dispatch_console.services.config_keys import KEYS_BY_NAME
from dispatch_console.support.bundled_libvlc import pin_bundled_libvlc
from tests.paths import ROOT

POLICY = ROOT / "packaging" / "windows" / "policy"
NS = {"p": "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"}


def admx_elements() -> list[ET.Element]:
    tree = ET.parse(POLICY / "DispatchConsole.admx")
    return [e for e in tree.getroot().iterfind(".//p:policy/p:elements/*", NS)]


def test_every_policy_value_is_a_setting_the_console_knows() -> None:
    policies = ET.parse(POLICY / "DispatchConsole.admx").getroot().iterfind(".//p:policy", NS)
    for policy in policies:
        assert policy.get("key") == r"Software\Policies\DispatchConsole"
        assert policy.get("class") == "Machine"
    names = [e.get("valueName") for e in admx_elements()]
    assert names and all(name in KEYS_BY_NAME for name in names), names


def test_policy_bounds_agree_with_the_parsers() -> None:
    for element in admx_elements():
        if element.tag.endswith("decimal"):
            key = KEYS_BY_NAME[str(element.get("valueName"))]
            low, high = int(str(element.get("minValue"))), int(str(element.get("maxValue")))
            assert key.parse(low) == low and key.parse(high) == high
            for outside in (low - 1, high + 1):
                with pytest.raises(ValueError):
                    key.parse(outside)


def test_every_string_the_admx_uses_is_in_the_adml() -> None:
    admx = (POLICY / "DispatchConsole.admx").read_text(encoding="utf-8")
    adml = ET.parse(POLICY / "en-US" / "DispatchConsole.adml").getroot()
    strings = {s.get("id") for s in adml.iterfind(".//p:string", NS)}
    presentations = {s.get("id") for s in adml.iterfind(".//p:presentation", NS)}
    assert set(re.findall(r"\$\(string\.(\w+)\)", admx)) <= strings
    assert set(re.findall(r"\$\(presentation\.(\w+)\)", admx)) <= presentations


def test_policy_values_in_registry_shapes_are_parsed_and_locked() -> None:
    """What the template writes: REG_SZ text, REG_DWORD decimals, REG_MULTI_SZ hosts."""
    written = {
        "district_api_url": "https://cameras.district.example",
        "idle_lock_minutes": 10,
        "allowed_stream_hosts": ["gw1.district.example", "gw2.district.example"],
    }
    layer = policy_layer(lambda: dict(written))
    assert layer.locked == set(written)
    with pytest.raises(ConfigError):
        policy_layer(lambda: {"network_caching_ms": 10})


def test_python_vlc_is_pinned_to_the_bundled_libvlc(tmp_path: Path) -> None:
    (tmp_path / "vlc" / "plugins" / "codec").mkdir(parents=True)
    (tmp_path / "vlc" / "libvlc.dll").write_bytes(b"MZ")
    env: dict[str, str] = {"PYTHON_VLC_LIB_PATH": r"C:\Program Files\VideoLAN\VLC\libvlc.dll"}
    library = pin_bundled_libvlc(tmp_path, "win32", env)
    assert library == tmp_path / "vlc" / "libvlc.dll"
    assert env["PYTHON_VLC_LIB_PATH"] == str(library)
    assert env["PYTHON_VLC_MODULE_PATH"] == str(tmp_path / "vlc" / "plugins")


def test_a_bundle_without_its_libvlc_refuses_to_start(tmp_path: Path) -> None:
    env: dict[str, str] = {}
    with pytest.raises(FileNotFoundError, match="reinstall"):
        pin_bundled_libvlc(tmp_path, "win32", env)
    assert env == {}
