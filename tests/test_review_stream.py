"""Streams from servers that send what no spec allows: the stream ends at the first
``[DONE]`` whatever follows, and every payload that is not a chunk is a typed
ResponseDecodeError naming where it went wrong, with the connection closed. Raw loopback
servers write the exact bytes.
"""

from __future__ import annotations

import json

import pytest
from rawserver import RawConnection, RawServer, chunk, json_answer, sse_answer

from conftest import connector_counts, eventually
from ghmodels_async import Client, ResponseDecodeError, StreamAccumulator, StreamEventError
from ghmodels_async.ratelimit import Limiter

TOKEN = "ghp_Str3amTok3n0123456789abcdef"
DONE = b"data: [DONE]\n\n"
MESSAGES = [{"role": "user", "content": "x"}]


def serve_stream(body: bytes) -> RawServer:
    async def handle(conn: RawConnection) -> None:
        if await conn.read_request() is not None:
            await conn.write(sse_answer(body))

    return RawServer(handle)


async def chunks_of(body: bytes, **options: object) -> tuple[list[str | None], Client]:
    """The content deltas a client reads from a stream whose body is ``body``."""
    async with serve_stream(body) as server, Client(
        TOKEN, base_url=server.url, max_retries=0, **options  # type: ignore[arg-type]
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        seen = [c.choices[0].delta.content async for c in stream if c.choices]
        # the stream is finished: asking again gives nothing, not what followed [DONE]
        with pytest.raises(StopAsyncIteration):
            await stream.__anext__()
        assert stream.finished
    return seen, client


@pytest.mark.parametrize(
    "tail",
    [
        DONE,
        chunk("EVIL"),
        b'data: {"error": {"message": "late"}}\n\n',
        b"data: not json\n\n",
        chunk("EVIL") + DONE,
    ],
    ids=["done-twice", "chunk-after-done", "error-after-done", "garbage-after-done", "both"],
)
async def test_nothing_after_the_first_done_is_delivered(tail: bytes) -> None:
    seen, _ = await chunks_of(chunk("a") + chunk("b") + DONE + tail)
    assert seen == ["a", "b"]


async def test_events_after_done_in_a_later_block_are_not_read_either() -> None:
    async def handle(conn: RawConnection) -> None:
        if await conn.read_request() is not None:
            await conn.write(sse_answer(chunk("a") + DONE))
            await conn.write(chunk("EVIL"))

    async with RawServer(handle) as server, Client(
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        completion = await stream.collect()
    assert completion.choices[0].message.content == "a"


@pytest.mark.parametrize("done", [b"data:  [DONE]\n\n", b"data: [DONE] \n\n", b"data:[DONE]\n\n"])
async def test_done_with_stray_spaces_still_ends_the_stream(done: bytes) -> None:
    seen, _ = await chunks_of(chunk("a") + done)
    assert seen == ["a"]


@pytest.mark.parametrize(
    ("payload", "where"),
    [
        (b"[1, 2]", "array"),
        (b"null", "null"),
        (b"42", "int"),
        (b'"text"', "str"),
        (b"true", "bool"),
        (b'{"id": "c", "choices": null}', "$.choices"),
        (b'{"id": "c", "choices": [{"index": 0, "delta": null}]}', "$.choices[0].delta"),
        (b'{"id": "c", "choices": [{"index": 0, "delta": {"content": 5}}]}',
         "$.choices[0].delta.content"),
        (b'{"id": "c", "choices": {"0": {}}}', "$.choices"),
    ],
)
@pytest.mark.parametrize("paced", [False, True])
async def test_a_payload_that_is_not_a_chunk_is_a_decode_error_naming_it(
    payload: bytes, where: str, paced: bool
) -> None:
    body = chunk("a") + b"data: " + payload + b"\n\n" + DONE
    limiter = Limiter(max_concurrency=1) if paced else None
    async with serve_stream(body) as server, Client(
        TOKEN, base_url=server.url, max_retries=0, rate_limiter=limiter
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        seen: list[object] = []
        with pytest.raises(ResponseDecodeError) as info:
            async for c in stream:
                seen.append(c)
        assert len(seen) == 1
        assert where in str(info.value)
        assert stream.finished
        await eventually(lambda: connector_counts(client) == (0, 0))
    if limiter is not None:  # the failed stream gave its slot back
        assert limiter.in_flight("m") == 0


async def test_an_id_change_mid_stream_keeps_the_first_id_and_all_the_text() -> None:
    body = chunk("a") + chunk("b", id="other") + DONE
    async with serve_stream(body) as server, Client(
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        completion = await stream.collect()
    assert completion.id == "c1"
    assert completion.choices[0].message.content == "ab"


def test_the_accumulator_takes_chunks_with_odd_indexes_and_null_functions() -> None:
    import msgspec

    from ghmodels_async.types import ChatCompletionChunk

    raw = [
        {"id": "c", "choices": [{"index": 1, "delta": {"content": "second"}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "id": "call_1", "function": None}]}}]},
        {"id": "c", "choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": 0, "function": {"name": "f", "arguments": "{}"}}]}}]},
    ]  # fmt: skip
    accumulator = StreamAccumulator()
    for item in raw:
        accumulator.add(msgspec.json.decode(json.dumps(item).encode(), type=ChatCompletionChunk))
    completion = accumulator.completion()
    assert [c.index for c in completion.choices] == [0, 1]
    call = completion.choices[0].message.tool_calls
    assert call is not None and call[0].id == "call_1" and call[0].function.name == "f"


