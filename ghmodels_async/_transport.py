"""The aiohttp edge: the client's only module that imports aiohttp.

It owns (or borrows) one ``ClientSession``, sends prepared bytes, reads bodies with a
size bound, hands out stream byte blocks (a ``StreamHandle`` is the core's
``ByteStream``), hands the core answer headers with lowercase names, and maps every
aiohttp or timeout exception onto the library's tree. It parses nothing, decides no
retries and sleeps for nobody.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Awaitable, Iterator, Mapping
from typing import Annotated, Any, NoReturn

import aiohttp
import msgspec
from aiohttp.connector import Connection
from multidict import CIMultiDictProxy
from yarl import URL

from ._config import check
from ._errors import (
    APIConnectionError,
    APITimeoutError,
    ClientClosedError,
    ConfigurationError,
    IncompleteStreamError,
    ResponseTooLargeError,
    WrongEventLoopError,
)
from ._info import lower_headers
from ._timeout import Timeout

__all__ = ["LowerHeaders", "RawResponse", "StreamHandle", "Transport"]

_READ_SIZE = 1 << 16
_running_loop = asyncio.get_running_loop
_new_headers = object.__new__
_CACHE_LIMIT = 1024
# A pool this size of connections all holding stray bytes is dropped before giving up.
_MAX_DIRTY_CONNECTIONS = 64


class CleanConnector(aiohttp.TCPConnector):
    """A TCPConnector that never hands a request a pooled connection holding unread bytes.

    HTTP/1.1 answers carry no request id: bytes a server writes onto an idle keep-alive
    connection (an unsolicited or duplicated answer) would be read by aiohttp as the
    answer to the next request sent on it, i.e. one caller would read another's data.
    Such a connection is closed here and another one taken (a new one if need be).
    Bytes arriving at the very instant of reuse cannot be told from the real answer.
    """

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Connection:
        """A connection from the pool, or a new one, with nothing unread on it."""
        connection = await _tcp_connect(self, req, traces, timeout)
        protocol = connection.protocol
        if protocol is None or not _unclean(protocol):
            return connection  # the common case: one check, no extra loop
        for _ in range(_MAX_DIRTY_CONNECTIONS - 1):
            connection.close()  # stray bytes arrived while it sat in the pool
            connection = await _tcp_connect(self, req, traces, timeout)
            protocol = connection.protocol
            if protocol is None or not _unclean(protocol):
                return connection
        connection.close()
        return await _tcp_connect(self, req, traces, timeout)


# Called as a plain function: no super() object on every request.
_tcp_connect = aiohttp.TCPConnector.connect


def _unclean(protocol: Any) -> Any:
    """Truthy when aiohttp's ``protocol.should_close`` is: the same conditions read from
    its fields, without the property's call from C (about 1,900 instructions, on every
    request); a field this aiohttp does not have falls back to the property itself.
    tests/test_hostile.py checks that both agree."""
    try:
        payload = protocol._payload
        return (
            protocol._tail
            or protocol._buffer
            or protocol._should_close
            or protocol._exception is not None
            or protocol._payload_parser is not None
            or protocol._upgraded
            or (payload is not None and not payload.is_eof())
        )
    except AttributeError:
        return protocol.should_close


class LowerHeaders(Mapping[str, str]):
    """An answer's headers as the core expects them: names lowercase (first one wins).

    Built from aiohttp's headers on first read, so a call whose headers nobody reads
    (the common, successful case) pays nothing for them.
    """

    __slots__ = ("_lowered", "_raw")

    def __init__(self, raw: CIMultiDictProxy[str]) -> None:
        self._raw = raw
        self._lowered: dict[str, str] | None = None

    def _dict(self) -> dict[str, str]:
        lowered = self._lowered
        if lowered is None:
            lowered = self._lowered = lower_headers(self._raw)
        return lowered

    def __getitem__(self, name: str) -> str:
        return self._dict()[name]

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        """The value of header ``name`` (lowercase), or ``default``."""
        if self._lowered is None and name.islower():
            # aiohttp's own lookup ignores case and gives the first value, as the dict
            # would: one header read (a stream's content type) need not build it
            return self._raw.get(name, default)
        return self._dict().get(name, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        return f"LowerHeaders({self._dict()!r})"


class RawResponse:
    """Status, headers and body of a finished answer."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def _transport_error(
    exc: BaseException, what: str, closed: bool, retryable: bool = True
) -> NoReturn:
    """Raise the library's exception for an aiohttp/OS/timeout failure."""
    if closed:
        raise ClientClosedError(f"the client was closed during the {what}") from None
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        raise APITimeoutError(f"timed out during the {what}", retryable=retryable) from None
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        raise APIConnectionError(
            f"TLS certificate verification failed during the {what}: {exc.certificate_error}",
            retryable=False,
        ) from None
    reason = str(exc) or type(exc).__name__
    raise APIConnectionError(
        f"connection failed during the {what}: {reason}", retryable=retryable
    ) from None


