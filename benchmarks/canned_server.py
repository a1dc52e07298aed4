"""A minimal, fast HTTP/1.1 server that answers chat completions with canned bytes.

Run in its own process: ``python -m benchmarks.canned_server [--chunks K] [--port 0]``.
It prints ``PORT <n>`` on its first stdout line once it listens on 127.0.0.1.

* ``POST <any prefix>/chat/completions`` (``/inference/``, ``/v1/``,
  ``/orgs/x/inference/``, ``/models/...?api-version=...``) gets a prebuilt
  ``chat.completion`` (``Content-Length`` framing); a body with ``"stream": true``
  gets an SSE stream (``Transfer-Encoding: chunked``, one HTTP chunk per event):
  K content chunks, a finish chunk, a usage chunk (``choices: []``) when the body asks
  ``"include_usage": true``, then ``data: [DONE]``.
* Flags are path segments before the API path, so every client reaches them through its
  base URL: ``/_delay1500/v1/chat/completions`` holds the answer 1.5 s;
  ``/_barrier10000-k1/...`` holds every request of group ``k1`` until 10000 are waiting,
  then answers all at once (a group that waits longer than ``--barrier-timeout`` is
  released and stops holding, so a client whose pool is too small cannot hang the run);
  ``/_gap2/...`` writes stream events one by one, 2 ms apart, instead of in one write.
* ``GET /_stats`` returns the server's own CPU time and counters as JSON.

Requests are parsed with ``bytes.find`` on the raw buffer (keep-alive, pipelining,
``Content-Length`` or chunked bodies); responses are prebuilt at start-up, so serving a
call is a few slices and one ``transport.write``. uvloop is used when importable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from benchmarks import payloads

_DATE = b"Wed, 26 Nov 2025 14:19:00 GMT"
_COMMON = (
    b"Date: " + _DATE + b"\r\n"
    b"x-request-id: 7c1f3a52-0b8e-4d62-9a51-3e2f0c9d8b14\r\n"
    b"x-ratelimit-remaining-requests: 149\r\n"
    b"x-ratelimit-remaining-tokens: 7744\r\n"
    b"x-content-type-options: nosniff\r\n"
    b"strict-transport-security: max-age=31536000\r\n"
)


def _response(status: bytes, content_type: bytes, body: bytes, close: bool = False) -> bytes:
    return (
        b"HTTP/1.1 " + status + b"\r\n"
        b"Content-Type: " + content_type + b"\r\n"
        b"Content-Length: "
        + str(len(body)).encode()
        + b"\r\n"
        + _COMMON
        + (b"Connection: close\r\n" if close else b"")
        + b"\r\n"
        + body
    )


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Transfer-Encoding: chunked\r\n"
    b"Cache-Control: no-cache\r\n" + _COMMON + b"\r\n"
)
_LAST_CHUNK = b"0\r\n\r\n"
_NOT_FOUND = _response(b"404 Not Found", b"application/json", b'{"error":{"code":"not_found"}}')
_BAD_REQUEST = _response(
    b"400 Bad Request", b"application/json", b'{"error":{"code":"bad_request"}}', close=True
)


class Canned:
    """Every response the server can give, as ready-to-write bytes."""

    def __init__(self, chunks: int) -> None:
        self.completion = _response(b"200 OK", b"application/json", payloads.completion_body())
        self.events: dict[bool, list[bytes]] = {}
        self.stream: dict[bool, bytes] = {}
        for usage in (True, False):
            events = [
                _http_chunk(b"data: " + p + b"\n\n")
                for p in payloads.stream_payloads(chunks, include_usage=usage)
            ]
            self.events[usage] = events
            self.stream[usage] = _STREAM_HEAD + b"".join(events) + _LAST_CHUNK


@dataclass
class Stats:
    started: float = field(default_factory=time.process_time)
    requests: int = 0
    stream_requests: int = 0
    open_connections: int = 0
    max_open_connections: int = 0
    barrier_releases: int = 0
    barrier_timeouts: int = 0

    broken_barriers: list[str] = field(default_factory=list)

    def as_json(self) -> bytes:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        return json.dumps(
            {
                "cpu_s": time.process_time(),
                "requests": self.requests,
                "stream_requests": self.stream_requests,
                "open_connections": self.open_connections,
                "max_open_connections": self.max_open_connections,
                "barrier_releases": self.barrier_releases,
                "barrier_timeouts": self.barrier_timeouts,
                "broken_barriers": self.broken_barriers,
                "max_rss_kb": ru.ru_maxrss,
            }
        ).encode()


@dataclass(frozen=True)
class Flags:
    delay: float = 0.0
    barrier: int = 0
    barrier_key: bytes = b""
    gap: float = 0.0


def _parse_flags(path: bytes) -> Flags:
    delay = gap = 0.0
    barrier = 0
    key = b""
    for seg in path.split(b"/"):
        if seg.startswith(b"_delay"):
            delay = int(seg[6:]) / 1000
        elif seg.startswith(b"_gap"):
            gap = int(seg[4:]) / 1000
        elif seg.startswith(b"_barrier"):
            count, _, _ = seg[8:].partition(b"-")
            barrier = int(count)
            key = seg
    return Flags(delay, barrier, key, gap)


def _json_true(body: bytes, key: bytes) -> bool:
    """Is ``key`` followed by ``: true`` in ``body`` (whatever the spacing)?"""
    i = body.find(key)
    if i < 0:
        return False
    return body[i + len(key) :].lstrip(b" \t\r\n:").startswith(b"true")


class _Incomplete(Exception):
    pass


def _dechunk(buf: bytes, pos: int) -> tuple[bytes, int]:
    """Decode a chunked request body starting at ``pos``; return (body, end)."""
    parts: list[bytes] = []
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            raise _Incomplete
        size = int(buf[pos:eol].split(b";", 1)[0], 16)
        start = eol + 2
        if size == 0:
            if buf.startswith(b"\r\n", start):
                return b"".join(parts), start + 2
            end = buf.find(b"\r\n\r\n", start)  # trailers
            if end < 0:
                raise _Incomplete
            return b"".join(parts), end + 4
        if len(buf) < start + size + 2:
            raise _Incomplete
        parts.append(buf[start : start + size])
        pos = start + size + 2


def _parse_request(buf: bytes) -> tuple[bytes, bytes, bytes, int, bool]:
    """Return (method, target, body, consumed, close) or raise _Incomplete."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > 65536:
            raise ValueError("request head too large")
        raise _Incomplete
    head = buf[:end]
    first = head.find(b"\r\n")
    method, target, _ = (head if first < 0 else head[:first]).split(b" ", 2)
    lower = head.lower()
    pos = end + 4
    i = lower.find(b"\r\ncontent-length:")
    if i >= 0:
        j = lower.find(b"\r\n", i + 17)
        n = int(head[i + 17 : j if j >= 0 else len(head)])
        if len(buf) < pos + n:
            raise _Incomplete
        body = buf[pos : pos + n]
        pos += n
    elif b"\r\ntransfer-encoding:" in lower and b"chunked" in lower:
        body, pos = _dechunk(buf, pos)
    else:
        body = b""
    close = b"\r\nconnection: close" in lower
    return method, target, body, pos, close


