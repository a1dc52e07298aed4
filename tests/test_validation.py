"""Every bad argument is refused before any I/O, with an error naming the field."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aioresponses import aioresponses

from ghmodels_async import (
    Client,
    ConfigurationError,
    GHModelsError,
    Timeout,
    ValidationError,
)
from ghmodels_async._retry import RetryPolicy
from ghmodels_async._sansio import validate_org

TOKEN = "ghp_SECRETSECRET"
MODEL = "openai/gpt-4.1"
MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def mocked() -> Any:
    """aioresponses with nothing registered: every request it sees is recorded (and fails)."""
    with aioresponses() as m:
        yield m


@pytest.fixture
async def client(mocked: Any) -> AsyncIterator[Client]:
    async with Client(TOKEN, max_retries=0) as c:
        yield c
    # The assertion that matters for every test here: nothing reached the network layer.
    assert mocked.requests == {}


# (id, keyword arguments that replace the defaults, the error's field, text in the message)
CHAT_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("temperature-low", {"temperature": -0.1}, "temperature", "[0, 1]"),
    ("temperature-high", {"temperature": 1.01}, "temperature", "[0, 1]"),
    ("temperature-openai-range", {"temperature": 2}, "temperature", "[0, 1]"),
    ("temperature-str", {"temperature": "hot"}, "temperature", "str"),
    ("temperature-bool", {"temperature": True}, "temperature", "bool"),
    ("top_p-low", {"top_p": -0.01}, "top_p", "[0, 1]"),
    ("top_p-high", {"top_p": 1.5}, "top_p", "[0, 1]"),
    ("frequency_penalty-low", {"frequency_penalty": -2.01}, "frequency_penalty", "[-2, 2]"),
    ("frequency_penalty-high", {"frequency_penalty": 2.5}, "frequency_penalty", "[-2, 2]"),
    ("presence_penalty-low", {"presence_penalty": -3}, "presence_penalty", "[-2, 2]"),
    ("presence_penalty-high", {"presence_penalty": 2.01}, "presence_penalty", "[-2, 2]"),
    ("max_tokens-zero", {"max_tokens": 0}, "max_tokens", ">= 1"),
    ("max_tokens-negative", {"max_tokens": -5}, "max_tokens", ">= 1"),
    ("max_tokens-float", {"max_tokens": 1.5}, "max_tokens", "float"),
    ("max_tokens-bool", {"max_tokens": True}, "max_tokens", "bool"),
    ("max_completion_tokens-zero", {"max_completion_tokens": 0}, "max_completion_tokens", ">= 1"),
    ("seed-bool", {"seed": True}, "seed", "bool"),
    ("seed-float", {"seed": 1.5}, "seed", "float"),
    ("seed-beyond-int64", {"seed": 2**70}, "seed", "64-bit"),
    ("modalities-unknown", {"modalities": ["text", "video"]}, "modalities[1]", "video"),
    ("reasoning_effort-unknown", {"reasoning_effort": "extreme"}, "reasoning_effort", "extreme"),
    ("stop-too-many", {"stop": [str(i) for i in range(5)]}, "stop", "4"),
    ("stop-not-str", {"stop": [1]}, "stop[0]", "stop"),
    ("messages-empty", {"messages": []}, "messages", "non-empty"),
    ("messages-str", {"messages": "hello"}, "messages", "list"),
    ("messages-none", {"messages": None}, "messages", "messages"),
    ("model-none", {"model": None}, "model", "model"),
    (
        "role-unknown",
        {"messages": [{"role": "bot", "content": "x"}]},
        "messages[0].role",
        "'bot'",
    ),
    ("role-missing", {"messages": [{"content": "x"}]}, "messages[0].role", "role"),
    (
        "tool-without-tool_call_id",
        {"messages": [*MESSAGES, {"role": "tool", "content": "42"}]},
        "messages[1].tool_call_id",
        "tool_call_id",
    ),
    (
        "tool-empty-tool_call_id",
        {"messages": [*MESSAGES, {"role": "tool", "content": "42", "tool_call_id": ""}]},
        "messages[1].tool_call_id",
        "tool_call_id",
    ),
    (
        "message-unknown-key",
        {"messages": [{"role": "user", "content": "x", "contnet": "typo"}]},
        "messages[0]",
        "contnet",
    ),
    (
        "content-int",
        {"messages": [{"role": "user", "content": 5}]},
        "messages[0].content",
        "content",
    ),
    (
        "system-image-part",
        {
            "messages": [
                {"role": "system", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}
            ]
        },
        "messages[0].content[0].type",
        "image_url",
    ),
    (
        "part-unknown-type",
        {"messages": [{"role": "user", "content": [{"type": "video", "url": "u"}]}]},
        "messages[0].content[0].type",
        "video",
    ),
    (
        "image-detail-unknown",
        {
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "u", "detail": "max"}}],
                }
            ]
        },
        "messages[0].content[0].image_url.detail",
        "max",
    ),
    (
        "stream_options-without-stream",
        {"stream_options": {"include_usage": True}},
        "stream_options",
        "stream",
    ),
    (
        "tool-bad-function-name",
        {"tools": [{"type": "function", "function": {"name": "get weather"}}]},
        "tools[0].function.name",
        "name",
    ),
    (
        "tool-function-name-too-long",
        {"tools": [{"type": "function", "function": {"name": "f" * 65}}]},
        "tools[0].function.name",
        "name",
    ),
    (
        "tool-function-name-trailing-newline",
        {"tools": [{"type": "function", "function": {"name": "f\n"}}]},
        "tools[0].function.name",
        "name",
    ),
    (
        "tool-missing-function",
        {"tools": [{"type": "function"}]},
        "tools[0].function",
        "function",
    ),
    (
        "tool-wrong-type",
        {"tools": [{"type": "retrieval", "function": {"name": "f"}}]},
        "tools[0].type",
        "retrieval",
    ),
    (
        "tool-parameters-not-object",
        {"tools": [{"type": "function", "function": {"name": "f", "parameters": "{}"}}]},
        "tools[0].function.parameters",
        "parameters",
    ),
    ("tools-not-list", {"tools": "f"}, "tools", "tools"),
    (
        "response_format-unknown-type",
        {"response_format": {"type": "xml"}},
        "response_format.type",
        "xml",
    ),
    (
        "response_format-missing-type",
        {"response_format": {"json_schema": {"name": "a", "schema": {}}}},
        "response_format.type",
        "type",
    ),
    (
        "json_schema-without-schema",
        {"response_format": {"type": "json_schema", "json_schema": {"name": "answer"}}},
        "response_format.json_schema.schema",
        "schema",
    ),
    (
        "json_schema-without-name",
        {"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}},
        "response_format.json_schema.name",
        "name",
    ),
    (
        "json_schema-bad-name",
        {"response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}},
        "response_format.json_schema.name",
        "name",
    ),
    (
        "json_schema-missing",
        {"response_format": {"type": "json_schema"}},
        "response_format.json_schema",
        "json_schema",
    ),
    ("tool_choice-unknown-string", {"tool_choice": "always"}, "tool_choice", "always"),
    (
        "tool_choice-missing-function",
        {"tool_choice": {"type": "function"}},
        "tool_choice.function",
        "function",
    ),
    (
        "tool_choice-bad-name",
        {"tool_choice": {"type": "function", "function": {"name": "a/b"}}},
        "tool_choice.function.name",
        "name",
    ),
    (
        "tool_choice-wrong-type",
        {"tool_choice": {"type": "tool", "function": {"name": "f"}}},
        "tool_choice.type",
        "tool",
    ),
    ("model-dotdot", {"model": "../x"}, "model", "model"),
    ("model-inner-dotdot", {"model": "openai/../admin"}, "model", "model"),
    ("model-space", {"model": "a b"}, "model", "model"),
    ("model-query", {"model": "x?y"}, "model", "model"),
    ("model-fragment", {"model": "x#y"}, "model", "model"),
    ("model-percent", {"model": "%2e%2e"}, "model", "model"),
    ("model-backslash", {"model": "a\\b"}, "model", "model"),
    ("model-trailing-newline", {"model": "openai/gpt-4.1\n"}, "model", "model"),
    ("model-empty", {"model": ""}, "model", "model"),
    ("model-leading-slash", {"model": "/openai/gpt-4.1"}, "model", "model"),
    ("model-too-long", {"model": "a" * 257}, "model", "model"),
    ("model-not-str", {"model": 5}, "model", "model"),
    ("org-leading-hyphen", {"org": "-x"}, "org", "org"),
    ("org-trailing-hyphen", {"org": "x-"}, "org", "org"),
    ("org-double-hyphen", {"org": "a--b"}, "org", "org"),
    ("org-slash", {"org": "a/b"}, "org", "org"),
    ("org-dotdot", {"org": ".."}, "org", "org"),
    ("org-empty", {"org": ""}, "org", "org"),
    ("org-40-chars", {"org": "a" * 40}, "org", "org"),
    ("org-encoded", {"org": "%2e%2e"}, "org", "org"),
    ("org-space", {"org": "my org"}, "org", "org"),
    ("org-query", {"org": "a?b"}, "org", "org"),
    ("org-unicode", {"org": "ørg"}, "org", "org"),
    ("org-not-str", {"org": 5}, "org", "org"),
    ("header-value-crlf", {"extra_headers": {"X-A": "b\r\nEvil: 1"}}, "headers", "X-A"),
    ("header-value-lf", {"extra_headers": {"X-A": "b\nc"}}, "headers", "X-A"),
    ("header-name-newline", {"extra_headers": {"X\nA": "b"}}, "headers", "field name"),
    ("header-value-nul", {"extra_headers": {"X-A": "b\x00"}}, "headers", "X-A"),
    ("header-value-int", {"extra_headers": {"X-A": 1}}, "headers", "string"),
    ("headers-not-mapping", {"extra_headers": [("X-A", "b")]}, "headers", "mapping"),
    ("extra_body-not-mapping", {"extra_body": ["x"]}, "extra_body", "extra_body"),
    ("extra_body-not-json", {"extra_body": {"x": object()}}, "extra_body", "extra_body"),
    ("timeout-str", {"timeout": "soon"}, "timeout", "timeout"),
    ("timeout-negative", {"timeout": -1}, "timeout", "timeout"),
    ("max_retries-negative", {"max_retries": -1}, "max_retries", "max_retries"),
    ("max_retries-bool", {"max_retries": True}, "max_retries", "max_retries"),
    ("max_retries-str", {"max_retries": "2"}, "max_retries", "max_retries"),
]

STREAM_SPECIFIC = {"stream_options-without-stream"}


def _check(exc: ValidationError, field: str, text: str) -> None:
    assert isinstance(exc, GHModelsError)
    assert isinstance(exc, ValueError)
    assert exc.field == field, str(exc)
    assert text in str(exc), str(exc)
    assert TOKEN not in str(exc)
    if field not in ("headers",):
        # the field's name (its last part) is in the message
        last = field.rsplit(".", 1)[-1].split("[", 1)[0]
        assert last in str(exc), str(exc)


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [pytest.param(o, f, t, id=i) for i, o, f, t in CHAT_CASES],
)
async def test_chat_validation(
    client: Client, overrides: dict[str, Any], field: str, text: str
) -> None:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, **overrides}
    with pytest.raises(ValidationError) as info:
        await client.chat.completions.create(**kwargs)
    _check(info.value, field, text)


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [pytest.param(o, f, t, id=i) for i, o, f, t in CHAT_CASES if i not in STREAM_SPECIFIC],
)
async def test_chat_validation_when_streaming(
    client: Client, overrides: dict[str, Any], field: str, text: str
) -> None:
    kwargs: dict[str, Any] = {"model": MODEL, "messages": MESSAGES, "stream": True, **overrides}
    with pytest.raises(ValidationError) as info:
        await client.chat.completions.create(**kwargs)
    _check(info.value, field, text)


@pytest.mark.parametrize("stream", ["yes", 1, None])
async def test_stream_must_be_a_bool(client: Client, stream: Any) -> None:
    with pytest.raises(ValidationError) as info:
        await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=stream)
    _check(info.value, "stream", "stream")


EMBEDDINGS_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    ("input-empty-str", {"input": ""}, "input", "input"),
    ("input-empty-list", {"input": []}, "input", "input"),
    ("input-empty-item", {"input": ["a", ""]}, "input[1]", "input"),
    ("input-int", {"input": 5}, "input", "input"),
    ("input-mixed", {"input": ["a", 3]}, "input[1]", "input"),
    ("dimensions-zero", {"dimensions": 0}, "dimensions", ">= 1"),
    ("dimensions-str", {"dimensions": "256"}, "dimensions", "dimensions"),
    ("encoding_format-unknown", {"encoding_format": "hex"}, "encoding_format", "hex"),
    ("user-int", {"user": 5}, "user", "user"),
    ("model-dotdot", {"model": "../x"}, "model", "model"),
    ("model-query", {"model": "x?y"}, "model", "model"),
    ("org-double-hyphen", {"org": "a--b"}, "org", "org"),
    ("org-slash", {"org": "a/b"}, "org", "org"),
    ("header-newline", {"extra_headers": {"X": "a\r\nb"}}, "headers", "X"),
    ("extra_body-not-mapping", {"extra_body": 3}, "extra_body", "extra_body"),
    ("timeout-zero", {"timeout": 0}, "timeout", "timeout"),
    ("max_retries-negative", {"max_retries": -2}, "max_retries", "max_retries"),
]


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [pytest.param(o, f, t, id=i) for i, o, f, t in EMBEDDINGS_CASES],
)
async def test_embeddings_validation(
    client: Client, overrides: dict[str, Any], field: str, text: str
) -> None:
    kwargs: dict[str, Any] = {"model": "openai/text-embedding-3-small", "input": "x", **overrides}
    with pytest.raises(ValidationError) as info:
        await client.embeddings.create(**kwargs)
    _check(info.value, field, text)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"extra_headers": {"X": "a\nb"}}, "headers"),
        ({"timeout": "x"}, "timeout"),
        ({"max_retries": -1}, "max_retries"),
    ],
)
async def test_catalog_validation(client: Client, overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        await client.models.list(**overrides)
    assert info.value.field == field


# ---------------------------------------------------------------------------
# validate_org: the rule of GitHub logins
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("login", ["a", "A1", "my-org", "a-b-c", "x" * 39, "0", "Org-2024"])
def test_valid_org_logins(login: str) -> None:
    assert validate_org(login) == login


@pytest.mark.parametrize(
    "login",
    ["", "-x", "x-", "a--b", "a/b", "..", ".", "a.b", "a_b", "x" * 40, "a b", "a\n", "é", "a?b"],
)
def test_invalid_org_logins(login: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_org(login)
    assert info.value.field == "org"
    assert "org" in str(info.value)


# ---------------------------------------------------------------------------
# configuration errors at construction (no I/O there: no session exists yet)
# ---------------------------------------------------------------------------


def test_missing_token_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(ConfigurationError) as info:
        Client()
    assert isinstance(info.value, GHModelsError)
    assert isinstance(info.value, ValueError)
    assert "GITHUB_TOKEN" in str(info.value)


def test_empty_env_token_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "")
    with pytest.raises(ConfigurationError):
        Client()


def test_token_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_fromenv")
    client = Client()
    assert client._headers["Authorization"] == "Bearer ghp_fromenv"


@pytest.mark.parametrize("token", ["", "   ", "ghp_SECRET SECRET", "ghp_SECRET\nSECRET", "a\x00"])
def test_bad_token(token: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(token)
    if token.strip():
        assert token not in str(info.value)
        assert "SECRET" not in str(info.value)


@pytest.mark.parametrize(
    "base_url",
    [
        "models.github.ai",
        "ftp://models.github.ai",
        "https://",
        "https://models.github.ai?x=1",
        "https://models.github.ai/#frag",
        "https://user:pw@models.github.ai",
        "",
        5,
        None,
    ],
)
def test_bad_base_url(base_url: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(TOKEN, base_url=base_url)
    assert "base_url" in str(info.value)


@pytest.mark.parametrize("name", ["path_prefix", "catalog_path"])
@pytest.mark.parametrize("value", ["/../x", "/a/./b", "/a b", "/a?b", "/a#b", "/%2e%2e", 7])
def test_bad_paths(name: str, value: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(TOKEN, **{name: value})
    assert name in str(info.value)


@pytest.mark.parametrize("api_version", ["2024 05", "a&b=c", "", "x" * 65, 2024])
def test_bad_api_version(api_version: Any) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(TOKEN, api_version=api_version)
    assert "api_version" in str(info.value)


@pytest.mark.parametrize("org", ["-x", "a--b", "a/b", "..", "", "a" * 40])
def test_bad_client_org(org: str) -> None:
    with pytest.raises(ValidationError) as info:
        Client(TOKEN, org=org)
    assert info.value.field == "org"


def test_bad_client_headers() -> None:
    with pytest.raises(ValidationError) as info:
        Client(TOKEN, headers={"X-Trace": "1\r\nAuthorization: Bearer other"})
    assert info.value.field == "headers"


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"timeout": "slow"}, "timeout"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": Timeout(total=None, connect=None, stream_idle=None)}, None),
        ({"max_retries": -1}, "max_retries"),
        ({"max_retries": 1.5}, "max_retries"),
        ({"max_retry_wait": -1}, "max_retry_wait"),
        ({"max_connections": -1}, "max_connections"),
        ({"max_connections": True}, "max_connections"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"max_event_bytes": True}, "max_event_bytes"),
        ({"verify_ssl": "no"}, "verify_ssl"),
        ({"session": "not a session"}, "session"),
    ],
)
def test_bad_settings(kwargs: dict[str, Any], name: str | None) -> None:
    if name is None:  # a valid setting, as a control
        Client(TOKEN, **kwargs)
        return
    with pytest.raises(ConfigurationError) as info:
        Client(TOKEN, **kwargs)
    assert name in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [{"connect": 0}, {"total": -1}, {"stream_idle": "x"}, {"total": True}],
)
def test_bad_timeout_values(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        Timeout(**kwargs)
    assert next(iter(kwargs)) in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_retries": -1},
        {"initial_backoff": -0.1},
        {"max_backoff": "x"},
        {"max_retry_wait": True},
    ],
)
def test_bad_retry_policy(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError) as info:
        RetryPolicy(**kwargs)
    assert next(iter(kwargs)) in str(info.value)


def test_ssl_context_is_accepted() -> None:
    Client(TOKEN, verify_ssl=ssl.create_default_context())
