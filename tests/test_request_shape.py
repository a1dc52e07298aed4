"""What goes on the wire, decided by the pure core without any I/O: URLs and query,
headers, and the exact JSON body of every option (``_sansio``), plus the client's own
plumbing of them (org, extra headers, timeouts handed to aiohttp) read straight off a
client that never sends. The one test that mocks aiohttp is ``test_mocking_example.py``.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import msgspec
import pytest

from ghmodels_async import Client, ConfigurationError, Timeout, ValidationError, __version__
from ghmodels_async._sansio import (
    Endpoints,
    build_chat_body,
    build_embeddings_body,
    check_headers,
    decode_body,
    make_headers,
)
from ghmodels_async.client import _catalog_decoder, _ModelList
from ghmodels_async.types import (
    ChatCompletion,
    EmbeddingsResponse,
    FunctionDefinition,
    NamedFunction,
    NamedToolChoice,
    ResponseFormatJSONObject,
    StreamOptions,
    Tool,
    UserMessage,
)

TOKEN = "ghp_SECRETSECRET"
BASE = "https://models.github.ai"
CHAT_URL = f"{BASE}/inference/chat/completions"
EMBEDDINGS_URL = f"{BASE}/inference/embeddings"
MODEL = "openai/gpt-4.1"
MESSAGES = [{"role": "user", "content": "hi"}]
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4.1",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hello"}}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def chat(**options: Any) -> Any:
    """The JSON body ``create(model=MODEL, messages=MESSAGES, **options)`` sends."""
    extra_body = options.pop("extra_body", None)
    options.setdefault("model", MODEL)
    options.setdefault("messages", MESSAGES)
    return json.loads(build_chat_body(options, extra_body))


# ---------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------


def test_default_urls() -> None:
    endpoints = Endpoints()
    assert endpoints.url("chat/completions", None) == CHAT_URL
    assert endpoints.url("embeddings", None) == EMBEDDINGS_URL
    assert endpoints.catalog_url == f"{BASE}/catalog/models"


def test_client_org_and_per_call_org() -> None:
    client = Client(TOKEN, org="my-org")
    assert client.org == "my-org"
    assert client._url("chat/completions", None) == f"{BASE}/orgs/my-org/inference/chat/completions"
    assert (
        client._url("chat/completions", "Other-Org")
        == f"{BASE}/orgs/Other-Org/inference/chat/completions"
    )
    assert Client(TOKEN)._url("embeddings", "acme") == f"{BASE}/orgs/acme/inference/embeddings"


def test_api_version_query_on_every_url() -> None:
    query = "?api-version=2025-03-01-preview"
    endpoints = Endpoints(api_version="2025-03-01-preview")
    assert endpoints.url("chat/completions", None) == f"{CHAT_URL}{query}"
    assert endpoints.url("chat/completions", "acme") == (
        f"{BASE}/orgs/acme/inference/chat/completions{query}"
    )
    assert endpoints.url("embeddings", "acme") == f"{BASE}/orgs/acme/inference/embeddings{query}"
    assert endpoints.catalog_url == f"{BASE}/catalog/models{query}"


@pytest.mark.parametrize(
    ("base_url", "prefix", "expected"),
    [
        ("http://localhost:8000", "/v1", "http://localhost:8000/v1/chat/completions"),
        ("http://localhost:8000/", "v1/", "http://localhost:8000/v1/chat/completions"),
        (
            "https://example.services.ai.azure.com/models",
            "",
            "https://example.services.ai.azure.com/models/chat/completions",
        ),
        (
            "https://proxy.example/api",
            "/openai/v1",
            "https://proxy.example/api/openai/v1/chat/completions",
        ),
    ],
)
def test_custom_base_url_and_path_prefix(base_url: str, prefix: str, expected: str) -> None:
    client = Client(TOKEN, base_url=base_url, path_prefix=prefix)
    assert client.base_url == base_url.rstrip("/")
    assert client._url("chat/completions", None) == expected


def test_custom_prefix_with_org_is_refused() -> None:
    # Org attribution is GitHub's /orgs/{org}/inference route; elsewhere it is refused.
    client = Client(TOKEN, base_url="http://localhost:8000", path_prefix="/v1")
    with pytest.raises(ValidationError) as info:
        client._url("embeddings", "acme")
    assert info.value.field == "org"


def test_custom_catalog_path() -> None:
    endpoints = Endpoints("http://localhost:8000", "/v1", "/v1/models")
    assert endpoints.catalog_url == "http://localhost:8000/v1/models"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "ftp://x"}, "absolute http"),
        ({"base_url": "https://u:p@x"}, "credentials"),
        ({"path_prefix": "/a/../b"}, "plain URL path"),
        ({"api_version": "a b"}, "api_version"),
    ],
)
def test_bad_endpoint_configuration(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        Endpoints(**kwargs)


def test_catalog_answer_in_both_shapes() -> None:
    listed = decode_body(
        _catalog_decoder, b'[{"id": "openai/gpt-4.1", "publisher": "OpenAI"}]', "catalog"
    )
    assert isinstance(listed, list)
    assert [(m.id, m.publisher) for m in listed] == [("openai/gpt-4.1", "OpenAI")]
    openai_style = decode_body(
        _catalog_decoder,
        b'{"object": "list", "data": [{"id": "llama3", "owned_by": "me"}]}',
        "catalog",
    )
    assert isinstance(openai_style, _ModelList)
    assert [(m.id, m.owned_by) for m in openai_style.data] == [("llama3", "me")]


# ---------------------------------------------------------------------------
# headers
# ---------------------------------------------------------------------------


def test_default_headers_exactly() -> None:
    headers = make_headers(TOKEN)
    user_agent = headers.pop("User-Agent")
    assert user_agent.startswith(f"ghmodels-async/{__version__} ")
    assert headers == {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


def test_client_and_per_call_extra_headers() -> None:
    client = Client(TOKEN, headers={"X-Team": "a", "X-Trace": "client"})
    first = dict(client._call_headers(None))
    second = dict(client._call_headers({"X-Trace": "call", "X-Call": "1"}))
    third = dict(client._call_headers(None))
    assert first["X-Team"] == "a"
    assert first["X-Trace"] == "client"
    assert "X-Call" not in first
    assert second["X-Team"] == "a"
    assert second["X-Trace"] == "call"
    assert second["X-Call"] == "1"
    assert third == first  # per-call headers do not leak into the next call
    for headers in (first, second):
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert headers["Accept"] == "application/vnd.github+json"
        assert headers["User-Agent"].startswith("ghmodels-async/")


@pytest.mark.parametrize(
    "bad", [["X-A"], {"X-A": 1}, {1: "a"}, {"X-A": "a\r\nX-B: b"}, {"X-A\n": "a"}]
)
def test_bad_extra_headers(bad: Any) -> None:
    with pytest.raises(ValidationError) as info:
        check_headers(bad)
    assert info.value.field == "headers"


# ---------------------------------------------------------------------------
# timeouts handed to aiohttp
# ---------------------------------------------------------------------------


def test_timeouts_handed_to_aiohttp() -> None:
    client = Client(TOKEN, timeout=Timeout(connect=3, total=30, stream_idle=7))
    transport = client._transport
    plain = transport._client_timeout(client._call_timeout(client._timeout), False)
    per_call = transport._client_timeout(client._call_timeout(5), False)
    stream = transport._client_timeout(client._timeout, True)
    assert all(isinstance(t, aiohttp.ClientTimeout) for t in (plain, per_call, stream))
    assert (plain.total, plain.connect) == (30, 3)
    assert (per_call.total, per_call.connect) == (5, 5)
    # a stream has no total cap, only the idle limit between reads
    assert (stream.total, stream.connect, stream.sock_read) == (None, 3, 7)


# ---------------------------------------------------------------------------
# bodies
# ---------------------------------------------------------------------------


def test_minimal_body_exactly() -> None:
    body = build_chat_body({"model": MODEL, "messages": MESSAGES})
    assert body == b'{"model":"openai/gpt-4.1","messages":[{"role":"user","content":"hi"}]}'


TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
JSON_SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {"name": "answer", "strict": True, "schema": {"type": "object"}},
}

# (keyword arguments, the JSON they add to the minimal body)
OPTION_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("frequency_penalty", {"frequency_penalty": -2}, {"frequency_penalty": -2.0}),
    ("presence_penalty", {"presence_penalty": 1.5}, {"presence_penalty": 1.5}),
    ("max_tokens", {"max_tokens": 100}, {"max_tokens": 100}),
    ("max_completion_tokens", {"max_completion_tokens": 1}, {"max_completion_tokens": 1}),
    ("modalities", {"modalities": ["text", "audio"]}, {"modalities": ["text", "audio"]}),
    ("modalities-tuple", {"modalities": ("text",)}, {"modalities": ["text"]}),
    ("reasoning_effort", {"reasoning_effort": "low"}, {"reasoning_effort": "low"}),
    (
        "response_format-text",
        {"response_format": {"type": "text"}},
        {"response_format": {"type": "text"}},
    ),
    (
        "response_format-json_object",
        {"response_format": {"type": "json_object"}},
        {"response_format": {"type": "json_object"}},
    ),
    (
        "response_format-struct",
        {"response_format": ResponseFormatJSONObject()},
        {"response_format": {"type": "json_object"}},
    ),
    (
        "response_format-json_schema",
        {"response_format": JSON_SCHEMA_FORMAT},
        {"response_format": JSON_SCHEMA_FORMAT},
    ),
    ("seed", {"seed": 0}, {"seed": 0}),
    ("seed-negative", {"seed": -7}, {"seed": -7}),
    ("stop-list", {"stop": ["\n", "END"]}, {"stop": ["\n", "END"]}),
    ("stop-tuple", {"stop": ("x",)}, {"stop": ["x"]}),
    ("stop-str", {"stop": "END"}, {"stop": "END"}),
    ("temperature-zero", {"temperature": 0}, {"temperature": 0.0}),
    ("temperature-one", {"temperature": 1}, {"temperature": 1.0}),
    ("top_p", {"top_p": 0.9}, {"top_p": 0.9}),
    ("tool_choice-auto", {"tool_choice": "auto"}, {"tool_choice": "auto"}),
    ("tool_choice-required", {"tool_choice": "required"}, {"tool_choice": "required"}),
    ("tool_choice-none", {"tool_choice": "none"}, {"tool_choice": "none"}),
    (
        "tool_choice-named",
        {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
    ),
    (
        "tool_choice-struct",
        {"tool_choice": NamedToolChoice(function=NamedFunction(name="f"))},
        {"tool_choice": {"type": "function", "function": {"name": "f"}}},
    ),
    ("tools", {"tools": [TOOL]}, {"tools": [TOOL]}),
    ("tools-tuple", {"tools": (TOOL,)}, {"tools": [TOOL]}),
    (
        "tools-struct",
        {"tools": [Tool(function=FunctionDefinition(name="f", strict=True))]},
        {"tools": [{"type": "function", "function": {"name": "f", "strict": True}}]},
    ),
    ("none-means-unset", {"temperature": None, "tools": None, "seed": None}, {}),
    ("extra_body", {"extra_body": {"logprobs": True, "n": 2}}, {"logprobs": True, "n": 2}),
    (
        "extra_body-overrides",
        {"temperature": 0.5, "extra_body": {"temperature": 1.7}},
        {"temperature": 1.7},
    ),
]


@pytest.mark.parametrize(
    ("kwargs", "added"), [pytest.param(k, a, id=i) for i, k, a in OPTION_CASES]
)
def test_each_option_in_the_body(kwargs: dict[str, Any], added: dict[str, Any]) -> None:
    assert chat(**kwargs) == {"model": MODEL, "messages": MESSAGES, **added}


def test_all_options_together() -> None:
    options: dict[str, Any] = {
        "frequency_penalty": 0.5,
        "presence_penalty": -0.5,
        "max_tokens": 64,
        "modalities": ["text"],
        "response_format": JSON_SCHEMA_FORMAT,
        "seed": 3,
        "stop": ["x"],
        "temperature": 0.2,
        "top_p": 0.3,
        "tool_choice": "auto",
        "tools": [TOOL],
    }
    assert chat(**dict(options)) == {"model": MODEL, "messages": MESSAGES, **options}


def test_messages_of_every_kind() -> None:
    messages: list[Any] = [
        {"role": "system", "content": "s"},
        {"role": "developer", "content": "d"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "see"},
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,AA==", "detail": "auto"},
                },
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "result"},
        UserMessage(content="struct"),
    ]
    body = chat(messages=tuple(messages))
    expected = [dict(m) for m in messages[:5]]
    del expected[3]["content"]  # an explicit null is not sent
    assert body["messages"] == [*expected, {"role": "user", "content": "struct"}]


def test_a_previous_answer_is_sent_back_as_assistant_turn() -> None:
    answer = {
        **COMPLETION,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c9",
                            "type": "function",
                            "function": {"name": "f", "arguments": "{}"},
                        }
                    ],
                },
            }
        ],
    }
    first = msgspec.json.decode(json.dumps(answer), type=ChatCompletion)
    body = chat(
        messages=[
            *MESSAGES,
            first.choices[0].message,
            {"role": "tool", "tool_call_id": "c9", "content": "ok"},
        ]
    )
    assert body["messages"] == [
        *MESSAGES,
        {
            "role": "assistant",
            "tool_calls": [
                {"id": "c9", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": "c9", "content": "ok"},
    ]


@pytest.mark.parametrize(
    ("kwargs", "added"),
    [
        ({}, {"stream": True}),
        (
            {"stream_options": {"include_usage": True}},
            {"stream": True, "stream_options": {"include_usage": True}},
        ),
        (
            {"stream_options": StreamOptions(include_usage=False)},
            {"stream": True, "stream_options": {"include_usage": False}},
        ),
    ],
)
def test_stream_body(kwargs: dict[str, Any], added: dict[str, Any]) -> None:
    assert chat(stream=True, **kwargs) == {"model": MODEL, "messages": MESSAGES, **added}


def test_stream_false_sends_no_stream_key() -> None:
    assert "stream" not in chat(stream=None)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"input": "hello"}, {"input": "hello"}),
        ({"input": ["a", "b"]}, {"input": ["a", "b"]}),
        ({"input": ("a",)}, {"input": ["a"]}),
        ({"input": "x", "encoding_format": "float"}, {"input": "x", "encoding_format": "float"}),
        ({"input": "x", "encoding_format": "base64"}, {"input": "x", "encoding_format": "base64"}),
        ({"input": "x", "dimensions": 256}, {"input": "x", "dimensions": 256}),
        ({"input": "x", "user": "u-1"}, {"input": "x", "user": "u-1"}),
        ({"input": ("a", "b")}, {"input": ["a", "b"]}),
        (
            {"input": "x", "extra_body": {"input_type": "query"}},
            {"input": "x", "input_type": "query"},
        ),
    ],
)
def test_embeddings_body(kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    extra_body = kwargs.pop("extra_body", None)
    body = build_embeddings_body({"model": "openai/text-embedding-3-small", **kwargs}, extra_body)
    assert json.loads(body) == {"model": "openai/text-embedding-3-small", **expected}


def test_embeddings_minimal_body_and_answer() -> None:
    assert build_embeddings_body({"model": "m/e", "input": "x"}) == b'{"model":"m/e","input":"x"}'
    answer = (
        b'{"object": "list", "data": [{"object": "embedding", "index": 0, '
        b'"embedding": [0.5, 0.25]}], "model": "m", "usage": {"prompt_tokens": 1, '
        b'"total_tokens": 1}}'
    )
    result = decode_body(msgspec.json.Decoder(EmbeddingsResponse), answer, "embeddings")
    assert result.data[0].embedding == [0.5, 0.25]
    assert result.usage is not None and result.usage.total_tokens == 1