class Server:
    def __init__(self, chunks: int, barrier_timeout: float) -> None:
        self.canned = Canned(chunks)
        self.stats = Stats()
        self.barrier_timeout = barrier_timeout
        self._flags: dict[bytes, Flags] = {}
        self._groups: dict[bytes, list[tuple[Conn, bytes, bool, Flags]]] = {}
        self._timers: dict[bytes, asyncio.TimerHandle] = {}
        self._broken: set[bytes] = set()

    def flags(self, path: bytes) -> Flags:
        f = self._flags.get(path)
        if f is None:
            f = self._flags[path] = _parse_flags(path)
        return f

    # --- barrier groups ---------------------------------------------------------------

    def join_barrier(self, conn: Conn, data: bytes, close: bool, flags: Flags) -> None:
        group = self._groups.setdefault(flags.barrier_key, [])
        group.append((conn, data, close, flags))
        if len(group) == 1:
            loop = asyncio.get_running_loop()
            self._timers[flags.barrier_key] = loop.call_later(
                self.barrier_timeout, self._expire, flags.barrier_key
            )
        if len(group) >= flags.barrier:
            self._timers.pop(flags.barrier_key).cancel()
            self.stats.barrier_releases += 1
            self._release_group(flags.barrier_key)

    def _expire(self, key: bytes) -> None:
        self.stats.barrier_timeouts += 1
        self.stats.broken_barriers.append(key.decode())
        self._broken.add(key)
        self._timers.pop(key, None)
        self._release_group(key)

    def _release_group(self, key: bytes) -> None:
        for conn, data, close, flags in self._groups.pop(key, []):
            conn.answer_later(data, close, flags.delay, flags.gap)


