"""End to end against a scripted aiohttp.web server on 127.0.0.1.

The server below is part of this file on purpose: each test scripts what it answers
(status, headers, body bytes, SSE blocks with delays) and it records what it received
and which connections are still open, so connection hygiene is checked from both ends.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from ghmodels_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatCompletionStream,
    Client,
    ClientClosedError,
    GHModelsError,
    GoneError,
    IncompleteStreamError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RedirectError,
    RequestTooLargeError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryEvent,
    RetryPolicy,
    RetryWaitTooLongError,
    ServerError,
    StreamAccumulator,
    StreamConsumedError,
    StreamEventError,
    Timeout,
    UnprocessableEntityError,
)

TOKEN = "ghp_SECRETSECRET"
MODEL = "openai/gpt-4.1"
MESSAGES = [{"role": "user", "content": "hi"}]
CHAT_PATH = "/inference/chat/completions"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# ---------------------------------------------------------------------------
# the scripted loopback server
# ---------------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path_qs: str
    headers: dict[str, str]
    body: bytes


class Server:
    """An aiohttp.web server on 127.0.0.1:0 that runs ``self.handler`` for every request."""

    def __init__(self) -> None:
        self.handler: Handler | None = None
        self.seen: list[Seen] = []
        self.transports: list[asyncio.BaseTransport] = []
        self.got_request = asyncio.Event()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.2, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    async def stop(self) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers), body))
        transport = request.transport
        if transport is not None and not any(t is transport for t in self.transports):
            self.transports.append(transport)
        self.got_request.set()
        assert self.handler is not None, "the test did not script the server"
        return await self.handler(request)

    def open_connections(self) -> int:
        return sum(1 for t in self.transports if not t.is_closing())

    async def wait_all_closed(self, timeout: float = 2.0) -> None:
        deadline = time.monotonic() + timeout
        while self.open_connections():
            assert time.monotonic() < deadline, "the server still has an open connection"
            await asyncio.sleep(0.01)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def other_server() -> AsyncIterator[Server]:
    srv = Server()
    await srv.start()
    yield srv
    await srv.stop()


def make_client(server: Server, **kwargs: Any) -> Client:
    if "retry_policy" not in kwargs:
        kwargs.setdefault("max_retries", 0)
    return Client(TOKEN, base_url=server.url, **kwargs)


def connector_counts(client: Client) -> tuple[int, int]:
    """(connections in use, idle pooled connections) of the client's aiohttp connector."""
    session = client._transport._session
    assert session is not None
    connector = session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    idle = sum(len(conns) for conns in connector._conns.values())
    return len(connector._acquired), idle


# ---------------------------------------------------------------------------
# scripted answers
# ---------------------------------------------------------------------------


def reply(
    body: bytes | Any = b"",
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> Handler:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, body=raw, headers=headers, content_type=content_type)

    return handler


def sequence(*handlers: Handler) -> Handler:
    """Answer the n-th request with the n-th handler (the last one repeats)."""
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        current = handlers[min(calls, len(handlers) - 1)]
        calls += 1
        return await current(request)

    return handler


HANG = object()  # in an SSE script: stop writing and wait until the client goes away


