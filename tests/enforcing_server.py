"""A loopback chat-completions server that enforces a rate limit and counts breaches.

It accepts at most ``per_second`` requests in any sliding one-second window (measured
at arrival) and answers 429 to the rest, counting them; it records the most requests it
ever had in flight at once. The multi-process Redis limiter tests pace real clients
against it.
"""

from __future__ import annotations

import asyncio
import collections
import time

from aiohttp import web

ANSWER = (
    b'{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,'
    b'"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],'
    b'"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}'
)


class EnforcingServer:
    """Enforces ``per_second`` in any sliding second; ``delay`` holds each answer."""

    def __init__(self, per_second: int, delay: float = 0.0) -> None:
        self.per_second = per_second
        self.delay = delay
        self.arrivals: list[float] = []
        self.rejected = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._window: collections.deque[float] = collections.deque()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _chat(self, request: web.Request) -> web.Response:
        now = time.monotonic()
        window = self._window
        while window and window[0] <= now - 1.0:
            window.popleft()
        if len(window) >= self.per_second:
            self.rejected += 1
            return web.Response(status=429, headers={"retry-after": "1"}, text="slow down")
        window.append(now)
        self.arrivals.append(now)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await request.read()
            if self.delay:
                await asyncio.sleep(self.delay)
            return web.Response(body=ANSWER, content_type="application/json")
        finally:
            self.in_flight -= 1

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/inference/chat/completions", self._chat)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def accepted_between(self, start: float, end: float) -> int:
        return sum(1 for t in self.arrivals if start <= t < end)
