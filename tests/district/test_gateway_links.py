"""Which container a stream link names: the gateway's report, else the registry's address."""

from __future__ import annotations

from dispatch_console.district.gateway_links import GatewayLinks

SOURCES = {
    "axis": {"sub": "http://10.1.2.3/axis-cgi/mjpg/video.cgi?resolution=640x360"},
    "webcam": {"sub": "http://10.1.2.4/video.MJPEG"},
    "dome": {"sub": "rtsp://10.1.2.5:554/Streaming/Channels/102"},
}


def test_a_link_names_mjpeg_for_sources_whose_address_says_so() -> None:
    links = GatewayLinks(lambda: SOURCES)
    assert links.container_of("axis", "sub") == "mjpg"
    assert links.container_of("webcam", "sub") == "mjpg"
    assert links.container_of("dome", "sub") == "ts"
    assert links.container_of("unknown", "main") == "ts"


def test_the_gateways_report_overrides_the_guess() -> None:
    links = GatewayLinks(lambda: SOURCES)
    links.update_states(
        [
            {"camera_id": "dome", "stream": "sub", "state": "online", "container": "mjpg"},
            {"camera_id": "axis", "stream": "sub", "state": "online", "container": "ts"},
            {"camera_id": "webcam", "stream": "sub", "state": "offline", "container": None},
        ]
    )
    assert links.container_of("dome", "sub") == "mjpg"
    assert links.container_of("axis", "sub") == "ts"
    assert links.container_of("webcam", "sub") == "mjpg"  # nothing reported: still the guess
    assert links.container_of("dome", "main") == "ts"  # per stream
