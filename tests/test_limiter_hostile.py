"""The limiters given odd model ids, odd waits and a Redis that changes under them:
SCRIPT FLUSH, a server killed mid-run, a read-only replica. Real redis-server processes."""

from __future__ import annotations

import asyncio
import math

import pytest
from redis_server import RedisServer

from ghmodels_async import Client, ValidationError
from ghmodels_async.ratelimit import (
    Limiter,
    LimiterUnavailableError,
    RateLimitWaitTooLongError,
    RedisRateLimiter,
)
from ghmodels_async.testing import FakeServer

ODD_MODELS = [
    "openai/gpt-{4}.1",
    "}{weird}{",
    "a:b:c",
    "модель/ünï😀",
    "x" * 5000,
    "{other-tag}/model",
]


@pytest.mark.parametrize("wait", [-1.0, math.nan, "5", True])
async def test_penalize_refuses_a_wait_that_is_not_a_number_at_least_0(wait: object) -> None:
    limiter = Limiter(requests_per_minute=60)
    with pytest.raises(ValidationError) as caught:
        await limiter.penalize("m", wait, None)  # type: ignore[arg-type]
    assert caught.value.field == "wait"
    ticket = await asyncio.wait_for(limiter.reserve("m", 1), 5)  # nothing was paused
    await limiter.settle(ticket, 1, None)


@pytest.mark.parametrize("wait", [math.inf, 1e300])
async def test_an_endless_pause_is_cut_to_a_week_and_refused_by_max_wait(wait: float) -> None:
    now = [1000.0]
    limiter = Limiter(requests_per_minute=60, max_wait=8 * 86400, clock=lambda: now[0])
    await limiter.penalize("m", wait, None)
    now[0] += 7 * 86400 + 1  # a week later the model runs again
    ticket = await asyncio.wait_for(limiter.reserve("m", 1), 5)
    await limiter.settle(ticket, 1, None)
    bounded = Limiter(requests_per_minute=60)
    await bounded.penalize("m", wait, None)
    with pytest.raises(RateLimitWaitTooLongError):
        await asyncio.wait_for(bounded.reserve("m", 1), 5)


@pytest.mark.parametrize("wait", [-1.0, math.nan, "5"])
async def test_redis_penalize_refuses_a_wait_that_is_not_a_number_at_least_0(
    redis_url: str, wait: object
) -> None:
    async with RedisRateLimiter(redis_url, key="pen", requests_per_minute=60) as limiter:
        with pytest.raises(ValidationError) as caught:
            await limiter.penalize("m", wait, None)  # type: ignore[arg-type]
        assert caught.value.field == "wait"
        ticket = await asyncio.wait_for(limiter.reserve("m", 1), 5)
        await limiter.settle(ticket, 1, None)


async def test_redis_endless_pause_is_bounded(redis_url: str) -> None:
    async with RedisRateLimiter(redis_url, key="pen-inf", requests_per_minute=60) as limiter:
        await limiter.penalize("m", math.inf, None)
        with pytest.raises(RateLimitWaitTooLongError):
            await asyncio.wait_for(limiter.reserve("m", 1), 5)


@pytest.mark.parametrize("model", ODD_MODELS)
async def test_odd_model_ids_keep_every_key_in_the_limiters_cluster_slot(
    redis_url: str, model: str
) -> None:
    from redis.crc import key_slot

    async with RedisRateLimiter(redis_url, key="tagged", requests_per_minute=600,
                                max_concurrency=2) as limiter:
        expected = key_slot(b"{tagged}")
        keys = limiter.redis_keys(model)
        assert {key_slot(name.encode()) for name in keys.values()} == {expected}
        ticket = await limiter.reserve(model, 3)
        await limiter.settle(ticket, 2, None)
        await limiter.penalize(model, 0.01, None)


async def test_odd_model_ids_get_separate_budgets_in_process() -> None:
    limiter = Limiter(max_concurrency=1)
    tickets = [await asyncio.wait_for(limiter.reserve(m, 1), 1) for m in ODD_MODELS]
    for ticket in tickets:
        await limiter.settle(ticket, 1, None)
        await limiter.settle(ticket, 1, None)  # a second settle frees nothing twice
    assert all(limiter.in_flight(m) == 0 for m in ODD_MODELS)


async def test_script_flush_between_calls_reloads_the_scripts(redis_url: str) -> None:
    import redis.asyncio as aioredis

    async with RedisRateLimiter(redis_url, key="flush", requests_per_minute=6000,
                                max_concurrency=4, tokens_per_minute=10**6) as limiter:
        first = await limiter.reserve("m", 5)
        async with aioredis.Redis.from_url(redis_url) as admin:
            await admin.script_flush()
        await limiter.settle(first, 4, None)
        await limiter.penalize("m", 0.01, None)
        second = await asyncio.wait_for(limiter.reserve("m", 5), 5)
        await limiter.settle(second, 5, None)


async def test_redis_killed_mid_run_is_a_typed_error_and_nothing_more_is_sent() -> None:
    server = RedisServer()
    limiter = RedisRateLimiter(server.url, key="dies", requests_per_minute=6000,
                               max_concurrency=4, socket_timeout=1)
    try:
        async with (
            FakeServer() as fake,
            Client("t", base_url=fake.url, rate_limiter=limiter, max_retries=0) as client,
        ):
            messages = [{"role": "user", "content": "hi"}]
            await client.chat.completions.create(model="openai/gpt-4.1-mini", messages=messages)
            assert len(fake.requests) == 1
            server.process.kill()
            server.process.wait()
            for _ in range(3):
                with pytest.raises(LimiterUnavailableError):
                    await asyncio.wait_for(
                        client.chat.completions.create(
                            model="openai/gpt-4.1-mini", messages=messages
                        ),
                        10,
                    )
            assert len(fake.requests) == 1
    finally:
        await limiter.aclose()
        server.stop()


async def test_a_read_only_replica_is_a_typed_error(redis_url: str) -> None:
    import redis.asyncio as aioredis

    replica = RedisServer()
    try:
        host, port = redis_url.split("//")[1].split("/")[0].split(":")
        async with aioredis.Redis.from_url(replica.url) as admin:
            await admin.replicaof(host, int(port))
        limiter = RedisRateLimiter(replica.url, key="ro", requests_per_minute=60)
        with pytest.raises(LimiterUnavailableError) as caught:
            await asyncio.wait_for(limiter.reserve("m", 1), 10)
        assert "READONLY" in str(caught.value) or "read only" in str(caught.value).lower()
        await limiter.aclose()
    finally:
        replica.stop()


@pytest.mark.parametrize("entry", [None, "openai/gpt-4.1", {"id": "a"}, 5])
def test_tier_of_refuses_what_is_not_a_catalog_entry(entry: object) -> None:
    from ghmodels_async.ratelimit import tier_of

    with pytest.raises(ValidationError) as caught:
        tier_of(entry)  # type: ignore[arg-type]
    assert caught.value.field == "model"


async def test_redis_settle_twice_frees_the_lease_once(redis_url: str) -> None:
    async with RedisRateLimiter(redis_url, key="twice", max_concurrency=1) as limiter:
        first = await limiter.reserve("m", 1)
        await limiter.settle(first, 1, None)
        second = await asyncio.wait_for(limiter.reserve("m", 1), 5)  # holds the one lease
        await limiter.settle(first, 1, None)  # a stale second settle frees nothing
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(limiter.reserve("m", 1), 0.5)
        await limiter.settle(second, 1, None)
        third = await asyncio.wait_for(limiter.reserve("m", 1), 5)
        await limiter.settle(third, 1, None)
