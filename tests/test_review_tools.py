"""A model that answers tool turns badly, types that strict mode cannot express, and
functions that cannot be tools: each ends in a typed error naming the problem or in a
tool message the model can act on; a call id is never lost or shared.

A raw loopback server plays the model: it answers each request with the next scripted
completion (as JSON, or as an event stream when the request asks for one) and records
what the client sent.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import AsyncIterator
from typing import Any, Literal

import msgspec
import pytest
from rawserver import RawConnection, RawServer, http_answer, json_answer

from ghmodels_async import (
    Client,
    ContentDecodeError,
    ResponseDecodeError,
    ValidationError,
)
from ghmodels_async.tools import ToolCallFinished, ToolEvent, function_tool

TOKEN = "ghp_T00lTok3n0123456789abcdef"
USER = [{"role": "user", "content": "go"}]


@function_tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def call(id: Any, name: Any = "add", arguments: Any = '{"a": 1, "b": 2}') -> dict[str, Any]:
    return {"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}


def turn(*calls: dict[str, Any], finish: str = "tool_calls", content: Any = None) -> Any:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = list(calls)
    return {"id": "c", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}]}  # fmt: skip


FINAL = turn(finish="stop", content="done")


def as_stream(completion: dict[str, Any]) -> bytes:
    """The same answer as an event stream: content, then each call in two fragments."""
    choice = completion["choices"][0]
    message = choice["message"]
    events: list[dict[str, Any]] = [{"role": "assistant"}]
    if message.get("content"):
        events.append({"content": message["content"]})
    for i, tool_call in enumerate(message.get("tool_calls") or ()):
        arguments = tool_call["function"]["arguments"]
        half = len(arguments) // 2 if isinstance(arguments, str) else 0
        events.append({"tool_calls": [{"index": i, "id": tool_call["id"], "type": "function",
                       "function": {"name": tool_call["function"]["name"],
                                    "arguments": arguments[:half]}}]})  # fmt: skip
        events.append({"tool_calls": [{"index": i, "function": {"arguments": arguments[half:]}}]})
    body = b""
    for delta in events:
        chunk = {"id": "c", "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}
        body += b"data: " + json.dumps(chunk).encode() + b"\n\n"
    end = {"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}
    last = {"id": "c", "choices": [end]}
    body += b"data: " + json.dumps(last).encode() + b"\n\ndata: [DONE]\n\n"
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: "
    return head + str(len(body)).encode() + b"\r\n\r\n" + body


class Model:
    """A raw server answering each request with the next scripted completion."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.bodies: list[dict[str, Any]] = []
        self.server = RawServer(self._handle)

    async def _handle(self, conn: RawConnection) -> None:
        while (request := await conn.read_request()) is not None:
            body = json.loads(request.split(b"\r\n\r\n", 1)[1])
            self.bodies.append(body)
            answer = self.answers.pop(0) if self.answers else FINAL
            if isinstance(answer, bytes):
                await conn.write(http_answer(200, answer))
            elif body.get("stream"):
                await conn.write(as_stream(answer))
            else:
                await conn.write(json_answer(200, answer))

    def tool_messages(self, index: int) -> list[tuple[str, str]]:
        """(tool_call_id, content) of the tool messages of request ``index``."""
        return [(m["tool_call_id"], m["content"])
                for m in self.bodies[index]["messages"] if m["role"] == "tool"]  # fmt: skip

    def assistant_ids(self, index: int) -> list[str]:
        """The tool call ids of the assistant turns sent in request ``index``."""
        return [c["id"] for m in self.bodies[index]["messages"] if m["role"] == "assistant"
                for c in m.get("tool_calls") or ()]  # fmt: skip


@pytest.fixture
async def model() -> AsyncIterator[Model]:
    yield Model()


async def run(model: Model, stream: bool, **options: Any) -> Any:
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        if stream:
            run_ = client.chat.completions.run_tools_stream(
                model="m", messages=USER, tools=[add], **options
            )
            events = [e async for e in run_]
            return run_.result, events
        events: list[ToolEvent] = []
        result = await client.chat.completions.run_tools(
            model="m", messages=USER, tools=[add], on_event=events.append, **options
        )
        return result, events