async def test_parallel_calls_all_numbered_zero_stay_separate_calls() -> None:
    def fragment(**call: object) -> bytes:
        delta = {"tool_calls": [{"index": 0, **call}]}
        return b"data: " + json.dumps({"id": "c", "choices": [
            {"index": 0, "delta": delta}]}).encode() + b"\n\n"  # fmt: skip

    body = (
        fragment(id="call_a", type="function", function={"name": "add", "arguments": '{"a":'})
        + fragment(function={"arguments": " 1}"})
        + fragment(id="call_b", type="function", function={"name": "mul", "arguments": "{}"})
        + fragment(id="call_b", function={"arguments": ""})  # an id repeated: same call
        + DONE
    )
    async with serve_stream(body) as server, Client(
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        completion = await stream.collect()
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("call_a", "add", '{"a": 1}'),
        ("call_b", "mul", "{}"),
    ]


def json_server(payload: object, status: int = 200) -> RawServer:
    async def handle(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            await conn.write(json_answer(status, payload))

    return RawServer(handle)


COMPLETION = {
    "id": "c9", "object": "chat.completion", "created": 5, "model": "m",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "hi", "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
}  # fmt: skip


@pytest.mark.parametrize("paced", [False, True])
async def test_a_server_that_ignores_stream_true_is_served_as_one_chunk(paced: bool) -> None:
    limiter = Limiter(max_concurrency=1) if paced else None
    async with json_server(COMPLETION) as server, Client(
        TOKEN, base_url=server.url, max_retries=0, rate_limiter=limiter
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        chunks = [c async for c in stream]
        again = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        completion = await again.collect()
        assert connector_counts(client)[0] == 0
    assert len(chunks) == 1 and chunks[0].choices[0].delta.content == "hi"
    assert stream.usage is not None and stream.usage.total_tokens == 3
    message = completion.choices[0].message
    assert (completion.id, message.content, completion.choices[0].finish_reason) == (
        "c9", "hi", "tool_calls"
    )  # fmt: skip
    assert message.tool_calls is not None and message.tool_calls[0].id == "t1"
    assert len(server.requests) == 2  # not retried as an "incomplete stream"
    if limiter is not None:
        assert limiter.in_flight("m") == 0


@pytest.mark.parametrize(
    ("payload", "error"),
    [({"error": {"message": "model overloaded", "code": "busy"}}, StreamEventError),
     ({"object": "error", "message": "flat error"}, StreamEventError),
     ([1, 2], ResponseDecodeError), ({"hello": "world"}, ResponseDecodeError)],
)  # fmt: skip
async def test_a_json_answer_to_a_stream_that_is_no_completion_is_typed(
    payload: object, error: type[Exception]
) -> None:
    async with json_server(payload) as server, Client(
        TOKEN, base_url=server.url, max_retries=2
    ) as client:
        with pytest.raises(error):
            await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert connector_counts(client)[0] == 0
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "content_type"),
    [(500, "application/json"), (401, "text/plain"), (200, "application/json")],
)
@pytest.mark.parametrize("paced", [False, True])
async def test_a_body_cut_short_before_a_stream_starts_is_typed(
    status: int, content_type: str, paced: bool
) -> None:
    from ghmodels_async import APIConnectionError

    async def handle(conn: RawConnection) -> None:
        if await conn.read_request() is not None:
            head = f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            await conn.write(head.encode() + b'Content-Length: 100\r\n\r\n{"error": {"mess')
            conn.writer.close()

    limiter = Limiter(max_concurrency=1) if paced else None
    async with RawServer(handle) as server, Client(
        TOKEN, base_url=server.url, max_retries=2, rate_limiter=limiter
    ) as client:
        with pytest.raises(APIConnectionError) as info:
            await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        assert connector_counts(client)[0] == 0
    assert "response body" in str(info.value) and info.value.__context__ is None
    assert len(server.requests) == 1
    if limiter is not None:
        assert limiter.in_flight("m") == 0


@pytest.mark.parametrize("how", ["close", "aclose", "async-with"])
async def test_a_stream_closed_before_it_was_read_refuses_to_collect(how: str) -> None:
    from ghmodels_async import StreamConsumedError

    async with serve_stream(chunk("a") + DONE) as server, Client(
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        if how == "close":
            stream.close()
        elif how == "aclose":
            await stream.aclose()
        else:
            async with stream:
                pass
        with pytest.raises(StreamConsumedError, match="closed before it was read"):
            await stream.collect()
        with pytest.raises(StreamConsumedError):
            async for _ in stream:
                pass


async def test_a_finished_stream_closed_afterwards_is_still_consumed_once_only() -> None:
    from ghmodels_async import StreamConsumedError

    async with serve_stream(chunk("a") + DONE) as server, Client(
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        async with stream:
            assert [c.choices[0].delta.content async for c in stream] == ["a"]
        with pytest.raises(StreamConsumedError, match="already iterated"):
            await stream.collect()


async def test_a_fresh_id_on_every_fragment_of_one_call_keeps_it_one_call() -> None:
    def fragment(**call: object) -> bytes:
        delta = {"tool_calls": [{"index": 0, **call}]}
        return b"data: " + json.dumps({"id": "c", "choices": [
            {"index": 0, "delta": delta}]}).encode() + b"\n\n"  # fmt: skip

    body = (
        fragment(id="x1", type="function", function={"name": "add", "arguments": '{"a"'})
        + fragment(id="x2", function={"arguments": ": 1}"})
        + fragment(id="x3", function={"arguments": ""})
        + DONE
    )
    async with serve_stream(body) as server, Client(
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
        completion = await stream.collect()
    calls = completion.choices[0].message.tool_calls
    assert calls is not None
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [
        ("x1", "add", '{"a": 1}')
    ]
