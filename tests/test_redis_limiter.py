"""RedisRateLimiter against a real redis-server: reservations, token settle, leases,
shared pauses, daily budget, cluster hash tags, unreachable Redis, and end to end
through ``Client(rate_limiter=...)`` on the fake server."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
from redis_server import RedisServer

import ghmodels_async
from ghmodels_async import Client, RateLimitWaitTooLongError, ValidationError
from ghmodels_async.ratelimit import LimiterUnavailableError, RateLimiter, RedisRateLimiter
from ghmodels_async.testing import FakeServer

pytest.importorskip("redis")


def test_importing_the_package_does_not_import_redis() -> None:
    code = (
        "import sys, ghmodels_async, ghmodels_async.ratelimit as r\n"
        "assert 'redis' not in sys.modules, 'redis imported'\n"
        "r.RedisRateLimiter\n"
        "assert 'redis' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"key": ""}, "key"),
        ({"key": "a{b}"}, "key"),
        ({"key": "k", "requests_per_minute": 0}, "requests_per_minute"),
        ({"key": "k", "requests_per_minute": "60"}, "requests_per_minute"),
        ({"key": "k", "tokens_per_minute": float("inf")}, "tokens_per_minute"),
        ({"key": "k", "max_concurrency": 1.5}, "max_concurrency"),
        ({"key": "k", "max_concurrency": True}, "max_concurrency"),
        ({"key": "k", "requests_per_day": -1}, "requests_per_day"),
        ({"key": "k", "headroom": 1.0}, "headroom"),
        ({"key": "k", "max_wait": 0}, "max_wait"),
        ({"key": "k", "lease_ttl": 0.1}, "lease_ttl"),
        ({"key": "k", "fallback": "memory"}, "fallback"),
        ({"key": "k", "model_key": "all"}, "model_key"),
    ],
)
def test_bad_settings_name_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RedisRateLimiter("redis://127.0.0.1:1/0", **kwargs)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_bad_connection_argument() -> None:
    with pytest.raises(ValidationError) as caught:
        RedisRateLimiter("http://127.0.0.1:1", key="k")
    assert caught.value.field == "redis_url_or_client"
    with pytest.raises(ValidationError):
        RedisRateLimiter(42, key="k")


async def test_it_is_a_rate_limiter_and_keys_share_one_cluster_slot(redis_url: str) -> None:
    from redis.crc import key_slot

    async with RedisRateLimiter(redis_url, key="team-a", requests_per_minute=60) as limiter:
        assert isinstance(limiter, RateLimiter)
        keys = limiter.redis_keys("openai/gpt-4.1")
        assert all("{team-a}" in name for name in keys.values())
        assert len({key_slot(name.encode()) for name in keys.values()}) == 1
        assert "openai/gpt-4.1" in keys["rpm"]


async def test_reservations_space_requests_across_limiters(redis_url: str) -> None:
    rpm = 1200  # one request every 51 ms with the default 2% headroom
    interval = 60 / (rpm * 0.98)
    limiters = [
        RedisRateLimiter(redis_url, key="spacing", requests_per_minute=rpm) for _ in range(3)
    ]
    began = time.monotonic()
    tickets = await asyncio.gather(*(limiters[i % 3].reserve("m", 1) for i in range(15)))
    spent = time.monotonic() - began
    for limiter in limiters:
        await limiter.aclose()
    starts = sorted(ticket.start for ticket in tickets)
    # The schedule (Redis time): every start at least one interval after the previous,
    # wherever the reservation came from; and the budget is used (no slot lost).
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= interval - 1e-6
    assert starts[-1] - starts[0] < 14 * interval + 0.5
    # And the callers really waited for their starts.
    assert spent >= 14 * interval - 0.01


async def test_a_wait_over_max_wait_is_refused_and_changes_nothing(redis_url: str) -> None:
    async with RedisRateLimiter(
        redis_url, key="maxwait", requests_per_minute=60, max_wait=0.5
    ) as limiter:
        await limiter.reserve("m", 1)  # the next slot is ~1.02 s away
        for _ in range(3):
            with pytest.raises(RateLimitWaitTooLongError) as caught:
                await limiter.reserve("m", 1)
            assert caught.value.reason == "requests_per_minute"
            assert caught.value.model == "m"
            assert 0.5 < caught.value.wait <= 60 / 58.8 + 0.01  # refusals did not push it
        # Another model has its own budget.
        await limiter.reserve("other", 1)


async def test_tokens_are_charged_up_front_and_settled_with_real_usage(redis_url: str) -> None:
    async with RedisRateLimiter(
        redis_url, key="tpm", tokens_per_minute=6000, max_wait=1.0
    ) as limiter:
        ticket = await limiter.reserve("m", 1000)  # ~10 s worth of tokens
        with pytest.raises(RateLimitWaitTooLongError) as caught:
            await limiter.reserve("m", 10)
        assert caught.value.reason == "tokens_per_minute"
        assert caught.value.wait > 9
        await limiter.settle(ticket, 20, None)  # it really used 20: refund the rest
        began = time.monotonic()
        await limiter.reserve("m", 10)
        assert time.monotonic() - began < 1.0


async def test_concurrency_leases_cap_in_flight_and_free_on_settle(redis_url: str) -> None:
    a = RedisRateLimiter(redis_url, key="conc", max_concurrency=2)
    b = RedisRateLimiter(redis_url, key="conc", max_concurrency=2)
    first = await a.reserve("m", 0)
    second = await b.reserve("m", 0)
    assert await a.in_flight("m") == 2
    third = asyncio.ensure_future(a.reserve("m", 0))
    done, _ = await asyncio.wait({third}, timeout=0.3)
    assert not done  # held back: two leases are live
    await b.settle(second, None, None)
    ticket = await asyncio.wait_for(third, 5)
    assert await a.in_flight("m") == 2
    await a.settle(first, None, None)
    await a.settle(ticket, None, None)
    assert await a.in_flight("m") == 0
    await a.aclose()
    await b.aclose()


async def test_live_leases_are_renewed_past_their_ttl(redis_url: str) -> None:
    async with RedisRateLimiter(
        redis_url, key="renew", max_concurrency=1, lease_ttl=0.6
    ) as limiter:
        ticket = await limiter.reserve("m", 0)
        await asyncio.sleep(1.5)  # the duration under test: 2.5 TTLs of a live stream
        assert await limiter.in_flight("m") == 1
        await limiter.settle(ticket, None, None)
        assert await limiter.in_flight("m") == 0


async def test_cancelled_wait_gives_its_lease_back(redis_url: str) -> None:
    async with RedisRateLimiter(
        redis_url, key="cancel", requests_per_minute=30, max_concurrency=5
    ) as limiter:
        await limiter.reserve("m", 0)
        waiting = asyncio.ensure_future(limiter.reserve("m", 0))  # sleeps ~2 s for its slot
        while await limiter.in_flight("m") < 2:
            await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await limiter.in_flight("m") == 1


async def test_a_429_pause_holds_every_worker_sharing_the_key(redis_url: str) -> None:
    a = RedisRateLimiter(redis_url, key="pause", requests_per_minute=6000)
    b = RedisRateLimiter(redis_url, key="pause", requests_per_minute=6000, max_wait=0.5)
    await a.penalize("m", 2.0, "UserByModelByMinute")
    await a.penalize("m", 0.1, None)  # a shorter pause never shortens a longer one
    with pytest.raises(RateLimitWaitTooLongError) as caught:
        await b.reserve("m", 1)
    assert caught.value.reason == "retry_after"
    assert 1.5 < caught.value.wait <= 2.0
    await b.reserve("other-model", 1)  # the pause is the model's
    await a.aclose()
    await b.aclose()


async def test_exhausted_remaining_headers_pause_the_model(redis_url: str) -> None:
    from ghmodels_async import RateLimitInfo

    async with RedisRateLimiter(
        redis_url, key="learn", requests_per_minute=6000, max_wait=0.5
    ) as limiter:
        ticket = await limiter.reserve("m", 1)
        info = RateLimitInfo(remaining_requests=0, time_remaining=3.0)
        await limiter.settle(ticket, None, info)
        with pytest.raises(RateLimitWaitTooLongError):
            await limiter.reserve("m", 1)


async def test_daily_budget(redis_url: str) -> None:
    async with RedisRateLimiter(redis_url, key="day", requests_per_day=3) as limiter:
        for _ in range(3):
            await limiter.reserve("m", 0)
        with pytest.raises(RateLimitWaitTooLongError) as caught:
            await limiter.reserve("m", 0)
        assert caught.value.reason == "requests_per_day"
        assert 0 < caught.value.wait <= 86400


async def test_model_key_can_share_one_budget_across_models(redis_url: str) -> None:
    async with RedisRateLimiter(
        redis_url, key="shared", requests_per_day=2, model_key=lambda model: "all"
    ) as limiter:
        await limiter.reserve("a", 0)
        await limiter.reserve("b", 0)
        with pytest.raises(RateLimitWaitTooLongError):
            await limiter.reserve("c", 0)


async def test_unreachable_redis_is_a_typed_error_and_nothing_is_sent() -> None:
    server = RedisServer()
    url = server.url
    server.stop()
    limiter = RedisRateLimiter(url, key="down", requests_per_minute=60, socket_timeout=1)
    async with (
        FakeServer() as fake,
        Client("t", base_url=fake.url, rate_limiter=limiter, max_retries=0) as client,
    ):
        with pytest.raises(LimiterUnavailableError) as caught:
            await client.chat.completions.create(
                model="openai/gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}]
            )
        assert isinstance(caught.value, ghmodels_async.GHModelsError)
        assert not fake.requests
    await limiter.aclose()


async def test_opt_in_local_fallback_paces_with_a_warning() -> None:
    server = RedisServer()
    url = server.url
    server.stop()
    rpm = 600
    limiter = RedisRateLimiter(
        url, key="down", requests_per_minute=rpm, fallback="local", socket_timeout=1
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        began = time.monotonic()
        for _ in range(4):
            ticket = await limiter.reserve("m", 1)
            await limiter.settle(ticket, 1, None)
        spent = time.monotonic() - began
    assert any("pacing locally" in str(w.message) for w in caught)
    assert sum("pacing locally" in str(w.message) for w in caught) == 1
    assert spent >= 3 * 60 / (rpm * 0.98) - 0.002  # still paced: 3 intervals for 4 starts
    await limiter.aclose()


async def test_client_end_to_end_settles_usage_and_frees_leases(redis_url: str) -> None:
    limiter = RedisRateLimiter(
        redis_url, key="e2e", requests_per_minute=6000, tokens_per_minute=1_000_000,
        max_concurrency=3,
    )
    async with (
        FakeServer() as fake,
        Client("t", base_url=fake.url, rate_limiter=limiter) as client,
    ):
        messages = [{"role": "user", "content": "hello"}]
        answers = await asyncio.gather(
            *(
                client.chat.completions.create(model="openai/gpt-4.1-mini", messages=messages)
                for _ in range(10)
            )
        )
        assert len(answers) == 10
        stream = await client.chat.completions.create(
            model="openai/gpt-4.1-mini", messages=messages, stream=True
        )
        assert await limiter.in_flight("openai/gpt-4.1-mini") == 1  # the open stream
        async for _chunk in stream:
            pass
        for _ in range(100):  # the stream settles in a task of its own
            if await limiter.in_flight("openai/gpt-4.1-mini") == 0:
                break
            await asyncio.sleep(0.01)
        assert await limiter.in_flight("openai/gpt-4.1-mini") == 0
    assert len(fake.requests) == 11
    await limiter.aclose()


async def _assert_leases_end_within(redis_url: str, limiter: RedisRateLimiter, ttl: float) -> None:
    """Every lease of model ``m`` ends within ``ttl`` of now (Redis time), and they do go."""
    import redis.asyncio as aioredis

    async with aioredis.Redis.from_url(redis_url) as store:
        seconds, micros = await store.time()
        now_ms = seconds * 1000 + micros // 1000
        deadlines = await store.zrange(limiter.redis_keys("m")["leases"], 0, -1, withscores=True)
    assert deadlines
    assert max(score for _member, score in deadlines) <= now_ms + ttl * 1000
    for _ in range(500):  # and they are gone once past (bounded: 10 s)
        if await limiter.in_flight("m") == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("leases outlived their TTL")


_HOLDER = """
import asyncio, sys
from ghmodels_async.ratelimit import RedisRateLimiter