def finished(events: list[Any]) -> list[ToolCallFinished]:
    return [e for e in events if isinstance(e, ToolCallFinished)]


# ---------------------------------------------------------------------------
# call ids: never missing, never shared, always answered
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_duplicate_call_ids_in_one_turn_get_distinct_ids(stream: bool) -> None:
    model = Model(turn(call("dup"), call("dup", arguments='{"a": 5, "b": 5}'), call("dup")))
    result, events = await run(model, stream)
    sent = model.tool_messages(1)
    ids = [i for i, _ in sent]
    assert len(ids) == 3 and len(set(ids)) == 3, ids
    assert ids == model.assistant_ids(1)  # each tool message answers its own call
    assert ids[0] == "dup"  # the first keeps the model's id
    assert [c for _, c in sent] == ["3", "10", "3"]
    assert [e.call_id for e in finished(events)] != []
    assert result.completion.choices[0].message.content == "done"


@pytest.mark.parametrize("stream", [False, True])
async def test_missing_ids_are_filled_without_colliding_with_given_ones(stream: bool) -> None:
    model = Model(turn(call(""), call("call_1_0"), call("")))
    await run(model, stream)
    ids = [i for i, _ in model.tool_messages(1)]
    assert len(set(ids)) == 3 and all(ids), ids
    assert ids == model.assistant_ids(1)


# ---------------------------------------------------------------------------
# arguments the tool cannot take: a tool message, never a crash
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    "arguments",
    ["not json", "[1, 2]", '"{\\"a\\": 1}"', "null", "42", '{"a": "x", "b": 2}', '{"a": 1}',
     '{"a": 1, "b": 2, "c": 3}', "{"],
)  # fmt: skip
async def test_bad_arguments_become_an_invalid_arguments_tool_message(
    arguments: str, stream: bool
) -> None:
    model = Model(turn(call("id1", arguments=arguments)))
    result, events = await run(model, stream)
    (sent,) = model.tool_messages(1)
    assert sent[0] == "id1"
    assert sent[1].startswith("Error: invalid arguments for 'add'")
    assert [e.error for e in finished(events)] == ["invalid_arguments"]
    assert result.completion.choices[0].message.content == "done"


@pytest.mark.parametrize(
    ("bad", "path"),
    [(call("id1", name=7), r"tool_calls\[0\]\.function\.name"),
     (call(None), r"tool_calls\[0\]\.id"),
     (call("id1", arguments={"a": 1}), r"tool_calls\[0\]\.function\.arguments"),
     ({"id": "x", "function": None}, r"tool_calls\[0\]\.function")],
)  # fmt: skip
async def test_a_tool_call_of_the_wrong_shape_is_a_decode_error_naming_it(
    bad: dict[str, Any], path: str
) -> None:
    model = Model(turn(bad))
    with pytest.raises(ResponseDecodeError, match=path):
        await run(model, False)


@pytest.mark.parametrize("stream", [False, True])
async def test_an_unknown_or_empty_function_name_is_told_to_the_model(stream: bool) -> None:
    model = Model(turn(call("id1", name=""), call("id2", name="rm_rf")))
    _, events = await run(model, stream)
    assert [e.error for e in finished(events)] == ["unknown_tool", "unknown_tool"]
    assert [i for i, _ in model.tool_messages(1)] == ["id1", "id2"]


# ---------------------------------------------------------------------------
# answers that contradict themselves
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_finish_reason_tool_calls_without_any_call_is_a_decode_error(stream: bool) -> None:
    model = Model(turn(finish="tool_calls"))
    with pytest.raises(ResponseDecodeError, match="tool_calls") as info:
        await run(model, stream)
    assert "no tool call" in str(info.value)


@pytest.mark.parametrize("stream", [False, True])
async def test_finish_reason_tool_calls_with_text_and_no_call_is_the_answer(stream: bool) -> None:
    model = Model(turn(finish="tool_calls", content="all done"))
    result, _ = await run(model, stream)
    assert result.completion.choices[0].message.content == "all done"
    assert len(model.bodies) == 1


class Answer(msgspec.Struct):
    value: int


