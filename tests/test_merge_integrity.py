"""What the merged branches promised each other still holds together (review after the
merge of layout, hardening, bots and limiter).

The rate limiter hook sits in the one retry loop: an attempt paced by it must be as
scrubbed, as typed and as final (410, redirects) as one that is not; a stream opened
under it keeps the redactor and the consumed-once rule. The lazy ``__init__`` exports
every public name. Real loopback servers throughout.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from rawserver import RawConnection, RawServer, answer_each, chunk, json_answer, sse_answer

import ghmodels_async
from ghmodels_async import (
    AuthenticationError,
    Client,
    GHModelsError,
    GoneError,
    RedirectError,
    StreamConsumedError,
    StreamEventError,
)
from ghmodels_async.ratelimit import Limiter
from ghmodels_async.testing import FakeServer

TOKEN = "ghp_M3rg3dTok3n0123456789abcdefABCDEF"
KEY = "azureKEY0123456789abcdefghijklmnop"
MODEL = "openai/gpt-4.1"
MESSAGES = [{"role": "user", "content": "hi"}]
DONE = b"data: [DONE]\n\n"




def assert_secret_unreachable(error: BaseException, secret: str) -> None:
    """The secret is in no text reachable from the error (chain, args, attributes)."""
    seen: set[int] = set()
    todo: list[object] = [error]
    while todo:
        obj = todo.pop()
        if obj is None or id(obj) in seen:
            continue
        seen.add(id(obj))
        text = obj.decode("utf-8", "replace") if isinstance(obj, bytes) else repr(obj)
        assert secret not in text, f"secret reachable through {type(obj).__name__}"
        if isinstance(obj, BaseException):
            todo += [obj.__cause__, obj.__context__, *obj.args, *vars(obj).values()]
        elif isinstance(obj, dict):
            todo += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple)):
            todo += list(obj)


def limited(**options: Any) -> Limiter:
    """One slot at a time: a reservation a path forgets to settle hangs the next call."""
    return Limiter(max_concurrency=1, **options)


async def twice(call: Callable[[], Awaitable[Any]]) -> None:
    """Make the same failing call twice; the second would hang on a leaked slot."""
    for _ in range(2):
        with pytest.raises(GHModelsError):
            await asyncio.wait_for(call(), timeout=5)


# ---------------------------------------------------------------------------
# the lazy package exports every public name
# ---------------------------------------------------------------------------

NEW_ERRORS = [
    "RateLimitWaitTooLongError",
    "LimiterUnavailableError",
    "MaxToolRoundsError",
    "ContentDecodeError",
    "StreamConsumedError",
    "WrongEventLoopError",
    "LengthFinishReasonError",
    "ContentFilterFinishReasonError",
    "FinishReasonError",
]


def test_every_public_name_resolves_in_a_fresh_interpreter_and_is_listed() -> None:
    script = (
        "import json, ghmodels_async as g\n"
        "names = list(g.__all__)\n"
        "missing = [n for n in names if not hasattr(g, n)]\n"
        "unlisted = [n for n in names if n not in dir(g)]\n"
        "print(json.dumps({'names': names, 'missing': missing, 'unlisted': unlisted}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    report = json.loads(out)
    assert report["missing"] == [] and report["unlisted"] == []
    for name in NEW_ERRORS:
        assert name in report["names"], f"{name} is not exported from ghmodels_async"


def test_every_error_class_of_the_library_is_exported_at_the_top() -> None:
    from ghmodels_async import _errors, _limiter_errors

    defined = {
        name
        for module in (_errors, _limiter_errors)
        for name, obj in vars(module).items()
        if isinstance(obj, type) and issubclass(obj, GHModelsError)
    }
    assert defined <= set(ghmodels_async.__all__)
    for name in defined:
        assert getattr(ghmodels_async, name) is getattr(
            _limiter_errors if name == "LimiterUnavailableError" else _errors, name
        )


def test_unknown_names_are_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        ghmodels_async.Nope  # noqa: B018


# ---------------------------------------------------------------------------
# the limiter hook's path scrubs, types and settles like the plain one
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
async def test_a_paced_401_echoing_the_token_is_redacted_and_settled(stream: bool) -> None:
    echo = json_answer(401, {"error": {"message": f"Bad credentials: Bearer {TOKEN}"}},
                       {"x-echo": TOKEN})  # fmt: skip
    async with RawServer(answer_each(echo)) as server, Client(
        TOKEN, base_url=server.url, max_retries=0, rate_limiter=limited()
    ) as client:
        errors: list[BaseException] = []

        async def call() -> Any:
            try:
                return await client.chat.completions.create(
                    model=MODEL, messages=MESSAGES, stream=stream
                )
            except GHModelsError as exc:
                errors.append(exc)
                raise

        await twice(call)
    assert all(isinstance(e, AuthenticationError) for e in errors)
    for error in errors:
        assert "<redacted>" in str(error)
        assert_secret_unreachable(error, TOKEN)


async def test_a_paced_stream_keeps_the_redactor_and_the_consumed_once_rule() -> None:
    body = chunk("a") + f'data: {{"error": {{"message": "bad {TOKEN}"}}}}\n\n'.encode()

    async def handle(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            await conn.write(sse_answer(body))
            return

    limiter = limited()
    async with RawServer(handle) as server, Client(
        TOKEN, base_url=server.url, max_retries=0, rate_limiter=limiter
    ) as client:
        stream = await client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True)
        with pytest.raises(StreamEventError) as info:
            async for _ in stream:
                pass
        with pytest.raises(StreamConsumedError):
            async for _ in stream:
                pass
    # the slot came back when the stream failed: the next call on the limiter is not blocked
    async with FakeServer() as fake, Client(
        TOKEN, base_url=fake.url, rate_limiter=limiter
    ) as other:
        await asyncio.wait_for(other.chat.completions.create(model=MODEL, messages=MESSAGES), 5)
    assert_secret_unreachable(info.value, TOKEN)


async def test_a_paced_410_is_final_with_the_retirement_hint_and_settles() -> None:
    gone = json_answer(410, {"error": {"message": "This endpoint has been retired"}},
                       {"Retry-After": "0"})  # fmt: skip
    async with RawServer(answer_each(gone)) as server, Client(
        TOKEN, base_url=server.url, max_retries=3, rate_limiter=limited()
    ) as client:
        for stream in (False, True):
            with pytest.raises(GoneError) as info:
                await asyncio.wait_for(
                    client.chat.completions.create(
                        model=MODEL, messages=MESSAGES, stream=stream
                    ),
                    5,
                )
            assert "2026-07-30" in str(info.value)
    assert len(server.requests) == 2  # never retried


@pytest.mark.parametrize("status", [301, 307])
async def test_a_paced_redirect_is_refused_and_the_token_stays_home(status: int) -> None:
    moved = (
        f"HTTP/1.1 {status} Moved\r\nLocation: http://127.0.0.2:9/steal\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    async with RawServer(answer_each(moved)) as server, Client(
        TOKEN, base_url=server.url, max_retries=3, rate_limiter=limited()
    ) as client:
        for stream in (False, True, False):
            with pytest.raises(RedirectError) as info:
                await asyncio.wait_for(
                    client.chat.completions.create(
                        model=MODEL, messages=MESSAGES, stream=stream
                    ),
                    5,
                )
            assert info.value.location == "http://127.0.0.2:9/steal"
    assert len(server.requests) == 3  # one request per call: not followed, not retried


# ---------------------------------------------------------------------------
# api_key works on every route, and is scrubbed there too
# ---------------------------------------------------------------------------


async def test_api_key_authenticates_chat_streams_embeddings_and_the_catalog(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    async with FakeServer() as fake:
        async with Client(api_key=KEY, base_url=fake.url) as client:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
            stream = await client.chat.completions.create(
                model=MODEL, messages=MESSAGES, stream=True
            )
            await stream.collect()
            await client.embeddings.create(model="openai/text-embedding-3-small", input="x")
            await client.models.list()
        heads = [request.headers for request in fake.requests]
    assert len(heads) == 4
    for head in heads:
        lowered = {k.lower(): v for k, v in head.items()}
        assert lowered.get("api-key") == KEY
        assert "authorization" not in lowered


@pytest.mark.parametrize("route", ["embeddings", "catalog"])
async def test_api_key_echoed_by_embeddings_or_catalog_is_redacted(
    route: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    echo = json_answer(401, {"error": {"message": f"bad key {KEY}"}})
    async with RawServer(answer_each(echo)) as server, Client(
        api_key=KEY, base_url=server.url, max_retries=0, rate_limiter=limited()
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            if route == "embeddings":
                await client.embeddings.create(model="m", input="x")
            else:
                await client.models.list()
    assert "<redacted>" in str(info.value)
    assert_secret_unreachable(info.value, KEY)


async def test_a_key_echoed_json_escaped_is_redacted_from_the_raw_body_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    key = "Ab3/9xZ+q/Lm0=pQ7/wR"  # base64-style keys hold '/', which PHP-style JSON escapes
    escaped = key.replace("/", "\\/")
    body = b'{"error":{"message":"key ' + escaped.encode() + b'"}}'
    echo = (
        b"HTTP/1.1 401 X\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body
    )
    async with RawServer(answer_each(echo)) as server, Client(
        api_key=key, base_url=server.url, max_retries=0
    ) as client:
        with pytest.raises(AuthenticationError) as info:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert_secret_unreachable(info.value, key)
    assert_secret_unreachable(info.value, escaped)
