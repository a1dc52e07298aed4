"""run_tools and run_tools_stream against the fake server on loopback.

Scripted replies drive the rounds; every test also checks what the server received
(tool messages and their ``tool_call_id``s), not only what the loop returned.
Concurrency and cancellation are shown with events, not timings.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from ghmodels_async import Client, MaxToolRoundsError, ValidationError
from ghmodels_async.testing import FakeServer, Reply, ScriptedToolCall
from ghmodels_async.tools import (
    ContentDelta,
    ReasoningDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolEvent,
    function_tool,
)

MODEL = "openai/gpt-4.1"
USER = [{"role": "user", "content": "what is the weather?"}]


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeServer, Client]]:
    async with FakeServer() as server, Client(token="t", base_url=server.url) as client:
        yield server, client


def calls(*pairs: tuple[str, str]) -> Reply:
    return Reply(
        tool_calls=[ScriptedToolCall(n, a, id=f"id_{i}") for i, (n, a) in enumerate(pairs)]
    )


def tool_messages(body: dict[str, Any] | None) -> dict[str, str]:
    assert body is not None
    return {m["tool_call_id"]: m["content"] for m in body["messages"] if m["role"] == "tool"}


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


async def test_two_tools_run_concurrently_in_one_turn(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    weather_started, time_started = asyncio.Event(), asyncio.Event()

    @function_tool(timeout=10)
    async def weather(city: str) -> str:
        weather_started.set()
        await time_started.wait()  # only returns if the other tool runs at the same time
        return f"sunny in {city}"

    @function_tool(timeout=10)
    async def local_time(city: str) -> dict[str, str]:
        time_started.set()
        await weather_started.wait()
        return {"city": city, "time": "12:00"}

    server.script(calls(("weather", '{"city":"Oslo"}'), ("local_time", '{"city":"Oslo"}')), times=1)
    server.script("It is sunny and noon.")
    events: list[ToolEvent] = []
    result = await client.chat.completions.run_tools(
        model=MODEL, messages=USER, tools=[weather, local_time], on_event=events.append
    )
    assert result.completion.choices[0].message.content == "It is sunny and noon."
    assert result.rounds == 2
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["ToolCallStarted", "ToolCallStarted"]  # both started before an end
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert {e.call_id: e.error for e in finished} == {"id_0": None, "id_1": None}
    assert tool_messages(server.last_request.json) == {
        "id_0": "sunny in Oslo",
        "id_1": '{"city":"Oslo","time":"12:00"}',
    }
    # the history is appendable as is
    roles = [m["role"] if isinstance(m, dict) else type(m).__name__ for m in result.messages]
    assert roles == ["user", "AssistantMessage", "ToolMessage", "ToolMessage", "AssistantMessage"]
    follow = [*result.messages, {"role": "user", "content": "and tomorrow?"}]
    await client.chat.completions.create(model=MODEL, messages=follow)


async def test_tool_concurrency_bound(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    active = 0
    peak = 0

    @function_tool
    async def work(n: int) -> int:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        for _ in range(20):
            await asyncio.sleep(0)
        active -= 1
        return n

    server.script(calls(*[("work", f'{{"n":{i}}}') for i in range(5)]), times=1)
    server.script("done")
    await client.chat.completions.run_tools(
        model=MODEL, messages=USER, tools=[work], tool_concurrency=2
    )
    assert peak == 2
    assert tool_messages(server.last_request.json) == {f"id_{i}": str(i) for i in range(5)}


async def test_failures_become_tool_messages(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    cancelled = asyncio.Event()

    @function_tool
    async def broken(x: int) -> str:
        raise ValueError(f"bad x {x}")

    @function_tool(timeout=0.05)
    async def slow() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    server.script(
        calls(
            ("broken", '{"x": 1}'),
            ("slow", "{}"),
            ("missing", "{}"),
            ("add", '{"a": "one", "b": 2}'),
            ("add", "{not json"),
            ("add", '{"a": 1, "b": 2}'),
        ),
        times=1,
    )
    server.script("recovered")
    events: list[ToolEvent] = []

    async def hook(event: ToolEvent) -> None:  # async hooks are awaited
        events.append(event)

    result = await client.chat.completions.run_tools(
        model=MODEL, messages=USER, tools=[broken, slow, add], on_event=hook
    )
    assert result.completion.choices[0].message.content == "recovered"
    assert cancelled.is_set()
    sent = tool_messages(server.last_request.json)
    assert sent["id_0"] == "Error: 'broken' failed: ValueError: bad x 1"
    assert sent["id_1"] == "Error: 'slow' did not finish within 0.05 s."
    assert sent["id_2"].startswith("Error: there is no tool named 'missing'")
    assert "add, broken, slow" in sent["id_2"]
    assert sent["id_3"].startswith("Error: invalid arguments for 'add'") and "$.a" in sent["id_3"]
    assert sent["id_4"].startswith("Error: invalid arguments for 'add'")
    assert sent["id_5"] == "3"
    errors = {e.call_id: e.error for e in events if isinstance(e, ToolCallFinished)}
    assert errors == {
        "id_0": "exception", "id_1": "timeout", "id_2": "unknown_tool",
        "id_3": "invalid_arguments", "id_4": "invalid_arguments", "id_5": None,
    }  # fmt: skip
    failed = [e for e in events if isinstance(e, ToolCallFinished) and e.call_id == "id_0"]
    assert isinstance(failed[0].exception, ValueError)


async def test_loop_wide_tool_timeout(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake

    @function_tool
    async def hang() -> str:
        await asyncio.Event().wait()
        return "never"

    server.script(calls(("hang", "{}")), times=1)
    server.script("ok")
    await client.chat.completions.run_tools(
        model=MODEL, messages=USER, tools=[hang], tool_timeout=0.05
    )
    assert tool_messages(server.last_request.json)["id_0"].endswith("within 0.05 s.")


async def test_multi_round_conversation_with_parsed_arguments(
    fake: tuple[FakeServer, Client],
) -> None:
    server, client = fake
    server.script(calls(("add", '{"a": 2, "b": 3}')), times=1)

    def second(body: dict[str, Any]) -> Reply:  # the model uses the first result
        total = tool_messages(body)["id_0"]
        return calls(("add", f'{{"a": {total}, "b": 10}}'))

    server.script(second, times=1)
    server.script(lambda body: f"the sum is {tool_messages(body)['id_0']}")
    result = await client.chat.completions.run_tools(model=MODEL, messages=USER, tools=[add])
    assert result.completion.choices[0].message.content == "the sum is 15"
    assert result.rounds == 3
    assert len(server.requests) == 3
    first_turn = result.messages[1]
    assert first_turn.tool_calls[0].function.parsed_arguments == add.params_type(a=2, b=3)


async def test_max_rounds_carries_the_history(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(calls(("add", '{"a": 1, "b": 1}')))  # forever
    with pytest.raises(MaxToolRoundsError) as info:
        await client.chat.completions.run_tools(
            model=MODEL, messages=USER, tools=[add], max_rounds=3
        )
    error = info.value
    assert error.rounds == 3 and len(server.requests) == 3
    assert error.completion.choices[0].finish_reason == "tool_calls"
    assert len(error.messages) == 1 + 2 * 2  # user + two complete rounds
    # the history can be sent again as is
    server.reset()
    await client.chat.completions.create(model=MODEL, messages=error.messages)


async def test_arguments_checked_before_io(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    with pytest.raises(ValidationError) as info:
        await client.chat.completions.run_tools(
            model=MODEL,
            messages=USER,
            tools=[add.param()],  # type: ignore[list-item]
        )
    assert info.value.field == "tools[0]"
    for kwargs, field in (
        ({"max_rounds": 0}, "max_rounds"),
        ({"tool_concurrency": True}, "tool_concurrency"),
        ({"tool_timeout": -1}, "tool_timeout"),
    ):
        with pytest.raises(ValidationError) as info:
            client.chat.completions.run_tools_stream(
                model=MODEL, messages=USER, tools=[add], **kwargs
            )
        assert info.value.field == field
    assert server.requests == []


async def test_cancelling_the_caller_cancels_running_tools(
    fake: tuple[FakeServer, Client],
) -> None:
    server, client = fake
    started, cancelled = asyncio.Event(), asyncio.Event()

    @function_tool
    async def forever() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    server.script(calls(("forever", "{}")))
    task = asyncio.ensure_future(
        client.chat.completions.run_tools(model=MODEL, messages=USER, tools=[forever])
    )
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cancelled.is_set()


class Summary(msgspec.Struct):
    total: int


async def test_stream_variant_yields_deltas_and_events(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(calls(("add", '{"a": 20, "b": 22}')), times=1)
    server.script("The answer is forty two, as computed by the tool.")
    hooked: list[ToolEvent] = []
    run = client.chat.completions.run_tools_stream(
        model=MODEL, messages=USER, tools=[add], on_event=hooked.append
    )
    events = [event async for event in run]
    kinds = [type(e) for e in events]
    assert kinds.index(ToolCallStarted) < kinds.index(ToolCallFinished) < kinds.index(ContentDelta)
    text = "".join(e.text for e in events if isinstance(e, ContentDelta))
    assert text == "The answer is forty two, as computed by the tool."
    result = run.result
    assert result.completion.choices[0].message.content == text
    assert result.rounds == 2
    assert result.completion.response is not None
    assert tool_messages(server.last_request.json) == {"id_0": "42"}
    assert hooked == [e for e in events if isinstance(e, (ToolCallStarted, ToolCallFinished))]
    assert server.last_request.json is not None and server.last_request.json["stream"] is True


async def test_stream_variant_with_typed_final_answer(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(calls(("add", '{"a": 1, "b": 2}')), times=1)
    server.script('{"total": 3}')
    run = client.chat.completions.run_tools_stream(
        model=MODEL, messages=USER, tools=[add], response_format=Summary
    )
    result = await run.until_done()
    assert result.completion.choices[0].message.parsed == Summary(total=3)  # type: ignore[attr-defined]


async def test_leaving_the_stream_cancels_running_tools(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    cancelled = asyncio.Event()

    @function_tool
    async def forever() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    server.script(calls(("forever", "{}")))
    async with client.chat.completions.run_tools_stream(
        model=MODEL, messages=USER, tools=[forever]
    ) as run:
        async for event in run:
            if isinstance(event, ToolCallStarted):
                break
    assert cancelled.is_set()
    with pytest.raises(RuntimeError):
        run.result  # noqa: B018


async def test_a_failing_hook_stops_the_other_tools(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    cancelled = asyncio.Event()

    @function_tool
    async def forever() -> str:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    def hook(event: ToolEvent) -> None:
        if isinstance(event, ToolCallFinished):
            raise RuntimeError("hook broke")

    server.script(calls(("add", '{"a": 1, "b": 2}'), ("forever", "{}")))
    with pytest.raises(RuntimeError, match="hook broke"):
        await client.chat.completions.run_tools(
            model=MODEL, messages=USER, tools=[add, forever], on_event=hook
        )
    assert cancelled.is_set()


async def test_streamed_create_with_a_type_sends_the_schema(
    fake: tuple[FakeServer, Client],
) -> None:
    server, client = fake
    stream = await client.chat.completions.create(
        model=MODEL, messages=USER, response_format=Summary, stream=True
    )
    completion = await stream.collect()
    assert msgspec.json.decode(completion.choices[0].message.content or "", type=Summary)
    sent = server.last_request.json
    assert sent is not None and sent["response_format"]["json_schema"]["name"] == "Summary"


async def test_stream_variant_yields_reasoning(fake: tuple[FakeServer, Client]) -> None:
    server, client = fake
    server.script(Reply(text="It is 42.", reasoning="six times seven is forty two"))
    run = client.chat.completions.run_tools_stream(model=MODEL, messages=USER, tools=[add])
    events = [event async for event in run]
    thoughts = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    assert thoughts == "six times seven is forty two"
    message = run.result.completion.choices[0].message
    assert message.reasoning_content == thoughts and message.content == "It is 42."
    plain = await client.chat.completions.create(model=MODEL, messages=USER)
    assert plain.choices[0].message.reasoning_content == thoughts


async def test_forced_tool_choice_applies_to_the_first_call_only(
    fake: tuple[FakeServer, Client],
) -> None:
    server, client = fake
    server.script(lambda body: "done" if body["tool_choice"] == "auto" else calls(("add", "{}")))
    result = await client.chat.completions.run_tools(
        model=MODEL, messages=USER, tools=[add], tool_choice="required"
    )
    assert [r.json["tool_choice"] for r in server.requests if r.json] == ["required", "auto"]
    assert result.completion.choices[0].message.content == "done"
    assert tool_messages(server.last_request.json)["id_0"].startswith("Error: invalid arguments")