async def main():
    limiter = RedisRateLimiter(sys.argv[1], key="kill", max_concurrency=5, lease_ttl=1.0)
    for _ in range(3):
        await limiter.reserve("m", 0)
    print("held", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_sigkilled_worker_frees_its_leases_within_the_ttl(redis_url: str) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, redis_url], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    async with RedisRateLimiter(redis_url, key="kill", max_concurrency=5) as limiter:
        await asyncio.sleep(1.2)  # past one TTL: a live holder keeps renewing
        assert await limiter.in_flight("m") == 3
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
        await _assert_leases_end_within(redis_url, limiter, ttl=1.0)
        # All five slots are usable again.
        for _ in range(5):
            await asyncio.wait_for(limiter.reserve("m", 0), 2)
    holder.stdout.close()


async def test_scripts_on_fakeredis_spacing_and_refusal() -> None:
    """A fast check of the Lua logic alone (the real server covers the rest)."""
    fakeredis = pytest.importorskip("fakeredis")
    pytest.importorskip("lupa")
    client = fakeredis.FakeAsyncRedis()
    limiter = RedisRateLimiter(client, key="fake", requests_per_minute=60, max_wait=0.5)
    await limiter.reserve("m", 1)
    with pytest.raises(RateLimitWaitTooLongError):
        await limiter.reserve("m", 1)
    await limiter.penalize("n", 5.0, None)
    with pytest.raises(RateLimitWaitTooLongError) as caught:
        await limiter.reserve("n", 1)
    assert caught.value.reason == "retry_after"
    await limiter.aclose()
    await client.aclose()


