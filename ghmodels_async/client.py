"""The public async client: ``async with Client() as c: await c.chat.completions.create(...)``.

It wires the pure core (``_sansio`` builds and reads messages, ``_retry`` decides
waits, ``_sse``/``_stream`` decode streams) to the aiohttp edge (``_transport``): one
retry loop (:meth:`Client._call`, whose ``try`` block is the one place a request is
sent) makes attempts and sleeps the waits the policy asks for. It parses no bytes and
no headers itself, and does not import aiohttp.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import ssl
import warnings
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar, overload

import msgspec

from ._config import check
from ._errors import (
    APIConnectionError,
    APIStatusError,
    ClientClosedError,
    ConfigurationError,
    GHModelsError,
    IncompleteStreamError,
    RedirectError,
    ValidationError,
)
from ._info import ResponseInfo, parse_retry_after
from ._pacing import Pace, Pacing
from ._redact import Redactor
from ._retry import RetryPolicy, retry_decision
from ._sansio import (
    DECODE_ERRORS,
    DEFAULT_BASE_URL,
    Endpoints,
    build_chat_body,
    build_embeddings_body,
    check_headers,
    check_secret,
    decode_base64_embedding,
    decode_body,
    error_for_answer,
    make_headers,
)
from ._stream import ChatCompletionStream
from ._timeout import Timeout
from ._transport import RawResponse, Transport
from .contract import EncodingFormat, ReasoningEffort
from .ratelimit import RateLimiter, estimate_tokens
from .types import (
    CatalogModel,
    ChatCompletion,
    ChatCompletionMessage,
    EmbeddingsResponse,
    Message,
    ResponseFormat,
    StreamOptions,
    Tool,
    ToolChoice,
)

if TYPE_CHECKING:
    import aiohttp  # only for the session= annotation: the edge alone imports aiohttp

    from ._parse import ParsedChatCompletion
    from ._tool_loop import ToolEvent, ToolRunResult, ToolRunStream
    from .tools import FunctionTool

__all__ = ["Client", "RetryEvent"]

logger = logging.getLogger("ghmodels_async")
#: The environment variable read for the base URL when ``base_url=`` is not passed.
BASE_URL_ENV = "GHMODELS_BASE_URL"

T = TypeVar("T")
MessageParam = Message | ChatCompletionMessage | Mapping[str, Any]
ToolParam = Tool | Mapping[str, Any]
_Size = Annotated[int, msgspec.Meta(ge=1)]
_Retries = Annotated[int, msgspec.Meta(ge=0)]
# What one failed attempt may raise that the retry policy gets to judge.
_JUDGED = (APIStatusError, RedirectError, APIConnectionError, IncompleteStreamError)


def _paused_by(failure: Exception) -> bool:
    """Whether a failed paced attempt paused its model: a 429 naming its wait (the
    limiter then waits it out in ``reserve``, once for every caller)."""
    return (
        isinstance(failure, APIStatusError)
        and failure.status_code == 429
        and parse_retry_after(failure.headers) is not None
    )


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


class RetryEvent(msgspec.Struct, frozen=True):
    """What the ``on_retry`` hook receives before each retry wait."""

    attempt: int
    delay: float
    reason: str
    status_code: int | None
    url: str


class _ModelList(msgspec.Struct):
    """An OpenAI-style ``{"object": "list", "data": [...]}`` (Ollama sends ``null``
    for an empty one)."""

    data: list[CatalogModel] | None = None


DEFAULT_TIMEOUT = Timeout()
_completion_decoder = msgspec.json.Decoder(ChatCompletion)
_embeddings_decoder = msgspec.json.Decoder(EmbeddingsResponse)
_catalog_decoder = msgspec.json.Decoder(list[CatalogModel] | _ModelList)


class Client:
    """An async client for the GitHub Models inference API (and compatible servers).

    Use it as ``async with Client() as client:``; it owns one aiohttp session, or borrows
    ``session=`` (which it then never closes). The token comes from ``token=`` or the
    ``GITHUB_TOKEN`` environment variable and is only ever sent to ``base_url``, which
    comes from ``base_url=``, else the ``GHMODELS_BASE_URL`` environment variable, else
    ``https://models.github.ai``. An Azure AI Foundry key can be given as ``api_key=``
    instead (sent as ``api-key``, no bearer token). A client belongs to the event loop
    it first runs in. ``max_retries=``/``max_retry_wait=`` set the retries
    (:attr:`retry_policy` is what they amount to); ``on_retry`` is called with a
    :class:`RetryEvent` before each wait.
    """

    #: Awaited with the seconds to wait before a retry; tests replace it (on the class
    #: or one instance) to record the waits instead of sleeping. close() still wakes it.
    _sleep: Callable[[float], Awaitable[None]] = staticmethod(asyncio.sleep)

    def __init__(
        self,
        token: str | None = None,
        *,
        base_url: str = UNSET,
        path_prefix: str = "/inference",
        catalog_path: str | None = None,
        org: str | None = None,
        api_version: str | None = None,
        headers: Mapping[str, str] | None = None,
        session: aiohttp.ClientSession | None = None,
        timeout: Timeout | float | None = DEFAULT_TIMEOUT,
        max_retries: int = 2,
        max_retry_wait: float = 60.0,
        on_retry: Callable[[RetryEvent], Awaitable[None] | None] | None = None,
        max_connections: int = 100,
        verify_ssl: bool | ssl.SSLContext = True,
        max_response_bytes: int = 64 * 1024 * 1024,
        max_event_bytes: int = 4 * 1024 * 1024,
        api_key: str | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        if base_url is UNSET:
            base_url = os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        if api_key is not None:
            if token is not None:
                raise ConfigurationError("pass either token= or api_key=, not both")
            check_secret("api_key", api_key)
        else:
            if token is None:
                token = os.environ.get("GITHUB_TOKEN")
            if token is None or (isinstance(token, str) and not token.strip()):
                raise ConfigurationError(
                    "no token: pass Client(token=...) or set the GITHUB_TOKEN environment "
                    "variable (or api_key=... for an Azure AI Foundry key)"
                )
            check_secret("token", token)
        if verify_ssl is False:
            ssl_setting: ssl.SSLContext | bool = False
        elif isinstance(verify_ssl, ssl.SSLContext) or verify_ssl is True:
            ssl_setting = verify_ssl
        else:
            raise ConfigurationError("verify_ssl must be True, False or an ssl.SSLContext")
        for name, size in (
            ("max_response_bytes", max_response_bytes),
            ("max_event_bytes", max_event_bytes),
        ):
            check(size, _Size, f"{name} must be an integer >= 1, got {{value!r}}")
        self._endpoints = Endpoints(base_url, path_prefix, catalog_path, api_version)
        self._org = None if org is None else self._endpoints.check_org(org, ConfigurationError)
        self._headers = make_headers(token, headers, api_key=api_key)
        self._redactor = Redactor(token, api_key)
        self._timeout = Timeout.coerce(timeout)
        self._retry = RetryPolicy(max_retries=max_retries, max_retry_wait=max_retry_wait)
        if on_retry is not None and not callable(on_retry):
            raise ConfigurationError(
                f"on_retry must be a callable taking a RetryEvent, got {type(on_retry).__name__}"
            )
        self._on_retry = on_retry
        if rate_limiter is not None and (
            isinstance(rate_limiter, type) or not isinstance(rate_limiter, RateLimiter)
        ):
            raise ConfigurationError(
                "rate_limiter must implement reserve/settle/penalize "
                f"(ghmodels_async.ratelimit.RateLimiter), got {type(rate_limiter).__name__}"
            )
        # Every chat/stream/embeddings attempt of this client is paced by it (not the catalog).
        self._pacing = None if rate_limiter is None else Pacing(rate_limiter)
        self._max_event_bytes = max_event_bytes
        self._transport = Transport(
            session=session,
            max_connections=max_connections,
            ssl_context=ssl_setting,
            max_response_bytes=max_response_bytes,
        )
        self._closed_event: asyncio.Event | None = None
        self.chat = Chat(self)
        self.embeddings = Embeddings(self)
        self.models = Models(self)

    # -- lifecycle ---------------------------------------------------------

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        transport = getattr(self, "_transport", None)
        if transport is not None and transport.needs_close:
            _warn(
                f"unclosed ghmodels_async client {self!r}: use 'async with Client() as "
                "client:' or 'await client.close()' so its connections are released",
                ResourceWarning,
                source=self,
            )

    async def __aenter__(self) -> Client:
        if self._transport.closed:
            raise ClientClosedError("this client is closed; create a new one")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the client: running calls fail with ClientClosedError; a borrowed session
        stays open."""
        if self._closed_event is not None:
            self._closed_event.set()
        await self._transport.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._transport.closed

    @property
    def base_url(self) -> str:
        """The configured base URL (no path prefix)."""
        return self._endpoints.base_url

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry settings ``max_retries=``/``max_retry_wait=`` amount to."""
        return self._retry

    @property
    def org(self) -> str | None:
        """The client-wide organization for attribution, if any."""
        return self._org

    def __repr__(self) -> str:
        return (
            f"Client(base_url={self._endpoints.base_url!r}, "
            f"path_prefix={self._endpoints.path_prefix!r}, org={self._org!r}, token=<redacted>)"
        )

    # -- plumbing shared by the resources ---------------------------------

    def _call_headers(self, extra: Mapping[str, str] | None) -> Mapping[str, str]:
        if not extra:
            return self._headers
        merged = dict(self._headers)
        merged.update(check_headers(extra))
        return merged

    def _call_policy(self, max_retries: Any) -> RetryPolicy:
        if max_retries is UNSET:
            return self._retry
        check(
            max_retries,
            _Retries,
            "max_retries must be an integer >= 0, got {value!r}",
            lambda message: ValidationError(message, field="max_retries"),
        )
        return RetryPolicy(
            max_retries=max_retries,
            initial_backoff=self._retry.initial_backoff,
            max_backoff=self._retry.max_backoff,
            max_retry_wait=self._retry.max_retry_wait,
        )

    def _call_timeout(self, timeout: Any) -> Timeout:
        if timeout is UNSET:
            return self._timeout
        try:
            return Timeout.coerce(timeout)
        except ConfigurationError as exc:
            raise ValidationError(str(exc), field="timeout") from None

    def _url(self, operation: str, org: str | None) -> str:
        return self._endpoints.url(operation, org if org is not None else self._org)

    async def _before_retry(
        self,
        attempt: int,
        policy: RetryPolicy,
        delay: float,
        url: str,
        failure: Exception,
        paused: bool = False,
    ) -> None:
        """Report retry ``attempt + 1`` and sleep ``delay`` seconds; close() cuts the wait.

        ``paused``: the rate limiter already pauses the model for the server's wait, so
        the next reserve waits it out (once for every caller) and this does not sleep.
        """
        status = failure.status_code if isinstance(failure, APIStatusError) else None
        reason = self._redactor.text(str(failure))
        if logger.isEnabledFor(logging.INFO):
            logger.info("retry %d/%d in %.2f s: %s", attempt + 1, policy.max_retries, delay, reason)
        if self._on_retry is not None:
            outcome = self._on_retry(RetryEvent(attempt + 1, delay, reason, status, url))
            if inspect.isawaitable(outcome):
                await outcome
        if paused:
            return
        if self._closed_event is None:
            self._closed_event = asyncio.Event()
        if self._transport.closed:
            raise ClientClosedError("the client was closed while waiting to retry")
        sleeper = asyncio.ensure_future(self._sleep(delay))
        closer = asyncio.ensure_future(self._closed_event.wait())
        try:
            await asyncio.wait((sleeper, closer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            closer.cancel()
        if not sleeper.done() or sleeper.cancelled() or self._transport.closed:
            raise ClientClosedError("the client was closed while waiting to retry")
        sleeper.result()  # an exception of the sleep itself propagates

    @overload
    async def _call(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
        policy: RetryPolicy,
        stream: Literal[False] = False,
        pace: Pace | None = None,
    ) -> RawResponse: ...

    @overload
    async def _call(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
        policy: RetryPolicy,
        stream: Literal[True],
        pace: Pace | None = None,
    ) -> ChatCompletionStream: ...

    async def _call(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
        policy: RetryPolicy,
        stream: bool = False,
        pace: Pace | None = None,
    ) -> RawResponse | ChatCompletionStream:
        """The retry loop (plain and streaming calls alike): one attempt, and on a
        failure the pure policy's answer: a wait (sleep it, go again) or the error to raise.

        The inner ``try`` block is the one attempt, the single place a request is sent
        (inline for the plain path: a coroutine level less on every read of every call).
        Every error leaves scrubbed (no token, no aiohttp exception chained).
        """
        attempt = 0
        transport = self._transport
        try:
            while True:
                try:
                    if pace is not None:
                        return await self._paced_attempt(
                            method, url, body, headers, timeout, stream, pace
                        )
                    if stream:
                        return await self._open_stream(url, body, headers, timeout)
                    raw = await transport.request(method, url, headers, body, timeout)
                    if raw.status < 300:
                        return raw
                    raise error_for_answer(raw.status, raw.headers, raw.body)
                except _JUDGED as failure:
                    # scrubbed now: an on_retry hook that raises chains its own error to it
                    self._redactor.scrub(failure)
                    decision = retry_decision(policy, attempt, failure)
                    if isinstance(decision, BaseException):
                        raise decision from None
                    paused = pace is not None and _paused_by(failure)
                    await self._before_retry(attempt, policy, decision, url, failure, paused)
                attempt += 1
        except GHModelsError as exc:
            raise self._redactor.scrub(exc) from None

    async def _paced_attempt(
        self,
        method: str,
        url: str,
        body: bytes | None,
        headers: Mapping[str, str],
        timeout: Timeout,
        stream: bool,
        pace: Pace,
    ) -> RawResponse | ChatCompletionStream:
        """One attempt under the rate limiter: reserve, send, settle however it ends (a
        429 naming its wait also pauses the model); an opened stream keeps its
        reservation until it finishes or is closed."""
        pacing = self._pacing
        assert pacing is not None
        ticket = await pacing.reserve(pace)
        try:
            if stream:
                opened = await self._open_stream(url, body, headers, timeout)
            else:
                raw = await self._transport.request(method, url, headers, body, timeout)
        except APIStatusError as error:  # a stream's error status: an answer all the same
            await pacing.answered(ticket, pace, error.status_code, error.headers, error.body)
            raise
        except BaseException as exc:
            await pacing.failed(ticket, exc)
            raise
        if stream:
            opened._on_end = pacing.stream_end_hook(ticket)
            return opened
        await pacing.answered(ticket, pace, raw.status, raw.headers, raw.body)
        if raw.status < 300:
            return raw
        raise error_for_answer(raw.status, raw.headers, raw.body)

    async def _open_stream(
        self, url: str, body: bytes | None, headers: Mapping[str, str], timeout: Timeout
    ) -> ChatCompletionStream:
        """The streaming attempt: open, with the first event in (so a failure before it
        can still be retried), or raise the mapped error."""
        assert body is not None
        transport = self._transport
        handle = await transport.open_stream(url, headers, body, timeout)
        if handle.status < 300:
            opened = ChatCompletionStream(handle, self._max_event_bytes, self._redactor)
            content_type = handle.headers.get("content-type") or ""
            if content_type.lower().startswith("application/json"):
                # a server that ignores "stream": true answers the whole completion
                opened._from_json(await handle.read_all(transport.max_response_bytes))
                return opened
            await opened._fill()
            return opened
        try:
            error_body = b""
            if handle.status >= 400:
                error_body = await handle.read_all(transport.max_response_bytes)
        finally:
            handle.close()
        raise error_for_answer(handle.status, handle.headers, error_body)

    def _decode(self, decoder: msgspec.json.Decoder[T], raw: RawResponse, what: str) -> T:
        """Decode a 2xx body; a malformed one raises a scrubbed ResponseDecodeError."""
        try:
            return decode_body(decoder, raw.body, what)
        except GHModelsError as exc:
            raise self._redactor.scrub(exc) from None


class Completions:
    """``client.chat.completions``: chat completions, streamed or not."""

    def __init__(self, client: Client) -> None:
        self._client = client

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam],
        stream: Literal[False] = False,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        modalities: Sequence[Literal["text", "audio"]] | None = None,
        reasoning_effort: ReasoningEffort | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | type[Any] | None = None,
        seed: int | None = None,
        stream_options: StreamOptions | Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        tool_choice: ToolChoice | Mapping[str, Any] | None = None,
        tools: Sequence[ToolParam | FunctionTool[Any, Any]] | None = None,
        org: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = UNSET,
        max_retries: int = UNSET,
    ) -> ChatCompletion: ...

    @overload
    async def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam],
        stream: Literal[True],
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        modalities: Sequence[Literal["text", "audio"]] | None = None,
        reasoning_effort: ReasoningEffort | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | type[Any] | None = None,
        seed: int | None = None,
        stream_options: StreamOptions | Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        tool_choice: ToolChoice | Mapping[str, Any] | None = None,
        tools: Sequence[ToolParam | FunctionTool[Any, Any]] | None = None,
        org: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = UNSET,
        max_retries: int = UNSET,
    ) -> ChatCompletionStream: ...

    async def create(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam],
        stream: bool = False,
        frequency_penalty: float | None = None,
        presence_penalty: float | None = None,
        max_tokens: int | None = None,
        max_completion_tokens: int | None = None,
        modalities: Sequence[Literal["text", "audio"]] | None = None,
        reasoning_effort: ReasoningEffort | None = None,
        response_format: ResponseFormat | Mapping[str, Any] | type[Any] | None = None,
        seed: int | None = None,
        stream_options: StreamOptions | Mapping[str, Any] | None = None,
        stop: str | Sequence[str] | None = None,
        temperature: float | None = None,
        top_p: float | None = None,
        tool_choice: ToolChoice | Mapping[str, Any] | None = None,
        tools: Sequence[ToolParam | FunctionTool[Any, Any]] | None = None,
        org: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = UNSET,
        max_retries: int = UNSET,
    ) -> ChatCompletion | ChatCompletionStream:
        """Create a chat completion; with ``stream=True`` return a ChatCompletionStream.

        Keyword names are the REST body names. Everything is validated before any I/O;
        a bad value raises ValidationError naming the field and what is allowed.
        """
        if not isinstance(stream, bool):
            raise ValidationError(f"stream must be True or False, got {stream!r}", field="stream")
        if tools is not None or (
            response_format is not None and type(response_format) is not dict
        ):  # types and @function_tool objects become their JSON Schemas (tools.py)
            from .tools import convert_typed_options

            response_format, tools = convert_typed_options(response_format, tools)
        body = build_chat_body(
            {
                "model": model,
                "messages": messages,
                "frequency_penalty": frequency_penalty,
                "presence_penalty": presence_penalty,
                "max_tokens": max_tokens,
                "max_completion_tokens": max_completion_tokens,
                "modalities": modalities,
                "reasoning_effort": reasoning_effort,
                "response_format": response_format,
                "seed": seed,
                "stream": True if stream else None,
                "stream_options": stream_options,
                "stop": stop,
                "temperature": temperature,
                "top_p": top_p,
                "tool_choice": tool_choice,
                "tools": tools,
            },
            extra_body,
        )
        client = self._client
        url = client._url("chat/completions", org)
        # the defaults without a method call each: this is the per-call hot path
        headers = client._headers if not extra_headers else client._call_headers(extra_headers)
        call_timeout = client._timeout if timeout is UNSET else client._call_timeout(timeout)
        policy = client._retry if max_retries is UNSET else client._call_policy(max_retries)
        pace = None
        if client._pacing is not None:
            pace = Pace(model, estimate_tokens(body, max_tokens or max_completion_tokens))
        if stream:
            return await client._call("POST", url, body, headers, call_timeout, policy, True, pace)
        raw = await client._call("POST", url, body, headers, call_timeout, policy, False, pace)
        try:
            completion = _completion_decoder.decode(raw.body)
        except DECODE_ERRORS:  # the slow path names the problem, scrubbed
            completion = client._decode(_completion_decoder, raw, "chat completion")
        completion.__dict__["_response_info"] = ResponseInfo(raw.status, raw.headers, raw.body)
        return completion

    # -- typed output and tool loops (logic in _parse.py, _tool_loop.py, tools.py) --------

    async def parse(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam],
        response_format: type[T] | None = None,
        tools: Sequence[ToolParam | FunctionTool[Any, Any]] | None = None,
        **options: Any,
    ) -> ParsedChatCompletion[T]:
        """``create`` plus a typed parse: ``choices[i].message.parsed`` is the answer decoded
        into ``response_format`` (a Struct, dataclass, TypedDict...; sent as a strict
        json_schema), and each call of a ``@function_tool`` gets ``parsed_arguments``.

        Raises LengthFinishReasonError / ContentFilterFinishReasonError when the answer
        stopped early, ContentDecodeError when it does not match the type; a refusal
        leaves ``parsed`` at None and sets ``message.refusal``.
        """
        from ._parse import parse_completion
        from .tools import is_output_type, output_codec, tool_index

        codec = output_codec(response_format) if is_output_type(response_format) else None
        index = tool_index(tools)
        if options.get("stream"):
            raise ValidationError("parse does not stream; use create(stream=True)", field="stream")
        completion = await self.create(
            model=model, messages=messages, response_format=response_format, tools=tools,
            **options,
        )  # fmt: skip
        return parse_completion(completion, codec, index)

    async def run_tools(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam],
        tools: Sequence[FunctionTool[Any, Any]],
        max_rounds: int = 8,
        tool_concurrency: int = 8,
        tool_timeout: float | None = None,
        on_event: Callable[[ToolEvent], Awaitable[None] | None] | None = None,
        **options: Any,
    ) -> ToolRunResult:
        """Call the model, run the tools it asks for (concurrently, each bounded by its
        timeout), send the results back, and repeat until it answers without tool calls.

        ``on_event`` gets ToolCallStarted/ToolCallFinished. More than ``max_rounds`` model
        calls raises MaxToolRoundsError; other keywords go to ``create``. See docs/tools.md.
        """
        from ._tool_loop import ToolLoop

        loop = ToolLoop(
            self, model=model, messages=messages, tools=tools, max_rounds=max_rounds,
            tool_concurrency=tool_concurrency, tool_timeout=tool_timeout, on_event=on_event,
            options=options,
        )  # fmt: skip
        return await loop.run()

    def run_tools_stream(
        self,
        *,
        model: str,
        messages: Sequence[MessageParam],
        tools: Sequence[FunctionTool[Any, Any]],
        max_rounds: int = 8,
        tool_concurrency: int = 8,
        tool_timeout: float | None = None,
        on_event: Callable[[ToolEvent], Awaitable[None] | None] | None = None,
        **options: Any,
    ) -> ToolRunStream:
        """The streaming ``run_tools``: iterate it for text deltas and tool events as they
        happen; ``.result`` is the same ToolRunResult at the end. Arguments are checked
        here, before any I/O; requests start with the iteration."""
        from ._tool_loop import ToolLoop, ToolRunStream

        loop = ToolLoop(
            self, model=model, messages=messages, tools=tools, max_rounds=max_rounds,
            tool_concurrency=tool_concurrency, tool_timeout=tool_timeout, on_event=on_event,
            options=options,
        )  # fmt: skip
        return ToolRunStream(loop)


class Chat:
    """``client.chat``: holds ``completions``."""

    def __init__(self, client: Client) -> None:
        self.completions = Completions(client)


class Embeddings:
    """``client.embeddings``: vectors for texts."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def create(
        self,
        *,
        model: str,
        input: str | Sequence[str],
        encoding_format: EncodingFormat | None = None,
        dimensions: int | None = None,
        user: str | None = None,
        org: str | None = None,
        extra_headers: Mapping[str, str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        timeout: Timeout | float | None = UNSET,
        max_retries: int = UNSET,
    ) -> EmbeddingsResponse:
        """Embed one text or a list of texts (``POST .../embeddings``)."""
        body = build_embeddings_body(
            {
                "model": model,
                "input": input,
                "encoding_format": encoding_format,
                "dimensions": dimensions,
                "user": user,
            },
            extra_body,
        )
        client = self._client
        pace = None if client._pacing is None else Pace(model, estimate_tokens(body, None))
        raw = await client._call(
            "POST",
            client._url("embeddings", org),
            body,
            client._call_headers(extra_headers),
            client._call_timeout(timeout),
            client._call_policy(max_retries),
            False,
            pace,
        )
        result = client._decode(_embeddings_decoder, raw, "embeddings")
        for item in result.data:
            if isinstance(item.embedding, str):  # encoding_format="base64": floats too
                item.embedding = decode_base64_embedding(item.embedding)
        result.__dict__["_response_info"] = ResponseInfo(raw.status, raw.headers, raw.body)
        return result


class Models:
    """``client.models``: the model catalog."""

    def __init__(self, client: Client) -> None:
        self._client = client

    async def list(
        self,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: Timeout | float | None = UNSET,
        max_retries: int = UNSET,
    ) -> list[CatalogModel]:
        """The models: GitHub's ``GET /catalog/models``, or with another ``path_prefix``
        the OpenAI route ``GET {prefix}/models`` (``{"object": "list", "data": [...]}``)."""
        client = self._client
        raw = await client._call(
            "GET",
            client._endpoints.catalog_url,
            None,
            client._call_headers(extra_headers),
            client._call_timeout(timeout),
            client._call_policy(max_retries),
        )
        catalog: list[CatalogModel] | _ModelList = client._decode(
            _catalog_decoder, raw, "catalog"
        )
        if isinstance(catalog, _ModelList):
            return catalog.data or []
        return catalog