def sse(
    *blocks: bytes | float | object,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Handler:
    """Write the blocks of a text/event-stream answer; a float sleeps, HANG waits forever."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(status=status, headers=headers)
        response.content_type = "text/event-stream"
        await response.prepare(request)
        try:
            for block in blocks:
                if block is HANG:
                    await asyncio.Event().wait()
                elif isinstance(block, float):
                    await asyncio.sleep(block)
                else:
                    assert isinstance(block, bytes)
                    await response.write(block)
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away, as some tests intend
        return response

    return handler


async def hang(request: web.Request) -> web.StreamResponse:
    """Never answer (cancelled when the client disconnects)."""
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def event(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj, ensure_ascii=False).encode() + b"\n\n"


def chunk(
    content: str | None = None,
    *,
    role: str | None = None,
    finish: str | None = None,
    tool_calls: list[dict[str, Any]] | None = None,
    model: str | None = "gpt-4.1",
    index: int = 0,
) -> bytes:
    delta: dict[str, Any] = {"content": content}
    if role is not None:
        delta["role"] = role
    if tool_calls is not None:
        delta["tool_calls"] = tool_calls
    obj: dict[str, Any] = {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}],
        "usage": None,
    }
    if model is not None:
        obj["model"] = model
    return event(obj)


DONE = b"data: [DONE]\n\n"
PROMPT_FILTER = event(
    {
        "choices": [],
        "created": 0,
        "id": "",
        "model": "",
        "object": "",
        "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
    }
)
USAGE = event(
    {
        "id": "chatcmpl-s",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-4.1",
        "choices": [],
        "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13},
    }
)
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "gpt-4.1",
    "choices": [
        {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "pong"}}
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 1, "total_tokens": 6},
    "prompt_filter_results": [],
}
RATE_HEADERS = {
    "x-request-id": "req-123",
    "x-ratelimit-remaining-requests": "9",
    "x-ratelimit-remaining-tokens": "7990",
    "x-ratelimit-type": "UserByModelByMinute",
    "x-ratelimit-timeremaining": "42",
}


async def create(client: Client, **kwargs: Any) -> Any:
    return await client.chat.completions.create(model=MODEL, messages=MESSAGES, **kwargs)


async def stream_of(client: Client, **kwargs: Any) -> ChatCompletionStream:
    return await client.chat.completions.create(
        model=MODEL, messages=MESSAGES, stream=True, **kwargs
    )


# ---------------------------------------------------------------------------
# non-streaming answers
# ---------------------------------------------------------------------------


async def test_completion_end_to_end(server: Server) -> None:
    server.handler = reply(COMPLETION, headers=RATE_HEADERS)
    async with make_client(server) as client:
        completion = await create(client, temperature=0.5)
    assert completion.id == "chatcmpl-1"
    assert completion.model == "gpt-4.1"
    assert completion.choices[0].message.content == "pong"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens == 6
    info = completion.response
    assert info.status == 200
    assert info.request_id == "req-123"
    assert info.rate_limit.remaining_requests == 9
    assert info.rate_limit.remaining_tokens == 7990
    assert info.rate_limit.limit_type == "UserByModelByMinute"
    assert info.rate_limit.time_remaining == 42.0
    [seen] = server.seen
    assert (seen.method, seen.path_qs) == ("POST", CHAT_PATH)
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept"] == "application/vnd.github+json"
    assert seen.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert seen.headers["User-Agent"].startswith("ghmodels-async/")
    assert json.loads(seen.body) == {"model": MODEL, "messages": MESSAGES, "temperature": 0.5}


async def test_github_request_id_header(server: Server) -> None:
    server.handler = reply(COMPLETION, headers={"X-GitHub-Request-Id": "GH:1"})
    async with make_client(server) as client:
        completion = await create(client)
    assert completion.response.request_id == "GH:1"
    assert completion.response.rate_limit.remaining_requests is None


async def test_exact_paths_on_the_wire(server: Server) -> None:
    server.handler = sequence(
        reply(COMPLETION), reply({"data": [], "model": "m"}), reply([{"id": "a/b"}])
    )
    async with make_client(server, org="acme", api_version="2024-05-01-preview") as client:
        await create(client)
        embeddings = await client.embeddings.create(model="m/e", input=["x"], org="other-org")
        models = await client.models.list()
    assert [(s.method, s.path_qs) for s in server.seen] == [
        ("POST", "/orgs/acme/inference/chat/completions?api-version=2024-05-01-preview"),
        ("POST", "/orgs/other-org/inference/embeddings?api-version=2024-05-01-preview"),
        ("GET", "/catalog/models?api-version=2024-05-01-preview"),
    ]
    assert embeddings.response.status == 200
    assert [m.id for m in models] == ["a/b"]
    assert server.seen[2].body == b""


async def test_openai_compatible_prefix(server: Server) -> None:
    server.handler = reply(COMPLETION)
    async with make_client(server, path_prefix="/v1") as client:
        await create(client)
    assert server.seen[0].path_qs == "/v1/chat/completions"


@pytest.mark.parametrize("body", [b"not json", b"<html>bad gateway</html>", b'{"choices": 3}', b""])
async def test_undecodable_success_body(server: Server, body: bytes) -> None:
    server.handler = reply(body)
    async with make_client(server) as client:
        with pytest.raises(ResponseDecodeError) as info:
            await create(client)
    assert "chat completion" in str(info.value)


# ---------------------------------------------------------------------------
# status mapping
# ---------------------------------------------------------------------------

STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: APIStatusError,
    410: GoneError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    500: ServerError,
    502: ServerError,
    503: ServerError,
}
MESSAGES_BY_STATUS = {
    400: ("unknown_model", "Unknown model: openai/gpt-9"),
    401: ("unauthorized", "The `models` permission is required to access this endpoint"),
    403: ("no_access", "No access to model: openai/o3"),
    404: ("unknown_model", "Unknown model"),
    409: ("conflict", "Conflict"),
    410: ("gone", "This endpoint has been retired"),
    413: (
        "tokens_limit_reached",
        "Request body too large for gpt-4o model. Max size: 8000 tokens.",
    ),
    422: ("unsupported_modalities", "Unsupported modalities: audio"),
    429: (
        "RateLimitReached",
        "Rate limit of 10 per 60s exceeded for UserByModelByMinute. Please wait 46 seconds "
        "before retrying.",
    ),
    500: ("internal_error", "Internal server error"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("unavailable", "Service unavailable"),
}


def error_body(shape: str, status: int) -> tuple[bytes, str]:
    code, message = MESSAGES_BY_STATUS[status]
    if shape == "github":
        obj = {"error": {"code": code, "message": message, "details": "see docs"}}
    elif shape == "openai":
        obj = {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": "model",
                "code": code,
            }
        }
    elif shape == "text":
        return f"upstream: {message}".encode(), "text/plain"
    else:
        return b"", "text/plain"
    return json.dumps(obj).encode(), "application/json"


@pytest.mark.parametrize("shape", ["github", "openai", "text", "empty"])
@pytest.mark.parametrize("status", sorted(STATUS_CLASSES))
async def test_status_mapping(server: Server, status: int, shape: str) -> None:
    body, content_type = error_body(shape, status)
    headers = {"x-request-id": f"req-{status}", "x-ms-error-code": "Whatever"}
    server.handler = reply(body, status=status, headers=headers, content_type=content_type)
    async with make_client(server) as client:
        with pytest.raises(APIStatusError) as info:
            await create(client)
    exc = info.value
    assert type(exc) is STATUS_CLASSES[status]
    assert isinstance(exc, GHModelsError)
    assert exc.status_code == status
    assert exc.headers["x-request-id"] == f"req-{status}"
    assert exc.request_id == f"req-{status}"
    assert exc.body == body
    assert str(status) in str(exc)
    code, message = MESSAGES_BY_STATUS[status]
    if shape in ("github", "openai"):
        assert exc.code == code
        assert exc.message.startswith(message)
    elif shape == "text":
        assert exc.code is None
        assert exc.message.startswith(f"upstream: {message}")
    else:
        assert exc.code is None
        assert exc.message.startswith("no error message")
    if shape == "openai":
        assert (exc.param, exc.error_type) == ("model", "invalid_request_error")
    if shape == "github":
        assert exc.details == "see docs"
    if status == 410:
        lowered = exc.message.lower()
        assert "gone" in lowered
        assert "retired" in lowered
        assert "base_url" in exc.message
    assert len(server.seen) == 1


async def test_rate_limit_error_details(server: Server) -> None:
    body, _ = error_body("github", 429)
    headers = {
        "retry-after": "46",
        "x-ratelimit-type": "UserByModelByDay",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": "0",
        "x-ratelimit-timeremaining": "46",
        "x-ms-error-code": "RateLimitReached",
    }
    server.handler = reply(body, status=429, headers=headers)
    async with make_client(server) as client:
        with pytest.raises(RateLimitError) as info:
            await create(client)
    exc = info.value
    assert exc.retry_after == 46.0
    assert exc.rate_limit.limit_type == "UserByModelByDay"
    assert exc.rate_limit.remaining_requests == 0
    assert exc.rate_limit.remaining_tokens == 0
    assert exc.rate_limit.time_remaining == 46.0
    assert exc.rate_limit.retry_after == 46.0
    assert exc.code == "RateLimitReached"


async def test_retry_after_is_added_to_a_429_message_without_one(server: Server) -> None:
    server.handler = reply(
        {"error": {"code": "too_many", "message": "Slow down"}},
        status=429,
        headers={"retry-after": "3"},
    )
    async with make_client(server) as client:
        with pytest.raises(RateLimitError) as info:
            await create(client)
    assert "retry after 3 s" in info.value.message


@pytest.mark.parametrize(
    "body",
    [b'{"message": "top-level message"}', b'{"error": "plain string error"}'],
)
async def test_other_error_body_shapes(server: Server, body: bytes) -> None:
    server.handler = reply(body, status=400)
    async with make_client(server) as client:
        with pytest.raises(BadRequestError) as info:
            await create(client)
    assert info.value.message in ("top-level message", "plain string error")


@pytest.mark.parametrize("status", [401, 404, 410, 429, 503])
async def test_status_mapping_when_streaming(server: Server, status: int) -> None:
    body, content_type = error_body("github", status)
    server.handler = reply(body, status=status, content_type=content_type)
    async with make_client(server) as client:
        with pytest.raises(APIStatusError) as info:
            await stream_of(client)
        assert type(info.value) is STATUS_CLASSES[status]
        assert info.value.code == MESSAGES_BY_STATUS[status][0]
        assert info.value.body == body
        assert connector_counts(client)[0] == 0


# ---------------------------------------------------------------------------
# retries
# ---------------------------------------------------------------------------


async def test_429_then_success_is_retried_and_reported(server: Server) -> None:
    body, _ = error_body("github", 429)
    server.handler = sequence(
        reply(body, status=429, headers={"retry-after": "0"}), reply(COMPLETION)
    )
    events: list[RetryEvent] = []
    async with make_client(server, max_retries=2, on_retry=events.append) as client:
        completion = await create(client)
    assert completion.choices[0].message.content == "pong"
    assert len(server.seen) == 2
    assert server.seen[0].body == server.seen[1].body
    [retry] = events
    assert retry.attempt == 1
    assert retry.delay == 0.0
    assert retry.status_code == 429
    assert retry.url == server.url + CHAT_PATH
    assert "429" in retry.reason


async def test_async_retry_hook_and_retry_after_ms(server: Server) -> None:
    server.handler = sequence(
        reply(b"busy", status=503, headers={"retry-after-ms": "10"}),
        reply(b"busy", status=502, headers={"retry-after-ms": "10"}),
        reply(COMPLETION),
    )
    seen: list[tuple[int, float, int | None]] = []

    async def hook(event: RetryEvent) -> None:
        await asyncio.sleep(0)
        seen.append((event.attempt, event.delay, event.status_code))

    async with make_client(server, max_retries=2, on_retry=hook) as client:
        await create(client)
    assert seen == [(1, 0.01, 503), (2, 0.01, 502)]
    assert len(server.seen) == 3


async def test_retries_exhausted_raise_the_last_error(server: Server) -> None:
    server.handler = reply(b"down", status=503, headers={"retry-after": "0"})
    async with make_client(server, max_retries=2) as client:
        with pytest.raises(ServerError) as info:
            await create(client)
    assert info.value.status_code == 503
    assert len(server.seen) == 3


async def test_backoff_without_server_hint(server: Server) -> None:
    server.handler = sequence(reply(b"x", status=500), reply(COMPLETION))
    events: list[RetryEvent] = []
    policy = RetryPolicy(max_retries=1, initial_backoff=0.05, max_backoff=0.05)
    async with make_client(server, retry_policy=policy, on_retry=events.append) as client:
        await create(client)
    assert len(server.seen) == 2
    assert 0.0 <= events[0].delay <= 0.05


@pytest.mark.parametrize("status", [410, 400, 401, 404, 422])
async def test_final_statuses_are_never_retried(server: Server, status: int) -> None:
    body, _ = error_body("github", status)
    server.handler = reply(body, status=status, headers={"retry-after": "0"})
    events: list[RetryEvent] = []
    async with make_client(server, max_retries=5, on_retry=events.append) as client:
        with pytest.raises(STATUS_CLASSES[status]):
            await create(client)
        with pytest.raises(STATUS_CLASSES[status]):
            await stream_of(client)
    assert len(server.seen) == 2
    assert events == []


async def test_max_retries_zero_disables_retries(server: Server) -> None:
    server.handler = reply(b"{}", status=429, headers={"retry-after": "0"})
    async with make_client(server, max_retries=0) as client:
        with pytest.raises(RateLimitError):
            await create(client)
    assert len(server.seen) == 1


async def test_per_call_max_retries_zero(server: Server) -> None:
    server.handler = reply(b"{}", status=503, headers={"retry-after": "0"})
    async with make_client(server, max_retries=3) as client:
        with pytest.raises(ServerError):
            await create(client, max_retries=0)
        assert len(server.seen) == 1
        with pytest.raises(ServerError):
            await create(client, max_retries=1)
    assert len(server.seen) == 3


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "120"}, 120.0),
        ({"x-ratelimit-timeremaining": "3600", "x-ratelimit-type": "UserByModelByDay"}, 3600.0),
    ],
)
async def test_retry_wait_too_long_is_raised_at_once(
    server: Server, headers: dict[str, str], wait: float
) -> None:
    body, _ = error_body("github", 429)
    server.handler = reply(body, status=429, headers=headers)
    events: list[RetryEvent] = []
    async with make_client(server, max_retries=3, on_retry=events.append) as client:
        started = time.monotonic()
        with pytest.raises(RetryWaitTooLongError) as info:
            await create(client)
        assert time.monotonic() - started < 1.0
    exc = info.value
    assert isinstance(exc, RateLimitError)
    assert exc.wait == wait
    assert exc.status_code == 429
    assert exc.code == "RateLimitReached"
    assert "max_retry_wait" in str(exc)
    assert len(server.seen) == 1
    assert events == []


async def test_streaming_request_is_retried_before_the_first_event(server: Server) -> None:
    server.handler = sequence(
        reply(b"{}", status=429, headers={"retry-after": "0"}),
        sse(),  # a 200 that ends before any event
        sse(chunk("ok", role="assistant"), DONE),
    )
    policy = RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.01)
    async with make_client(server, retry_policy=policy) as client:
        stream = await stream_of(client)
        completion = await stream.collect()
    assert completion.choices[0].message.content == "ok"
    assert len(server.seen) == 3


async def test_connection_failures_are_retried(unused_port: int) -> None:
    events: list[RetryEvent] = []
    policy = RetryPolicy(max_retries=2, initial_backoff=0.01, max_backoff=0.01)
    async with Client(
        TOKEN,
        base_url=f"http://127.0.0.1:{unused_port}",
        retry_policy=policy,
        on_retry=events.append,
    ) as client:
        with pytest.raises(APIConnectionError):
            await create(client)
    assert [(e.attempt, e.status_code) for e in events] == [(1, None), (2, None)]


# ---------------------------------------------------------------------------
# redirects are never followed
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_redirect_is_an_error_and_not_followed(
    server: Server, other_server: Server, status: int
) -> None:
    target = other_server.url + CHAT_PATH
    server.handler = reply(b"", status=status, headers={"Location": target})
    other_server.handler = reply(COMPLETION)
    async with make_client(server, max_retries=3) as client:
        with pytest.raises(RedirectError) as info:
            await create(client)
        assert info.value.status_code == status
        assert info.value.location == target
        with pytest.raises(RedirectError):
            await stream_of(client)
    assert len(server.seen) == 2
    assert other_server.seen == []
    assert TOKEN not in str(info.value)


# ---------------------------------------------------------------------------
# streams
# ---------------------------------------------------------------------------


async def test_stream_with_every_quirk(server: Server) -> None:
    server.handler = sse(
        b": keep-alive\n\n",
        PROMPT_FILTER,  # a leading chunk with empty choices
        chunk("", role="assistant", model=None),  # first chunk without model
        chunk("Hel"),
        chunk(None),  # content null
        chunk("lo"),
        chunk(None, finish="stop"),
        USAGE,  # include_usage: choices [] and usage set
        PROMPT_FILTER,  # an empty-choices chunk at the end too
        DONE,
        headers={"x-request-id": "req-s", "x-ratelimit-remaining-requests": "3"},
    )
    async with make_client(server) as client:
        stream = await stream_of(client, stream_options={"include_usage": True})
        assert stream.response.request_id == "req-s"
        assert stream.response.rate_limit.remaining_requests == 3
        chunks = [c async for c in stream]
        assert stream.finished
        assert connector_counts(client)[0] == 0
    assert len(chunks) == 8
    assert chunks[0].choices == []
    assert chunks[1].model == ""
    assert chunks[2].model == "gpt-4.1"
    assert [c.choices[0].delta.content for c in chunks[1:6]] == ["", "Hel", None, "lo", None]
    assert chunks[5].choices[0].finish_reason == "stop"
    assert chunks[6].choices == []
    assert chunks[7].choices == []
    assert chunks[7].usage is None
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.total_tokens) == (9, 13)
    assert json.loads(server.seen[0].body)["stream_options"] == {"include_usage": True}


async def test_stream_with_crlf_and_comments(server: Server) -> None:
    raw = (
        b": keep-alive\r\n\r\n"
        + chunk("a", role="assistant").replace(b"\n", b"\r\n")
        + b": ping\r\n"
        + chunk("b").replace(b"\n", b"\r\n")
        + DONE.replace(b"\n", b"\r\n")
    )
    server.handler = sse(raw)
    async with make_client(server) as client:
        completion = await (await stream_of(client)).collect()
    assert completion.choices[0].message.content == "ab"


async def test_stream_split_at_every_byte(server: Server) -> None:
    text = "héllo 😀 wörld"
    raw = chunk(text[:4], role="assistant") + chunk(text[4:], finish="stop") + DONE
    blocks: list[bytes | float] = []
    for i in range(len(raw)):
        blocks += [raw[i : i + 1], 0.0005]
    server.handler = sse(*blocks)
    async with make_client(server) as client:
        completion = await (await stream_of(client)).collect()
    assert completion.choices[0].message.content == text
    assert completion.choices[0].finish_reason == "stop"


async def test_stream_split_inside_utf8_characters(server: Server) -> None:
    raw = chunk("é€😀", role="assistant") + DONE
    cut = raw.index("😀".encode()) + 2  # in the middle of the emoji
    mid = raw.index("€".encode()) + 1
    server.handler = sse(raw[:mid], 0.02, raw[mid:cut], 0.02, raw[cut:])
    async with make_client(server) as client:
        completion = await (await stream_of(client)).collect()
    assert completion.choices[0].message.content == "é€😀"


async def test_done_cut_mid_line_is_incomplete(server: Server) -> None:
    # SSE: an event is dispatched by its blank line; one cut mid-line is discarded.
    server.handler = sse(chunk("x", role="assistant") + b"data: [DONE]")
    async with make_client(server) as client:
        stream = await stream_of(client)
        with pytest.raises(IncompleteStreamError):
            await stream.collect()
    assert stream.finished


async def test_stream_without_done_is_incomplete(server: Server) -> None:
    server.handler = sse(chunk("partial", role="assistant"), chunk(" answer"))
    async with make_client(server) as client:
        stream = await stream_of(client)
        received: list[str | None] = []
        with pytest.raises(IncompleteStreamError):
            async for c in stream:
                received.append(c.choices[0].delta.content)
        assert received == ["partial", " answer"]
        # the HTTP answer itself was complete, so its connection may be pooled
        assert connector_counts(client)[0] == 0


async def test_empty_stream_is_incomplete(server: Server) -> None:
    server.handler = sse()
    async with make_client(server) as client:
        with pytest.raises(IncompleteStreamError):
            await stream_of(client)


async def test_malformed_chunk_json(server: Server) -> None:
    server.handler = sse(chunk("ok", role="assistant"), b"data: {not json\n\n", HANG)
    async with make_client(server) as client:
        stream = await stream_of(client)
        with pytest.raises(ResponseDecodeError) as info:
            async for _ in stream:
                pass
        assert "{not json" in str(info.value)
        assert connector_counts(client) == (0, 0)
    await server.wait_all_closed()


async def test_chunk_of_wrong_type(server: Server) -> None:
    server.handler = sse(b'data: {"choices": "no"}\n\n', DONE)
    async with make_client(server) as client:
        stream = await stream_of(client)
        with pytest.raises(ResponseDecodeError):
            await stream.collect()


async def test_error_event_mid_stream(server: Server) -> None:
    server.handler = sse(
        chunk("so far", role="assistant"),
        event({"error": {"code": "content_filter", "message": "The response was filtered"}}),
        HANG,
    )
    async with make_client(server) as client:
        stream = await stream_of(client)
        received = []
        with pytest.raises(StreamEventError) as info:
            async for c in stream:
                received.append(c)
        assert len(received) == 1
        assert info.value.code == "content_filter"
        assert "The response was filtered" in str(info.value)
        assert connector_counts(client) == (0, 0)
    await server.wait_all_closed()


TOOL_STREAM = (
    PROMPT_FILTER,
    chunk(None, role="assistant", model=None),
    chunk("Let me check. "),
    chunk(
        None,
        tool_calls=[
            {
                "index": 0,
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
        ],
    ),
    chunk(None, tool_calls=[{"index": 0, "function": {"arguments": '{"city":'}}]),
    chunk(
        None,
        tool_calls=[
            {
                "index": 1,
                "id": "call_b",
                "type": "function",
                "function": {"name": "get_time", "arguments": "{}"},
            }
        ],
    ),
    chunk(None, tool_calls=[{"index": 0, "function": {"arguments": ' "Paris"}'}}]),
    chunk(None, finish="tool_calls"),
    USAGE,
    DONE,
)


def _check_tool_completion(completion: Any) -> None:
    assert completion.id == "chatcmpl-s"
    assert completion.model == "gpt-4.1"
    [choice] = completion.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.role == "assistant"
    assert choice.message.content == "Let me check. "
    calls = choice.message.tool_calls
    assert [(c.id, c.type, c.function.name) for c in calls] == [
        ("call_a", "function", "get_weather"),
        ("call_b", "function", "get_time"),
    ]
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert calls[1].function.arguments == "{}"
    assert completion.usage.total_tokens == 13


async def test_collect_joins_text_and_tool_calls(server: Server) -> None:
    server.handler = sse(*TOOL_STREAM)
    async with make_client(server) as client:
        stream = await stream_of(client, stream_options={"include_usage": True})
        completion = await stream.collect()
        assert connector_counts(client)[0] == 0
    _check_tool_completion(completion)
    assert stream.usage is not None


async def test_accumulator_fed_while_iterating(server: Server) -> None:
    server.handler = sse(*[block for b in TOOL_STREAM for block in (b, 0.001)])
    accumulator = StreamAccumulator()
    async with make_client(server) as client, await stream_of(client) as stream:
        async for c in stream:
            accumulator.add(c)
    _check_tool_completion(accumulator.completion())


async def test_finished_stream_iterates_no_more(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), DONE)
    async with make_client(server) as client:
        stream = await stream_of(client)
        assert len([c async for c in stream]) == 1
        with pytest.raises(StreamConsumedError):
            [c async for c in stream]
        assert "finished=True" in repr(stream)


# ---------------------------------------------------------------------------
# connection hygiene: early exits leave nothing open
# ---------------------------------------------------------------------------


async def _assert_nothing_open(client: Client, server: Server) -> None:
    assert connector_counts(client) == (0, 0)
    await server.wait_all_closed()


async def test_break_out_of_async_for_closes_the_connection(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), chunk("b"), HANG)
    async with make_client(server) as client:
        stream = await stream_of(client)
        async for _ in stream:
            break
        await _assert_nothing_open(client, server)
        assert stream.finished
        with pytest.raises(StreamConsumedError):
            [c async for c in stream]


async def test_leaving_async_with_closes_the_connection(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), HANG)
    async with make_client(server) as client:
        async with await stream_of(client) as stream:
            first = await stream.__anext__()
            assert first.choices[0].delta.content == "a"
            assert connector_counts(client)[0] == 1
        await _assert_nothing_open(client, server)


async def test_exception_inside_async_with_closes_the_connection(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), HANG)
    async with make_client(server) as client:
        with pytest.raises(KeyError):
            async with await stream_of(client) as stream:
                async for _ in stream:
                    raise KeyError("boom")
        await _assert_nothing_open(client, server)


async def test_abandoned_stream_is_closed_when_collected(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), HANG)
    async with make_client(server) as client:
        stream = await stream_of(client)
        del stream
        gc.collect()
        await _assert_nothing_open(client, server)


async def test_cancel_mid_stream_closes_the_connection(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), HANG)
    got_first = asyncio.Event()

    async def consume(client: Client) -> None:
        async for _ in await stream_of(client):
            got_first.set()

    async with make_client(server) as client:
        task = asyncio.create_task(consume(client))
        await asyncio.wait_for(got_first.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _assert_nothing_open(client, server)


@pytest.mark.parametrize("streaming", [True, False])
async def test_cancel_before_headers_closes_the_connection(server: Server, streaming: bool) -> None:
    server.handler = hang
    async with make_client(server) as client:
        task = asyncio.create_task(stream_of(client) if streaming else create(client))
        await asyncio.wait_for(server.got_request.wait(), 2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _assert_nothing_open(client, server)


async def test_cancel_before_the_first_event_closes_the_connection(server: Server) -> None:
    server.handler = sse(b": waiting\n\n", HANG)
    async with make_client(server) as client:
        task = asyncio.create_task(stream_of(client))
        await asyncio.wait_for(server.got_request.wait(), 2)
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _assert_nothing_open(client, server)


async def test_done_then_a_connection_left_open_by_the_server(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), DONE, HANG)
    async with make_client(server) as client:
        completion = await (await stream_of(client)).collect()
        assert completion.choices[0].message.content == "a"
        await _assert_nothing_open(client, server)


async def test_finished_calls_reuse_one_connection(server: Server) -> None:
    server.handler = sequence(
        reply(COMPLETION), sse(chunk("a", role="assistant"), DONE), reply(COMPLETION)
    )
    async with make_client(server) as client:
        await create(client)
        await (await stream_of(client)).collect()
        await create(client)
        assert connector_counts(client)[0] == 0
    assert len(server.transports) == 1


async def test_300_concurrent_calls_over_one_client(server: Server) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        sent = json.loads(await request.read())
        await asyncio.sleep(0.01)
        answer = {**COMPLETION, "id": sent["messages"][0]["content"]}
        return web.json_response(answer)

    server.handler = handler
    async with make_client(server) as client:
        results = await asyncio.gather(
            *(
                client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": f"q{i}"}]
                )
                for i in range(300)
            )
        )
        assert connector_counts(client)[0] == 0
    assert [r.id for r in results] == [f"q{i}" for i in range(300)]
    assert len(server.seen) == 300
    assert len(server.transports) <= 100  # the default connection limit


# ---------------------------------------------------------------------------
# lifecycle: borrowed sessions, closed clients
# ---------------------------------------------------------------------------


async def test_borrowed_session_is_not_closed(server: Server) -> None:
    server.handler = reply(COMPLETION)
    async with aiohttp.ClientSession() as session:
        async with Client(TOKEN, base_url=server.url, session=session) as client:
            await create(client)
            assert not client._transport.owns_session
        assert client.closed
        assert not session.closed
        async with session.get(server.url + "/still-usable") as response:
            assert response.status == 200
        with pytest.raises(ClientClosedError):
            await create(client)


async def test_calls_after_close_raise(server: Server) -> None:
    server.handler = reply(COMPLETION)
    client = make_client(server)
    await create(client)
    await client.close()
    await client.close()  # twice is fine
    assert client.closed
    with pytest.raises(ClientClosedError):
        await create(client)
    with pytest.raises(ClientClosedError):
        await stream_of(client)
    with pytest.raises(ClientClosedError):
        await client.embeddings.create(model="m/e", input="x")
    with pytest.raises(ClientClosedError):
        await client.models.list()
    with pytest.raises(ClientClosedError):
        async with client:
            pass
    assert len(server.seen) == 1


async def test_closed_before_first_use(server: Server) -> None:
    client = make_client(server)
    await client.close()
    with pytest.raises(ClientClosedError):
        await create(client)
    assert server.seen == []


async def test_close_while_a_call_is_in_flight(server: Server) -> None:
    server.handler = hang
    client = make_client(server)
    task = asyncio.create_task(create(client))
    await asyncio.wait_for(server.got_request.wait(), 2)
    await client.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 2)
    await server.wait_all_closed()


async def test_close_while_a_body_is_being_read(server: Server) -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"id": ')
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    server.handler = stall
    client = make_client(server)
    task = asyncio.create_task(create(client))
    await asyncio.wait_for(server.got_request.wait(), 2)
    await asyncio.sleep(0.05)
    await client.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 2)
    await server.wait_all_closed()


async def test_close_while_a_stream_is_being_read(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), HANG)
    client = make_client(server)
    stream = await stream_of(client)
    got_first = asyncio.Event()

    async def consume() -> None:
        async for _ in stream:
            got_first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), 2)
    await client.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 2)
    await server.wait_all_closed()


async def test_close_while_waiting_to_retry(server: Server) -> None:
    server.handler = reply(b"{}", status=429, headers={"retry-after": "30"})
    client = make_client(server, max_retries=1)
    task = asyncio.create_task(create(client))
    await asyncio.wait_for(server.got_request.wait(), 2)
    await asyncio.sleep(0.05)
    started = time.monotonic()
    await client.close()
    with pytest.raises(ClientClosedError):
        await asyncio.wait_for(task, 2)
    assert time.monotonic() - started < 1.0
    assert len(server.seen) == 1


# ---------------------------------------------------------------------------
# the token stays secret
# ---------------------------------------------------------------------------


async def test_token_never_in_repr_errors_or_logs(
    server: Server, unused_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    errors: list[BaseException] = []
    server.handler = sequence(
        reply(b"{}", status=429, headers={"retry-after": "0"}),
        reply({"error": {"code": "unauthorized", "message": "Bad credentials"}}, status=401),
        reply(b"{}", status=429, headers={"retry-after": "9999"}),
        sse(chunk("a", role="assistant")),
        reply(b"", status=307, headers={"Location": "http://example.invalid/"}),
    )
    async with make_client(server, max_retries=1) as client:
        assert TOKEN not in repr(client)
        assert "redacted" in repr(client)
        for call in (
            lambda: create(client),  # 429 (logged retry) then 401
            lambda: create(client),  # retry wait too long
            lambda: stream_of(client),  # incomplete stream
            lambda: create(client),  # redirect
        ):
            try:
                result = await call()
                if isinstance(result, ChatCompletionStream):
                    await result.collect()
            except GHModelsError as exc:
                errors.append(exc)
    async with Client(TOKEN, base_url=f"http://127.0.0.1:{unused_port}", max_retries=0) as dead:
        with pytest.raises(APIConnectionError) as info:
            await create(dead)
        errors.append(info.value)
    assert [type(e).__name__ for e in errors] == [
        "AuthenticationError",
        "RetryWaitTooLongError",
        "IncompleteStreamError",
        "RedirectError",
        "APIConnectionError",
    ]
    for exc in errors:
        assert TOKEN not in str(exc)
        assert TOKEN not in repr(exc)
        assert TOKEN not in repr(exc.__dict__)
    assert any("retry" in r.getMessage() for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in repr(record.args)


# ---------------------------------------------------------------------------
# transport failures become library errors
# ---------------------------------------------------------------------------


@pytest.fixture
def unused_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _no_aiohttp(exc: BaseException) -> None:
    assert not isinstance(exc, aiohttp.ClientError)
    seen: BaseException | None = exc
    while seen is not None:  # nothing of aiohttp in the reported chain either
        assert not isinstance(seen, aiohttp.ClientError)
        seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)


@pytest.mark.parametrize("streaming", [False, True])
async def test_connection_refused(unused_port: int, streaming: bool) -> None:
    async with Client(TOKEN, base_url=f"http://127.0.0.1:{unused_port}", max_retries=0) as client:
        with pytest.raises(APIConnectionError) as info:
            await (stream_of(client) if streaming else create(client))
    assert type(info.value) is APIConnectionError
    _no_aiohttp(info.value)


async def test_whole_call_timeout(server: Server) -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.json_response(COMPLETION)

    server.handler = slow
    async with make_client(server, timeout=Timeout(total=0.2)) as client:
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            await create(client)
        assert time.monotonic() - started < 2.0
    assert isinstance(info.value, APIConnectionError)
    _no_aiohttp(info.value)


async def test_timeout_while_reading_the_body(server: Server) -> None:
    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "100"})
        await response.prepare(request)
        await response.write(b'{"id": ')
        await asyncio.sleep(5)
        return response

    server.handler = stall
    async with make_client(server, max_retries=2, timeout=0.2) as client:
        with pytest.raises(APITimeoutError) as info:
            await create(client)
    assert info.value.retryable is False  # the answer had started: not retried
    assert len(server.seen) == 1
    _no_aiohttp(info.value)


async def test_stream_idle_timeout(server: Server) -> None:
    server.handler = sse(chunk("a", role="assistant"), HANG)
    async with make_client(server, timeout=Timeout(stream_idle=0.2)) as client:
        stream = await stream_of(client)
        started = time.monotonic()
        with pytest.raises(APITimeoutError) as info:
            async for _ in stream:
                pass
        assert time.monotonic() - started < 2.0
        _no_aiohttp(info.value)
        await _assert_nothing_open(client, server)


async def test_stream_idle_timeout_before_the_first_event(server: Server) -> None:
    server.handler = sse(HANG)
    async with make_client(server, timeout=Timeout(stream_idle=0.2)) as client:
        with pytest.raises(APITimeoutError):
            await stream_of(client)
        await _assert_nothing_open(client, server)


async def test_a_long_but_lively_stream_is_not_cut(server: Server) -> None:
    blocks: list[bytes | float] = [chunk("", role="assistant")]
    for _ in range(6):
        blocks += [0.05, chunk("x")]
    server.handler = sse(*blocks, DONE)
    async with make_client(server, timeout=Timeout(total=0.1, stream_idle=0.2)) as client:
        completion = await (await stream_of(client)).collect()
    assert completion.choices[0].message.content == "xxxxxx"


async def test_server_drops_the_connection_mid_body(server: Server) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Length": "1000"})
        await response.prepare(request)
        await response.write(b'{"id": "x", ')
        assert request.transport is not None
        request.transport.close()
        return response

    server.handler = drop
    async with make_client(server) as client:
        with pytest.raises(APIConnectionError) as info:
            await create(client)
    _no_aiohttp(info.value)


async def test_server_closes_without_answering(server: Server) -> None:
    async def close(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(0.1)
        return web.Response()

    server.handler = close
    async with make_client(server) as client:
        with pytest.raises(APIConnectionError) as info:
            await create(client)
    _no_aiohttp(info.value)


async def test_server_drops_the_connection_mid_stream(server: Server) -> None:
    async def drop(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "text/event-stream"
        await response.prepare(request)
        await response.write(chunk("a", role="assistant"))
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.close()
        return response

    server.handler = drop
    async with make_client(server) as client:
        stream = await stream_of(client)
        with pytest.raises(IncompleteStreamError) as info:
            async for _ in stream:
                pass
        _no_aiohttp(info.value)
        assert connector_counts(client) == (0, 0)


# ---------------------------------------------------------------------------
# size limits
# ---------------------------------------------------------------------------


async def test_body_over_max_response_bytes_with_length(server: Server) -> None:
    server.handler = reply({**COMPLETION, "padding": "x" * 5000})
    async with make_client(server, max_response_bytes=1000) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            await create(client)
    assert "1000" in str(info.value)


async def test_chunked_body_over_max_response_bytes(server: Server) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        try:
            for _ in range(50):
                await response.write(b" " * 200)
                await asyncio.sleep(0.001)
            await response.write(json.dumps(COMPLETION).encode())
            await response.write_eof()
        except ConnectionError:
            pass
        return response

    server.handler = chunked
    async with make_client(server, max_response_bytes=1000) as client:
        with pytest.raises(ResponseTooLargeError):
            await create(client)
        await _assert_nothing_open(client, server)


async def test_body_within_max_response_bytes(server: Server) -> None:
    server.handler = reply(COMPLETION)
    async with make_client(server, max_response_bytes=len(json.dumps(COMPLETION))) as client:
        await create(client)


async def test_error_body_over_max_response_bytes(server: Server) -> None:
    server.handler = reply(b"e" * 5000, status=500)
    async with make_client(server, max_response_bytes=1000) as client:
        with pytest.raises(ResponseTooLargeError):
            await create(client)
        with pytest.raises(ResponseTooLargeError):
            await stream_of(client)


@pytest.mark.parametrize("split", [False, True])
async def test_sse_event_over_max_event_bytes(server: Server, split: bool) -> None:
    big = chunk("x" * 5000)
    blocks: list[bytes | float | object] = [chunk("a", role="assistant")]
    if split:
        for i in range(0, len(big), 500):
            blocks += [big[i : i + 500], 0.001]
    else:
        blocks.append(big)
    server.handler = sse(*blocks, DONE, HANG)
    async with make_client(server, max_event_bytes=1024) as client:
        with pytest.raises(ResponseTooLargeError) as info:
            # raised by create() if the big event came in the first read, else while iterating
            async for _ in await stream_of(client):
                pass
        assert "max_event_bytes=1024" in str(info.value)
        await _assert_nothing_open(client, server)


async def test_events_within_max_event_bytes(server: Server) -> None:
    server.handler = sse(*[chunk("y" * 100) for _ in range(50)], DONE)
    async with make_client(server, max_event_bytes=1024) as client:
        completion = await (await stream_of(client)).collect()
    assert completion.choices[0].message.content == "y" * 5000