async def test_client_corrects_the_token_estimate_with_real_usage(redis_url: str) -> None:
    # 6,000 tokens/min: the estimate of a call allowing 3,000 output tokens holds the
    # budget ~30 s; its real usage (a few tokens) gives it back, so the next call
    # goes within max_wait.
    limiter = RedisRateLimiter(redis_url, key="usage", tokens_per_minute=6000, max_wait=2.0)
    async with (
        FakeServer() as fake,
        Client("t", base_url=fake.url, rate_limiter=limiter, max_retries=0) as client,
    ):
        messages = [{"role": "user", "content": "hello"}]
        first = await client.chat.completions.create(
            model="openai/gpt-4.1-mini", messages=messages, max_tokens=3000
        )
        assert first.usage is not None and first.usage.total_tokens < 200
        await client.chat.completions.create(
            model="openai/gpt-4.1-mini", messages=messages, max_tokens=50
        )
        # Without the correction, the same pair is refused (the estimate alone binds).
        ticket = await limiter.reserve("other", 3000)
        with pytest.raises(RateLimitWaitTooLongError):
            await limiter.reserve("other", 50)
        await limiter.settle(ticket, None, None)
    await limiter.aclose()


async def test_a_server_that_is_not_redis_is_a_typed_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.write(b"HTTP/1.1 400 Bad Request\r\n\r\n\x00\xff")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    limiter = RedisRateLimiter(
        f"redis://127.0.0.1:{port}/0", key="k", requests_per_minute=60, socket_timeout=2
    )
    try:
        with pytest.raises(LimiterUnavailableError):
            await limiter.reserve("m", 1)
        with pytest.raises(LimiterUnavailableError):
            await limiter.in_flight("m")
    finally:
        await limiter.aclose()
        server.close()
        await server.wait_closed()


