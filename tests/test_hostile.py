"""Hostile servers, bad bytes, token echoes and user mistakes (issue 9).

Each test talks to a real loopback server: raw asyncio servers (``rawserver``) where the
exact bytes are the point, the embedded fake server elsewhere. Numbers in the test names
refer to the items of the issue.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import pickle
import warnings
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import pytest
from rawserver import (
    Handler,
    RawConnection,
    RawServer,
    answer_each,
    chunk,
    http_answer,
    json_answer,
    sse_answer,
)

from ghmodels_async import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    GHModelsError,
    IncompleteStreamError,
    NotFoundError,
    RateLimitError,
    ResponseDecodeError,
    ResponseTooLargeError,
    RetryEvent,
    ServerError,
    StreamConsumedError,
    StreamEventError,
    ValidationError,
    WrongEventLoopError,
)
from ghmodels_async._sse import SSEDecoder
from ghmodels_async.contract import MAX_STOP_SEQUENCES, REASONING_EFFORTS
from ghmodels_async.testing import FakeServer

TOKEN = "ghp_S3cretTok3n0123456789abcdefABCDEF"
MODEL = "openai/gpt-4.1"
MESSAGES = [{"role": "user", "content": "hi"}]
DONE = b"data: [DONE]\n\n"
COMPLETION = {
    "id": "c1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
}




def stream_of_bytes(body: bytes) -> Handler:
    """A handler answering one request with an event stream whose body is ``body``."""

    async def handle(conn: RawConnection) -> None:
        if await conn.read_request() is not None:
            await conn.write(sse_answer(body))

    return handle


@contextlib.asynccontextmanager
async def serving(
    handler: Handler | None, **options: Any
) -> AsyncIterator[tuple[Any, Client]]:
    """A raw server running ``handler`` (the fake server for ``None``) and a client of it."""
    server: RawServer | FakeServer = FakeServer() if handler is None else RawServer(handler)
    async with server, client_for(server, **options) as client:
        yield server, client


def client_for(server: RawServer | FakeServer, **options: Any) -> Client:
    options.setdefault("max_retries", 0)
    return Client(TOKEN, base_url=server.url, **options)


async def chat(client: Client, **options: Any) -> Any:
    return await client.chat.completions.create(model=MODEL, messages=MESSAGES, **options)


def reachable(root: object) -> list[object]:
    """Every object reachable from an exception: its chain, args and attributes."""
    seen: dict[int, object] = {}
    todo = [root]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or obj is None or isinstance(obj, (int, float, bool)):
            continue
        seen[id(obj)] = obj
        if isinstance(obj, BaseException):
            todo += [obj.__cause__, obj.__context__, *obj.args]
        if isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            todo += list(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            todo += list(vars(obj).values())
        if hasattr(obj, "items") and not isinstance(obj, dict):
            with contextlib.suppress(Exception):
                todo += [v for kv in obj.items() for v in kv]
    return list(seen.values())


def assert_token_unreachable(error: BaseException, secret: str = TOKEN) -> None:
    assert secret not in str(error)
    assert secret not in repr(error)
    for obj in reachable(error):
        text = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else repr(obj)
        assert secret not in text, f"the secret is reachable through {type(obj).__name__}"


# ---------------------------------------------------------------------------
# 1. invalid UTF-8 anywhere is a typed error
# ---------------------------------------------------------------------------

BAD_UTF8 = b"\xff\xfe"


async def test_01_invalid_utf8_in_a_completion_is_a_decode_error() -> None:
    body = b'{"id":"' + BAD_UTF8 + b'","choices":[]}'
    async with serving(answer_each(http_answer(200, body))) as (_server, client):
        with pytest.raises(ResponseDecodeError):
            await chat(client)


async def test_01_invalid_utf8_in_a_stream_chunk_is_a_decode_error() -> None:
    body = chunk("a") + b'data: {"id":"c1","model":"' + BAD_UTF8 + b'"}\n\n' + DONE
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        with pytest.raises(ResponseDecodeError):
            async for _ in stream:
                pass


async def test_01_invalid_utf8_in_a_stream_error_event_is_a_stream_event_error() -> None:
    body = chunk("a") + b'data: {"error":{"message":"bad ' + BAD_UTF8 + b'","code":"x"}}\n\n'
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        with pytest.raises(StreamEventError) as info:
            async for _ in stream:
                pass
    assert info.value.code == "x"
    assert info.value.message.startswith("bad ")


async def test_01_invalid_utf8_in_a_4xx_body_is_the_status_error() -> None:
    body = b'{"error":{"code":"bad","message":"no ' + BAD_UTF8 + b'"}}'
    async with serving(answer_each(http_answer(400, body))) as (_server, client):
        with pytest.raises(BadRequestError) as info:
            await chat(client)
        with pytest.raises(BadRequestError):
            await chat(client, stream=True)
    assert info.value.code == "bad"
    assert info.value.message.startswith("no ")


@pytest.mark.parametrize("what", ["embeddings", "catalog"])
async def test_01_invalid_utf8_in_embeddings_and_catalog_is_a_decode_error(what: str) -> None:
    body = b'{"data":[{"id":"' + BAD_UTF8 + b'","object":"' + BAD_UTF8 + b'"}]}'
    async with serving(answer_each(http_answer(200, body))) as (_server, client):
        with pytest.raises(ResponseDecodeError):
            if what == "embeddings":
                await client.embeddings.create(model="m/e", input="x")
            else:
                await client.models.list()


# ---------------------------------------------------------------------------
# 2-4. SSE: size limit however spelled, BOM, EOF mid-line
# ---------------------------------------------------------------------------


def test_02_empty_data_lines_count_against_max_event_bytes() -> None:
    decoder = SSEDecoder(max_event_bytes=1024)
    with pytest.raises(ResponseTooLargeError):
        for _ in range(100):
            decoder.feed(b"data:\n" * 100)


async def test_02_an_endless_event_of_empty_data_lines_is_refused_with_bounded_memory() -> None:
    written = 0

    async def endless(conn: RawConnection) -> None:
        nonlocal written
        await conn.read_request()
        await conn.write(sse_answer(b""))
        block = b"data:\n" * 10_000
        while written < 64 * 1024 * 1024:  # a cap only so a broken client cannot hang CI
            await conn.write(block)
            written += len(block)

    async with serving(endless, max_event_bytes=64 * 1024) as (_server, client):
        with pytest.raises(ResponseTooLargeError):
            stream = await chat(client, stream=True)
            async for _ in stream:
                pass
    # The client gave up long before the server's cap: it did not read the flood whole.
    assert written < 16 * 1024 * 1024


@pytest.mark.parametrize("split", [0, 1, 2, 3, 4])
def test_03_a_leading_bom_is_ignored_however_it_is_split(split: int) -> None:
    data = b"\xef\xbb\xbfdata: first\n\ndata: second\n\n"
    decoder = SSEDecoder()
    events = decoder.feed(data[:split]) + decoder.feed(data[split:])
    assert events == [b"first", b"second"]


async def test_03_a_stream_beginning_with_a_bom_keeps_its_first_event() -> None:
    body = b"\xef\xbb\xbf" + chunk("first") + chunk("second") + DONE
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        texts = [c.choices[0].delta.content async for c in stream]
    assert texts == ["first", "second"]


async def test_04_a_stream_cut_mid_line_is_incomplete_and_the_partial_event_dropped() -> None:
    body = chunk("whole") + b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"cu'
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        received = []
        with pytest.raises(IncompleteStreamError):
            async for c in stream:
                received.append(c.choices[0].delta.content)
    assert received == ["whole"]


# ---------------------------------------------------------------------------
# 5. garbage rate-limit headers read as unknown
# ---------------------------------------------------------------------------

GARBAGE = ["inf", "1e999", "9" * 400, "nan", "-5", "1_000", "0x10", "", " "]


@pytest.mark.parametrize("value", GARBAGE)
async def test_05_garbage_rate_limit_headers_are_unknown(value: str) -> None:
    headers = {
        "x-ratelimit-remaining-requests": value,
        "x-ratelimit-remaining-tokens": value,
        "x-ratelimit-timeremaining": value,
        "retry-after": value,
    }
    ok = json_answer(200, COMPLETION, headers)
    limited = json_answer(429, {"error": {"code": "RateLimitReached", "message": "slow"}}, headers)
    async with RawServer(answer_each(ok, limited)) as server, client_for(server) as client:
        completion = await chat(client)
        with pytest.raises(RateLimitError) as info:
            await chat(client)
    for limits in (completion.response.rate_limit, info.value.rate_limit):
        assert limits.remaining_requests is None
        assert limits.remaining_tokens is None
        assert limits.time_remaining is None
        assert limits.retry_after is None
    assert info.value.retry_after is None


# ---------------------------------------------------------------------------
# 6-7. the token is unreachable from every error and every text
# ---------------------------------------------------------------------------


async def _answer_raw(data: bytes, conn: RawConnection) -> None:
    if await conn.read_request() is not None:
        await conn.write(data)


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 2OO OK " + TOKEN.encode() + b"\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 200_000 + b"\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX-Echo: Bearer " + TOKEN.encode()
        + b"\r\nContent-Length: 5\r\n\r\nnot{",
        b"\x00\x01garbage " + TOKEN.encode() + b"\r\n\r\n",
    ],
    ids=["malformed-status-line", "oversized-header", "echo-header-bad-body", "not-http"],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_06_the_token_is_unreachable_from_every_exception(
    answer: bytes, streaming: bool
) -> None:
    async def handle(conn: RawConnection) -> None:
        await _answer_raw(answer, conn)

    async with RawServer(handle) as server, client_for(server) as client:
        with pytest.raises(GHModelsError) as info:
            await chat(client, stream=streaming)
    assert_token_unreachable(info.value)


async def test_07_a_401_echoing_the_token_is_redacted_everywhere() -> None:
    body = {"message": f"Bad credentials: Bearer {TOKEN}"}
    async with serving(answer_each(json_answer(401, body, {"x-echo": TOKEN}))) as (_server, client):
        with pytest.raises(AuthenticationError) as info:
            await chat(client)
    error = info.value
    assert "Bad credentials: Bearer <redacted>" in error.message
    assert_token_unreachable(error)


async def test_07_a_5xx_echoing_the_token_is_redacted_in_the_retry_log_and_hook(
    caplog: pytest.LogCaptureFixture,
) -> None:
    page = f"<html>500 Internal Error for Authorization: Bearer {TOKEN}</html>".encode()
    reasons: list[str] = []

    def on_retry(event: RetryEvent) -> None:
        reasons.append(event.reason)

    answer = http_answer(500, page, {"Content-Type": "text/html", "Retry-After": "0"})
    caplog.set_level(logging.INFO, logger="ghmodels_async")
    async with serving(answer_each(answer), max_retries=2, on_retry=on_retry) as (_server, client):
        with pytest.raises(ServerError) as info:
            await chat(client)
        with pytest.raises(ServerError) as streamed:
            await chat(client, stream=True)
    assert len(reasons) == 4 and all("<redacted>" in r for r in reasons)
    assert TOKEN not in caplog.text and "<redacted>" in caplog.text
    assert_token_unreachable(info.value)
    assert_token_unreachable(streamed.value)


async def test_07_a_stream_error_event_echoing_the_token_is_redacted() -> None:
    body = chunk("a") + f'data: {{"error":{{"message":"bad token {TOKEN}"}}}}\n\n'.encode()
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        with pytest.raises(StreamEventError) as info:
            async for _ in stream:
                pass
    assert_token_unreachable(info.value)


# ---------------------------------------------------------------------------
# 8-9. tokens and headers checked at construction / before any I/O
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("char", ["\t", "\x0b", "\x0c", "\x1b", "\x7f", "\r", "\n", "\0", " ", "é"])
def test_08_tokens_with_control_characters_are_refused_at_construction(char: str) -> None:
    secret = f"ghp_abc{char}def123456"
    with pytest.raises(ConfigurationError) as info:
        Client(secret)
    assert secret not in str(info.value)
    with pytest.raises(ConfigurationError):
        Client(api_key=secret)


BAD_HEADERS: list[tuple[str, str]] = [
    ("X-A: b", "c"),
    ("X A", "c"),
    ("", "c"),
    ("X-Ünïcode", "c"),
    ("X-A\n", "c"),
    ("X-A", "a\x01b"),
    ("X-A", "a\x7fb"),
    ("X-A", "a\rb"),
    ("X-A", "a\nb"),
    ("X-A", "a\0b"),
    ("Content-Length", "5"),
    ("transfer-encoding", "chunked"),
    ("Host", "evil.example"),
    ("Connection", "close"),
]


@pytest.mark.parametrize(("name", "value"), BAD_HEADERS)
async def test_09_bad_headers_are_refused_before_any_io(name: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Client(TOKEN, headers={name: value})
    assert info.value.field == "headers"
    async with serving(answer_each(json_answer(200, COMPLETION))) as (server, client):
        with pytest.raises(ValidationError):
            await chat(client, extra_headers={name: value})
        with pytest.raises(ValidationError):
            await chat(client, stream=True, extra_headers={name: value})
        assert server.connections == 0


async def test_09_good_headers_pass_with_tabs_and_symbols() -> None:
    async with serving(answer_each(json_answer(200, COMPLETION))) as (server, client):
        await chat(client, extra_headers={"X-Trace_id.1~": "a\tb c!"})
    assert b"\r\nX-Trace_id.1~: a\tb c!\r\n" in server.requests[0]


# ---------------------------------------------------------------------------
# 10. an unsolicited answer on an idle keep-alive connection is never delivered
# ---------------------------------------------------------------------------


async def test_10_an_unsolicited_answer_is_never_delivered_to_the_next_call() -> None:
    first_done = asyncio.Event()
    stray_sent = asyncio.Event()
    stray = dict(COMPLETION, choices=[{"index": 0, "message": {"content": "NOT YOURS"}}])

    async def handle(conn: RawConnection) -> None:
        if not stray_sent.is_set():  # the first connection only
            await conn.read_request()
            await conn.write(json_answer(200, COMPLETION))
            await first_done.wait()  # the connection is idle in the client's pool now
            await conn.write(json_answer(200, stray))  # nobody asked for this one
            stray_sent.set()
        while await conn.read_request() is not None:
            await conn.write(json_answer(200, COMPLETION))

    async with serving(handle) as (server, client):
        assert (await chat(client)).choices[0].message.content == "ok"
        first_done.set()
        await stray_sent.wait()
        # A few loop turns so the client reads the stray bytes into its idle
        # connection, as it does when such an answer sits in the pool.
        for _ in range(5):
            await asyncio.sleep(0)
        second = await chat(client)
        third = await chat(client, stream=False)
    assert second.choices[0].message.content == "ok"
    assert third.choices[0].message.content == "ok"
    assert len(server.requests) == 3  # every call reached the server
    assert server.connections == 2  # the dirty connection was dropped, a new one opened


def _protocol_states() -> list[tuple[str, Any]]:
    """aiohttp response protocols, clean and with each reason to drop the connection."""
    from aiohttp.client_proto import ResponseHandler
    from aiohttp.helpers import TimerNoop
    from aiohttp.streams import EMPTY_PAYLOAD, StreamReader

    loop = asyncio.get_running_loop()

    def fresh() -> Any:
        protocol = ResponseHandler(loop)
        protocol.connection_made(mock_transport())
        return protocol

    def mock_transport() -> Any:
        class _Transport(asyncio.Transport):
            def is_closing(self) -> bool:
                return False

        return _Transport()

    states: list[tuple[str, Any]] = [("fresh", fresh())]
    done = fresh()
    done._payload = EMPTY_PAYLOAD
    states.append(("answer read", done))
    unread = fresh()
    unread._payload = StreamReader(unread, 2**16, loop=loop, timer=TimerNoop())
    states.append(("answer body not read to its end", unread))
    stray = fresh()
    stray._tail = b"HTTP/1.1 200 OK\r\n"
    states.append(("stray bytes before a parser", stray))
    queued = fresh()
    queued._buffer.append((object(), EMPTY_PAYLOAD))
    states.append(("a stray answer parsed", queued))
    closing = fresh()
    closing.force_close()
    states.append(("Connection: close", closing))
    failed = fresh()
    failed.set_exception(ValueError("bad bytes"))
    states.append(("a parse error", failed))
    upgraded = fresh()
    upgraded._upgraded = True
    states.append(("upgraded", upgraded))
    parser = fresh()
    parser._payload_parser = object()
    states.append(("a payload parser", parser))
    return states


async def test_10b_the_pool_check_agrees_with_aiohttps_should_close() -> None:
    """CleanConnector reads should_close's conditions from the protocol's fields (the
    property costs ~1,900 instructions a request): every state must agree with it."""
    from ghmodels_async._transport import _unclean

    states = _protocol_states()
    assert sum(1 for _, p in states if p.should_close) == len(states) - 2  # states differ
    for name, protocol in states:
        assert bool(_unclean(protocol)) is protocol.should_close, name


# ---------------------------------------------------------------------------
# 11. errors pickle, across processes too
# ---------------------------------------------------------------------------


def _call_in_worker(url: str) -> str:
    """Run in a worker process: a real call that raises a NotFoundError."""

    async def call() -> str:
        async with Client(TOKEN, base_url=url, max_retries=0) as client:
            await chat(client)
        return "no error"

    return asyncio.run(call())


NOT_FOUND = json_answer(
    404,
    {"error": {"code": "unknown_model", "message": "Unknown model: x", "param": "model"}},
    {"X-Request-Id": "req-42", "x-ratelimit-remaining-requests": "7"},
)


async def test_11_errors_pickle_with_their_fields() -> None:
    async with RawServer(answer_each(NOT_FOUND)) as server, client_for(server) as client:
        with pytest.raises(NotFoundError) as info:
            await chat(client)
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is NotFoundError
    assert (copy.status_code, copy.code, copy.message, copy.request_id, copy.param) == (
        404, "unknown_model", "Unknown model: x", "req-42", "model"
    )
    assert copy.rate_limit.remaining_requests == 7
    assert str(copy) == str(info.value)
    for error in (ValidationError("bad", field="x"), StreamEventError("t", code="c", message="m")):
        again = pickle.loads(pickle.dumps(error))
        assert vars(again) == vars(error) and str(again) == str(error)


async def test_11_an_error_raised_in_a_worker_process_arrives_with_its_fields() -> None:
    async with RawServer(answer_each(NOT_FOUND)) as server:
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            future = asyncio.get_running_loop().run_in_executor(
                pool, _call_in_worker, server.url
            )
            with pytest.raises(NotFoundError) as info:
                await future
    error = info.value
    assert (error.status_code, error.code, error.request_id) == (404, "unknown_model", "req-42")
    assert error.message == "Unknown model: x"
    assert error.rate_limit.remaining_requests == 7


# ---------------------------------------------------------------------------
# 12. one event loop per client; an unclosed client says so
# ---------------------------------------------------------------------------


def test_12_a_client_used_in_a_second_event_loop_raises_a_typed_error() -> None:
    first = asyncio.new_event_loop()
    try:
        server = FakeServer()
        first.run_until_complete(server.start())
        client = Client(TOKEN, base_url=server.url)
        first.run_until_complete(chat(client))
        with pytest.raises(WrongEventLoopError, match="one event loop"):
            asyncio.run(chat(client))
        with pytest.raises(WrongEventLoopError):
            asyncio.run(chat(client, stream=True))
        first.run_until_complete(client.close())
        first.run_until_complete(server.close())
    finally:
        first.close()


async def test_12_an_unclosed_client_warns_in_the_librarys_own_words() -> None:
    async with FakeServer() as server:
        client = Client(TOKEN, base_url=server.url)
        await chat(client)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del client
            gc.collect()
        ours = [w for w in caught if "unclosed ghmodels_async client" in str(w.message)]
        assert ours and ours[0].category is ResourceWarning
        assert "async with" in str(ours[0].message)
        assert TOKEN not in str(ours[0].message)


async def test_12_a_closed_or_unused_client_does_not_warn() -> None:
    async with FakeServer() as server:
        used = Client(TOKEN, base_url=server.url)
        await chat(used)
        await used.close()
        unused = Client(TOKEN, base_url=server.url)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            del used, unused
            gc.collect()
    assert not [w for w in caught if "ghmodels_async" in str(w.message)]


# ---------------------------------------------------------------------------
# 13-15. path prefixes, org attribution off GitHub, Azure api-key
# ---------------------------------------------------------------------------

OPENAI_LIST = {
    "object": "list",
    "data": [
        {"id": "llama3", "object": "model", "created": 1, "owned_by": "library"},
        {"id": "qwen2", "object": "model", "created": 2, "owned_by": "vllm"},
    ],
}


async def test_13_models_list_uses_the_openai_route_under_a_path_prefix() -> None:
    listing = answer_each(json_answer(200, OPENAI_LIST))
    async with serving(listing, path_prefix="/v1") as (server, client):
        models = await client.models.list()
    assert server.requests[0].startswith(b"GET /v1/models HTTP/1.1\r\n")
    assert [(m.id, m.owned_by) for m in models] == [("llama3", "library"), ("qwen2", "vllm")]


async def test_13_the_fake_serves_the_openai_model_list_under_v1() -> None:
    async with FakeServer() as server, client_for(server, path_prefix="/v1") as client:
        models = await client.models.list()
        async with client_for(server) as client:
            catalog = await client.models.list()
    assert [m.id for m in models] == [m.id for m in catalog]
    assert all(m.owned_by for m in models)
    assert server.requests[0].path == "/v1/models"


async def test_14_org_with_a_non_github_path_prefix_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="org"):
        Client(TOKEN, base_url="http://127.0.0.1:1", path_prefix="/v1", org="acme")
    completion = answer_each(json_answer(200, COMPLETION))
    async with serving(completion, path_prefix="/v1") as (server, client):
        with pytest.raises(ValidationError) as info:
            await chat(client, org="acme")
        assert server.connections == 0
    assert info.value.field == "org"


async def test_15_an_azure_api_key_is_sent_as_api_key_without_a_bearer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    key = "azure0123456789abcdefKEY"
    echo = json_answer(401, {"error": {"code": "401", "message": f"bad key {key}"}})
    async with RawServer(answer_each(json_answer(200, COMPLETION), echo)) as server:
        client = Client(api_key=key, base_url=server.url, max_retries=0)
        async with client:
            await chat(client)
            with pytest.raises(AuthenticationError) as info:
                await chat(client, stream=True)
    head = server.requests[0].split(b"\r\n\r\n")[0].lower()
    assert f"\r\napi-key: {key.lower()}".encode() in head
    assert b"authorization" not in head
    assert key not in repr(client)
    assert_token_unreachable(info.value, key)
    with pytest.raises(ConfigurationError):
        Client(TOKEN, api_key=key)


# ---------------------------------------------------------------------------
# 16. client and fake share one set of limits
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("effort", REASONING_EFFORTS)
async def test_16_every_reasoning_effort_the_client_allows_is_answered(effort: str) -> None:
    async with FakeServer() as server, client_for(server) as client:
        completion = await chat(client, reasoning_effort=effort)
    assert completion.choices


async def test_16_client_and_fake_agree_on_the_stop_limit() -> None:
    at_limit = [str(i) for i in range(MAX_STOP_SEQUENCES)]
    over = [*at_limit, "x"]
    async with FakeServer() as server, client_for(server) as client:
        assert (await chat(client, stop=at_limit)).choices
        with pytest.raises(ValidationError) as info:
            await chat(client, stop=over)
        assert info.value.field == "stop"
        # the fake refuses what the client refuses (sent past the client's checks)
        with pytest.raises(BadRequestError):
            await chat(client, extra_body={"stop": over})


# ---------------------------------------------------------------------------
# 17, 21. a stream is consumed once; usage from whichever chunk carries it
# ---------------------------------------------------------------------------


async def test_17_a_stream_is_consumed_once() -> None:
    async with FakeServer() as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        assert [c async for c in stream]
        with pytest.raises(StreamConsumedError):
            [c async for c in stream]
        with pytest.raises(StreamConsumedError):
            await stream.collect()
        partial = await chat(client, stream=True)
        async for _ in partial:
            break
        with pytest.raises(StreamConsumedError):
            await partial.collect()


async def test_17_usage_is_none_without_include_usage() -> None:
    async with FakeServer() as server, client_for(server) as client:
        plain = await chat(client, stream=True)
        await plain.collect()
        counted = await chat(client, stream=True, stream_options={"include_usage": True})
        await counted.collect()
    assert plain.usage is None
    assert counted.usage is not None and counted.usage.total_tokens > 0


USAGE = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


@pytest.mark.parametrize(
    "body",
    [
        # TGI <= 3.1: usage on the last content chunk
        chunk("a") + chunk("b", usage=USAGE) + DONE,
        # LiteLLM proxy: usage on a chunk with an empty delta
        chunk("a") + b"data: " + json.dumps({"id": "c1", "choices": [
            {"index": 0, "delta": {}}], "usage": USAGE}).encode() + b"\n\n" + DONE,
        # an early partial usage, then the final one: the last wins
        chunk("a", usage={"prompt_tokens": 3, "total_tokens": 3}) + b"data: " + json.dumps(
            {"id": "c1", "choices": [], "usage": USAGE}).encode() + b"\n\n" + DONE,
    ],
    ids=["tgi", "litellm", "last-wins"],
)
async def test_21_stream_usage_comes_from_whichever_chunk_carries_it(body: bytes) -> None:
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        async for _ in stream:
            pass
    assert stream.usage is not None
    assert (stream.usage.prompt_tokens, stream.usage.total_tokens) == (3, 5)


# ---------------------------------------------------------------------------
# 20, 22, 23. base64 embeddings, Ollama's null list, stream error shapes
# ---------------------------------------------------------------------------


async def test_20_base64_embeddings_come_back_as_floats() -> None:
    async with FakeServer() as server, client_for(server) as client:
        floats = await client.embeddings.create(
            model="openai/text-embedding-3-small", input=["a", "b"]
        )
        packed = await client.embeddings.create(
            model="openai/text-embedding-3-small", input=["a", "b"],
            encoding_format="base64",
        )
    assert server.requests[1].json["encoding_format"] == "base64"
    for plain, decoded in zip(floats.data, packed.data, strict=True):
        assert isinstance(decoded.embedding, list)
        assert decoded.embedding == pytest.approx(plain.embedding, abs=1e-6)


async def test_20_bad_base64_embeddings_are_a_decode_error() -> None:
    body = {"object": "list", "data": [{"index": 0, "embedding": "!!not base64!!"}]}
    async with serving(answer_each(json_answer(200, body))) as (_server, client):
        with pytest.raises(ResponseDecodeError):
            await client.embeddings.create(model="m/e", input="x", encoding_format="base64")


async def test_22_ollamas_null_model_list_is_empty() -> None:
    body = {"object": "list", "data": None}
    async with serving(answer_each(json_answer(200, body)), path_prefix="/v1") as (_server, client):
        assert await client.models.list() == []


@pytest.mark.parametrize(
    ("event", "message", "code"),
    [
        ({"error": {"message": "overloaded", "code": "server_busy", "type": "x"}},
         "overloaded", "server_busy"),
        ({"object": "error", "message": "context too long", "type": "BadRequestError",
          "code": 400}, "context too long", "400"),
        ({"error": "Input validation error", "error_type": "validation"},
         "Input validation error", "validation"),
    ],
    ids=["nested", "vllm-flat", "tgi"],
)
async def test_23_stream_event_errors_carry_message_and_code(
    event: dict[str, Any], message: str, code: str
) -> None:
    body = chunk("a") + b"data: " + json.dumps(event).encode() + b"\n\n"
    async with RawServer(stream_of_bytes(body)) as server, client_for(server) as client:
        stream = await chat(client, stream=True)
        with pytest.raises(StreamEventError) as info:
            async for _ in stream:
                pass
    assert (info.value.message, info.value.code) == (message, code)
    assert message in str(info.value)
    assert isinstance(info.value, GHModelsError)


def test_every_public_error_is_still_a_ghmodels_error() -> None:
    for cls in (APIConnectionError, APIStatusError, WrongEventLoopError, StreamConsumedError):
        assert issubclass(cls, GHModelsError)
