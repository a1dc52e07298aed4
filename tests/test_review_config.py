"""Hostile configuration: every bad ``base_url`` / ``headers`` / ``org`` is refused at
construction with a ConfigurationError/ValidationError naming it, never a raw
``ValueError`` at call time, never a request sent somewhere else than configured.
"""

from __future__ import annotations

from typing import Any

import pytest
from rawserver import RawConnection, RawServer, http_answer, json_answer

from ghmodels_async import (
    Client,
    ConfigurationError,
    GHModelsError,
    RetryEvent,
    RetryPolicy,
    Timeout,
    ValidationError,
)
from ghmodels_async._retry import next_delay
from ghmodels_async.testing import FakeServer

TOKEN = "ghp_C0nfigTok3n0123456789abcdef"
MODEL = "openai/gpt-4.1"
MESSAGES = [{"role": "user", "content": "x"}]
COMPLETION = {
    "id": "c1",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                 "finish_reason": "stop"}],
}  # fmt: skip


@pytest.mark.parametrize(
    "base_url",
    [
        " http://127.0.0.1:1",  # whitespace around (a copied env var)
        "http://127.0.0.1:1 ",
        "http://127.0.0.1:1\n",
        "http://12\t7.0.0.1:1",  # urlsplit silently drops tabs and newlines
        "http://ho st",
        "http://host/pa th",
        "http://ho\x00st",
        "http://[::1",  # urlsplit: ValueError
        "http://host:abc",  # yarl at call time: ValueError
        "http://host:99999",
        "http://host:-1",
        "http://host?",  # an empty query: the path would land in the query string
        "http://host#",  # ... or in the fragment, never sent
        "http://host/v1?",
        "http://h@",  # userinfo, however short
        "http://@host",
        "http://user:pass@host",
        "http://host/../x",  # dot segments: the request path would not be the configured one
        "http://host/v1/./x",
        "http://host/%2e%2e/x",
        "http://host//x",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "ws://host",
        "http:host",
        "http://host\\x",  # yarl at call time: backslash in the authority
        "http://ho<st",
        "http://ho%41st",
        "http://[::1]x",
        "http://[zz]",
        "http://host:80:80",
    ],
)
def test_a_bad_base_url_is_refused_at_construction(base_url: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        Client(TOKEN, base_url=base_url)
    assert "base_url" in str(info.value)


@pytest.mark.parametrize("base_url", [" http://127.0.0.1:1", "http://host:abc", "http://[::1"])
def test_a_bad_base_url_from_the_environment_is_refused_too(
    base_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GHMODELS_BASE_URL", base_url)
    with pytest.raises(ConfigurationError, match="base_url"):
        Client(TOKEN)


@pytest.mark.parametrize(
    ("base_url", "kept"),
    [
        ("https://models.github.ai/", "https://models.github.ai"),
        ("HTTPS://models.github.ai", "HTTPS://models.github.ai"),
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("https://x.openai.azure.com/openai/deployments/gpt-4o_mini.v2",
         "https://x.openai.azure.com/openai/deployments/gpt-4o_mini.v2"),
        ("https://gateway.example/v1/acc~1/gw/", "https://gateway.example/v1/acc~1/gw"),
        ("http://пример.example", "http://пример.example"),  # IDNA hosts are hosts
    ],
)
def test_good_base_urls_are_kept(base_url: str, kept: str) -> None:
    assert Client(TOKEN, base_url=base_url).base_url == kept


async def test_a_base_url_with_a_path_sends_to_that_path() -> None:
    paths: list[bytes] = []

    async def handle(conn: RawConnection) -> None:
        while (request := await conn.read_request()) is not None:
            paths.append(request.split(b" ")[1])
            await conn.write(json_answer(200, COMPLETION))

    async with RawServer(handle) as server, Client(
        TOKEN, base_url=server.url + "/gw/acc-1/", path_prefix="/v1"
    ) as client:
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert paths == [b"/gw/acc-1/v1/chat/completions"]


@pytest.mark.parametrize(
    "headers",
    [{"X-A": 1}, {"X-A": b"x"}, {"X-A": None}, {1: "x"}, {b"X-A": "x"}],
    ids=["int", "bytes", "none", "int-name", "bytes-name"],
)
async def test_non_string_header_names_and_values_are_named_in_the_error(
    headers: dict[Any, Any],
) -> None:
    with pytest.raises(ValidationError) as info:
        Client(TOKEN, headers=headers)
    assert info.value.field == "headers"
    (name, value), = headers.items()
    assert repr(name) in str(info.value)
    assert type(value if isinstance(name, str) else name).__name__ in str(info.value)
    client = Client(TOKEN, base_url="http://127.0.0.1:9", max_retries=0)
    async with client:
        with pytest.raises(ValidationError) as call:
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], extra_headers=headers
            )
    assert call.value.field == "headers"
    assert str(call.value) == str(info.value)