async def test_a_redis_refusing_writes_is_a_typed_error(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async with aioredis.Redis.from_url(redis_url) as admin:
        await admin.config_set("maxmemory", "1")  # every write now fails with OOM
        try:
            limiter = RedisRateLimiter(redis_url, key="oom", requests_per_minute=60)
            with pytest.raises(LimiterUnavailableError) as caught:
                await limiter.reserve("m", 1)
            assert "OOM" in str(caught.value) or "memory" in str(caught.value)
            await limiter.aclose()
        finally:
            await admin.config_set("maxmemory", "0")


async def test_a_429_seen_by_one_client_pauses_another_process_style_client(
    redis_url: str,
) -> None:
    # Two clients with their own limiters on one key (as two processes would have).
    a = RedisRateLimiter(redis_url, key="shared-429", requests_per_minute=6000)
    b = RedisRateLimiter(redis_url, key="shared-429", requests_per_minute=6000)
    messages = [{"role": "user", "content": "hi"}]
    retry_scheduled = asyncio.Event()
    async with FakeServer() as fake:
        fake.inject("rate_limit;wait=1", times=1)
        async with (
            Client("t", base_url=fake.url, rate_limiter=a, max_retries=1,
                   on_retry=lambda event: retry_scheduled.set()) as client_a,
            Client("t", base_url=fake.url, rate_limiter=b, max_retries=0) as client_b,
        ):
            first = asyncio.ensure_future(
                client_a.chat.completions.create(model="openai/gpt-4.1-mini", messages=messages)
            )
            await retry_scheduled.wait()  # A got its 429 and told Redis to pause
            began = time.monotonic()
            await client_b.chat.completions.create(
                model="openai/gpt-4.1-mini", messages=messages
            )
            waited = time.monotonic() - began
            await first
        assert len(fake.requests) == 3  # A's 429, A's retry, B: no second 429
    assert waited >= 0.8  # B sat out A's one-second pause
    await a.aclose()
    await b.aclose()
