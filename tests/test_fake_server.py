"""Tests of the embedded fake GitHub Models server, through plain aiohttp on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
import struct
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from ghmodels_async.pytest_plugin import (  # noqa: F401  (fixtures used by name)
    fake_models_client,
    fake_models_server,
)
from ghmodels_async.testing import (
    CATALOG,
    FAULT_KINDS,
    MAGIC_ORGS,
    FakeServer,
    Fault,
    RateLimitTable,
    RecordedRequest,
    Reply,
    ScriptedToolCall,
    TierLimit,
    schema_instance,
    serve,
)

CHAT = "/inference/chat/completions"
EMB = "/inference/embeddings"
AUTH = {"Authorization": "Bearer test-token"}
MODEL = "openai/gpt-4.1"
EMB_MODEL = "openai/text-embedding-3-small"


# -- helpers -----------------------------------------------------------------


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def server(fake_models_server: FakeServer) -> FakeServer:  # noqa: F811
    return fake_models_server


class Result:
    def __init__(self, status: int, headers: Mapping[str, str], raw: bytes) -> None:
        self.status = status
        self.headers = headers
        self.raw = raw

    @property
    def json(self) -> Any:
        return json.loads(self.raw)

    @property
    def error(self) -> dict[str, Any]:
        err: dict[str, Any] = self.json["error"]
        return err


async def call(
    http: aiohttp.ClientSession,
    server: FakeServer,
    path: str = CHAT,
    body: Any = None,
    *,
    headers: Mapping[str, str] | None = None,
    raw: bytes | None = None,
    method: str = "POST",
) -> Result:
    hdrs = {**AUTH, **(headers or {})}
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    if data is not None and "Content-Type" not in hdrs:
        hdrs["Content-Type"] = "application/json"
    async with http.request(method, server.url + path, data=data, headers=hdrs) as resp:
        return Result(resp.status, resp.headers, await resp.read())


def chat_body(text: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def parse_sse(raw: bytes) -> tuple[list[str], list[str]]:
    """A tiny SSE parser: (data payloads, comment lines); accepts LF and CRLF."""
    text = raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    datas, comments = [], []
    for block in text.split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        data = [line[5:].lstrip(" ") for line in lines if line.startswith("data:")]
        comments += [line for line in lines if line.startswith(":")]
        if data:
            datas.append("\n".join(data))
    return datas, comments


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    datas, _ = parse_sse(raw)
    assert datas[-1] == "[DONE]"
    return [json.loads(d) for d in datas[:-1]]


def joined_content(chunks: list[dict[str, Any]]) -> str:
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])


def check_schema(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """A small JSON Schema checker: $ref, const, enum, anyOf/oneOf, types, required, bounds."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"][2:].split("/"):
            target = target[part]
        check_schema(value, target, root)
        return
    if "const" in schema:
        assert value == schema["const"]
    if "enum" in schema:
        assert value in schema["enum"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            errors = 0
            for branch in schema[key]:
                try:
                    check_schema(value, branch, root)
                except AssertionError:
                    errors += 1
            assert errors < len(schema[key])
    kinds = schema.get("type")
    if kinds is None:
        return
    kinds = kinds if isinstance(kinds, list) else [kinds]
    py: dict[str, type | tuple[type, ...]] = {
        "object": dict, "array": list, "string": str, "boolean": bool,
        "integer": int, "number": (int, float), "null": type(None),
    }  # fmt: skip
    assert any(
        isinstance(value, py[k]) and not (k in ("integer", "number") and isinstance(value, bool))
        for k in kinds
    ), (value, kinds)
    if isinstance(value, dict):
        for name in schema.get("required", []):
            assert name in value
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                check_schema(value[name], sub, root)
    if isinstance(value, list):
        assert len(value) >= schema.get("minItems", 0)
        for item in value:
            check_schema(item, schema.get("items", {}), root)
    if isinstance(value, str):
        assert len(value) >= schema.get("minLength", 0)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        assert value >= schema.get("minimum", float("-inf"))
        assert value <= schema.get("maximum", float("inf"))
        if "exclusiveMinimum" in schema:
            assert value > schema["exclusiveMinimum"]


# -- chat: plain, org, prefixes --------------------------------------------------


async def test_chat_default_echo_answer(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(http, server, body=chat_body("héllo wörld, how are you"))
    assert res.status == 200
    assert res.headers["Content-Type"].startswith("application/json")
    body = res.json
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["system_fingerprint"].startswith("fp_")
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": "Echo: héllo wörld, how are you"}
    assert body["usage"] == {
        "prompt_tokens": 5,
        "completion_tokens": 6,
        "total_tokens": 11,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }
    for name in ("x-request-id", "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens"):
        assert res.headers[name]


@pytest.mark.parametrize(
    ("path", "embeddings"),
    [
        ("/orgs/my-org/inference/chat/completions", False),
        ("/v1/chat/completions", False),
        ("/orgs/Acme42/inference/embeddings", True),
        ("/v1/embeddings", True),
    ],
)
async def test_org_and_v1_paths(
    http: aiohttp.ClientSession, server: FakeServer, path: str, embeddings: bool
) -> None:
    body = {"model": EMB_MODEL, "input": "a b"} if embeddings else chat_body("hi")
    res = await call(http, server, path, body)
    assert res.status == 200, res.raw
    expected = "list" if embeddings else "chat.completion"
    assert res.json["object"] == expected
    assert server.last_request.path == path


@pytest.mark.parametrize("org", ["-acme", "acme-", "a--b", "x" * 40, "bad_org", "dot.org"])
async def test_bad_org_login_is_404(
    http: aiohttp.ClientSession, server: FakeServer, org: str
) -> None:
    res = await call(http, server, f"/orgs/{org}/inference/chat/completions", chat_body())
    assert res.status == 404
    assert res.error["code"] == "not_found"


async def test_org_of_39_chars_is_valid(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(http, server, f"/orgs/{'a' * 39}/inference/chat/completions", chat_body())
    assert res.status == 200


@pytest.mark.parametrize("org", sorted(MAGIC_ORGS))
async def test_magic_orgs(http: aiohttp.ClientSession, server: FakeServer, org: str) -> None:
    res = await call(http, server, f"/orgs/{org}/inference/chat/completions", chat_body())
    status, code, message = MAGIC_ORGS[org]
    assert res.status == status
    assert res.json == {"error": {"code": code, "message": message}}


async def test_no_models_org_exact_body(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(http, server, "/orgs/no-models-org/inference/embeddings", {})
    assert res.status == 403
    assert res.json == {
        "error": {"code": "forbidden", "message": "Models is not enabled for this organization"}
    }


# -- auth ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "Bearer "}, {"Authorization": "Basic abc"}],
)
async def test_missing_or_empty_bearer_is_401(
    http: aiohttp.ClientSession, server: FakeServer, headers: dict[str, str]
) -> None:
    async with http.post(server.url + CHAT, json=chat_body(), headers=headers) as resp:
        assert resp.status == 401
        body = await resp.json()
    assert body["error"]["code"] == "unauthorized"
    assert body["error"]["message"]


async def test_fixed_token(http: aiohttp.ClientSession) -> None:
    async with FakeServer(token="s3cret") as server:
        wrong = await call(http, server, body=chat_body(), headers={"Authorization": "Bearer x"})
        right = await call(
            http, server, body=chat_body(), headers={"Authorization": "Bearer s3cret"}
        )
        catalog = await call(http, server, "/catalog/models", method="GET")
    assert wrong.status == 401
    assert wrong.error["code"] == "unauthorized"
    assert right.status == 200
    assert catalog.status == 401


async def test_magic_token_without_models_permission(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    res = await call(
        http, server, body=chat_body(), headers={"Authorization": "Bearer no-models-permission"}
    )
    assert res.status == 401
    assert "models" in res.error["message"]


# -- validation ------------------------------------------------------------------


def _msgs(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": MODEL, "messages": list(messages)}


_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
_USER = {"role": "user", "content": "hi"}

VALIDATION_CASES: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("no model", {"messages": [_USER]}, 400, "missing_required_parameter", "model"),
    ("model not str", {**chat_body(), "model": 3}, 400, "invalid_type", "model"),
    ("unknown model", {**chat_body(), "model": "openai/gpt-99"}, 400, "unknown_model", "gpt-99"),
    ("embeddings model", {**chat_body(), "model": EMB_MODEL}, 400, "unsupported_model", EMB_MODEL),
    ("no messages", {"model": MODEL}, 400, "missing_required_parameter", "messages"),
    ("empty messages", _msgs(), 400, "invalid_type", "messages"),
    ("messages not list", {"model": MODEL, "messages": "hi"}, 400, "invalid_type", "messages"),
    ("message not obj", _msgs("hi"), 400, "invalid_type", "messages[0]"),  # type: ignore[arg-type]
    ("bad role", _msgs({"role": "robot", "content": "x"}), 400, "unsupported_value", "role"),
    ("no content", _msgs({"role": "user"}), 400, "missing_required_parameter", "content"),
    ("content int", _msgs({"role": "user", "content": 5}), 400, "invalid_type", "content"),
    ("empty parts", _msgs({"role": "user", "content": []}), 400, "invalid_type", "content"),
    (
        "bad part type",
        _msgs({"role": "user", "content": [{"type": "video", "url": "x"}]}),
        400, "unsupported_value", "content[0].type",
    ),
    (
        "image in system",
        _msgs({"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}),
        400, "unsupported_value", "messages[0].content[0].type",
    ),
    (
        "image without url",
        _msgs({"role": "user", "content": [{"type": "image_url", "image_url": {}}]}),
        400, "invalid_type", "image_url",
    ),
    (
        "bad image detail",
        _msgs({"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "u", "detail": "max"}}]}),
        400, "unsupported_value", "detail",
    ),
    ("tool without id", _msgs(_USER, {"role": "tool", "content": "r"}), 400,
     "missing_required_parameter", "tool_call_id"),
    ("tool unknown id", _msgs(_USER, {"role": "tool", "content": "r", "tool_call_id": "c9"}), 400,
     "invalid_request_body", "tool_call_id"),
    ("assistant empty", _msgs(_USER, {"role": "assistant", "content": None}), 400,
     "invalid_request_body", "messages[1].content"),
    ("tool_calls on user", _msgs({**_USER, "tool_calls": []}), 400, "unsupported_parameter",
     "tool_calls"),
    ("unknown message key", _msgs({**_USER, "mood": "happy"}), 400, "unsupported_parameter",
     "messages[0].mood"),
    ("temperature high", chat_body(temperature=1.5), 400, "unsupported_value", "temperature"),
    ("temperature type", chat_body(temperature="hot"), 400, "invalid_type", "temperature"),
    ("temperature bool", chat_body(temperature=True), 400, "invalid_type", "temperature"),
    ("top_p negative", chat_body(top_p=-0.1), 400, "unsupported_value", "top_p"),
    ("frequency penalty", chat_body(frequency_penalty=2.5), 400, "unsupported_value",
     "frequency_penalty"),
    ("presence penalty", chat_body(presence_penalty=-3), 400, "unsupported_value",
     "presence_penalty"),
    ("max_tokens zero", chat_body(max_tokens=0), 400, "unsupported_value", "max_tokens"),
    ("max_tokens float", chat_body(max_tokens=1.5), 400, "invalid_type", "max_tokens"),
    ("max_tokens huge", chat_body(max_tokens=10**7), 400, "unsupported_value", "max_tokens"),
    ("max_completion_tokens", chat_body(max_completion_tokens=-1), 400, "unsupported_value",
     "max_completion_tokens"),
    ("seed float", chat_body(seed=1.5), 400, "invalid_type", "seed"),
    ("stop int", chat_body(stop=[1]), 400, "invalid_type", "stop"),
    ("stop too many", chat_body(stop=list("abcde")), 400, "unsupported_value", "stop"),
    ("modality video", chat_body(modalities=["video"]), 400, "unsupported_value", "modalities"),
    ("modality audio", chat_body(modalities=["text", "audio"]), 422, "unsupported_modality",
     "unsupported modality"),
    ("stream str", chat_body(stream="yes"), 400, "invalid_type", "stream"),
    ("stream_options without stream", chat_body(stream_options={"include_usage": True}), 400,
     "invalid_request_body", "stream_options"),
    ("stream_options false stream", chat_body(stream=False, stream_options={}), 400,
     "invalid_request_body", "stream_options"),
    ("stream_options unknown", chat_body(stream=True, stream_options={"x": 1}), 400,
     "unsupported_parameter", "stream_options.x"),
    ("tools not list", chat_body(tools={}), 400, "invalid_type", "tools"),
    ("tool type", chat_body(tools=[{"type": "retrieval"}]), 400, "unsupported_value",
     "tools[0].type"),
    ("tool name", chat_body(tools=[{"type": "function", "function": {"name": "a b"}}]), 400,
     "unsupported_value", "tools[0].function.name"),
    ("tool name long", chat_body(tools=[{"type": "function", "function": {"name": "a" * 65}}]),
     400, "unsupported_value", "tools[0].function.name"),
    ("tool params", chat_body(tools=[{"type": "function", "function": {
        "name": "f", "parameters": "x"}}]), 400, "invalid_type", "parameters"),
    ("tool_choice value", chat_body(tools=[_TOOL], tool_choice="any"), 400, "unsupported_value",
     "tool_choice"),
    ("tool_choice undeclared", chat_body(tools=[_TOOL], tool_choice={
        "type": "function", "function": {"name": "other"}}), 400, "invalid_request_body",
     "tool_choice.function.name"),
    ("tool_choice required no tools", chat_body(tool_choice="required"), 400,
     "invalid_request_body", "tool_choice"),
    ("response_format type", chat_body(response_format={"type": "xml"}), 400,
     "unsupported_value", "response_format.type"),
    ("json_schema missing", chat_body(response_format={"type": "json_schema"}), 400,
     "missing_required_parameter", "response_format.json_schema"),
    ("json_schema no name", chat_body(response_format={"type": "json_schema", "json_schema": {
        "schema": {}}}), 400, "invalid_request_body", "json_schema.name"),
    ("json_schema no schema", chat_body(response_format={"type": "json_schema", "json_schema": {
        "name": "x"}}), 400, "invalid_request_body", "json_schema.schema"),
    ("reasoning_effort", chat_body(reasoning_effort="extreme"), 400, "unsupported_value",
     "reasoning_effort"),
    ("unknown field", chat_body(n=2), 400, "unsupported_parameter", "'n'"),
    ("unknown field 2", chat_body(logit_bias={}), 400, "unsupported_parameter", "logit_bias"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "status", "code", "needle"),
    [case[1:] for case in VALIDATION_CASES],
    ids=[case[0] for case in VALIDATION_CASES],
)
async def test_chat_validation(
    http: aiohttp.ClientSession,
    server: FakeServer,
    body: dict[str, Any],
    status: int,
    code: str,
    needle: str,
) -> None:
    res = await call(http, server, body=body)
    assert res.status == status, res.raw
    assert set(res.error) == {"code", "message"}
    assert res.error["code"] == code
    assert needle in res.error["message"]


async def test_valid_complex_chat_is_accepted(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    body = {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "really"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "look"},
                {"type": "image_url",
                 "image_url": {"url": "data:image/png;base64,AA", "detail": "low"}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "c1", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        ],
        "temperature": 0, "top_p": 1, "frequency_penalty": -2, "presence_penalty": 2,
        "max_tokens": 50, "seed": 7, "stop": "\n\n", "modalities": ["text"],
        "tools": [_TOOL], "tool_choice": "auto", "response_format": {"type": "text"},
        "stream": False, "reasoning_effort": "low",
    }  # fmt: skip
    res = await call(http, server, body=body)
    assert res.status == 200, res.raw
    assert res.json["choices"][0]["message"]["content"] == "Echo: look"
    assert res.json["usage"]["prompt_tokens"] == 6  # be brief really look {} sunny


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b"{not json", "application/json", 400, "invalid_request_body"),
        (b"", "application/json", 400, "invalid_request_body"),
        (b"[1, 2]", "application/json", 400, "invalid_request_body"),
        (b'"text"', "application/json", 400, "invalid_request_body"),
        (b'{"model": "openai/gpt-4.1"}', "text/plain", 415, "unsupported_media_type"),
    ],
)
async def test_body_must_be_json_object(
    http: aiohttp.ClientSession,
    server: FakeServer,
    raw: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    res = await call(http, server, raw=raw, headers={"Content-Type": content_type})
    assert res.status == status
    assert res.error["code"] == code


async def test_unknown_path_and_method_are_json_errors(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    missing = await call(http, server, "/inference/completions", chat_body())
    wrong_method = await call(http, server, CHAT, method="GET")
    assert missing.status == 404
    assert missing.error["code"] == "not_found"
    assert wrong_method.status == 405
    assert wrong_method.error["code"] == "method_not_allowed"


# -- scripted and derived answers -----------------------------------------------------


async def test_script_matching_times_and_order(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    once = server.script("first weather answer", prompt_contains="weather", times=1)
    server.script(Reply(text="mini only"), model="openai/gpt-4.1-mini")
    server.script(lambda body: f"{len(body['messages'])} messages", prompt_contains="count")

    async def ask(text: str, model: str = MODEL) -> str:
        res = await call(http, server, body={**chat_body(text), "model": model})
        content: str = res.json["choices"][0]["message"]["content"]
        return content

    assert await ask("what is the weather") == "first weather answer"
    assert await ask("what is the weather") == "Echo: what is the weather"
    assert await ask("anything", "openai/gpt-4.1-mini") == "mini only"
    assert await ask("count please") == "1 messages"
    assert once.hits == 1
    assert once.remaining == 0
    with pytest.raises(ValueError, match="not in the fake catalog"):
        server.script("x", model="openai/gpt-99")


async def test_prompt_contains_matches_last_user_message(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    server.script("matched", prompt_contains="needle")
    body = _msgs(
        {"role": "user", "content": "needle early"},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "later"},
    )
    res = await call(http, server, body=body)
    assert res.json["choices"][0]["message"]["content"] == "Echo: later"


async def test_scripted_tool_calls_and_refusal(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    server.script(
        Reply(tool_calls=[ScriptedToolCall("get_weather", '{"city": "Paris"}'), ("noop", "{}")]),
        prompt_contains="tools",
    )
    server.script(Reply(refusal="I cannot help with that"), prompt_contains="bad")
    tools = await call(http, server, body=chat_body("use tools", tools=[_TOOL]))
    [choice] = tools.json["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {"id": "call_0", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_1", "type": "function", "function": {"name": "noop", "arguments": "{}"}},
    ]  # fmt: skip
    refusal = await call(http, server, body=chat_body("bad idea"))
    message = refusal.json["choices"][0]["message"]
    assert message["refusal"] == "I cannot help with that"
    assert message["content"] is None
    assert refusal.json["usage"]["completion_tokens"] == 5


async def test_explicit_finish_reason(http: aiohttp.ClientSession, server: FakeServer) -> None:
    server.script(Reply(text="", finish_reason="content_filter"))
    res = await call(http, server, body=chat_body())
    assert res.json["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize("field", ["max_tokens", "max_completion_tokens"])
async def test_max_tokens_truncates_with_length(
    http: aiohttp.ClientSession, server: FakeServer, field: str
) -> None:
    server.script("one  two three four five six")
    res = await call(http, server, body=chat_body("x", **{field: 3}))
    [choice] = res.json["choices"]
    assert choice["message"]["content"] == "one  two three"
    assert choice["finish_reason"] == "length"
    assert res.json["usage"]["completion_tokens"] == 3


async def test_stop_sequence_cuts_answer(http: aiohttp.ClientSession, server: FakeServer) -> None:
    server.script("alpha beta END gamma")
    res = await call(http, server, body=chat_body("x", stop=["END"]))
    assert res.json["choices"][0]["message"]["content"] == "alpha beta "
    assert res.json["choices"][0]["finish_reason"] == "stop"


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3},
        "age": {"type": "integer", "minimum": 18},
        "score": {"type": "number", "exclusiveMinimum": 0.5, "maximum": 10},
        "ok": {"type": "boolean"},
        "kind": {"enum": ["cat", "dog"]},
        "version": {"const": 2},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        "either": {"anyOf": [{"type": "integer"}, {"type": "string"}]},
        "maybe": {"type": ["null", "string"]},
        "address": {"$ref": "#/$defs/address"},
        "optional": {"type": "string"},
    },
    "required": ["name", "age", "score", "ok", "kind", "version", "tags", "either", "maybe",
                 "address"],
    "additionalProperties": False,
    "$defs": {
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
            "required": ["city", "zip"],
        }
    },
}  # fmt: skip


async def test_json_schema_answer_validates(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    rf = {
        "type": "json_schema",
        # not strict: SCHEMA leaves "optional" out of required (strict mode would refuse it)
        "json_schema": {"name": "person", "strict": False, "schema": SCHEMA},
    }
    res = await call(http, server, body=chat_body("give me a person", response_format=rf))
    assert res.status == 200, res.raw
    answer = json.loads(res.json["choices"][0]["message"]["content"])
    check_schema(answer, SCHEMA, SCHEMA)
    assert set(answer) == set(SCHEMA["required"])
    assert answer["version"] == 2
    assert answer["age"] == 18
    assert answer["score"] > 0.5
    assert len(answer["tags"]) == 2
    assert set(answer["address"]) == {"city", "zip"}


def test_schema_instance_all_of_and_bounds() -> None:
    schema = {
        "allOf": [
            {"type": "object", "properties": {"a": {"type": "integer", "maximum": -3}},
             "required": ["a"]},
            {"properties": {"b": {"type": "string", "format": "date"}}, "required": ["b"]},
        ]
    }  # fmt: skip
    assert schema_instance(schema) == {"a": -3, "b": "1970-01-01"}
    assert schema_instance({"type": "integer", "exclusiveMaximum": 0}) == -1


async def test_json_object_answer(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(
        http, server, body=chat_body("a question", response_format={"type": "json_object"})
    )
    assert json.loads(res.json["choices"][0]["message"]["content"]) == {"echo": "a question"}


async def test_tool_choice_required_calls_a_tool_with_valid_arguments(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    params = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
        "required": ["city", "days"],
    }
    tools = [_TOOL, {"type": "function", "function": {"name": "forecast", "parameters": params}}]
    choice = {"type": "function", "function": {"name": "forecast"}}
    res = await call(http, server, body=chat_body("weather?", tools=tools, tool_choice=choice))
    [call_] = res.json["choices"][0]["message"]["tool_calls"]
    assert call_["function"]["name"] == "forecast"
    arguments = json.loads(call_["function"]["arguments"])
    check_schema(arguments, params, params)
    assert res.json["choices"][0]["finish_reason"] == "tool_calls"


async def test_reasoning_model_reports_reasoning_tokens(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    body = {**chat_body("two words"), "model": "openai/o3-mini", "reasoning_effort": "high"}
    res = await call(http, server, body=body)
    usage = res.json["usage"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 32
    assert usage["completion_tokens"] == 3 + 32


async def test_prompt_over_model_input_limit_is_413(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    res = await call(http, server, body={**chat_body("w " * 16385), "model": "microsoft/phi-4"})
    assert res.status == 413
    assert res.error["code"] == "tokens_limit_reached"


# -- streaming -------------------------------------------------------------------------


async def _stream(
    http: aiohttp.ClientSession, server: FakeServer, body: dict[str, Any], **headers: str
) -> Result:
    return await call(http, server, body={**body, "stream": True}, headers=headers)


async def test_stream_format(http: aiohttp.ClientSession, server: FakeServer) -> None:
    text = "one two three four five six seven"
    server.script(text)
    res = await _stream(http, server, chat_body("x"))
    assert res.status == 200
    assert res.headers["Content-Type"] == "text/event-stream"
    assert b"\r\n" not in res.raw
    chunks = sse_chunks(res.raw)
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert all(c["usage"] is None for c in chunks)
    assert all(c["model"] == MODEL for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    contents = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(contents) == 3  # a few words per chunk
    assert "".join(contents) == text
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])


async def test_stream_include_usage(http: aiohttp.ClientSession, server: FakeServer) -> None:
    body = chat_body("count these words", stream_options={"include_usage": True})
    chunks = sse_chunks((await _stream(http, server, body)).raw)
    *others, last = chunks
    assert last["choices"] == []
    assert last["usage"]["prompt_tokens"] == 3
    assert last["usage"]["completion_tokens"] == 4
    assert last["usage"]["total_tokens"] == 7
    assert all(c["usage"] is None for c in others)
    assert others[-1]["choices"][0]["finish_reason"] == "stop"


async def test_stream_matches_non_stream(http: aiohttp.ClientSession, server: FakeServer) -> None:
    plain = await call(http, server, body=chat_body("ünïcode wörds ✓ here", max_tokens=3))
    streamed = sse_chunks(
        (await _stream(http, server, chat_body("ünïcode wörds ✓ here", max_tokens=3))).raw
    )
    message = plain.json["choices"][0]["message"]
    assert joined_content(streamed) == message["content"] == "Echo: ünïcode wörds"
    assert streamed[-1]["choices"][0]["finish_reason"] == "length"


async def test_stream_tool_calls(http: aiohttp.ClientSession, server: FakeServer) -> None:
    args0 = '{"city": "Paris", "unit": "celsius"}'
    server.script(
        Reply(tool_calls=[ScriptedToolCall("get_weather", args0, id="call_x"), ("f", "{}")])
    )
    chunks = sse_chunks((await _stream(http, server, chat_body("x", tools=[_TOOL]))).raw)
    fragments = [
        tc for c in chunks if c["choices"] for tc in c["choices"][0]["delta"].get("tool_calls", [])
    ]
    by_index: dict[int, list[dict[str, Any]]] = {}
    for frag in fragments:
        by_index.setdefault(frag["index"], []).append(frag)
    assert sorted(by_index) == [0, 1]
    first, *rest = by_index[0]
    assert first["id"] == "call_x"
    assert first["type"] == "function"
    assert first["function"]["name"] == "get_weather"
    assert len(rest) >= 2
    assert all(set(f) == {"index", "function"} and set(f["function"]) == {"arguments"}
               for f in rest)  # fmt: skip
    assert "".join(f["function"]["arguments"] for f in by_index[0]) == args0
    assert "".join(f["function"]["arguments"] for f in by_index[1]) == "{}"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.fake_models(quirks=True)
async def test_quirks_stream(http: aiohttp.ClientSession, server: FakeServer) -> None:
    body = chat_body("quirky stream", stream_options={"include_usage": True})
    res = await _stream(http, server, body)
    assert b"\r\n" in res.raw
    assert b"\n\n" not in res.raw.replace(b"\r\n", b"")
    datas, comments = parse_sse(res.raw)
    assert ": keep-alive" in comments
    assert datas[-1] == "[DONE]"
    chunks = [json.loads(d) for d in datas[:-1]]
    assert chunks[0]["choices"] == []
    assert "prompt_filter_results" in chunks[0]
    assert "model" not in chunks[1]
    assert chunks[1]["choices"][0]["delta"]["role"] == "assistant"
    assert any(c["choices"] and c["choices"][0]["delta"].get("content", "") is None
               for c in chunks)  # fmt: skip
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] == 5
    assert chunks[-2]["choices"] == [] and chunks[-2]["usage"] is None
    assert joined_content(chunks) == "Echo: quirky stream"
    assert chunks[3]["model"] == "gpt-4.1-2025-04-14"


@pytest.mark.fake_models(quirks=True)
async def test_quirks_non_stream(http: aiohttp.ClientSession, server: FakeServer) -> None:
    body = (await call(http, server, body=chat_body())).json
    assert "prompt_filter_results" in body
    assert "content_filter_results" in body["choices"][0]
    assert body["choices"][0]["message"]["content"] == "Echo: hello there"


async def test_quirks_per_request_header(http: aiohttp.ClientSession, server: FakeServer) -> None:
    quirky = await _stream(http, server, chat_body(), **{"x-fake-fault": "quirks"})
    plain = await _stream(http, server, chat_body())
    assert b": keep-alive\r\n" in quirky.raw
    assert b"keep-alive" not in plain.raw


async def test_chunk_delay_option(http: aiohttp.ClientSession) -> None:
    async with FakeServer(chunk_delay=0.02) as server:
        server.script("a b c d e f g h i")  # role + 3 content + finish + done = 6 frames
        start = time.monotonic()
        res = await _stream(http, server, chat_body())
        elapsed = time.monotonic() - start
    assert res.status == 200
    assert elapsed >= 5 * 0.02 * 0.9


# -- embeddings -------------------------------------------------------------------------


async def test_embeddings_float_and_base64(http: aiohttp.ClientSession, server: FakeServer) -> None:
    body = {"model": EMB_MODEL, "input": ["first text", "second"], "dimensions": 12}
    floats = await call(http, server, EMB, body)
    b64 = await call(http, server, EMB, {**body, "encoding_format": "base64"})
    assert floats.status == b64.status == 200
    data = floats.json
    assert data["object"] == "list"
    assert data["model"] == EMB_MODEL
    assert data["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert [d["index"] for d in data["data"]] == [0, 1]
    assert all(d["object"] == "embedding" for d in data["data"])
    vectors = [d["embedding"] for d in data["data"]]
    assert all(len(v) == 12 for v in vectors)
    assert vectors[0] != vectors[1]
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-5
    for item, vector in zip(b64.json["data"], vectors, strict=True):
        unpacked = struct.unpack("<12f", base64.b64decode(item["embedding"]))
        assert list(unpacked) == vector


async def test_embeddings_defaults_and_determinism(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    one = await call(http, server, EMB, {"model": EMB_MODEL, "input": "same text"})
    two = await call(http, server, EMB, {"model": EMB_MODEL, "input": ["same text"]})
    cohere = await call(
        http, server, EMB, {"model": "cohere/cohere-embed-v3-multilingual", "input": "same text"}
    )
    v1 = one.json["data"][0]["embedding"]
    assert len(v1) == 32
    assert v1 == two.json["data"][0]["embedding"]
    assert len(cohere.json["data"][0]["embedding"]) == 24


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        ({"input": "x"}, "missing_required_parameter", "model"),
        ({"model": MODEL, "input": "x"}, "unsupported_model", MODEL),
        ({"model": "nope/nope", "input": "x"}, "unknown_model", "nope/nope"),
        ({"model": EMB_MODEL}, "missing_required_parameter", "input"),
        ({"model": EMB_MODEL, "input": ""}, "unsupported_value", "input[0]"),
        ({"model": EMB_MODEL, "input": []}, "invalid_type", "input"),
        ({"model": EMB_MODEL, "input": ["ok", ""]}, "unsupported_value", "input[1]"),
        ({"model": EMB_MODEL, "input": [1, 2]}, "invalid_type", "input[0]"),
        ({"model": EMB_MODEL, "input": "x", "encoding_format": "int8"}, "unsupported_value",
         "encoding_format"),
        ({"model": EMB_MODEL, "input": "x", "dimensions": 0}, "unsupported_value", "dimensions"),
        ({"model": EMB_MODEL, "input": "x", "dimensions": "8"}, "invalid_type", "dimensions"),
        ({"model": EMB_MODEL, "input": "x", "stream": True}, "unsupported_parameter", "stream"),
    ],
)  # fmt: skip
async def test_embeddings_validation(
    http: aiohttp.ClientSession, server: FakeServer, body: dict[str, Any], code: str, needle: str
) -> None:
    res = await call(http, server, EMB, body)
    assert res.status == 400, res.raw
    assert res.error["code"] == code
    assert needle in res.error["message"]


# -- catalog ------------------------------------------------------------------------------


async def test_catalog(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(http, server, "/catalog/models", method="GET")
    assert res.status == 200
    models = res.json
    assert models == [dict(m) for m in CATALOG]
    assert 10 <= len(models) <= 12
    ids = [m["id"] for m in models]
    assert len(set(ids)) == len(ids)
    for needed in (
        MODEL,
        "openai/gpt-4.1-mini",
        "openai/gpt-4o",
        "openai/o3-mini",
        EMB_MODEL,
        "meta/llama-3.3-70b-instruct",
        "microsoft/phi-4",
        "deepseek/deepseek-r1",
    ):
        assert needed in ids  # fmt: skip
    keys = {
        "id", "name", "publisher", "registry", "summary", "html_url", "version", "capabilities",
        "limits", "rate_limit_tier", "supported_input_modalities",
        "supported_output_modalities", "tags",
    }  # fmt: skip
    for model in models:
        assert set(model) == keys
        assert model["rate_limit_tier"] in {"low", "high", "embeddings", "custom"}
        assert set(model["limits"]) == {"max_input_tokens", "max_output_tokens"}
        assert model["html_url"].startswith("https://github.com/marketplace/models/")
    assert {m["rate_limit_tier"] for m in models} == {"low", "high", "embeddings", "custom"}
    assert {m["publisher"] for m in models} >= {"OpenAI", "Meta", "Mistral AI", "Cohere"}


# -- faults --------------------------------------------------------------------------------


async def test_rate_limit_fault_like_the_service(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    rule = server.inject("rate_limit")
    limited = await call(http, server, body=chat_body())
    again = await call(http, server, body=chat_body())
    assert limited.status == 429
    assert limited.json == {
        "error": {
            "code": "RateLimitReached",
            "message": "Rate limit of 10 per 60s exceeded for UserByModelByMinute. "
            "Please wait 46 seconds before retrying.",
        }
    }
    h = limited.headers
    assert h["retry-after"] == "46"
    assert h["x-ratelimit-timeremaining"] == "46"
    assert h["x-ratelimit-type"] == "UserByModelByMinute"
    assert h["x-ratelimit-remaining-requests"] == "0"
    assert h["x-ms-error-code"] == "RateLimitReached"
    assert again.status == 200
    assert rule.hits == 1 and rule.remaining == 0


async def test_rate_limit_fault_options_by_header(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    res = await call(
        http, server, body=chat_body(),
        headers={"x-fake-fault": "rate_limit; wait=3600; limit_type=UserByModelByDay"},
    )  # fmt: skip
    assert res.status == 429
    assert res.headers["retry-after"] == "3600"
    assert res.headers["x-ratelimit-type"] == "UserByModelByDay"
    assert "Please wait 3600 seconds" in res.error["message"]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("internal_error", 500, "internal_error"),
        ("service_unavailable", 503, "service_unavailable"),
        ("gone", 410, "gone"),
        ("tokens_limit", 413, "tokens_limit_reached"),
        ("error;status=418", 418, "internal_error"),
    ],
)
async def test_error_faults(
    http: aiohttp.ClientSession, server: FakeServer, fault: str, status: int, code: str
) -> None:
    res = await call(http, server, body=chat_body(), headers={"x-fake-fault": fault})
    assert res.status == status
    assert res.error["code"] == code
    assert res.headers["x-request-id"]


async def test_gone_and_tokens_limit_messages(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    server.inject("gone", times=None, path_contains="/embeddings")
    gone = await call(http, server, EMB, {"model": EMB_MODEL, "input": "x"})
    assert gone.status == 410
    assert "retired" in gone.error["message"] and "2026-07-30" in gone.error["message"]
    chat_ok = await call(http, server, body=chat_body())
    assert chat_ok.status == 200
    big = await call(
        http, server, body={**chat_body(), "model": "openai/gpt-4o"},
        headers={"x-fake-fault": "tokens_limit"},
    )  # fmt: skip
    assert big.error["message"] == (
        "Request body too large for openai/gpt-4o model. Max size: 8000 tokens."
    )


async def test_bad_gateway_is_html_and_503_retry_after(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    bad = await call(http, server, body=chat_body(), headers={"x-fake-fault": "bad_gateway"})
    assert bad.status == 502
    assert bad.headers["Content-Type"].startswith("text/html")
    assert b"502 Bad Gateway" in bad.raw
    busy = await call(
        http, server, body=chat_body(), headers={"x-fake-fault": "service_unavailable;wait=2"}
    )
    assert busy.status == 503
    assert busy.headers["retry-after"] == "2"


async def test_openai_shape_errors(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(http, server, body=chat_body(), headers={"x-fake-fault": "openai_error"})
    assert res.status == 400
    assert set(res.error) == {"message", "type", "param", "code"}
    assert res.error["type"] == "invalid_request_error"
    assert res.error["param"] is None
    server.inject(Fault("internal_error", shape="openai", message="boom"))
    res = await call(http, server, body=chat_body())
    assert res.status == 500
    assert res.error == {"message": "boom", "type": "server_error", "param": None,
                         "code": "internal_error"}  # fmt: skip


async def test_delay_headers(http: aiohttp.ClientSession, server: FakeServer) -> None:
    start = time.monotonic()
    res = await call(
        http, server, body=chat_body(), headers={"x-fake-fault": "delay_headers;delay=0.15"}
    )
    assert res.status == 200
    assert time.monotonic() - start >= 0.14
    server.inject(Fault("delay_headers", delay=2.0))
    with pytest.raises(asyncio.TimeoutError):
        async with http.post(
            server.url + CHAT,
            json=chat_body(),
            headers=AUTH,
            timeout=aiohttp.ClientTimeout(total=0.1),
        ):
            pass  # fmt: skip


async def test_chunk_delay_fault(http: aiohttp.ClientSession, server: FakeServer) -> None:
    start = time.monotonic()
    res = await _stream(http, server, chat_body("a"), **{"x-fake-fault": "chunk_delay;delay=0.03"})
    assert res.status == 200
    assert time.monotonic() - start >= 3 * 0.03 * 0.9  # 4 frames: role, content, finish, done


async def test_stream_cut_closes_connection_without_done(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    hdrs = {**AUTH, "x-fake-fault": "stream_cut;after=2"}
    received = b""
    async with http.post(
        server.url + CHAT, json={**chat_body(), "stream": True}, headers=hdrs
    ) as r:
        assert r.status == 200
        with pytest.raises(aiohttp.ClientPayloadError):
            async for block in r.content.iter_any():
                received += block
    datas, _ = parse_sse(received)
    assert len(datas) == 2
    assert "[DONE]" not in datas


async def test_stream_cut_non_stream_body(http: aiohttp.ClientSession, server: FakeServer) -> None:
    hdrs = {**AUTH, "x-fake-fault": "stream_cut"}
    async with http.post(server.url + CHAT, json=chat_body(), headers=hdrs) as r:
        with pytest.raises(aiohttp.ClientPayloadError):
            await r.read()


async def test_stream_end_early_is_clean_eof_without_done(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    res = await _stream(http, server, chat_body("a b c d e f g"),
                        **{"x-fake-fault": "stream_end_early;after=3"})  # fmt: skip
    datas, _ = parse_sse(res.raw)
    assert len(datas) == 3
    assert "[DONE]" not in datas
    assert all(json.loads(d) for d in datas)


async def test_truncated_and_malformed_json(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    truncated = await call(http, server, body=chat_body(),
                           headers={"x-fake-fault": "truncated_json"})  # fmt: skip
    assert truncated.status == 200
    assert int(truncated.headers["Content-Length"]) == len(truncated.raw)
    with pytest.raises(json.JSONDecodeError):
        json.loads(truncated.raw)
    assert truncated.raw.startswith(b'{"id":"chatcmpl-')
    malformed = await call(http, server, body=chat_body(),
                           headers={"x-fake-fault": "malformed_json"})  # fmt: skip
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.raw)
    stream = await _stream(http, server, chat_body(), **{"x-fake-fault": "truncated_json;after=1"})
    datas, _ = parse_sse(stream.raw)
    assert datas[-1] == "[DONE]"
    json.loads(datas[0])
    with pytest.raises(json.JSONDecodeError):
        json.loads(datas[1])
    json.loads(datas[2])


async def test_split_chunks_reach_client_in_small_reads(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    prompt = " ".join(["éàü✓€"] * 40)
    whole = await _stream(http, server, chat_body(prompt))
    reads: list[bytes] = []
    hdrs = {**AUTH, "x-fake-fault": "split_chunks;size=4"}
    async with http.post(
        server.url + CHAT, json={**chat_body(prompt), "stream": True}, headers=hdrs
    ) as resp:
        async for block in resp.content.iter_any():
            reads.append(block)
    joined = b"".join(reads)
    assert len(joined) == len(whole.raw)
    assert joined_content(sse_chunks(joined)) == joined_content(sse_chunks(whole.raw))
    assert max(len(r) for r in reads) < 64
    assert len(reads) > len(parse_sse(joined)[0]) * 5
    undecodable = 0
    for block in reads:
        try:
            block.decode("utf-8")
        except UnicodeDecodeError:
            undecodable += 1
    assert undecodable > 0  # some reads end inside a multi-byte character


async def test_drop_before_headers(http: aiohttp.ClientSession, server: FakeServer) -> None:
    server.inject("drop")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        async with http.post(server.url + CHAT, json=chat_body(), headers=AUTH) as resp:
            await resp.read()
    ok = await call(http, server, body=chat_body())
    assert ok.status == 200
    assert len(server.requests) == 2


async def test_faults_apply_to_catalog_and_combine(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    server.inject("internal_error", path_contains="/catalog")
    assert (await call(http, server, "/catalog/models", method="GET")).status == 500
    assert (await call(http, server, "/catalog/models", method="GET")).status == 200
    res = await _stream(http, server, chat_body(),
                        **{"x-fake-fault": "quirks, split_chunks;size=16"})  # fmt: skip
    assert b"keep-alive" in res.raw
    assert joined_content(sse_chunks(res.raw)) == "Echo: hello there"


async def test_inject_rate_is_seeded(http: aiohttp.ClientSession) -> None:
    async def pattern(seed: int) -> list[int]:
        async with FakeServer(seed=seed) as server:
            server.inject("internal_error", times=None, rate=0.5)
            return [(await call(http, server, body=chat_body())).status for _ in range(16)]

    first, second, other = await pattern(1), await pattern(1), await pattern(2)
    assert first == second
    assert set(first) == {200, 500}
    assert first != other


async def test_unknown_fault_names(http: aiohttp.ClientSession, server: FakeServer) -> None:
    res = await call(http, server, body=chat_body(), headers={"x-fake-fault": "explode"})
    assert res.status == 400
    assert res.error["code"] == "invalid_fake_fault"
    bad_option = await call(http, server, body=chat_body(),
                            headers={"x-fake-fault": "rate_limit;colour=red"})  # fmt: skip
    assert bad_option.status == 400
    with pytest.raises(ValueError, match="unknown fault"):
        Fault("explode")
    with pytest.raises(ValueError):
        server.inject("gone, drop")
    with pytest.raises(ValueError):
        server.inject("gone", rate=2.0)
    assert {"rate_limit", "gone", "drop", "split_chunks", "stream_cut"} <= FAULT_KINDS


# -- rate-limit emulation -----------------------------------------------------------------


FAST = RateLimitTable(
    tiers={"low": TierLimit(2, 5), "high": TierLimit(100, 1), "embeddings": TierLimit(1, 1),
           "custom": TierLimit(1, 1, max_input_tokens=5)},
    window=0.4,
)  # fmt: skip


async def test_requests_per_window(http: aiohttp.ClientSession) -> None:
    body = {**chat_body(), "model": "openai/gpt-4.1-mini"}  # low tier: 2 per window
    async with FakeServer(rate_limits=FAST) as server:
        first = await call(http, server, body=body)
        second = await call(http, server, body=body)
        third = await call(http, server, body=body)
        other_model = await call(http, server, body={**body, "model": "openai/gpt-4.1"})
        other_user = await call(http, server, body=body, headers={"Authorization": "Bearer u2"})
        await asyncio.sleep(0.45)
        later = await call(http, server, body=body)
    assert first.headers["x-ratelimit-remaining-requests"] == "1"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert third.status == 429
    assert third.error["code"] == "RateLimitReached"
    assert "UserByModelByMinute" in third.error["message"]
    assert third.headers["x-ratelimit-type"] == "UserByModelByMinute"
    assert third.headers["retry-after"] == "1"
    assert third.headers["x-ratelimit-timeremaining"] == "1"
    assert third.headers["x-ms-error-code"] == "RateLimitReached"
    assert other_model.status == 200
    assert other_user.status == 200
    assert later.status == 200


async def test_exact_retry_after(http: aiohttp.ClientSession) -> None:
    table = RateLimitTable(tiers=FAST.tiers, window=0.4, exact_retry_after=True)
    body = {"model": EMB_MODEL, "input": "x"}
    async with FakeServer(rate_limits=table) as server:
        assert (await call(http, server, EMB, body)).status == 200
        limited = await call(http, server, EMB, body)
    assert limited.status == 429
    assert 0 < float(limited.headers["retry-after"]) <= 0.4
    assert "." in limited.headers["retry-after"]


async def test_concurrent_requests(http: aiohttp.ClientSession) -> None:
    body = {**chat_body("a b c d e f"), "stream": True}  # high tier: 1 concurrent
    async with FakeServer(rate_limits=FAST, chunk_delay=0.03) as server:
        async with http.post(server.url + CHAT, json=body, headers=AUTH) as first:
            assert first.status == 200
            second = await call(http, server, body=body)
            await first.read()
        third = await call(http, server, body=body)
    assert second.status == 429
    assert second.headers["x-ratelimit-type"] == "UserConcurrentRequests"
    assert second.headers["x-ratelimit-remaining-requests"] == "0"
    assert int(second.headers["retry-after"]) >= 1
    assert "UserConcurrentRequests" in second.error["message"]
    assert third.status == 200


async def test_tier_input_token_limit(http: aiohttp.ClientSession) -> None:
    async with FakeServer(rate_limits=FAST) as server:
        big = {**chat_body("one two three four five six"), "model": "deepseek/deepseek-r1"}
        res = await call(http, server, body=big)
    assert res.status == 413
    assert res.error["code"] == "tokens_limit_reached"
    assert "Max size: 5 tokens" in res.error["message"]


async def test_default_tiers_and_headers_without_emulation(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    statuses = [(await call(http, server, body=chat_body())).status for _ in range(12)]
    assert statuses == [200] * 12  # no emulation by default
    table = RateLimitTable()
    assert table.window == 60.0
    assert (table.tiers["low"].requests, table.tiers["low"].concurrent) == (15, 5)
    assert (table.tiers["high"].requests, table.tiers["high"].concurrent) == (10, 2)
    assert (table.tiers["embeddings"].requests, table.tiers["embeddings"].concurrent) == (15, 5)
    assert (table.tiers["custom"].requests, table.tiers["custom"].concurrent) == (2, 1)
    assert table.scaled(low=TierLimit(1, 1)).tiers["low"] == TierLimit(1, 1)


async def test_rate_limits_true_uses_published_tiers(http: aiohttp.ClientSession) -> None:
    body = {**chat_body(), "model": "openai/o3-mini"}  # custom tier: 2 per minute
    async with FakeServer(rate_limits=True) as server:
        statuses = [(await call(http, server, body=body)).status for _ in range(3)]
        last = await call(http, server, body=body)
    assert statuses == [200, 200, 429]
    assert 50 <= int(last.headers["retry-after"]) <= 60


# -- recording, determinism, lifecycle ---------------------------------------------------


async def test_request_recording(http: aiohttp.ClientSession, server: FakeServer) -> None:
    raw = json.dumps(chat_body("recorded")).encode()
    async with http.post(
        server.url + CHAT + "?api-version=2025-03-01-preview",
        data=raw,
        headers={**AUTH, "Content-Type": "application/json", "X-GitHub-Api-Version": "2022-11-28"},
    ) as resp:
        assert resp.status == 200
    await call(http, server, raw=b"{oops", headers={"Authorization": ""})
    first, second = server.requests
    assert isinstance(first, RecordedRequest)
    assert first.method == "POST"
    assert first.path == CHAT
    assert first.query == {"api-version": "2025-03-01-preview"}
    assert first.headers["x-github-api-version"] == "2022-11-28"
    assert first.headers["AUTHORIZATION"] == "Bearer test-token"
    assert first.body == raw
    assert first.json == chat_body("recorded")
    assert second.json is None and second.body == b"{oops"
    assert server.last_request is second
    with pytest.raises(AttributeError):
        first.path = "/x"  # type: ignore[misc]
    server.clear()
    assert server.requests == []
    with pytest.raises(LookupError):
        _ = server.last_request


async def test_reset_forgets_scripts_and_faults(
    http: aiohttp.ClientSession, server: FakeServer
) -> None:
    server.script("scripted")
    server.inject("gone", times=None)
    server.reset()
    res = await call(http, server, body=chat_body())
    assert res.status == 200
    assert res.json["choices"][0]["message"]["content"] == "Echo: hello there"
    assert len(server.requests) == 1


async def test_determinism_across_servers(http: aiohttp.ClientSession) -> None:
    async def run() -> list[Any]:
        async with FakeServer(seed=7) as server:
            chat = await call(http, server, body=chat_body("same question"))
            stream = await _stream(http, server, chat_body("same question"),
                                   **{"x-fake-fault": "split_chunks"})  # fmt: skip
            emb = await call(http, server, EMB, {"model": EMB_MODEL, "input": "same"})
        body = chat.json
        del body["created"]
        chunks = sse_chunks(stream.raw)
        for c in chunks:
            del c["created"]
        return [chat.headers["x-request-id"], body, chunks, emb.json]

    assert await run() == await run()


async def test_start_close_and_url() -> None:
    server = FakeServer()
    with pytest.raises(RuntimeError):
        _ = server.url
    await server.start()
    try:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.port > 0
    finally:
        await server.close()
    await server.close()  # idempotent


async def test_serve_runs_until_cancelled(http: aiohttp.ClientSession) -> None:
    started: asyncio.Queue[FakeServer] = asyncio.Queue()
    task = asyncio.create_task(serve("127.0.0.1", 0, ready=started.put_nowait, token="tok"))
    server = await asyncio.wait_for(started.get(), 5)
    url = server.url
    res = await call(http, server, body=chat_body(), headers={"Authorization": "Bearer tok"})
    assert res.status == 200
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(aiohttp.ClientConnectionError):
        async with http.post(url + CHAT, json=chat_body(), headers=AUTH):
            pass


# -- pytest plugin fixtures --------------------------------------------------------------


@pytest.mark.fake_models(token="only-this", seed=3)
async def test_plugin_marker_options(fake_models_server: FakeServer) -> None:  # noqa: F811
    assert fake_models_server.token == "only-this"
    assert fake_models_server.seed == 3


async def test_plugin_client_fixture(
    fake_models_client: Any,  # noqa: F811
    fake_models_server: FakeServer,  # noqa: F811
) -> None:
    answer = await fake_models_client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "through the client"}]
    )
    assert answer.choices[0].message.content == "Echo: through the client"
    request = fake_models_server.last_request
    assert request.headers["Authorization"] == "Bearer fake-token"
    assert request.path == CHAT
