"""The event-stream parser, fed as the bytes come: what a desk makes of each line."""

from __future__ import annotations

import pytest

from dispatch_console.services.sse import EventStreamError, EventStreamParser, ServerEvent


def feed(parser: EventStreamParser, text: str) -> list[ServerEvent]:
    events = [parser.feed(line) for line in text.split("\n")]
    return [e for e in events if e is not None]


def test_events_are_complete_at_their_blank_line_and_not_before() -> None:
    parser = EventStreamParser()
    assert parser.feed("id: 7") is None
    assert parser.feed("event: grant.issued") is None
    assert parser.feed('data: {"subject": "gr-1"}') is None
    assert parser.feed("") == ServerEvent(7, "grant.issued", {"subject": "gr-1"})


def test_comments_retry_and_empty_events_are_not_events() -> None:
    parser = EventStreamParser()
    text = "retry: 2000\n\n: heartbeat\n\nevent: nothing\n\n"
    assert feed(parser, text) == []


def test_data_lines_join_and_the_id_is_optional() -> None:
    parser = EventStreamParser()
    text = 'event: signed_out\ndata: {"reason":\ndata:  "over"}\n\n'
    assert feed(parser, text) == [ServerEvent(None, "signed_out", {"reason": "over"})]


def test_a_non_numeric_id_is_not_kept_as_a_resume_point() -> None:
    parser = EventStreamParser()
    assert feed(parser, "id: abc\nevent: x\ndata: {}\n\n") == [ServerEvent(None, "x", {})]


@pytest.mark.parametrize("data", ["<html>", "[1, 2]", '"text"'])
def test_garbled_data_is_an_error_naming_the_event(data: str) -> None:
    parser = EventStreamParser()
    with pytest.raises(EventStreamError, match=r"grant\.issued"):
        feed(parser, f"event: grant.issued\ndata: {data}\n\n")