_TASKS: set[asyncio.Future[None]] = set()  # strong references to trickling streams


class Conn(asyncio.Protocol):
    __slots__ = ("_buf", "_held", "_server", "_t")

    def __init__(self, server: Server) -> None:
        self._server = server
        self._t: asyncio.Transport | None = None
        self._buf = b""
        self._held = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._t = transport
        st = self._server.stats
        st.open_connections += 1
        st.max_open_connections = max(st.max_open_connections, st.open_connections)

    def connection_lost(self, exc: Exception | None) -> None:
        self._t = None
        self._server.stats.open_connections -= 1

    def data_received(self, data: bytes) -> None:
        self._buf = self._buf + data if self._buf else data
        if not self._held:
            self._drain()

    def _drain(self) -> None:
        server = self._server
        canned = server.canned
        while self._buf and not self._held and self._t is not None:
            try:
                method, target, body, used, close = _parse_request(self._buf)
            except _Incomplete:
                return
            except ValueError:
                self._t.write(_BAD_REQUEST)
                self._t.close()
                return
            self._buf = self._buf[used:]
            path = target.partition(b"?")[0]
            if method == b"POST" and path.endswith(b"/chat/completions"):
                server.stats.requests += 1
                stream = _json_true(body, b'"stream"')
                usage = stream and _json_true(body, b'"include_usage"')
                if stream:
                    server.stats.stream_requests += 1
                    data = canned.stream[usage]
                else:
                    data = canned.completion
                flags = server.flags(path)
                if flags.barrier and flags.barrier_key not in server._broken:
                    self._held = True
                    server.join_barrier(self, data, close, flags)
                    return
                if flags.delay or (stream and flags.gap):
                    self.answer_later(data, close, flags.delay, flags.gap)
                    return
            elif method == b"GET" and path == b"/_stats":
                data = _response(b"200 OK", b"application/json", server.stats.as_json())
            else:
                data = _NOT_FOUND
            self._t.write(data)
            if close:
                self._t.close()
                return

    def answer_later(self, data: bytes, close: bool, delay: float, gap: float) -> None:
        self._held = True
        if gap and data.startswith(_STREAM_HEAD):
            task = asyncio.ensure_future(self._trickle(data, close, delay, gap))
            _TASKS.add(task)
            task.add_done_callback(_TASKS.discard)
        elif delay:
            asyncio.get_running_loop().call_later(delay, self._finish, data, close)
        else:
            self._finish(data, close)

    async def _trickle(self, data: bytes, close: bool, delay: float, gap: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        usage = data is self._server.canned.stream[True]
        if self._t is not None:
            self._t.write(_STREAM_HEAD)
        for event in self._server.canned.events[usage]:
            await asyncio.sleep(gap)
            if self._t is None:
                return
            self._t.write(event)
        self._finish(_LAST_CHUNK, close)

    def _finish(self, data: bytes, close: bool) -> None:
        self._held = False
        if self._t is None:
            return
        self._t.write(data)
        if close:
            self._t.close()
        elif self._buf:
            self._drain()


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def serve(host: str, port: int, chunks: int, barrier_timeout: float) -> None:
    _raise_nofile()
    server = Server(chunks, barrier_timeout)
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(lambda: Conn(server), host, port, backlog=65535)
    sock_port = srv.sockets[0].getsockname()[1]
    sys.stdout.write(f"PORT {sock_port}\n")
    sys.stdout.flush()
    async with srv:
        await srv.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    ap.add_argument("--barrier-timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    coro = serve(args.host, args.port, args.chunks, args.barrier_timeout)
    try:
        import uvloop  # type: ignore[import-not-found]
    except ImportError:
        run: Any = asyncio.run
    else:
        run = uvloop.run
    with contextlib.suppress(KeyboardInterrupt):
        run(coro)


if __name__ == "__main__":
    main()
