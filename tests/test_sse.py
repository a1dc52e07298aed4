"""The pure SSE decoder: fed whole, byte by byte and in random splits."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ghmodels_async import GHModelsError, ResponseTooLargeError
from ghmodels_async._sse import SSEDecoder

# ---------------------------------------------------------------------------
# helpers: three ways to feed the same bytes
# ---------------------------------------------------------------------------


def feed_whole(data: bytes, **kwargs: int) -> list[bytes]:
    decoder = SSEDecoder(**kwargs)
    return decoder.feed(data) + decoder.flush()


def feed_bytewise(data: bytes, **kwargs: int) -> list[bytes]:
    decoder = SSEDecoder(**kwargs)
    events: list[bytes] = []
    for i in range(len(data)):
        events += decoder.feed(data[i : i + 1])
    return events + decoder.flush()


def feed_split(data: bytes, cuts: list[int], **kwargs: int) -> list[bytes]:
    decoder = SSEDecoder(**kwargs)
    events: list[bytes] = []
    start = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        events += decoder.feed(data[start:cut])
        start = cut
    return events + decoder.flush()


def feed_every_two_way_split(data: bytes) -> list[list[bytes]]:
    """The result of every split of ``data`` into two blocks."""
    return [feed_split(data, [i]) for i in range(len(data) + 1)]


FEEDERS = [feed_whole, feed_bytewise]

CHAT_STREAM = (
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}\n'
    b"\n"
    b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"h\xc3\xa9llo '
    b'\xf0\x9f\x98\x80"}}]}\n'
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
CHAT_EVENTS = [
    b'{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
    b'{"id":"c1","choices":[{"index":0,"delta":{"content":"h\xc3\xa9llo \xf0\x9f\x98\x80"}}]}',
    b"[DONE]",
]


# ---------------------------------------------------------------------------
# fixed examples, each fed whole and byte by byte
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("feed", FEEDERS)
def test_plain_lf_stream(feed) -> None:
    assert feed(CHAT_STREAM) == CHAT_EVENTS


@pytest.mark.parametrize("feed", FEEDERS)
@pytest.mark.parametrize("ending", [b"\r\n", b"\r"], ids=["crlf", "cr"])
def test_crlf_and_cr_only_line_endings(feed, ending: bytes) -> None:
    assert feed(CHAT_STREAM.replace(b"\n", ending)) == CHAT_EVENTS


def test_every_two_block_split_gives_the_same_events() -> None:
    for ending in (b"\n", b"\r\n", b"\r"):
        data = CHAT_STREAM.replace(b"\n", ending)
        for result in feed_every_two_way_split(data):
            assert result == CHAT_EVENTS


@pytest.mark.parametrize("feed", FEEDERS)
def test_comments_and_other_fields_are_ignored(feed) -> None:
    data = (
        b": keep-alive\n"
        b":\n"
        b"event: message\n"
        b"id: 42\n"
        b"retry: 1000\n"
        b"data: one\n"
        b": a comment inside an event\n"
        b"\n"
        b": keep-alive\n\n"
        b"data: two\n\n"
    )
    assert feed(data) == [b"one", b"two"]


@pytest.mark.parametrize("feed", FEEDERS)
def test_multi_line_data_is_joined_with_newlines(feed) -> None:
    data = b"data: first\ndata: second\ndata:third\n\n"
    assert feed(data) == [b"first\nsecond\nthird"]


@pytest.mark.parametrize("feed", FEEDERS)
def test_data_without_space_and_only_one_space_stripped(feed) -> None:
    data = b"data:{}\n\ndata:  two spaces\n\ndata:\ttab\n\n"
    assert feed(data) == [b"{}", b" two spaces", b"\ttab"]


@pytest.mark.parametrize("feed", FEEDERS)
def test_colon_inside_the_value_is_kept(feed) -> None:
    assert feed(b'data: {"a": "b:c"}\n\n') == [b'{"a": "b:c"}']


@pytest.mark.parametrize("feed", FEEDERS)
def test_empty_data_is_not_dispatched(feed) -> None:
    data = b"data:\n\ndata: \n\n\n\n\ndata: real\n\n"
    assert feed(data) == [b"real"]


@pytest.mark.parametrize("feed", FEEDERS)
def test_lines_that_are_not_data_fields_dispatch_nothing(feed) -> None:
    # "datum:" and "Data:" are other (unknown) fields: field names are case-sensitive.
    data = b"datum: x\n\nData: y\n\nevent: z\n\n"
    assert feed(data) == []


def test_multibyte_utf8_split_everywhere_round_trips() -> None:
    text = "é € 😀 中文"
    data = f"data: {text}\n\n".encode()
    for result in feed_every_two_way_split(data):
        assert [event.decode("utf-8") for event in result] == [text]
    assert feed_bytewise(data)[0].decode("utf-8") == text


def test_event_is_dispatched_only_at_the_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"data: b\n") == []
    assert decoder.feed(b"\n") == [b"a\nb"]
    assert decoder.flush() == []


def test_cr_at_block_end_and_lf_at_next_block_start_are_one_line_ending() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r") == []
    # If "\r" were taken as a line end and "\n" as a blank line, "a" would be dispatched alone.
    assert decoder.feed(b"\ndata: b\r\n") == []
    assert decoder.feed(b"\r\n") == [b"a\nb"]


def test_two_cr_are_two_line_endings() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data: a\r\r")
    events += decoder.feed(b"data: b\r\r")
    assert events + decoder.flush() == [b"a", b"b"]


def test_several_events_in_one_block() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4") == [b"1", b"2", b"3"]
    assert decoder.flush() == []  # "4" never got its blank line: discarded


@pytest.mark.parametrize(
    "tail",
    [b"data: last\n", b"data: last", b"data: last\r", b"data: last\r\n"],
    ids=["lf", "no-line-end", "cr", "crlf"],
)
def test_flush_discards_a_last_event_without_blank_line(tail: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: first\n\n" + tail) == [b"first"]
    assert decoder.flush() == []
    assert decoder.flush() == []


def test_flush_of_nothing_and_of_a_comment_is_empty() -> None:
    assert SSEDecoder().flush() == []
    decoder = SSEDecoder()
    assert decoder.feed(b": keep-alive") == []
    assert decoder.flush() == []


def test_empty_blocks_are_harmless() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"") == []
    assert decoder.feed(b"data: x") == []
    assert decoder.feed(b"") == []
    assert decoder.feed(b"\n\n") == [b"x"]


# ---------------------------------------------------------------------------
# max_event_bytes
# ---------------------------------------------------------------------------

LIMIT = 32


@pytest.mark.parametrize("feed", FEEDERS)
def test_event_exactly_at_the_limit_passes(feed) -> None:
    payload = b"x" * LIMIT
    assert feed(b"data: " + payload + b"\n\n", max_event_bytes=LIMIT) == [payload]


@pytest.mark.parametrize("feed", FEEDERS)
def test_event_over_the_limit_raises(feed) -> None:
    data = b"data: " + b"x" * (LIMIT + 1) + b"\n\ndata: [DONE]\n\n"
    with pytest.raises(ResponseTooLargeError) as info:
        feed(data, max_event_bytes=LIMIT)
    assert isinstance(info.value, GHModelsError)
    assert str(LIMIT) in str(info.value)


@pytest.mark.parametrize("feed", FEEDERS)
def test_multi_line_event_over_the_limit_raises(feed) -> None:
    line = b"data: " + b"y" * (LIMIT // 2) + b"\n"
    with pytest.raises(ResponseTooLargeError):
        feed(line * 3 + b"\n", max_event_bytes=LIMIT)


def test_unterminated_line_over_the_limit_raises_before_its_end_arrives() -> None:
    decoder = SSEDecoder(max_event_bytes=LIMIT)
    decoder.feed(b"data: ")
    with pytest.raises(ResponseTooLargeError):
        for _ in range(LIMIT + 1):
            decoder.feed(b"z")


def test_pending_lines_and_an_unfinished_line_count_together() -> None:
    decoder = SSEDecoder(max_event_bytes=LIMIT)
    assert decoder.feed(b"data: " + b"a" * (LIMIT - 4) + b"\n") == []
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b"data: " + b"b" * 8)


def test_unterminated_comment_over_the_limit_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=LIMIT)
    with pytest.raises(ResponseTooLargeError):
        decoder.feed(b": " + b"c" * (LIMIT * 2))


@pytest.mark.parametrize("feed", FEEDERS)
def test_the_limit_is_per_event_not_per_stream(feed) -> None:
    events = [b"%02d-abcdefgh" % i for i in range(100)]
    data = b"".join(b"data: " + event + b"\n\n" for event in events)
    assert feed(data, max_event_bytes=LIMIT) == events


# ---------------------------------------------------------------------------
# property: any stream, any split, any line ending -> the events that were written
# ---------------------------------------------------------------------------

_value_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\r\n\x00",
    ),
    max_size=12,
)


@st.composite
def _streams(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    ending = draw(st.sampled_from([b"\n", b"\r\n", b"\r"]))
    n_events = draw(st.integers(min_value=0, max_value=6))
    lines: list[bytes] = []
    expected: list[bytes] = []
    for _ in range(n_events):
        values: list[bytes] = []
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            if draw(st.booleans()):
                lines.append(b": " + draw(_value_text).encode())
            if draw(st.booleans()):
                lines.append(b"id: " + draw(_value_text).encode())
            value = draw(_value_text).encode()
            if draw(st.booleans()) and not value.startswith(b" "):
                lines.append(b"data:" + value)
            else:
                lines.append(b"data: " + value)
            values.append(value)
        lines.append(b"")  # the blank line that dispatches the event
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            lines.append(b"")  # extra blank lines dispatch nothing
        payload = b"\n".join(values)
        if payload:
            expected.append(payload)
    return b"".join(line + ending for line in lines), expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=_streams(), data=st.data())
def test_random_streams_in_random_splits(
    stream: tuple[bytes, list[bytes]], data: st.DataObject
) -> None:
    raw, expected = stream
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=20))
    assert feed_whole(raw) == expected
    assert feed_split(raw, cuts) == expected
    assert feed_bytewise(raw) == expected


@settings(max_examples=100, deadline=None)
@given(stream=_streams(), data=st.data())
def test_random_splits_of_a_stream_without_final_blank_line(
    stream: tuple[bytes, list[bytes]], data: st.DataObject
) -> None:
    raw, expected = stream
    raw += b"data: tail"
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=10))
    assert feed_split(raw, cuts) == expected  # the unfinished event is discarded
