"""A tiny loopback HTTP server for hostile-server tests: the handler writes exact bytes.

``RawServer(handler)`` listens on 127.0.0.1 with ``asyncio.start_server``; each
connection is passed to ``handler(conn)``, a :class:`RawConnection` that reads whole
requests and writes whatever bytes the test wants (malformed, cut, or unsolicited).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["RawConnection", "RawServer", "http_answer", "json_answer", "sse_answer"]


class RawConnection:
    """One accepted connection: read requests, write raw bytes."""

    def __init__(
        self, server: RawServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer

    async def read_request(self) -> bytes | None:
        """The next request (head and body), or ``None`` if the client closed first."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        body = await self.reader.readexactly(length) if length else b""
        self.server.requests.append(head + body)
        self.server.request_seen.set()
        return head + body

    async def write(self, data: bytes) -> None:
        """Write ``data`` and wait until it is handed to the kernel."""
        self.writer.write(data)
        await self.writer.drain()


Handler = Callable[[RawConnection], Awaitable[None]]


class RawServer:
    """``async with RawServer(handler) as server:`` → ``server.url`` on 127.0.0.1."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.requests: list[bytes] = []
        self.request_seen = asyncio.Event()
        self.connections = 0
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)  # type: ignore[arg-type]
        self.connections += 1
        try:
            await self._handler(RawConnection(self, reader, writer))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the client left, or the server is closing: the handler is done
        finally:
            self._tasks.discard(task)  # type: ignore[arg-type]
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        await self._server.wait_closed()


def answer_each(*answers: bytes) -> Handler:
    """A handler answering the requests of a connection with ``answers`` in turn (the
    last one repeated), then keeping the connection open until the client closes it."""

    async def handle(conn: RawConnection) -> None:
        index = 0
        while await conn.read_request() is not None:
            await conn.write(answers[min(index, len(answers) - 1)])
            index += 1

    return handle


def http_answer(
    status: int, body: bytes, headers: dict[str, str] | None = None, reason: str = "X"
) -> bytes:
    """An HTTP/1.1 answer with a Content-Length, written byte for byte."""
    lines = [f"HTTP/1.1 {status} {reason}"]
    fields = {"Content-Type": "application/json", "Content-Length": str(len(body))}
    fields.update(headers or {})
    lines += [f"{name}: {value}" for name, value in fields.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> bytes:
    """An HTTP answer whose body is ``payload`` as JSON."""
    return http_answer(status, json.dumps(payload).encode(), headers)


def sse_answer(body: bytes) -> bytes:
    """A 200 event-stream answer whose body is ``body`` exactly, ended by closing."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    return head + body


def chunk(content: str = "hi", **extra: Any) -> bytes:
    """One ``data:`` event carrying a chat completion chunk."""
    payload = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}}],
    }
    payload.update(extra)
    return b"data: " + json.dumps(payload).encode() + b"\n\n"
