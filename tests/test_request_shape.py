"""What goes on the wire: URL, query, headers and the exact JSON body of every option."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from yarl import URL

from ghmodels_async import Client, Timeout, ValidationError, __version__
from ghmodels_async.types import (
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
EMBEDDINGS = {
    "object": "list",
    "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 0.25]}],
    "model": "openai/text-embedding-3-small",
    "usage": {"prompt_tokens": 1, "total_tokens": 1},
}


class _CompatResponse(aiohttp.ClientResponse):
    """aioresponses 0.7.9 builds responses without the ``stream_writer`` argument that
    recent aiohttp requires; supply a stand-in so mocked answers can be built."""

    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SimpleNamespace(output_size=0))
        super().__init__(method, url, **kwargs)


class _Mocked(aioresponses):  # type: ignore[misc]
    def add(self, url: Any, method: str = "GET", *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("response_class", _CompatResponse)
        super().add(url, method, *args, **kwargs)


@pytest.fixture
def mocked() -> Any:
    with _Mocked() as m:
        yield m


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with Client(TOKEN, max_retries=0) as c:
        yield c


def only_request(m: Any) -> tuple[str, URL, dict[str, Any]]:
    """The single request aioresponses saw: method, URL and the call's keyword arguments."""
    assert len(m.requests) == 1, m.requests
    [((method, url), calls)] = m.requests.items()
    assert len(calls) == 1
    return method, url, calls[0].kwargs


def sent_json(m: Any) -> Any:
    _, _, kwargs = only_request(m)
    data = kwargs["data"]
    assert isinstance(data, bytes)
    return json.loads(data)


# ---------------------------------------------------------------------------
# URLs
# ---------------------------------------------------------------------------


async def test_plain_chat_url(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    method, url, kwargs = only_request(mocked)
    assert method == "POST"
    assert str(url) == CHAT_URL
    assert kwargs["allow_redirects"] is False


async def test_client_org_url(mocked: Any) -> None:
    url = f"{BASE}/orgs/my-org/inference/chat/completions"
    mocked.post(url, payload=COMPLETION)
    async with Client(TOKEN, org="my-org") as client:
        assert client.org == "my-org"
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert str(only_request(mocked)[1]) == url


async def test_per_call_org_overrides_client_org(mocked: Any) -> None:
    url = f"{BASE}/orgs/Other-Org/inference/chat/completions"
    mocked.post(url, payload=COMPLETION)
    async with Client(TOKEN, org="my-org") as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, org="Other-Org")
    assert str(only_request(mocked)[1]) == url


async def test_api_version_query(mocked: Any) -> None:
    url = f"{CHAT_URL}?api-version=2024-05-01-preview"
    mocked.post(url, payload=COMPLETION)
    async with Client(TOKEN, api_version="2024-05-01-preview") as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    _, sent, _ = only_request(mocked)
    assert sent.path == "/inference/chat/completions"
    assert sent.query_string == "api-version=2024-05-01-preview"


async def test_api_version_with_org_and_embeddings_and_catalog(mocked: Any) -> None:
    query = "?api-version=2025-03-01-preview"
    mocked.post(f"{BASE}/orgs/acme/inference/chat/completions{query}", payload=COMPLETION)
    mocked.post(f"{BASE}/orgs/acme/inference/embeddings{query}", payload=EMBEDDINGS)
    mocked.get(f"{BASE}/catalog/models{query}", payload=[])
    async with Client(TOKEN, org="acme", api_version="2025-03-01-preview") as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        await client.embeddings.create(model="m/e", input="x")
        await client.models.list()
    assert sorted((method, str(url)) for method, url in mocked.requests) == [
        ("GET", f"{BASE}/catalog/models{query}"),
        ("POST", f"{BASE}/orgs/acme/inference/chat/completions{query}"),
        ("POST", f"{BASE}/orgs/acme/inference/embeddings{query}"),
    ]


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
async def test_custom_base_url_and_path_prefix(
    mocked: Any, base_url: str, prefix: str, expected: str
) -> None:
    mocked.post(expected, payload=COMPLETION)
    async with Client(TOKEN, base_url=base_url, path_prefix=prefix) as client:
        assert client.base_url == base_url.rstrip("/")
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert str(only_request(mocked)[1]) == expected