def _limit(seconds: float | None) -> float | None:
    """A Timeout field as aiohttp takes it: infinity means no limit (aiohttp would fail
    rounding it to a loop time)."""
    return None if seconds is None or seconds == math.inf else seconds


def _drop_response(task: asyncio.Future[aiohttp.ClientResponse]) -> None:
    """Close the answer of an abandoned request, if it still produced one."""
    if not task.cancelled() and task.exception() is None:
        task.result().close()


class StreamHandle:
    """An open streaming answer: status, headers, and byte blocks until EOF (the
    ``ByteStream`` the core's ``ChatCompletionStream`` reads)."""

    __slots__ = ("_response", "_transport", "headers", "status")

    def __init__(self, transport: Transport, response: aiohttp.ClientResponse) -> None:
        self._transport = transport
        self._response = response
        self.status = response.status
        self.headers: Mapping[str, str] = LowerHeaders(response.headers)

    async def read_block(self) -> bytes:
        """The next block of body bytes; ``b""`` at the end of the body."""
        try:
            return await self._response.content.readany()
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError) as exc:
            if self._transport.closed:
                raise ClientClosedError("the client was closed during the stream") from None
            raise IncompleteStreamError(
                f"the connection broke before the stream finished: {exc}"
            ) from None
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and not self._transport.closed:
                raise APITimeoutError(
                    "the stream was idle for longer than Timeout.stream_idle"
                ) from None
            _transport_error(exc, "stream", self._transport.closed)

    async def read_all(self, limit: int) -> bytes:
        """The rest of the body (an error answer, or JSON where a stream was asked for),
        bounded by ``limit`` bytes; a cut or broken body is an APIConnectionError."""
        try:
            return await self._transport.read_bounded(self._response, limit)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            self.close()
            _transport_error(exc, "response body read", self._transport.closed, retryable=False)

    def close(self) -> None:
        """Drop the connection now (synchronous, safe to call twice)."""
        self._transport.forget(self._response)
        self._response.close()

    def release(self) -> None:
        """Give a fully read connection back to the pool."""
        self._transport.forget(self._response)
        self._response.release()


