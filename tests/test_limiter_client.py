"""Client(rate_limiter=...) end to end against the fake server on loopback.

A probe middleware on the fake server records, server-side, when each request arrived,
its status and how many requests were in flight, so the tests check what the server
saw, not what the limiter believes.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from ghmodels_async import (
    Client,
    RateLimitInfo,
    RateLimitWaitTooLongError,
    RetryWaitTooLongError,
)
from ghmodels_async.fanout import fan_out
from ghmodels_async.ratelimit import Limiter, Limits, Ticket, TierLimiter, estimate_tokens
from ghmodels_async.testing import FakeServer, Fault, RateLimitTable, TierLimit
from ghmodels_async.types import ChatCompletion

HIGH = "openai/gpt-4.1"
EMBED = "openai/text-embedding-3-small"


@dataclass
class Seen:
    at: float
    prompt: str
    status: int = 0


@dataclass
class Probe:
    """Server-side observations of every inference request."""

    seen: list[Seen] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def install(self, server: FakeServer) -> None:
        @web.middleware
        async def observe(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            if "/inference/" not in request.path:
                return await handler(request)
            body: Any = await request.json()
            prompt = body.get("messages", [{}])[-1].get("content") or str(body.get("input"))
            entry = Seen(time.monotonic(), prompt)
            self.seen.append(entry)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.arrived.set()
            try:
                response = await handler(request)
                entry.status = response.status
                return response
            finally:
                self.in_flight -= 1

        server.app.middlewares.append(observe)

    def statuses(self, status: int) -> list[Seen]:
        return [entry for entry in self.seen if entry.status == status]


def ask(client: Client, model: str = HIGH) -> Callable[[int], Awaitable[ChatCompletion]]:
    async def call(number: int) -> ChatCompletion:
        return await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": f"prompt {number}"}]
        )

    return call


@pytest.mark.parametrize(
    ("prompts", "burst"), [(200, 25), (100, 1)], ids=["preset-burst", "evenly-spaced"]
)
async def test_a_high_tier_fan_out_with_the_tier_preset_gets_no_429(
    prompts: int, burst: int
) -> None:
    window, per_window = 0.5, 25  # the "high" tier scaled: 25 requests per 0.5 s, 2 at once
    table = RateLimitTable(window=window, exact_retry_after=True).scaled(
        high=TierLimit(requests=per_window, concurrent=2)
    )
    # the shape of TIER_LIMITS["high"] (burst = the per-window figure), scaled the same way
    presets = {"high": Limits(requests_per_minute=per_window, max_concurrency=2, burst=burst)}
    server, probe = FakeServer(rate_limits=table), Probe()
    probe.install(server)
    async with server:
        limiter = TierLimiter(presets=presets, window=window, headroom=0.1)
        async with Client(token="t", base_url=server.url, rate_limiter=limiter) as client:
            await limiter.load_catalog(client)
            assert limiter.tier_for(HIGH) == "high"
            outcomes = await fan_out(ask(client), range(prompts), concurrency=16)
        assert [o for o in outcomes if not o.ok] == []
        assert len(probe.statuses(200)) == prompts
        assert len(probe.statuses(429)) <= 1, "zero 429s past the first"
        assert probe.peak <= 2
        # the same job without the limiter does hit the tier's limits (the probe can fail)
        server.reset()
        async with Client(token="t", base_url=server.url, max_retries=0) as client:
            outcomes = await fan_out(ask(client), range(40), concurrency=16)
        assert len(probe.statuses(429)) > 5
        assert sum(not o.ok for o in outcomes) > 5


async def test_a_429_pauses_every_worker_once() -> None:
    pause = 1.0  # longer than the schedule of the 8 workers: every one of them waits for it
    server, probe = FakeServer(), Probe()
    probe.install(server)
    async with server:
        limiter = Limiter(requests_per_minute=10, window=1.0, max_concurrency=8)  # 0.1 s apart
        retries: list[float] = []
        async with Client(
            token="t",
            base_url=server.url,
            rate_limiter=limiter,
            on_retry=lambda e: retries.append(e.delay),
        ) as client:
            first = await ask(client)(0)
            server.inject(Fault("rate_limit", wait=pause))
            outcomes = await fan_out(ask(client), range(1, 9), concurrency=8)
        assert all(o.ok for o in outcomes) and first.choices
        assert retries == [pause]
        [limited] = probe.statuses(429)
        position = probe.seen.index(limited)
        after = probe.seen[position + 1 :]
        assert len(after) == 8  # 7 other workers + the one retry, nobody else got a 429
        # nothing reached the server during the pause ...
        assert after[0].at >= limited.at + pause
        # ... the retry went first, right when the pause ended (no second sleep in the
        # retry loop), and the others followed at the limiter's pace, not all at once
        assert after[0].prompt == limited.prompt
        assert after[0].at < limited.at + pause + 0.3  # a second sleep would add 0.7 s
        gaps = [b.at - a.at for a, b in itertools.pairwise(after)]
        assert min(gaps) > 0.05, gaps  # 0.105 s apart, minus jitter


async def test_server_side_concurrency_never_exceeds_the_cap_streams_included() -> None:
    server, probe = FakeServer(), Probe()
    probe.install(server)
    async with server:
        server.inject(Fault("delay_headers", delay=0.02), times=None)
        limiter = Limiter(max_concurrency=3)
        async with Client(token="t", base_url=server.url, rate_limiter=limiter) as client:

            async def call(number: int) -> str:
                messages = [{"role": "user", "content": f"prompt {number}"}]
                if number % 2:
                    stream = await client.chat.completions.create(
                        model=HIGH, messages=messages, stream=True
                    )
                    completion = await stream.collect()
                else:
                    completion = await client.chat.completions.create(model=HIGH, messages=messages)
                return completion.choices[0].message.content or ""

            outcomes = await fan_out(call, range(40), concurrency=12)
        assert all(o.ok for o in outcomes)
        assert probe.peak == 3
        assert limiter.in_flight(HIGH) == 0


class SlowSettle:
    """A limiter whose settle suspends (as a shared store's does), over a real Limiter:
    the client must then settle in a task it keeps, cancellation or not."""

    def __init__(self, inner: Limiter) -> None:
        self.inner = inner

    async def reserve(self, model: str, tokens: int) -> Ticket:
        return await self.inner.reserve(model, tokens)

    async def settle(
        self, ticket: Ticket, used_tokens: int | None, rate_limit: RateLimitInfo | None
    ) -> None:
        await asyncio.sleep(0.01)
        await self.inner.settle(ticket, used_tokens, rate_limit)

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        await self.inner.penalize(model, wait, limit_type)


async def until_free(limiter: Limiter, model: str) -> None:
    for _ in range(500):
        if limiter.in_flight(model) == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{limiter.in_flight(model)} slot(s) of {model} never came back")


@pytest.mark.parametrize("slow_settle", [False, True], ids=["in-line", "settle-task"])
async def test_an_open_stream_holds_its_slot_until_closed(slow_settle: bool) -> None:
    server, probe = FakeServer(), Probe()
    probe.install(server)
    async with server:
        limiter = Limiter(max_concurrency=1)
        paced: Any = SlowSettle(limiter) if slow_settle else limiter
        async with Client(token="t", base_url=server.url, rate_limiter=paced) as client:
            stream = await client.chat.completions.create(
                model=HIGH, messages=[{"role": "user", "content": "a b c d e f"}], stream=True
            )
            second = asyncio.ensure_future(ask(client)(2))
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(second), 0.2)
            assert len(probe.seen) == 1 and limiter.in_flight(HIGH) == 1
            async for _ in stream:
                break  # leaving the loop early closes the stream and frees the slot
            del _
            answer = await asyncio.wait_for(second, 5)
            assert answer.choices[0].message.content == "Echo: prompt 2"
            assert len(probe.seen) == 2
            await until_free(limiter, HIGH)


@pytest.mark.parametrize("slow_settle", [False, True], ids=["in-line", "settle-task"])
async def test_cancelling_a_call_frees_its_slot(slow_settle: bool) -> None:
    server, probe = FakeServer(), Probe()
    probe.install(server)
    async with server:
        limiter = Limiter(max_concurrency=1)
        paced: Any = SlowSettle(limiter) if slow_settle else limiter
        async with Client(token="t", base_url=server.url, rate_limiter=paced) as client:
            slow = asyncio.ensure_future(
                client.chat.completions.create(
                    model=HIGH,
                    messages=[{"role": "user", "content": "slow"}],
                    extra_headers={"x-fake-fault": "delay_headers; delay=30"},
                )
            )
            waiting = asyncio.ensure_future(ask(client)(1))  # queued behind the slow call
            await probe.arrived.wait()
            waiting.cancel()  # cancelled while waiting for the slot
            slow.cancel()  # cancelled mid-request
            for task in (slow, waiting):
                with pytest.raises(asyncio.CancelledError):
                    await task
            answer = await asyncio.wait_for(ask(client)(2), 5)
            assert answer.choices[0].message.content == "Echo: prompt 2"
            stream = await client.chat.completions.create(
                model=HIGH,
                messages=[{"role": "user", "content": "x"}],
                stream=True,
                extra_headers={"x-fake-fault": "chunk_delay; delay=30"},
            )
            reader = asyncio.ensure_future(stream.collect())
            await asyncio.sleep(0.05)
            assert not reader.done()
            reader.cancel()  # cancelling a reader closes its stream: the slot comes back
            with pytest.raises(asyncio.CancelledError):
                await reader
            answer = await asyncio.wait_for(ask(client)(3), 5)
            assert answer.choices[0].message.content == "Echo: prompt 3"
            await until_free(limiter, HIGH)


class Recording(Limiter):
    """The real limiter, also noting what the client asked of it."""

    def __init__(self) -> None:
        super().__init__(max_concurrency=4)
        self.reserved: list[tuple[str, int]] = []
        self.settled: list[tuple[str, int | None, RateLimitInfo | None]] = []
        self.penalized: list[tuple[str, float, str | None]] = []

    async def reserve(self, model: str, tokens: int) -> Ticket:
        self.reserved.append((model, tokens))
        return await super().reserve(model, tokens)

    async def settle(
        self, ticket: Ticket, used_tokens: int | None, rate_limit: RateLimitInfo | None
    ) -> None:
        self.settled.append((ticket.model, used_tokens, rate_limit))
        await super().settle(ticket, used_tokens, rate_limit)

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        self.penalized.append((model, wait, limit_type))
        await super().penalize(model, wait, limit_type)


async def test_every_kind_of_request_reserves_and_settles_with_its_usage() -> None:
    async with FakeServer() as server:
        limiter = Recording()
        async with Client(token="t", base_url=server.url, rate_limiter=limiter) as client:
            await client.models.list()  # the catalog is not paced
            assert limiter.reserved == []
            answer = await client.chat.completions.create(
                model=HIGH, messages=[{"role": "user", "content": "one two"}], max_tokens=50
            )
            chat_body = server.last_request.body
            stream = await client.chat.completions.create(
                model=HIGH,
                messages=[{"role": "user", "content": "three four five"}],
                stream=True,
                stream_options={"include_usage": True},
                max_completion_tokens=70,
            )
            assert len(limiter.settled) == 1  # the stream holds its reservation
            streamed = await stream.collect()
            stream_body = server.last_request.body
            vectors = await client.embeddings.create(model=EMBED, input=["alpha beta", "gamma"])
            embed_body = server.last_request.body
            await asyncio.sleep(0)  # the stream's settle runs as a task
        assert limiter.reserved == [
            (HIGH, estimate_tokens(chat_body, 50)),
            (HIGH, estimate_tokens(stream_body, 70)),
            (EMBED, estimate_tokens(embed_body, None)),
        ]
        usages = [answer.usage, streamed.usage, vectors.usage]
        assert [s[1] for s in limiter.settled] == [u.total_tokens for u in usages if u]
        assert all(s[2] is not None and s[2].remaining_requests == 10000 for s in limiter.settled)
        assert limiter.in_flight(HIGH) == 0 and limiter.in_flight(EMBED) == 0


async def test_failed_attempts_settle_and_429s_penalize() -> None:
    async with FakeServer() as server:
        limiter = Recording()
        async with Client(token="t", base_url=server.url, rate_limiter=limiter) as client:
            server.inject("internal_error")
            await ask(client)(1)
            server.inject(Fault("rate_limit", wait=0.05, limit_type="UserConcurrentRequests"))
            await ask(client)(2)
            assert [(s[1], s[2] and s[2].remaining_requests) for s in limiter.settled] == [
                (None, 10000),  # the 500: no usage, its headers
                (5, 10000),  # "prompt 1" + "Echo: prompt 1"
                (None, 0),  # the 429
                (5, 10000),
            ]
            assert limiter.penalized == [(HIGH, 0.05, "UserConcurrentRequests")]
            server.inject("drop")  # no answer at all: settled without headers
            await ask(client)(3)
            assert limiter.settled[4][1:] == (None, None)
        assert limiter.in_flight(HIGH) == 0


async def test_long_waits_still_raise_and_the_pause_stops_the_next_call() -> None:
    async with FakeServer() as server:
        limiter = Limiter(max_wait=30)
        server.inject(Fault("rate_limit", wait=120, limit_type="UserByModelByDay"))
        async with Client(
            token="t", base_url=server.url, rate_limiter=limiter, max_retry_wait=60
        ) as client:
            with pytest.raises(RetryWaitTooLongError):
                await ask(client)(1)
            with pytest.raises(RateLimitWaitTooLongError) as info:
                await ask(client)(2)
            assert info.value.reason == "retry_after" and info.value.model == HIGH
            assert len(server.requests) == 1  # the second call never left the client
            # another model is not paused
            await client.embeddings.create(model=EMBED, input="x")
