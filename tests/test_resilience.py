"""Resilience against the real FakeServer on 127.0.0.1: retries, timeouts, rate-limit
facts, cancellation and close hygiene, and the security promises of docs/errors.md.

Every error a test provokes goes through :func:`raises`, which also checks that the
token appears nowhere in the error (str, repr, args, chain). An autouse fixture checks
that no log record of any test, captured at DEBUG, contains the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import shutil
import socket
import ssl
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from conftest import RetrySleeps, connector_counts, eventually

from ghmodels_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatCompletionStream,
    Client,
    ClientClosedError,
    ConfigurationError,
    GHModelsError,
    GoneError,
    IncompleteStreamError,
    RateLimitError,
    RedirectError,
    RequestTooLargeError,
    ResponseTooLargeError,
    RetryEvent,
    RetryPolicy,
    RetryWaitTooLongError,
    ServerError,
    Timeout,
    UnprocessableEntityError,
)
from ghmodels_async._info import parse_retry_after
from ghmodels_async._retry import is_retryable_status, next_delay
from ghmodels_async.testing import FakeServer, RateLimitTable, TierLimit

TOKEN = "ghp_RECOGNISABLE_TOKEN_123"
MODEL = "openai/gpt-4.1"  # tier "high"


def msgs(text: str = "hello there") -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def echo(text: str = "hello there") -> str:
    """The fake's deterministic answer to a single user message."""
    return f"Echo: {text}"


# ---------------------------------------------------------------------------
# helpers: token hygiene, hooks, connection and task accounting
# ---------------------------------------------------------------------------


def assert_no_token(exc: BaseException) -> None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts = [str(current), repr(current), *map(repr, current.args)]
        if isinstance(current, APIStatusError):
            texts += [current.message, repr(dict(current.headers)), repr(current.body)]
        if isinstance(current, RedirectError):
            texts.append(repr(current.location))
        for text in texts:
            assert TOKEN not in text, f"the token leaked into {type(current).__name__}: {text}"
        current = current.__cause__ or current.__context__
    formatted = "".join(traceback.format_exception(exc))
    assert TOKEN not in formatted


@contextlib.contextmanager
def raises(
    exc_type: type[BaseException], match: str | None = None
) -> Iterator[pytest.ExceptionInfo[Any]]:
    """pytest.raises that also checks the error does not carry the token."""
    with pytest.raises(exc_type, match=match) as info:
        yield info
    assert_no_token(info.value)


@pytest.fixture(autouse=True)
def _no_token_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG)
    yield
    for when in ("setup", "call"):
        for record in caplog.get_records(when):
            text = record.getMessage() + (record.exc_text or "")
            if record.exc_info and record.exc_info[1] is not None:
                text += "".join(traceback.format_exception(record.exc_info[1]))
            assert TOKEN not in text, f"the token leaked into a log record: {text}"


class Hook:
    """A sync on_retry hook that records events and when they happened."""

    def __init__(self) -> None:
        self.events: list[RetryEvent] = []
        self.times: list[float] = []
        self.called = asyncio.Event()

    def __call__(self, event: RetryEvent) -> None:
        self.events.append(event)
        self.times.append(time.monotonic())
        self.called.set()


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer() as srv:
        yield srv


def make_client(server: FakeServer | str, **kwargs: Any) -> Client:
    """A client of ``server`` (retry waits are recorded, not slept: see conftest)."""
    kwargs.setdefault("max_retry_wait", 5.0)
    url = server if isinstance(server, str) else server.url
    return Client(TOKEN, base_url=url, **kwargs)


def chat_requests(server: FakeServer) -> int:
    return sum(1 for r in server.requests if r.path.endswith("/chat/completions"))


def server_connections(server: FakeServer) -> int:
    runner = server._runner
    assert runner is not None and runner.server is not None
    return len(runner.server.connections)


def _is_server_task(task: asyncio.Task[Any]) -> bool:
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", "")
    module = getattr(getattr(coro, "cr_code", None), "co_filename", "")
    return "RequestHandler" in name or "web_protocol" in module