@pytest.mark.parametrize(
    "org",
    # Cyrillic a, zero-width space, fullwidth a, Arabic-Indic digits
    ["\u0430cme", "acme\u200b", "\uff41cme", "\u0661\u0662", "acme ", "acme\n", "-acme", "a--b",
     "a" * 40, 7],
)
async def test_org_confusables_and_non_logins_are_refused(org: Any) -> None:
    with pytest.raises(ValidationError) as made:
        Client(TOKEN, org=org)
    assert made.value.field == "org"
    async with Client(TOKEN, base_url="http://127.0.0.1:9", max_retries=0) as client:
        with pytest.raises(ValidationError) as info:
            await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "x"}], org=org
            )
    assert info.value.field == "org"


def test_every_configuration_error_is_a_library_error() -> None:
    assert issubclass(ConfigurationError, GHModelsError)


# ---------------------------------------------------------------------------
# limits at infinity, hooks that are not callables, hooks that raise
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "timeout",
    [float("inf"), Timeout(connect=float("inf"), total=float("inf"), stream_idle=float("inf"))],
    ids=["number", "fields"],
)
async def test_an_infinite_timeout_means_no_limit(timeout: Any) -> None:
    async with FakeServer() as server, Client(TOKEN, base_url=server.url) as client:
        plain = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, timeout=timeout
        )
        stream = await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, stream=True, timeout=timeout
        )
        streamed = await stream.collect()
    async with FakeServer() as server, Client(
        TOKEN, base_url=server.url, timeout=timeout
    ) as client:
        await client.embeddings.create(model="openai/text-embedding-3-small", input="x")
    assert plain.choices[0].message.content == streamed.choices[0].message.content


def test_on_retry_must_be_callable() -> None:
    with pytest.raises(ConfigurationError, match="on_retry"):
        Client(TOKEN, on_retry=5)  # type: ignore[arg-type]


def test_a_huge_max_retries_never_overflows_the_backoff() -> None:
    policy = RetryPolicy(max_retries=10**6, initial_backoff=0.5, max_backoff=8.0)
    assert next_delay(5000, policy, None, rand=lambda: 1.0) == (8.0, False)


async def test_an_on_retry_hook_that_raises_chains_no_token() -> None:
    page = f"500 for Authorization: Bearer {TOKEN}".encode()

    async def handle(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            await conn.write(http_answer(500, page, {"Retry-After": "0"}))

    class Abort(Exception):
        pass

    def abort(event: RetryEvent) -> None:
        raise Abort(event.reason)

    async with RawServer(handle) as server, Client(
        TOKEN, base_url=server.url, max_retries=2, on_retry=abort
    ) as client:
        with pytest.raises(Abort) as info:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    chain: list[BaseException] = []
    error: BaseException | None = info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert len(chain) == 2  # the hook's error, then the scrubbed failure it interrupted
    for link in chain:
        assert TOKEN not in str(link) and TOKEN not in repr(vars(link))
        assert all(TOKEN not in repr(arg) for arg in link.args)


# ---------------------------------------------------------------------------
# text that cannot be UTF-8, keys that are not strings: ValidationError naming the place
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"messages": [{"role": "user", "content": "a\ud800b"}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]},
         "messages[0].content[0].text"),
        ({"stop": ["ok", "\ud83d"]}, "stop[1]"),
        ({"extra_body": {"user": "\ud800"}}, "extra_body.user"),
        ({"extra_body": {"meta": {"k": ["\ud800"]}}}, "extra_body.meta.k[0]"),
        ({"messages": [{"role": "user", "content": "x", 5: "y"}]}, "messages[0]"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("stream", [False, True])
async def test_unsendable_text_and_keys_are_named_before_any_io(
    options: dict[str, Any], field: str, stream: bool
) -> None:
    options = {"messages": MESSAGES, **options}
    async with RawServer(lambda conn: conn.read_request()) as server, Client(  # type: ignore[arg-type,return-value]
        TOKEN, base_url=server.url, max_retries=0
    ) as client:
        with pytest.raises(ValidationError) as info:
            await client.chat.completions.create(model=MODEL, stream=stream, **options)
        with pytest.raises(ValidationError):
            await client.embeddings.create(model=MODEL, input=["ok", "\ud800"])
    assert info.value.field == field, str(info.value)
    assert server.connections == 0


async def test_the_fake_answers_an_unreadable_body_with_a_json_400() -> None:
    import aiohttp

    body = b'{"model": "openai/gpt-4.1", "messages": []}'
    headers = {"Authorization": "Bearer t", "Content-Type": "application/json",
               "Content-Encoding": "gzip"}  # fmt: skip
    async with FakeServer() as server, aiohttp.ClientSession() as http:
        async with http.post(
            f"{server.url}/inference/chat/completions", data=body, headers=headers
        ) as answer:
            assert answer.status == 400
            error = (await answer.json())["error"]
        # the fake keeps serving
        async with Client(TOKEN, base_url=server.url) as client:
            await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    assert error["code"] == "invalid_request_body"
    assert "could not be read" in error["message"]
