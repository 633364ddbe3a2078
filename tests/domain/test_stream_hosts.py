"""IT's allowed stream hosts: a link elsewhere is refused with the reason."""

from __future__ import annotations

from dispatch_console.domain.stream_hosts import stream_host_refusal

LINK = "https://gw1.district.example:8443/streams/lhs-cam-02/sub.ts?token=abc"


def test_no_list_allows_any_host() -> None:
    assert stream_host_refusal(LINK, ()) is None


def test_a_listed_host_is_allowed_whatever_its_case_or_trailing_dot() -> None:
    assert stream_host_refusal(LINK, ("GW1.district.example",)) is None
    assert (
        stream_host_refusal(LINK.replace("example:", "example.:"), ("gw1.district.example",))
        is None
    )


def test_another_host_is_refused_naming_it_and_never_the_token() -> None:
    refusal = stream_host_refusal(LINK.replace("gw1.", "evil."), ("gw1.district.example",))
    assert refusal is not None
    assert "evil.district.example" in refusal and "allowed_stream_hosts" in refusal
    assert "token" not in refusal and "abc" not in refusal


def test_an_unreadable_link_is_refused() -> None:
    assert stream_host_refusal("http://[::1", ("gw1.district.example",)) is not None
    assert stream_host_refusal("not a url", ("gw1.district.example",)) is not None