def client_tasks(before: set[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Pending tasks created since ``before`` that do not belong to the fake server."""
    return [
        task
        for task in asyncio.all_tasks()
        if task not in before and not task.done() and not _is_server_task(task)
    ]


async def assert_clean(client: Client, server: FakeServer, before: set[asyncio.Task[Any]]) -> None:
    """No connection in use or pooled on the client, none open on the server, no new task."""
    assert connector_counts(client) == (0, 0)
    await eventually(lambda: server_connections(server) == 0)
    await asyncio.sleep(0)
    assert client_tasks(before) == []


# ---------------------------------------------------------------------------
# 1. retries
# ---------------------------------------------------------------------------


async def test_429_retry_after_is_honoured(
    server: FakeServer, retry_sleeps: RetrySleeps
) -> None:
    hook = Hook()
    answered: list[list[float]] = []

    def answer(body: dict[str, Any]) -> str:
        answered.append(list(retry_sleeps.waits))
        return "after the wait"

    server.script(answer)
    server.inject("rate_limit;wait=0.15;limit_type=UserByModelByDay")
    async with make_client(server, on_retry=hook) as client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
    assert result.choices[0].message.content == "after the wait"
    assert chat_requests(server) == 2
    [event] = hook.events
    assert event.attempt == 1
    assert event.delay == pytest.approx(0.15)
    assert event.status_code == 429
    assert event.url == f"{server.url}/inference/chat/completions"
    assert "Rate limit" in event.reason and "UserByModelByDay" in event.reason
    # The retry reached the server only after the asked wait was slept.
    assert answered == [[pytest.approx(0.15)]]


async def test_retry_after_from_emulated_rate_limit_table() -> None:
    table = RateLimitTable(window=0.3, exact_retry_after=True).scaled(
        high=TierLimit(requests=1, concurrent=5)
    )
    hook = Hook()
    async with FakeServer(rate_limits=table) as server, make_client(
        server, on_retry=hook, max_retries=4
    ) as client:
        client._sleep = asyncio.sleep  # type: ignore[method-assign]  # the server's clock runs
        first = await client.chat.completions.create(model=MODEL, messages=msgs("one"))
        started = time.monotonic()
        second = await client.chat.completions.create(model=MODEL, messages=msgs("two"))
        elapsed = time.monotonic() - started
    assert first.choices[0].message.content == echo("one")
    assert second.choices[0].message.content == echo("two")
    assert hook.events, "the second call within the window must have been rate limited"
    first_event = hook.events[0]
    assert first_event.status_code == 429
    assert 0.0 < first_event.delay <= 0.3
    assert elapsed >= first_event.delay
    # every wait was the server's (a retry-after: the window's rest), not a jitter backoff
    assert sum(e.delay for e in hook.events) >= 0.2


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("internal_error", 500),
        ("bad_gateway", 502),
        ("service_unavailable", 503),
        ("error;status=504", 504),
        ("error;status=408", 408),
        ("rate_limit;wait=0.05", 429),
        ("drop", None),
    ],
)
async def test_transient_failures_are_retried_then_succeed(
    server: FakeServer, fault: str, status: int | None
) -> None:
    hook = Hook()
    rule = server.inject(fault)
    async with make_client(server, on_retry=hook) as client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
        assert connector_counts(client)[0] == 0
    assert result.choices[0].message.content == echo()
    assert rule.hits == 1
    assert chat_requests(server) == 2
    assert [e.status_code for e in hook.events] == [status]
    assert [e.attempt for e in hook.events] == [1]


async def test_retries_stop_after_max_retries_and_raise_the_last_error(server: FakeServer) -> None:
    hook = Hook()
    server.inject("service_unavailable", times=None)
    async with make_client(server, on_retry=hook) as client:
        with raises(ServerError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
    assert info.value.status_code == 503
    assert info.value.code == "service_unavailable"
    assert chat_requests(server) == 3  # 1 + max_retries=2
    assert [e.attempt for e in hook.events] == [1, 2]


@pytest.mark.parametrize(
    ("fault", "error", "status"),
    [
        ("gone", GoneError, 410),
        ("openai_error", BadRequestError, 400),
        ("tokens_limit", RequestTooLargeError, 413),
        ("error;status=422", UnprocessableEntityError, 422),
        ("error;status=403", APIStatusError, 403),
        ("error;status=404", APIStatusError, 404),
    ],
)
async def test_final_statuses_are_never_retried(
    server: FakeServer, fault: str, error: type[APIStatusError], status: int
) -> None:
    hook = Hook()
    server.inject(fault, times=None)
    async with make_client(server, on_retry=hook, max_retries=5) as client:
        with raises(error) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
        with raises(error):
            stream = await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
            await stream.collect()
    assert info.value.status_code == status
    assert chat_requests(server) == 2  # one per call
    assert hook.events == []
    assert not is_retryable_status(status)


async def test_401_is_never_retried() -> None:
    hook = Hook()
    async with (
        FakeServer(token="some-other-token") as server,
        make_client(server, on_retry=hook) as client,
    ):
        with raises(AuthenticationError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
    assert info.value.status_code == 401
    assert len(server.requests) == 1
    assert hook.events == []


async def test_max_retries_per_client_and_per_call(server: FakeServer) -> None:
    server.inject("internal_error", times=None)
    async with make_client(server, max_retries=3) as client:
        with raises(ServerError):
            await client.chat.completions.create(model=MODEL, messages=msgs())
        assert chat_requests(server) == 4
        server.clear()
        with raises(ServerError):
            await client.chat.completions.create(model=MODEL, messages=msgs(), max_retries=1)
        assert chat_requests(server) == 2
        server.clear()
        with raises(ServerError):
            await client.chat.completions.create(model=MODEL, messages=msgs(), max_retries=0)
        assert chat_requests(server) == 1
        server.clear()
        with raises(ServerError):
            await client.embeddings.create(
                model="openai/text-embedding-3-small", input="x", max_retries=0
            )
        assert len(server.requests) == 1


async def test_max_retries_zero_on_the_client_disables_retries(server: FakeServer) -> None:
    hook = Hook()
    server.inject("rate_limit;wait=0.01", times=None)
    async with Client(TOKEN, base_url=server.url, max_retries=0, on_retry=hook) as client:
        with raises(RateLimitError):
            await client.chat.completions.create(model=MODEL, messages=msgs())
        with raises(RateLimitError):
            await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        # ... and a per-call value re-enables them
        server.faults.clear()
        server.inject("rate_limit;wait=0.01")
        result = await client.chat.completions.create(model=MODEL, messages=msgs(), max_retries=1)
    assert result.choices[0].message.content == echo()
    assert chat_requests(server) == 4
    assert len(hook.events) == 1


async def test_retry_wait_too_long_is_raised_at_once(
    server: FakeServer, retry_sleeps: RetrySleeps
) -> None:
    hook = Hook()
    server.inject("rate_limit;wait=46", times=None)
    async with Client(TOKEN, base_url=server.url, max_retry_wait=1.0, on_retry=hook) as client:
        with raises(RetryWaitTooLongError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
        with raises(RetryWaitTooLongError) as stream_info:
            await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
    assert retry_sleeps.waits == []  # nothing slept
    for err in (info.value, stream_info.value):
        assert isinstance(err, RateLimitError)
        assert err.wait == 46.0
        assert err.retry_after == 46.0
        assert err.status_code == 429
        assert err.code == "RateLimitReached"
        assert "46" in str(err) and "max_retry_wait=1" in str(err)
    assert chat_requests(server) == 2
    assert hook.events == []


async def test_503_retry_after_is_honoured_or_raised_at_once(
    server: FakeServer, retry_sleeps: RetrySleeps
) -> None:
    hook = Hook()
    server.inject("service_unavailable;wait=0.1")
    async with make_client(server, on_retry=hook, max_retry_wait=1.0) as client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
        assert result.choices[0].message.content == echo()
        assert [(e.status_code, e.delay) for e in hook.events] == [(503, pytest.approx(0.1))]
        server.inject("service_unavailable;wait=120", times=None)
        with raises(ServerError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
        assert retry_sleeps.waits == [pytest.approx(0.1)]  # the 120 s was not slept
    # a 503 stays a ServerError (RetryWaitTooLongError is a RateLimitError)
    assert not isinstance(info.value, RateLimitError)
    assert info.value.status_code == 503
    assert info.value.retry_after == 120.0
    assert len(hook.events) == 1
    assert chat_requests(server) == 3


async def test_non_streaming_body_cut_after_headers_is_not_retried(server: FakeServer) -> None:
    hook = Hook()
    server.inject("stream_cut", times=None)
    async with make_client(server, on_retry=hook) as client:
        with raises(APIConnectionError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
        assert connector_counts(client) == (0, 0)
    assert info.value.retryable is False
    assert not isinstance(info.value, APITimeoutError)
    assert chat_requests(server) == 1
    assert hook.events == []


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("service_unavailable", 503),
        ("rate_limit;wait=0.05", 429),
        ("drop", None),
        ("stream_cut;after=0", None),
        ("stream_end_early;after=0", None),
    ],
)
async def test_stream_is_retried_before_its_first_event(
    server: FakeServer, fault: str, status: int | None
) -> None:
    hook = Hook()
    server.inject(fault)
    async with make_client(server, on_retry=hook) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        completion = await stream.collect()
        assert connector_counts(client)[0] == 0
    assert completion.choices[0].message.content == echo()
    assert chat_requests(server) == 2
    assert [e.status_code for e in hook.events] == [status]


@pytest.mark.parametrize("fault", ["stream_cut;after=3", "stream_end_early;after=3"])
async def test_stream_cut_after_events_reaches_the_caller(server: FakeServer, fault: str) -> None:
    hook = Hook()
    server.inject(fault, times=None)
    text = "one two three four five six seven eight nine ten eleven twelve"
    async with make_client(server, on_retry=hook) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=msgs(text), stream=True)
        received: list[str] = []
        with raises(IncompleteStreamError):
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
        assert stream.finished
        assert connector_counts(client)[0] == 0
    # the role chunk, then two content chunks of three words each, then the cut
    assert "".join(received) == "Echo: one two three four five "
    assert chat_requests(server) == 1
    assert hook.events == []


async def test_each_retry_logs_one_info_line(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.inject("rate_limit;wait=0.02")

    def hook(event: RetryEvent) -> None:
        if event.attempt == 1:  # faults of one request combine: arm the next one now
            server.inject("internal_error")

    caplog.set_level(logging.INFO, logger="ghmodels_async")
    async with make_client(server, on_retry=hook) as client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
    assert result.choices[0].message.content == echo()
    assert chat_requests(server) == 3
    records = [r for r in caplog.records if r.name == "ghmodels_async"]
    assert [r.levelno for r in records] == [logging.INFO, logging.INFO]
    first, second = (r.getMessage() for r in records)
    assert first.startswith("retry 1/2 in 0.02 s: ")
    assert "HTTP 429 RateLimitReached" in first
    assert second.startswith("retry 2/2 in ")
    assert "HTTP 500 internal_error" in second


async def test_async_on_retry_hook_is_awaited(server: FakeServer) -> None:
    events: list[RetryEvent] = []
    finished: list[bool] = []

    async def hook(event: RetryEvent) -> None:
        await asyncio.sleep(0.01)
        events.append(event)
        if event.attempt == 1:
            server.inject("drop")  # for the next attempt
        finished.append(True)

    server.inject("bad_gateway")
    async with make_client(server, on_retry=hook) as client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
    assert result.choices[0].message.content == echo()
    assert [(e.attempt, e.status_code) for e in events] == [(1, 502), (2, None)]
    assert finished == [True, True]
    assert "Bad Gateway" in events[0].reason


async def test_retry_after_ms_end_to_end(
    other_app: OtherServer, retry_sleeps: RetrySleeps
) -> None:
    """retry-after-ms (which the fake never sends) wins over retry-after."""
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return web.json_response(
                {"error": {"code": "RateLimitReached", "message": "slow down"}},
                status=429,
                headers={"retry-after-ms": "120", "retry-after": "30"},
            )
        return web.json_response(COMPLETION)

    other_app.handler = handler
    hook = Hook()
    async with make_client(other_app.url, on_retry=hook) as client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
    assert result.choices[0].message.content == "ok"
    assert [e.delay for e in hook.events] == [pytest.approx(0.12)]
    assert retry_sleeps.waits == [pytest.approx(0.12)]


# -- pure: retry-after parsing and backoff -----------------------------------


def test_parse_retry_after_forms() -> None:
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "7"}) == 7.0
    assert parse_retry_after({"retry-after": "0.5"}) == 0.5
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after({"retry-after": past}, now=now) == 0.0
    assert parse_retry_after({"x-ratelimit-timeremaining": "12"}) == 12.0
    assert parse_retry_after({"retry-after": "3", "x-ratelimit-timeremaining": "12"}) == 3.0
    # unusable values fall through to the next source, or to None
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after": "-5"}) is None
    assert parse_retry_after({"retry-after": "nan"}) is None
    assert parse_retry_after({"retry-after": "garbage"}) is None
    assert parse_retry_after({}) is None


def test_next_delay_prefers_the_server_hint() -> None:
    policy = RetryPolicy()
    assert next_delay(0, policy, {"retry-after-ms": "1500"}) == (1.5, True)
    assert next_delay(3, policy, {"retry-after": "100"}) == (100.0, True)
    date = email.utils.formatdate(time.time() + 20, usegmt=True)
    delay, asked = next_delay(0, policy, {"retry-after": date})
    assert asked and 18.0 <= delay <= 20.0


def test_backoff_is_full_jitter_and_capped() -> None:
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=8.0)
    top = [next_delay(n, policy, {}, rand=lambda: 1.0)[0] for n in range(8)]
    assert top == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    assert [next_delay(n, policy, None, rand=lambda: 0.0)[0] for n in range(4)] == [0.0] * 4
    assert next_delay(2, policy, None, rand=lambda: 0.25) == (0.5, False)
    assert next_delay(10, policy, None, rand=lambda: 0.5) == (4.0, False)
    # with the real random source every wait stays within [0, ceiling]
    for attempt in range(6):
        ceiling = min(8.0, 0.5 * 2**attempt)
        for _ in range(200):
            delay, asked = next_delay(attempt, policy)
            assert not asked and 0.0 <= delay <= ceiling


# ---------------------------------------------------------------------------
# 2. timeouts
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def unaccepting_port() -> Iterator[int]:
    """A port whose listen backlog is full, so new connects hang in SYN_SENT."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            filler = socket.socket()
            filler.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                filler.connect(("127.0.0.1", port))
            fillers.append(filler)
        yield port
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def _syn_dropped_when_backlog_full() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return Path("/proc/sys/net/ipv4/tcp_abort_on_overflow").read_text().strip() == "0"
    except OSError:
        return True  # the Linux default


@pytest.mark.skipif(
    not _syn_dropped_when_backlog_full(),
    reason="needs Linux dropping SYNs when the accept backlog is full",
)
async def test_connect_timeout_is_an_api_timeout_and_retried() -> None:
    hook = Hook()
    with unaccepting_port() as port:
        timeout = Timeout(connect=0.2, total=10.0, stream_idle=10.0)
        async with make_client(
            f"http://127.0.0.1:{port}", timeout=timeout, max_retries=1, on_retry=hook
        ) as client:
            for stream in (False, True):
                started = time.monotonic()
                with raises(APITimeoutError) as info:
                    await client.chat.completions.create(
                        model=MODEL, messages=msgs(), stream=stream
                    )
                elapsed = time.monotonic() - started
                # two attempts of ~0.2 s each; a total/idle timeout would take 10 s
                assert 0.4 <= elapsed < 2.0
                assert not isinstance(info.value, asyncio.TimeoutError)
                assert info.value.retryable
            assert connector_counts(client)[0] == 0
    assert [e.status_code for e in hook.events] == [None, None]


async def test_whole_call_timeout_is_an_api_timeout(server: FakeServer) -> None:
    hook = Hook()
    server.inject("delay_headers;delay=2", times=None)
    async with make_client(server, timeout=Timeout(total=0.2), on_retry=hook) as client:
        started = time.monotonic()
        with raises(APITimeoutError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs(), max_retries=0)
        elapsed = time.monotonic() - started
        assert connector_counts(client) == (0, 0)
    assert 0.2 <= elapsed < 1.0
    assert not isinstance(info.value, asyncio.TimeoutError)
    assert isinstance(info.value, APIConnectionError)
    assert chat_requests(server) == 1


async def test_whole_call_timeout_while_reading_the_body(server: FakeServer) -> None:
    # headers arrive at once, the body trickles in slices for far longer than `total`
    server.inject("split_chunks;size=4;delay=0.05", times=None)
    async with make_client(server, timeout=Timeout(total=0.3)) as client:
        started = time.monotonic()
        with raises(APITimeoutError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
        elapsed = time.monotonic() - started
        assert connector_counts(client) == (0, 0)
    assert elapsed < 1.0
    assert info.value.retryable is False
    assert chat_requests(server) == 1  # after the status line: not retried


async def test_stream_idle_timeout_mid_stream(server: FakeServer) -> None:
    server.inject("chunk_delay;delay=1.0", times=None)
    timeout = Timeout(total=30.0, stream_idle=0.2)
    async with make_client(server, timeout=timeout) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        first = await stream.__anext__()  # the first event is sent without delay
        assert first.choices[0].delta.role == "assistant"
        started = time.monotonic()
        with raises(APITimeoutError, match="stream_idle"):
            await stream.__anext__()
        elapsed = time.monotonic() - started
        assert connector_counts(client)[0] == 0
    # the idle clock started when the first event arrived, a little before `started`;
    # without the idle timeout the next event would only come after 1 s
    assert 0.1 <= elapsed < 0.8
    assert chat_requests(server) == 1  # after the first event: not retried


async def test_long_stream_with_small_gaps_is_not_cut(server: FakeServer) -> None:
    words = " ".join(f"w{n}" for n in range(45))  # ~17 events, 0.05 s apart
    server.inject("chunk_delay;delay=0.05", times=None)
    timeout = Timeout(connect=1.0, total=0.3, stream_idle=0.3)
    async with make_client(server, timeout=timeout) as client:
        started = time.monotonic()
        stream = await client.chat.completions.create(
            model=MODEL, messages=msgs(words), stream=True
        )
        completion = await stream.collect()
        elapsed = time.monotonic() - started
    assert completion.choices[0].message.content == echo(words)
    assert elapsed > 0.6  # well over both total and stream_idle
    assert chat_requests(server) == 1


async def test_per_call_timeout_overrides_the_client_timeout(server: FakeServer) -> None:
    headers = {"x-fake-fault": "delay_headers;delay=0.4"}
    async with make_client(server, timeout=Timeout(total=0.15), max_retries=0) as client:
        with raises(APITimeoutError):
            await client.chat.completions.create(
                model=MODEL, messages=msgs(), extra_headers=headers, max_retries=0
            )
        result = await client.chat.completions.create(
            model=MODEL, messages=msgs(), extra_headers=headers, timeout=5.0
        )
        assert result.choices[0].message.content == echo()
        stream = await client.chat.completions.create(
            model=MODEL, messages=msgs(), extra_headers=headers, stream=True, timeout=5.0
        )
        assert (await stream.collect()).choices[0].message.content == echo()
    async with make_client(server, timeout=30.0) as client:
        # the headers come after 0.4 s: only the per-call 0.1 s can make this a timeout
        with raises(APITimeoutError):
            await client.chat.completions.create(
                model=MODEL, messages=msgs(), extra_headers=headers, timeout=0.1, max_retries=0
            )


# ---------------------------------------------------------------------------
# 3. rate-limit and request-id facts
# ---------------------------------------------------------------------------


async def test_response_info_on_completions_and_streams() -> None:
    limit = TierLimit(requests=5, concurrent=5, tokens=1000)
    table = RateLimitTable(window=60.0).scaled(high=limit)
    async with FakeServer(rate_limits=table) as server, make_client(server) as client:
        first = await client.chat.completions.create(model=MODEL, messages=msgs("a b c"))
        second = await client.chat.completions.create(model=MODEL, messages=msgs("d e"))
        stream = await client.chat.completions.create(model=MODEL, messages=msgs("f"), stream=True)
        await stream.collect()
    infos = [first.response, second.response, stream.response]
    assert all(info is not None for info in infos)
    ids = [info.request_id for info in infos if info is not None]
    assert len(set(ids)) == 3
    for request_id in ids:
        assert request_id is not None and str(uuid.UUID(request_id)) == request_id
    assert first.response is not None and second.response is not None
    assert first.response.status == 200
    assert first.response.headers["x-request-id"] == ids[0]
    assert first.response.rate_limit.remaining_requests == 4
    assert second.response.rate_limit.remaining_requests == 3
    assert stream.response.rate_limit.remaining_requests == 2
    assert first.usage is not None and second.usage is not None
    assert first.response.rate_limit.remaining_tokens == 1000
    used = first.usage.total_tokens
    assert second.response.rate_limit.remaining_tokens == 1000 - used
    assert stream.response.rate_limit.remaining_tokens == 1000 - used - second.usage.total_tokens
    assert first.response.rate_limit.retry_after is None
    assert first.response.rate_limit.limit_type is None
    assert stream.response.status == 200


async def test_rate_limit_error_fields(server: FakeServer) -> None:
    server.inject("rate_limit;wait=7;limit_type=UserByModelByDay")
    async with make_client(server, max_retries=0) as client:
        with raises(RateLimitError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs(), max_retries=0)
    err = info.value
    assert type(err) is RateLimitError
    assert err.status_code == 429
    assert err.code == "RateLimitReached"
    assert err.retry_after == 7.0
    assert err.rate_limit.limit_type == "UserByModelByDay"
    assert err.rate_limit.remaining_requests == 0
    assert err.rate_limit.time_remaining == 7.0
    assert err.rate_limit.retry_after == 7.0
    assert err.request_id is not None and uuid.UUID(err.request_id)
    assert "Please wait 7 seconds" in err.message


async def test_emulated_window_and_concurrency_429s() -> None:
    table = RateLimitTable(window=60.0).scaled(high=TierLimit(requests=2, concurrent=1))
    async with (
        FakeServer(rate_limits=table) as server,
        make_client(server, max_retries=0) as client,
    ):
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=msgs("a b c d e f g h i j"),
            stream=True,
            extra_headers={"x-fake-fault": "chunk_delay;delay=0.1"},
        )
        # the stream still being sent holds the only concurrent slot
        with raises(RateLimitError) as busy:
            await client.chat.completions.create(model=MODEL, messages=msgs())
        await stream.collect()
        ok = await client.chat.completions.create(model=MODEL, messages=msgs())
        assert ok.response is not None
        assert ok.response.rate_limit.remaining_requests == 0
        with raises(RateLimitError) as window:
            await client.chat.completions.create(model=MODEL, messages=msgs())
    assert busy.value.rate_limit.limit_type == "UserConcurrentRequests"
    assert busy.value.retry_after == 1.0
    assert window.value.rate_limit.limit_type == "UserByModelByMinute"
    assert window.value.rate_limit.remaining_requests == 0
    retry_after = window.value.retry_after
    assert retry_after is not None and 59.0 <= retry_after <= 60.0


# ---------------------------------------------------------------------------
# 4. cancellation and close
# ---------------------------------------------------------------------------


async def _cancel_after(awaitable: Awaitable[Any], ready: Callable[[], Awaitable[None]]) -> None:
    task = asyncio.ensure_future(awaitable)
    await ready()
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_cancel_before_headers_leaves_nothing_open(server: FakeServer) -> None:
    before = asyncio.all_tasks()
    server.inject("delay_headers;delay=0.6", times=None)
    async with make_client(server) as client:
        for stream in (False, True):
            count = len(server.requests)

            async def arrived(count: int = count) -> None:
                await eventually(lambda: len(server.requests) > count)
                await asyncio.sleep(0.05)

            await _cancel_after(
                client.chat.completions.create(model=MODEL, messages=msgs(), stream=stream),
                arrived,
            )
            await assert_clean(client, server, before)
    assert chat_requests(server) == 2


async def test_cancel_mid_body_leaves_nothing_open(server: FakeServer) -> None:
    before = asyncio.all_tasks()
    server.inject("split_chunks;size=4;delay=0.03", times=None)
    async with make_client(server) as client:

        async def body_started() -> None:
            await eventually(lambda: len(server.requests) == 1)
            await asyncio.sleep(0.2)

        await _cancel_after(
            client.chat.completions.create(model=MODEL, messages=msgs()), body_started
        )
        await assert_clean(client, server, before)
        # the client still works afterwards
        server.faults.clear()
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
        assert result.choices[0].message.content == echo()


async def test_cancel_mid_stream_leaves_nothing_open(server: FakeServer) -> None:
    before = asyncio.all_tasks()
    server.inject("chunk_delay;delay=0.5", times=None)
    got: list[str] = []
    async with make_client(server) as client:

        async def consume() -> None:
            stream = await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
            async for chunk in stream:
                got.append(chunk.id)

        async def first_chunk() -> None:
            await eventually(lambda: len(got) == 1)

        await _cancel_after(consume(), first_chunk)
        await assert_clean(client, server, before)
    assert len(got) == 1


async def test_cancel_during_retry_wait_leaves_nothing_open(
    server: FakeServer, retry_sleeps: RetrySleeps
) -> None:
    before = asyncio.all_tasks()
    retry_sleeps.block = True  # the 3 s wait would never end by itself
    server.inject("rate_limit;wait=3", times=None)
    async with make_client(server) as client:
        await _cancel_after(
            client.chat.completions.create(model=MODEL, messages=msgs()),
            retry_sleeps.sleeping.wait,
        )
        assert retry_sleeps.waits == [3.0]
        # the 429 was read completely, so its connection may stay pooled; none in use
        assert connector_counts(client)[0] == 0
        assert client_tasks(before) == []
    await eventually(lambda: server_connections(server) == 0)
    assert chat_requests(server) == 1


async def test_cancel_before_headers_with_a_borrowed_session(server: FakeServer) -> None:
    before = asyncio.all_tasks()
    server.inject("delay_headers;delay=0.6", times=None)
    async with aiohttp.ClientSession() as session:
        connector = session.connector
        assert isinstance(connector, aiohttp.TCPConnector)
        async with Client(TOKEN, base_url=server.url, session=session) as client:
            for stream in (False, True):
                count = len(server.requests)

                async def arrived(count: int = count) -> None:
                    await eventually(lambda: len(server.requests) > count)

                await _cancel_after(
                    client.chat.completions.create(model=MODEL, messages=msgs(), stream=stream),
                    arrived,
                )
                await eventually(lambda: len(connector._acquired) == 0)
                await eventually(lambda: client_tasks(before) == [])
                assert sum(len(c) for c in connector._conns.values()) == 0
        await eventually(lambda: server_connections(server) == 0)
        assert not session.closed


async def test_close_before_headers_fails_running_calls(server: FakeServer) -> None:
    server.inject("delay_headers;delay=2", times=None)
    client = make_client(server)
    tasks = [
        asyncio.ensure_future(client.chat.completions.create(model=MODEL, messages=msgs())),
        asyncio.ensure_future(
            client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        ),
    ]
    await eventually(lambda: len(server.requests) == 2)
    started = time.monotonic()
    await client.close()
    for task in tasks:
        with raises(ClientClosedError):
            await task
    assert time.monotonic() - started < 0.5
    assert client.closed
    with raises(ClientClosedError):
        await client.chat.completions.create(model=MODEL, messages=msgs())


async def test_close_mid_body_and_mid_stream_fails_the_calls(server: FakeServer) -> None:
    client = make_client(server)
    body_task = asyncio.ensure_future(
        client.chat.completions.create(
            model=MODEL,
            messages=msgs(),
            extra_headers={"x-fake-fault": "split_chunks;size=4;delay=0.03"},
        )
    )
    await eventually(lambda: len(server.requests) == 1)
    stream = await client.chat.completions.create(
        model=MODEL,
        messages=msgs(),
        stream=True,
        extra_headers={"x-fake-fault": "chunk_delay;delay=2"},
    )
    first = await stream.__anext__()
    assert first.choices[0].delta.role == "assistant"
    read_task = asyncio.ensure_future(stream.__anext__())
    await asyncio.sleep(0.1)
    started = time.monotonic()
    await client.close()
    with raises(ClientClosedError):
        await body_task
    with raises(ClientClosedError):
        await read_task
    assert time.monotonic() - started < 0.5
    assert stream.finished


async def test_close_during_retry_wait_ends_it_promptly(
    server: FakeServer, retry_sleeps: RetrySleeps
) -> None:
    retry_sleeps.block = True  # the waits end only if close() wakes them
    server.inject("rate_limit;wait=5", times=None)
    client = make_client(server)
    tasks = [
        asyncio.ensure_future(client.chat.completions.create(model=MODEL, messages=msgs())),
        asyncio.ensure_future(
            client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        ),
    ]
    await eventually(lambda: len(retry_sleeps.waits) == 2)
    await client.close()
    for task in tasks:
        with raises(ClientClosedError, match="retry"):
            await asyncio.wait_for(task, 5)
    assert retry_sleeps.waits == [5.0, 5.0]
    assert chat_requests(server) == 2


async def test_borrowed_session_is_never_closed(server: FakeServer) -> None:
    async with aiohttp.ClientSession() as session:
        async with Client(TOKEN, base_url=server.url, session=session) as client:
            result = await client.chat.completions.create(model=MODEL, messages=msgs())
            assert result.choices[0].message.content == echo()
            assert client._transport.owns_session is False
        assert client.closed
        assert not session.closed
        with raises(ClientClosedError):
            await client.chat.completions.create(model=MODEL, messages=msgs())
        # the session is still usable by its owner
        auth = {"Authorization": "Bearer other"}
        async with session.get(f"{server.url}/catalog/models", headers=auth) as resp:
            assert resp.status == 200


async def test_close_with_a_borrowed_session_fails_running_calls(
    server: FakeServer, retry_sleeps: RetrySleeps
) -> None:
    retry_sleeps.block = True  # the retry wait ends only if close() wakes it
    hook = Hook()

    def call(fault: str, stream: bool = False) -> asyncio.Future[Any]:
        return asyncio.ensure_future(
            client.chat.completions.create(
                model=MODEL, messages=msgs(), stream=stream, extra_headers={"x-fake-fault": fault}
            )
        )

    async with aiohttp.ClientSession() as session:
        client = Client(TOKEN, base_url=server.url, session=session, on_retry=hook)
        body_task = call("split_chunks;size=4;delay=0.03")
        wait_task = call("rate_limit;wait=5")
        headers_task = call("delay_headers;delay=2")
        stream_headers_task = call("delay_headers;delay=2", stream=True)
        await eventually(lambda: len(server.requests) == 4)
        await hook.called.wait()
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await client.close()
        for task in (body_task, wait_task, headers_task, stream_headers_task):
            with raises(ClientClosedError):
                await task
        assert time.monotonic() - started < 0.5
        assert not session.closed


# ---------------------------------------------------------------------------
# 5. security
# ---------------------------------------------------------------------------


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": MODEL,
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
}


class OtherServer:
    """A tiny aiohttp.web server on 127.0.0.1 whose answers the test scripts."""

    def __init__(self) -> None:
        self.handler: Callable[[web.Request], Awaitable[web.StreamResponse]] | None = None
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        self.seen.append((request.method, request.path_qs, dict(request.headers)))
        if self.handler is None:
            return web.json_response(COMPLETION)
        return await self.handler(request)


@pytest.fixture
async def other_app() -> AsyncIterator[OtherServer]:
    srv = OtherServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.mark.parametrize("status", [302, 307, 301, 308])
@pytest.mark.parametrize("stream", [False, True])
async def test_redirect_is_never_followed(server: FakeServer, status: int, stream: bool) -> None:
    target = f"{server.url}/inference/chat/completions"
    redirector = OtherServer()

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": target})

    redirector.handler = handler
    await redirector.start()
    try:
        async with make_client(redirector.url) as client:
            with raises(RedirectError) as info:
                result = await client.chat.completions.create(
                    model=MODEL, messages=msgs(), stream=stream
                )
                if isinstance(result, ChatCompletionStream):
                    await result.collect()
            assert connector_counts(client)[0] == 0
    finally:
        await redirector.stop()
    assert info.value.status_code == status
    assert info.value.location == target
    assert target in str(info.value)
    assert len(redirector.seen) == 1  # a redirect is final, not retried
    assert redirector.seen[0][2]["Authorization"] == f"Bearer {TOKEN}"
    assert server.requests == []  # the second server never heard of the token


async def test_token_not_in_repr_events_or_debug_logs(
    server: FakeServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook = Hook()
    server.inject("internal_error")
    server.inject("gone", path_contains="/embeddings")
    client = make_client(server, on_retry=hook)
    assert TOKEN not in repr(client) and TOKEN not in str(client)
    async with client:
        result = await client.chat.completions.create(model=MODEL, messages=msgs())
        with raises(GoneError):
            await client.embeddings.create(model="openai/text-embedding-3-small", input="x")
        stream = await client.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        assert TOKEN not in repr(stream)
        await stream.collect()
    assert TOKEN not in repr(result) and TOKEN not in repr(result.response)
    assert hook.events and all(TOKEN not in repr(e) for e in hook.events)
    # the token did go over the wire, to the configured server only
    assert server.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert any(r.name == "ghmodels_async" for r in caplog.records)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def _self_signed_cert(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make a self-signed certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    result = subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
            "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        capture_output=True,
        check=False,
    )  # fmt: skip
    if result.returncode != 0:
        pytest.skip(f"openssl could not make a certificate: {result.stderr[-200:]!r}")
    return cert, key


async def test_tls_is_verified_by_default(tmp_path: Path) -> None:
    cert, key = _self_signed_cert(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    fake = FakeServer()  # the real fake app, served over TLS
    runner = web.AppRunner(fake.app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    url = f"https://127.0.0.1:{runner.addresses[0][1]}"
    hook = Hook()
    try:
        async with make_client(url, on_retry=hook) as client:
            for stream in (False, True):
                with raises(APIConnectionError, match="certificate") as info:
                    await client.chat.completions.create(
                        model=MODEL, messages=msgs(), stream=stream
                    )
                assert info.value.retryable is False
        assert hook.events == []  # a bad certificate is not retried
        assert fake.requests == []  # nothing, token included, went over the wire
        async with make_client(url, verify_ssl=False) as client:
            result = await client.chat.completions.create(model=MODEL, messages=msgs())
            assert result.choices[0].message.content == echo()
        trusting = ssl.create_default_context(cafile=str(cert))
        async with make_client(url, verify_ssl=trusting) as client:
            stream_result = await client.chat.completions.create(
                model=MODEL, messages=msgs(), stream=True
            )
            assert (await stream_result.collect()).choices[0].message.content == echo()
        assert len(fake.requests) == 2
    finally:
        await runner.cleanup()


async def test_body_over_max_response_bytes(server: FakeServer) -> None:
    async with make_client(server, max_response_bytes=100) as client:
        with raises(ResponseTooLargeError, match="max_response_bytes=100"):
            await client.chat.completions.create(model=MODEL, messages=msgs())
        assert connector_counts(client)[0] == 0
        with raises(ResponseTooLargeError):
            await client.chat.completions.create(
                model=MODEL, messages=msgs(), stream=True, extra_headers={"x-fake-fault": "gone"}
            )  # an error body is bounded too
    assert chat_requests(server) == 2  # not retried


async def test_body_over_max_response_bytes_without_length(other_app: OtherServer) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()  # chunked: no Content-Length
        response.content_type = "application/json"
        await response.prepare(request)
        for _ in range(64):
            await response.write(b" " * 1024)
        await response.write_eof()
        return response

    other_app.handler = handler
    async with make_client(other_app.url, max_response_bytes=10_000) as client:
        with raises(ResponseTooLargeError, match="max_response_bytes=10000"):
            await client.chat.completions.create(model=MODEL, messages=msgs())
        assert connector_counts(client) == (0, 0)  # closed mid-body, not pooled
    assert len(other_app.seen) == 1


async def test_sse_event_over_max_event_bytes(server: FakeServer) -> None:
    server.script("big " + "x" * 2000)
    async with make_client(server, max_event_bytes=1000) as client:
        stream = await client.chat.completions.create(
            model=MODEL,
            messages=msgs(),
            stream=True,
            extra_headers={"x-fake-fault": "chunk_delay;delay=0.05"},  # one event per read
        )
        role = await stream.__anext__()  # small events still pass
        assert role.choices[0].delta.role == "assistant"
        with raises(ResponseTooLargeError, match="max_event_bytes=1000"):
            await stream.__anext__()
        assert stream.finished
        assert connector_counts(client)[0] == 0
    # a first event that is too large is refused too, without retrying
    async with make_client(server, max_event_bytes=20) as tiny:
        with raises(ResponseTooLargeError):
            await tiny.chat.completions.create(model=MODEL, messages=msgs(), stream=True)
        assert connector_counts(tiny)[0] == 0
    assert chat_requests(server) == 2


async def test_all_errors_are_library_errors(server: FakeServer) -> None:
    """Sanity: every fault kind ends in a GHModelsError, never an aiohttp/asyncio one."""
    kinds = [
        "rate_limit;wait=0.01", "internal_error", "bad_gateway", "service_unavailable", "gone",
        "tokens_limit", "openai_error", "truncated_json", "malformed_json", "stream_cut",
        "stream_end_early", "drop",
    ]  # fmt: skip
    async with make_client(server, max_retries=0, timeout=2.0) as client:
        for kind in kinds:
            for stream in (False, True):
                try:
                    result = await client.chat.completions.create(
                        model=MODEL,
                        messages=msgs(),
                        stream=stream,
                        extra_headers={"x-fake-fault": kind},
                        max_retries=0,
                    )
                    if isinstance(result, ChatCompletionStream):
                        await result.collect()
                except GHModelsError as exc:
                    assert_no_token(exc)
        assert connector_counts(client)[0] == 0


def test_retry_limits_have_one_way_in() -> None:
    """max_retries=/max_retry_wait= are the way to set retries; retry_policy= is gone
    (the policy is derived from them, and readable)."""
    client = Client(TOKEN, max_retries=3, max_retry_wait=7)
    assert client.retry_policy == RetryPolicy(max_retries=3, max_retry_wait=7.0)
    assert Client(TOKEN).retry_policy == RetryPolicy()
    with pytest.raises(TypeError):
        Client(TOKEN, retry_policy=RetryPolicy(max_retries=1))  # type: ignore[call-arg]
    with pytest.raises(ConfigurationError, match="max_retries must be an integer >= 0"):
        Client(TOKEN, max_retries=-1)
    with pytest.raises(ConfigurationError, match="max_retry_wait must be a number >= 0"):
        Client(TOKEN, max_retry_wait="soon")  # type: ignore[arg-type]


async def test_gone_message_says_gone_once(server: FakeServer) -> None:
    server.inject("gone")
    async with make_client(server) as client:
        with pytest.raises(GoneError) as info:
            await client.chat.completions.create(model=MODEL, messages=msgs())
    text = info.value.message
    assert text.lower().count("gone") == 1, text
    assert "base_url" in text and "2026-07-30" in text