@pytest.mark.parametrize("finish", ["stop", None])
async def test_parse_with_no_content_and_no_refusal_is_a_content_decode_error(
    finish: str | None,
) -> None:
    model = Model(turn(finish=finish) if finish else turn(finish="stop", content=None))
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        with pytest.raises(ContentDecodeError) as info:
            await client.chat.completions.parse(model="m", messages=USER, response_format=Answer)
    assert info.value.where == "choices[0].message.content"
    assert "no content" in str(info.value)
    assert info.value.completion is not None


async def test_parse_of_a_refusal_or_a_tool_turn_keeps_parsed_none() -> None:
    refusal = turn(finish="stop")
    refusal["choices"][0]["message"]["refusal"] = "I can't"
    model = Model(refusal, turn(call("id1")))
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        refused = await client.chat.completions.parse(
            model="m", messages=USER, response_format=Answer
        )
        tooled = await client.chat.completions.parse(
            model="m", messages=USER, response_format=Answer, tools=[add]
        )
    assert refused.choices[0].message.parsed is None
    assert refused.choices[0].message.refusal == "I can't"
    assert tooled.choices[0].message.parsed is None
    assert tooled.choices[0].message.tool_calls is not None


# ---------------------------------------------------------------------------
# types strict mode cannot express: ValidationError naming the field, before any I/O
# ---------------------------------------------------------------------------


class A(msgspec.Struct):
    a: int


class B(msgspec.Struct):
    b: str


class UntaggedUnion(msgspec.Struct):
    name: str
    pick: A | B


class Inner(msgspec.Struct):
    deep: A | B | None = None


class Outer(msgspec.Struct):
    ok: int
    inner: Inner


class IntKeys(msgspec.Struct):
    table: dict[int, str]


class Anything(msgspec.Struct):
    x: Any


class Mixed(msgspec.Struct):
    kind: Literal["a"]
    blob: object


@dataclasses.dataclass
class WithTuple:
    pair: tuple[int, str]


@pytest.mark.parametrize(
    ("tp", "field"),
    [
        (UntaggedUnion, "UntaggedUnion.pick"),
        (Outer, "Outer.inner.deep"),
        (IntKeys, "IntKeys.table"),
        (Anything, "Anything.x"),
        (Mixed, "Mixed.blob"),
        (WithTuple, "WithTuple.pair"),
    ],
)
async def test_a_type_strict_mode_cannot_express_names_the_field_before_any_io(
    tp: Any, field: str
) -> None:
    model = Model()
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        for call_ in (client.chat.completions.parse, client.chat.completions.create):
            with pytest.raises(ValidationError) as info:
                await call_(model="m", messages=USER, response_format=tp)
            assert info.value.field == field, str(info.value)
            assert field in str(info.value)
    assert model.bodies == []


class Node(msgspec.Struct):
    value: int
    children: list[Node] = []


class Tagged1(msgspec.Struct, tag=True):
    a: int


class Tagged2(msgspec.Struct, tag=True):
    b: str


class Choice(msgspec.Struct):
    pick: Tagged1 | Tagged2


async def test_recursive_and_tagged_union_types_work_end_to_end() -> None:
    tree = {"value": 1, "children": [{"value": 2, "children": None}]}
    model = Model(turn(finish="stop", content=json.dumps(tree)),
                  turn(finish="stop", content='{"pick": {"type": "Tagged2", "b": "x"}}'))
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        node = await client.chat.completions.parse(model="m", messages=USER, response_format=Node)
        picked = await client.chat.completions.parse(
            model="m", messages=USER, response_format=Choice
        )
    assert node.choices[0].message.parsed == Node(1, [Node(2, [])])
    assert picked.choices[0].message.parsed == Choice(Tagged2("x"))


# ---------------------------------------------------------------------------
# functions that cannot be tools, and those that can
# ---------------------------------------------------------------------------


class Holder:
    def method(self, x: int) -> int:
        """Return x."""
        return x

    def __call__(self, x: int) -> int:
        return x


def posonly(x: int, /, y: int) -> int:
    return x - y


def takes_object_default(x: int = object()) -> int:  # type: ignore[assignment]
    return 0


def takes_union(flag: bool, pick: A | B) -> int:
    return 0


def star_args(first: int, *rest: int) -> int:
    return first


