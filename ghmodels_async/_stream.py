"""A streamed chat completion: typed chunks from the SSE bytes of a ``ByteStream``.

``ChatCompletionStream`` is an async iterator and async context manager over one open
answer. Leaving ``async with``, breaking out of ``async for``, an exception or task
cancellation closes the connection at once; a stream read to ``[DONE]`` hands its
connection back to the pool. It depends on the ``ByteStream`` protocol defined here,
not on aiohttp (the edge's ``StreamHandle`` implements it).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Protocol

import msgspec

from ._accumulator import StreamAccumulator
from ._errors import (
    GHModelsError,
    IncompleteStreamError,
    ResponseDecodeError,
    StreamConsumedError,
    StreamEventError,
)
from ._info import RateLimitInfo, ResponseInfo
from ._redact import Redactor
from ._sansio import DECODE_ERRORS, parse_error_body
from ._sse import SSEDecoder
from .types import ChatCompletion, ChatCompletionChunk, Usage

__all__ = ["ByteStream", "ChatCompletionStream"]

_DONE = b"[DONE]"
_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk)
_completion_decoder = msgspec.json.Decoder(ChatCompletion)
_json_encoder = msgspec.json.Encoder()


class ByteStream(Protocol):
    """An open answer as the stream reads it: status, headers (lowercase names), blocks."""

    status: int
    headers: Mapping[str, str]

    async def read_block(self) -> bytes:
        """The next block of body bytes; ``b""`` at the end of the body."""
        ...

    def close(self) -> None:
        """Drop the connection now (safe to call twice)."""
        ...

    def release(self) -> None:
        """Hand a fully read connection back for reuse."""
        ...


class ChatCompletionStream:
    """The chunks of one streamed completion, typed, in order.

    ``usage`` holds the usage of the last chunk that carried one (the include_usage chunk,
    or a content chunk for servers such as TGI); it stays ``None`` when the request did
    not ask for ``stream_options={"include_usage": True}`` and the server sent none.
    ``response`` holds the HTTP facts (headers, request id, rate limits). A stream is
    consumed once: iterating it again, or ``collect()`` after iterating, raises
    StreamConsumedError. ``last_data`` is the raw ``data:`` payload (bytes) of the chunk
    last returned, for fields the types do not know.
    """

    __slots__ = ("_cut", "_done", "_handle", "_iterated", "_on_end", "_pending", "_redactor",
                 "_sse", "last_data", "response", "usage")

    def __init__(
        self, handle: ByteStream, max_event_bytes: int, redactor: Redactor | None = None
    ) -> None:
        self._handle: ByteStream | None = handle
        self._redactor = redactor if redactor is not None else Redactor()
        self._iterated = False
        self._cut = False  # closed before its [DONE]
        self._sse = SSEDecoder(max_event_bytes)
        self._pending: list[bytes] = []
        self._done = False
        self.last_data: bytes | None = None
        self.usage: Usage | None = None
        self.response = ResponseInfo(handle.status, handle.headers)
        # Called once when the stream finishes or is closed (the client's rate limiter
        # settles the stream's slot there); None without a limiter.
        self._on_end: Callable[[int | None, RateLimitInfo], None] | None = None

    @property
    def finished(self) -> bool:
        """True once ``[DONE]`` was read (or the stream was closed)."""
        return self._done

    def __aiter__(self) -> _StreamLoop:
        if self._iterated:
            self.close()
            raise StreamConsumedError(
                "this stream was already iterated: a stream is consumed once (keep the "
                "chunks, or call collect() instead of iterating)"
            )
        if self._cut:
            raise StreamConsumedError(
                "this stream was closed before it was read: there is nothing to iterate or "
                "collect (read it before leaving 'async with' or calling close())"
            )
        self._iterated = True
        return _StreamLoop(self)

    async def _fill(self) -> None:
        """Read until at least one event is pending (only called with none pending)."""
        pending = self._pending
        while not pending:
            handle = self._handle
            if handle is None:
                return
            try:
                block = await handle.read_block()
                events = self._sse.feed(block) if block else self._sse.flush()
            except BaseException as exc:
                self.close()
                if isinstance(exc, GHModelsError):
                    raise self._redactor.scrub(exc) from None
                raise
            if events:
                events.reverse()  # pop() from the end yields events in order
                pending.extend(events)
            elif not block:
                self.close()
                raise IncompleteStreamError(
                    "the stream ended before 'data: [DONE]': the answer is incomplete"
                ) from None

    def _from_json(self, body: bytes) -> None:
        """Serve a whole JSON completion (from a server that does not stream) as one
        chunk and ``[DONE]``; an error body raises StreamEventError, anything else
        ResponseDecodeError. The connection is handed back at once."""
        handle, self._handle = self._handle, None
        completion: ChatCompletion | None
        try:
            completion = _completion_decoder.decode(body)
            problem = "it has no choices"
        except DECODE_ERRORS as exc:
            completion, problem = None, str(exc)
        if completion is None or (not completion.choices and not completion.id):
            if handle is not None:
                handle.close()
            self.close()
            self._raise_if_error(body)
            preview = body[:200].decode("utf-8", "replace")
            error = ResponseDecodeError(
                "the server answered a streaming request with JSON that is not a chat "
                f"completion: {problem} (body starts: {preview!r})"
            )
            raise self._redactor.scrub(error) from None
        if handle is not None:
            handle.release()
        data = msgspec.to_builtins(completion)
        for choice in data.get("choices") or ():
            delta = choice.pop("message", None) or {}
            for i, call in enumerate(delta.get("tool_calls") or ()):
                call["index"] = i
            choice["delta"] = delta
        data["object"] = "chat.completion.chunk"
        self._pending[:] = [_DONE, _json_encoder.encode(data)]

    async def __anext__(self) -> ChatCompletionChunk:
        pending = self._pending
        if not pending:
            if self._done:
                raise StopAsyncIteration
            await self._fill()
            if not pending:
                raise StopAsyncIteration
        data = pending.pop()
        if data == _DONE:
            self._finish()
            raise StopAsyncIteration
        self.last_data = data
        try:
            chunk = _chunk_decoder.decode(data)
        except DECODE_ERRORS as exc:
            if data.strip() == _DONE:  # "data:  [DONE] ": a sloppy server's end all the same
                self.last_data = None
                self._finish()
                raise StopAsyncIteration from None
            self.close()
            preview = data[:200].decode("utf-8", "replace")
            error = ResponseDecodeError(f"malformed stream chunk: {exc} (data: {preview!r})")
            raise self._redactor.scrub(error) from None
        if chunk.usage is not None:  # whichever chunk carries it; the last one wins
            self.usage = chunk.usage
        elif not chunk.choices and not chunk.id:
            self._raise_if_error(data)
        return chunk

    def _raise_if_error(self, data: bytes) -> None:
        detail = parse_error_body(data)
        if detail is not None and detail.message:
            self.close()
            code = None if detail.code is None else str(detail.code)
            error = StreamEventError(
                f"the server reported an error mid-stream: {detail.message}",
                code=code,
                message=detail.message,
                error_type=detail.type,
            )
            raise self._redactor.scrub(error)

    def _finish(self) -> None:
        self._done = True
        self._pending.clear()  # nothing after [DONE] is part of the answer
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.release()
        if self._on_end is not None:
            self._ended()

    def close(self) -> None:
        """Close the connection now; further iteration ends at once."""
        if not self._done:
            self._cut = True
        self._done = True
        self._pending.clear()
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()
        if self._on_end is not None:
            self._ended()

    def _ended(self) -> None:
        on_end, self._on_end = self._on_end, None
        if on_end is not None:
            usage = self.usage
            on_end(None if usage is None else usage.total_tokens, self.response.rate_limit)

    async def aclose(self) -> None:
        """Async spelling of :meth:`close`."""
        self.close()

    async def __aenter__(self) -> ChatCompletionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
        if getattr(self, "_on_end", None) is not None:
            self._ended()

    async def collect(self) -> ChatCompletion:
        """Read the rest of the stream and return it folded into one ChatCompletion.

        Only on a stream not iterated yet (else StreamConsumedError)."""
        accumulator = StreamAccumulator()
        async with self:
            async for chunk in self:
                accumulator.add(chunk)
        return accumulator.completion()

    def __repr__(self) -> str:
        return (
            f"ChatCompletionStream(finished={self._done}, request_id={self.response.request_id!r})"
        )


class _StreamLoop:
    """The iterator ``async for`` gets; when the loop is left early it is dropped and
    closes the stream, so ``break`` releases the connection at once."""

    __slots__ = ("_stream",)

    def __init__(self, stream: ChatCompletionStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _StreamLoop:
        return self

    def __anext__(self) -> Awaitable[ChatCompletionChunk]:
        return self._stream.__anext__()

    def __del__(self) -> None:
        stream = self._stream
        if not stream._done:
            stream.close()