async def test_custom_prefix_with_org_is_refused(mocked: Any) -> None:
    # Org attribution is GitHub's /orgs/{org}/inference route; elsewhere it is refused.
    async with Client(TOKEN, base_url="http://localhost:8000", path_prefix="/v1") as client:
        with pytest.raises(ValidationError) as info:
            await client.embeddings.create(model="m/e", input="x", org="acme")
    assert info.value.field == "org"
    assert mocked.requests == {}


async def test_catalog_get(mocked: Any, client: Client) -> None:
    mocked.get(f"{BASE}/catalog/models", payload=[{"id": "openai/gpt-4.1", "publisher": "OpenAI"}])
    models = await client.models.list()
    method, url, kwargs = only_request(mocked)
    assert (method, str(url)) == ("GET", f"{BASE}/catalog/models")
    assert kwargs["data"] is None
    assert kwargs["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert [(m.id, m.publisher) for m in models] == [("openai/gpt-4.1", "OpenAI")]


async def test_custom_catalog_path_and_openai_model_list(mocked: Any) -> None:
    url = "http://localhost:8000/v1/models"
    mocked.get(url, payload={"object": "list", "data": [{"id": "llama3", "owned_by": "me"}]})
    async with Client(
        TOKEN, base_url="http://localhost:8000", path_prefix="/v1", catalog_path="/v1/models"
    ) as client:
        models = await client.models.list()
    assert str(only_request(mocked)[1]) == url
    assert [(m.id, m.owned_by) for m in models] == [("llama3", "me")]


# ---------------------------------------------------------------------------
# headers
# ---------------------------------------------------------------------------


async def test_default_headers_exactly(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    headers = dict(only_request(mocked)[2]["headers"])
    user_agent = headers.pop("User-Agent")
    assert user_agent.startswith(f"ghmodels-async/{__version__} ")
    assert headers == {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }


async def test_client_and_per_call_extra_headers(mocked: Any) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    mocked.post(CHAT_URL, payload=COMPLETION)
    async with Client(TOKEN, headers={"X-Team": "a", "X-Trace": "client"}) as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, extra_headers={"X-Trace": "call", "X-Call": "1"}
        )
    [calls] = mocked.requests.values()
    first, second = (dict(call.kwargs["headers"]) for call in calls)
    assert first["X-Team"] == "a"
    assert first["X-Trace"] == "client"
    assert "X-Call" not in first
    assert second["X-Team"] == "a"
    assert second["X-Trace"] == "call"
    assert second["X-Call"] == "1"
    for headers in (first, second):
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"


async def test_per_call_headers_do_not_leak_into_the_next_call(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    mocked.post(CHAT_URL, payload=COMPLETION)
    await client.chat.completions.create(model=MODEL, messages=MESSAGES, extra_headers={"X-A": "1"})
    await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    [calls] = mocked.requests.values()
    assert "X-A" in calls[0].kwargs["headers"]
    assert "X-A" not in calls[1].kwargs["headers"]


async def test_embeddings_and_catalog_carry_the_contract_headers(
    mocked: Any, client: Client
) -> None:
    mocked.post(EMBEDDINGS_URL, payload=EMBEDDINGS)
    mocked.get(f"{BASE}/catalog/models", payload=[])
    await client.embeddings.create(model="m/e", input="x", extra_headers={"X-E": "1"})
    await client.models.list(extra_headers={"X-L": "2"})
    for (method, _), calls in mocked.requests.items():
        headers = calls[0].kwargs["headers"]
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert headers["Accept"] == "application/vnd.github+json"
        assert headers["X-GitHub-Api-Version"] == "2022-11-28"
        assert headers["User-Agent"].startswith("ghmodels-async/")
        assert headers.get("X-E" if method == "POST" else "X-L") is not None


# ---------------------------------------------------------------------------
# timeouts handed to aiohttp
# ---------------------------------------------------------------------------


async def test_timeouts_passed_to_aiohttp(mocked: Any) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    mocked.post(CHAT_URL, payload=COMPLETION)
    mocked.post(CHAT_URL, body=b"data: [DONE]\n\n", content_type="text/event-stream")
    async with Client(TOKEN, timeout=Timeout(connect=3, total=30, stream_idle=7)) as client:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, timeout=5)
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        async with stream:
            assert [chunk async for chunk in stream] == []
    [calls] = mocked.requests.values()
    timeouts = [call.kwargs["timeout"] for call in calls]
    assert all(isinstance(t, aiohttp.ClientTimeout) for t in timeouts)
    assert (timeouts[0].total, timeouts[0].connect) == (30, 3)
    assert (timeouts[1].total, timeouts[1].connect) == (5, 5)
    # a stream has no total cap, only the idle limit between reads
    assert (timeouts[2].total, timeouts[2].connect, timeouts[2].sock_read) == (None, 3, 7)


# ---------------------------------------------------------------------------
# bodies
# ---------------------------------------------------------------------------


async def test_minimal_body_exactly(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    completion = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    _, _, kwargs = only_request(mocked)
    assert (
        kwargs["data"] == b'{"model":"openai/gpt-4.1","messages":[{"role":"user","content":"hi"}]}'
    )
    assert completion.choices[0].message.content == "hello"


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
async def test_each_option_in_the_body(
    mocked: Any, client: Client, kwargs: dict[str, Any], added: dict[str, Any]
) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    await client.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs)
    assert sent_json(mocked) == {"model": MODEL, "messages": MESSAGES, **added}


async def test_all_options_together(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
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
    await client.chat.completions.create(model=MODEL, messages=MESSAGES, **options)
    assert sent_json(mocked) == {"model": MODEL, "messages": MESSAGES, **options}


async def test_messages_of_every_kind(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
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
    await client.chat.completions.create(model=MODEL, messages=tuple(messages))
    body = sent_json(mocked)
    expected = [dict(m) for m in messages[:5]]
    del expected[3]["content"]  # an explicit null is not sent
    assert body["messages"] == [*expected, {"role": "user", "content": "struct"}]


async def test_a_previous_answer_is_sent_back_as_assistant_turn(
    mocked: Any, client: Client
) -> None:
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
    mocked.post(CHAT_URL, payload=answer)
    mocked.post(CHAT_URL, payload=COMPLETION)
    first = await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    await client.chat.completions.create(
        model=MODEL,
        messages=[
            *MESSAGES,
            first.choices[0].message,
            {"role": "tool", "tool_call_id": "c9", "content": "ok"},
        ],
    )
    [calls] = mocked.requests.values()
    assert json.loads(calls[1].kwargs["data"])["messages"] == [
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
async def test_stream_body(
    mocked: Any, client: Client, kwargs: dict[str, Any], added: dict[str, Any]
) -> None:
    mocked.post(
        CHAT_URL,
        body=b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hey"}}]}\n\n'
        b"data: [DONE]\n\n",
        content_type="text/event-stream",
    )
    stream = await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, **kwargs
    )
    completion = await stream.collect()
    assert completion.choices[0].message.content == "hey"
    assert sent_json(mocked) == {"model": MODEL, "messages": MESSAGES, **added}


async def test_stream_false_sends_no_stream_key(mocked: Any, client: Client) -> None:
    mocked.post(CHAT_URL, payload=COMPLETION)
    await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=False)
    assert "stream" not in sent_json(mocked)


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
async def test_embeddings_body(
    mocked: Any, client: Client, kwargs: dict[str, Any], expected: dict[str, Any]
) -> None:
    mocked.post(EMBEDDINGS_URL, payload=EMBEDDINGS)
    result = await client.embeddings.create(model="openai/text-embedding-3-small", **kwargs)
    method, url, sent = only_request(mocked)
    assert (method, str(url)) == ("POST", EMBEDDINGS_URL)
    assert sent["headers"]["Content-Type"] == "application/json"
    assert json.loads(sent["data"]) == {"model": "openai/text-embedding-3-small", **expected}
    assert result.data[0].embedding == [0.5, 0.25]
    assert result.usage.total_tokens == 1


async def test_embeddings_org(mocked: Any, client: Client) -> None:
    url = f"{BASE}/orgs/acme/inference/embeddings"
    mocked.post(url, payload=EMBEDDINGS)
    await client.embeddings.create(model="m/e", input="x", org="acme")
    method, sent_url, kwargs = only_request(mocked)
    assert (method, str(sent_url)) == ("POST", url)
    assert kwargs["data"] == b'{"model":"m/e","input":"x"}'