def star_kwargs(first: int, **options: int) -> int:
    return first


def untyped(a: int, b) -> int:  # type: ignore[no-untyped-def]
    return a


@pytest.mark.parametrize(
    ("fn", "field", "text"),
    [
        (lambda x: x, "name", "name="),
        (Holder(), "name", "name="),
        (functools.partial(posonly, 1), "name", "name="),
        (takes_object_default, "takes_object_default.x", "default"),
        (takes_union, "takes_union.pick", "pick"),
        (star_args, "star_args.rest", "*args"),
        (star_kwargs, "star_kwargs.options", "**kwargs"),
        (untyped, "untyped.b", "no type annotation"),
        (Holder.method, "method.self", "no type annotation"),
    ],
    ids=["lambda", "callable-object", "partial", "object-default", "untagged-union", "args",
         "kwargs", "untyped", "unbound-method"],
)
def test_functions_that_cannot_be_tools_name_the_problem(fn: Any, field: str, text: str) -> None:
    with pytest.raises(ValidationError) as info:
        function_tool(fn)
    assert info.value.field == field, str(info.value)
    assert text in str(info.value)


def test_a_named_lambda_is_refused_for_its_untyped_parameter() -> None:
    with pytest.raises(ValidationError) as info:
        function_tool(name="double")(lambda x: x * 2)
    assert info.value.field == "double.x"


async def test_mutable_defaults_are_fresh_for_every_call() -> None:
    seen: list[list[int]] = []

    @function_tool
    def collect(tag: str, into: list[int] = [1]) -> int:  # noqa: B006
        into.append(len(tag))
        seen.append(into)
        return len(into)

    first = collect.decode_arguments('{"tag": "ab", "into": null}')
    second = collect.decode_arguments('{"tag": "abc"}')
    assert await collect.invoke(first) == 2
    assert await collect.invoke(second) == 2
    assert seen == [[1, 2], [1, 3]]
    assert collect.parameters["properties"]["into"]["anyOf"][0] == {
        "type": "array", "items": {"type": "integer"}
    }  # fmt: skip


async def test_a_bound_method_and_positional_only_parameters_are_tools() -> None:
    method = function_tool(Holder().method)
    assert method.description == "Return x."
    assert await method.invoke(method.decode_arguments('{"x": 4}')) == 4
    minus = function_tool(posonly)
    assert await minus.invoke(minus.decode_arguments('{"x": 5, "y": 2}')) == 3


async def test_a_nan_tool_timeout_is_refused_before_any_io() -> None:
    with pytest.raises(ValidationError) as decorated:
        function_tool(timeout=float("nan"))(add.fn)
    assert decorated.value.field == "timeout"
    model = Model()
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        with pytest.raises(ValidationError) as info:
            await client.chat.completions.run_tools(
                model="m", messages=USER, tools=[add], tool_timeout=float("nan")
            )
    assert info.value.field == "tool_timeout"
    assert model.bodies == []


@pytest.mark.parametrize("stream", [False, True])
async def test_a_tool_returning_undecodable_text_does_not_break_the_next_request(
    stream: bool,
) -> None:
    @function_tool
    def read_file(path: str) -> str:
        return b"ok? \xff\xfe end".decode("utf-8", "surrogateescape")

    model = Model(turn(call("r1", name="read_file", arguments='{"path": "x"}')))
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        if stream:
            run_ = client.chat.completions.run_tools_stream(
                model="m", messages=USER, tools=[read_file]
            )
            result = await run_.until_done()
        else:
            result = await client.chat.completions.run_tools(
                model="m", messages=USER, tools=[read_file]
            )
    assert result.completion.choices[0].message.content == "done"
    assert model.tool_messages(1) == [("r1", "ok? \ufffd\ufffd end")]


async def test_parse_of_an_answer_without_choices_is_a_content_decode_error() -> None:
    empty = turn(finish="stop")
    empty["choices"] = []
    model = Model(empty)
    async with model.server, Client(TOKEN, base_url=model.server.url, max_retries=0) as client:
        with pytest.raises(ContentDecodeError) as info:
            await client.chat.completions.parse(model="m", messages=USER, response_format=Answer)
    assert info.value.where == "choices"
