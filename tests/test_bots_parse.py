"""Typed parse, finish-reason errors, reasoning fields and raw bodies, end to end on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Literal

import msgspec
import pytest
from aiohttp import web

from ghmodels_async import (
    Client,
    ContentDecodeError,
    ContentFilterFinishReasonError,
    LengthFinishReasonError,
    ResponseDecodeError,
    StreamAccumulator,
)
from ghmodels_async.testing import FakeServer, Reply, ScriptedToolCall
from ghmodels_async.tools import ParsedChatCompletion, function_tool

MODEL = "openai/gpt-4.1"
USER = [{"role": "user", "content": "a recipe please"}]


class Ingredient(msgspec.Struct):
    name: str
    grams: int | None = None


class Step(msgspec.Struct):
    text: str
    ingredients: list[Ingredient]


class Recipe(msgspec.Struct):
    title: str
    steps: list[Step]
    serves: int = 2


@dataclasses.dataclass
class Verdict:
    ok: bool
    reason: Literal["short", "long"]


RECIPE = {
    "title": "Soup",
    "steps": [{"text": "boil", "ingredients": [{"name": "water", "grams": 500}]}],
    "serves": None,  # strict mode's way of saying "the default"
}


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeServer, Client]]:
    async with FakeServer() as server, Client(token="t", base_url=server.url) as client:
        yield server, client


async def test_parse_into_nested_structs(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(msgspec.json.encode(RECIPE).decode())
    completion = await client.chat.completions.parse(
        model=MODEL, messages=USER, response_format=Recipe
    )
    assert isinstance(completion, ParsedChatCompletion)
    recipe = completion.choices[0].message.parsed
    assert recipe == Recipe(
        title="Soup", steps=[Step("boil", [Ingredient("water", 500)])], serves=2
    )
    assert completion.response is not None and completion.response.request_id
    assert completion.usage is not None and completion.usage.total_tokens > 0
    # the parsed message goes back as history, without its parsed value
    follow = [*USER, completion.choices[0].message, {"role": "user", "content": "again"}]
    await client.chat.completions.create(model=MODEL, messages=follow)
    sent = server.last_request.json
    assert (
        sent is not None and sent["messages"][1]["content"] == completion.choices[0].message.content
    )
    assert "parsed" not in sent["messages"][1]


async def test_parse_default_fake_answer_and_dataclass(fake: tuple[FakeServer, Client]) -> None:
    _, client = fake
    completion = await client.chat.completions.parse(
        model=MODEL, messages=USER, response_format=Verdict
    )
    verdict = completion.choices[0].message.parsed
    assert isinstance(verdict, Verdict)
    assert verdict.ok is False and verdict.reason in ("short", "long")


async def test_refusal_sets_refusal_and_no_parsed(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(Reply(refusal="I can't help with that"))
    completion = await client.chat.completions.parse(
        model=MODEL, messages=USER, response_format=Recipe
    )
    message = completion.choices[0].message
    assert message.parsed is None
    assert message.refusal == "I can't help with that"


async def test_length_raises_with_the_completion(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script('{"title": "Soup", "steps": [{"text": "boil", "ingredients": []}]}')
    with pytest.raises(LengthFinishReasonError) as info:
        await client.chat.completions.parse(
            model=MODEL, messages=USER, response_format=Recipe, max_tokens=3
        )
    cut = info.value.completion
    assert cut.choices[0].finish_reason == "length"
    assert cut.choices[0].message.content == '{"title": "Soup", "steps":'
    assert cut.usage is not None and cut.usage.completion_tokens == 3


async def test_content_filter_raises(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(Reply(text="", finish_reason="content_filter"))
    with pytest.raises(ContentFilterFinishReasonError) as info:
        await client.chat.completions.parse(model=MODEL, messages=USER, response_format=Recipe)
    assert info.value.completion.choices[0].finish_reason == "content_filter"


@pytest.mark.parametrize(
    "text", ["this is not JSON", '{"title": "Soup"}', '{"title": 3, "steps": []}', "[1, 2"]
)
async def test_content_not_matching_raises_with_raw_text(
    fake: tuple[FakeServer, Client], text: str
) -> None:
    server, client = fake
    server.script(text)
    with pytest.raises(ContentDecodeError) as info:
        await client.chat.completions.parse(model=MODEL, messages=USER, response_format=Recipe)
    assert isinstance(info.value, ResponseDecodeError)
    assert info.value.raw == text
    assert info.value.where == "choices[0].message.content"
    assert info.value.completion is not None


@function_tool
def lookup(city: str, days: int = 1) -> str:
    """Forecast for a city."""
    return city * days


async def test_parse_sets_parsed_arguments(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(
        Reply(tool_calls=[ScriptedToolCall("lookup", '{"city": "Oslo", "days": null}')]), times=1
    )
    completion = await client.chat.completions.parse(model=MODEL, messages=USER, tools=[lookup])
    call = (completion.choices[0].message.tool_calls or [])[0]
    args = call.function.parsed_arguments
    assert (args.city, args.days) == ("Oslo", 1)
    assert type(args) is lookup.params_type
    server.script(Reply(tool_calls=[ScriptedToolCall("lookup", '{"town": "Oslo"}')]))
    with pytest.raises(ContentDecodeError) as info:
        await client.chat.completions.parse(model=MODEL, messages=USER, tools=[lookup])
    assert info.value.raw == '{"town": "Oslo"}'
    assert info.value.where == "choices[0].message.tool_calls[0].function.arguments"


# -- raw bytes and reasoning fields, from a server writing exact bytes ------------------

COMPLETION = (
    b'{"id":"c1","object":"chat.completion","created":1,"model":"m","x_vendor":{"a":1},'
    b'"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant",'
    b'"content":"hi","reasoning":"thinking hard"}}]}'
)
CHUNKS = [
    b'{"id":"c2","choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"th"}}]}',
    b'{"id":"c2","choices":[{"index":0,"delta":{"reasoning":"ink"}}]}',
    b'{"id":"c2","choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}',
]


@pytest.fixture
async def raw_server() -> AsyncIterator[str]:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.Response(body=COMPLETION, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for chunk in CHUNKS:
            await response.write(b"data: " + chunk + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_raw_body_and_ollama_reasoning(raw_server: str) -> None:
    async with Client(token="t", base_url=raw_server, path_prefix="/v1") as client:
        completion = await client.chat.completions.create(model="m", messages=USER)
        assert completion.response is not None
        assert completion.response.body == COMPLETION
        assert msgspec.json.decode(completion.response.body)["x_vendor"] == {"a": 1}
        message = completion.choices[0].message
        assert message.reasoning_content == "thinking hard" == message.reasoning
        # history: reasoning is not sent back
        await client.chat.completions.create(model="m", messages=[*USER, message])


async def test_stream_reasoning_kept_by_collect_and_accumulator(raw_server: str) -> None:
    async with Client(token="t", base_url=raw_server, path_prefix="/v1") as client:
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        accumulator = StreamAccumulator()
        seen = []
        async for chunk in stream:
            accumulator.add(chunk)
            delta = chunk.choices[0].delta
            seen.append(delta.reasoning_content or delta.reasoning)
        assert seen == ["th", "ink", None]
        assert accumulator.completion().choices[0].message.reasoning_content == "think"
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        collected = await stream.collect()
        assert collected.choices[0].message.reasoning_content == "think"
        assert collected.choices[0].message.content == "ok"


async def test_stream_keeps_the_raw_data_of_the_last_chunk(raw_server: str) -> None:
    async with Client(token="t", base_url=raw_server, path_prefix="/v1") as client:
        stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
        raw = [stream.last_data async for _ in stream]
        assert raw == CHUNKS
        assert stream.last_data == CHUNKS[-1]  # not [DONE]
        assert stream.response.body is None