class Transport:
    """One aiohttp session (owned or borrowed) and the two ways to use it."""

    def __init__(
        self,
        *,
        session: aiohttp.ClientSession | None = None,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | bool = True,
        max_response_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise ConfigurationError("session must be an aiohttp.ClientSession")
        check(
            max_connections,
            Annotated[int, msgspec.Meta(ge=0)],
            "max_connections must be an integer >= 0 (0 = unlimited), got {value!r}",
        )
        self._session = session
        self._owns_session = session is None
        self._max_connections = max_connections
        self._ssl = ssl_context
        self.max_response_bytes = max_response_bytes
        self.closed = False
        self._timeouts: dict[int, tuple[Timeout, aiohttp.ClientTimeout, aiohttp.ClientTimeout]] = {}
        self._urls: dict[str, URL] = {}
        # Answers whose body is being read: close() must wake their pending reads, which
        # closing the session alone does not do (aiohttp detaches the payload first).
        self._active: set[aiohttp.ClientResponse] = set()
        # Set by close(): a borrowed session is not ours to close, so requests still
        # waiting for their headers on it race this instead.
        self._close_waiter: asyncio.Future[None] | None = None
        # The loop of the first call: aiohttp sessions and connections belong to it.
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def needs_close(self) -> bool:
        """Whether this transport opened a session that close() has not closed yet."""
        return self._owns_session and self._session is not None and not self.closed

    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is None:
            self._loop = loop
        elif loop is not self._loop:
            raise WrongEventLoopError(
                "this client was first used in another event loop (e.g. an earlier "
                "asyncio.run()); a client and its connections belong to one event loop: "
                "create the client inside the loop that uses it"
            )

    @property
    def owns_session(self) -> bool:
        """Whether closing the client closes the session."""
        return self._owns_session

    def _get_session(self) -> aiohttp.ClientSession:
        if _running_loop() is not self._loop:  # inline: this runs on every request
            self._check_loop()
        session = self._session
        if session is None:
            if self.closed:
                raise ClientClosedError("the client is closed")
            connector = CleanConnector(limit=self._max_connections, ssl=self._ssl)
            session = self._session = aiohttp.ClientSession(
                connector=connector, raise_for_status=False, trust_env=False
            )
        elif self.closed or session.closed:
            raise ClientClosedError(
                "the client is closed" if self.closed else "the session is closed"
            )
        return session

    def forget(self, response: aiohttp.ClientResponse) -> None:
        """Stop tracking an answer whose body is done with (close() need not wake it)."""
        self._active.discard(response)

    def _client_timeout(self, timeout: Timeout, streaming: bool) -> aiohttp.ClientTimeout:
        # Keyed by identity (one dict lookup, no hashing of the Timeout's fields); the
        # Timeout is kept in the entry so a recycled id can never match another object.
        entry = self._timeouts.get(id(timeout))
        if entry is None or entry[0] is not timeout:
            if len(self._timeouts) >= _CACHE_LIMIT:
                self._timeouts.clear()
            connect = _limit(timeout.connect)
            entry = self._timeouts[id(timeout)] = (
                timeout,
                aiohttp.ClientTimeout(total=_limit(timeout.total), connect=connect),
                aiohttp.ClientTimeout(
                    total=None, connect=connect, sock_read=_limit(timeout.stream_idle)
                ),
            )
        return entry[2] if streaming else entry[1]

    def _url(self, url: str) -> URL:
        """The parsed URL, cached: aiohttp would parse the string on every request."""
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _CACHE_LIMIT:
                self._urls.clear()
            parsed = self._urls[url] = URL(url)
        return parsed

    async def read_bounded(self, response: aiohttp.ClientResponse, limit: int) -> bytes:
        """Read a body, refusing (with bounded memory) one larger than ``limit``."""
        length = response.content_length
        if length is not None and length > limit:
            response.close()
            raise ResponseTooLargeError(
                f"the response body ({length} bytes) exceeds max_response_bytes={limit}"
            )
        if length is not None and "content-encoding" not in response.headers:
            return await response.read()
        parts: list[bytes] = []
        size = 0
        content = response.content
        while True:
            block = await content.read(_READ_SIZE)
            if not block:
                return b"".join(parts)
            size += len(block)
            if size > limit:
                response.close()
                raise ResponseTooLargeError(f"the response body exceeds max_response_bytes={limit}")
            parts.append(block)

    async def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: Timeout,
    ) -> RawResponse:
        """Send one request and read the whole answer."""
        session = self._get_session()
        try:
            response = await self._send(
                session, method, url, headers, body, self._client_timeout(timeout, False)
            )
            async with response:
                self._active.add(response)
                try:
                    length = response.content_length
                    if (
                        length is not None
                        and length <= self.max_response_bytes
                        and "content-encoding" not in response.headers
                    ):  # the common case, without read_bounded's extra coroutine
                        body_bytes = await response.read()
                    else:
                        body_bytes = await self.read_bounded(response, self.max_response_bytes)
                except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                    _transport_error(exc, "response body read", self.closed, retryable=False)
                finally:
                    self._active.discard(response)
                answer_headers = _new_headers(LowerHeaders)  # LowerHeaders(...) without
                answer_headers._raw = response.headers  # its __init__ call: every call
                answer_headers._lowered = None
                return RawResponse(response.status, answer_headers, body_bytes)
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            _transport_error(exc, f"{method} request", self.closed)

    async def open_stream(
        self, url: str, headers: Mapping[str, str], body: bytes, timeout: Timeout
    ) -> StreamHandle:
        """Send a streaming request and return once the status and headers are in."""
        session = self._get_session()
        try:
            response = await self._send(
                session, "POST", url, headers, body, self._client_timeout(timeout, True)
            )
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            _transport_error(exc, "streaming request", self.closed)
        self._active.add(response)
        return StreamHandle(self, response)

    def _send(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: aiohttp.ClientTimeout,
    ) -> Awaitable[aiohttp.ClientResponse]:
        """What to await for the status and headers of a request.

        Closing an owned session wakes that wait by itself; a borrowed session stays
        open, so then the wait races close() and a running call still fails with
        ClientClosedError. (No extra coroutine on the owned, common path.)
        """
        pending = session.request(
            method,
            self._url(url),
            data=body,
            headers=headers,
            allow_redirects=False,
            timeout=timeout,
        )
        if self._owns_session:
            return pending
        return self._race_close(pending, method)

    async def _race_close(
        self, pending: Awaitable[aiohttp.ClientResponse], method: str
    ) -> aiohttp.ClientResponse:
        task: asyncio.Future[aiohttp.ClientResponse] = asyncio.ensure_future(pending)
        waiter = self._close_waiter
        if waiter is None:
            waiter = self._close_waiter = asyncio.get_running_loop().create_future()
        try:
            await asyncio.wait((task, waiter), return_when=asyncio.FIRST_COMPLETED)
        except BaseException:  # the caller was cancelled: abandon the request
            task.cancel()
            task.add_done_callback(_drop_response)
            raise
        if self.closed:
            task.cancel()
            task.add_done_callback(_drop_response)
            await asyncio.wait((task,))
            raise ClientClosedError(f"the client was closed during the {method} request")
        return task.result()

    async def close(self) -> None:
        """Mark closed; close the session only if this transport created it."""
        self.closed = True
        waiter = self._close_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        active, self._active = self._active, set()
        for response in active:
            response.content.set_exception(aiohttp.ClientConnectionError("client closed"))
            response.close()
        session = self._session
        if session is not None and self._owns_session and not session.closed:
            if self._loop is not None and asyncio.get_running_loop() is not self._loop:
                # Its loop is gone or elsewhere: the session cannot be closed from here.
                self._session = None
                return
            await session.close()
