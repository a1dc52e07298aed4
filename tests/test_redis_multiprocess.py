"""Proof that one RedisRateLimiter key paces many processes as one: 4 worker processes,
each with its own Client and limiter, against a server that enforces the same limit.

The 20 s run at 3,000 requests/min is marked ``slow`` (its own CI step:
``pytest -m slow``); a 5 s run of the same test stays in the default run.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from enforcing_server import EnforcingServer

pytest.importorskip("redis")

WORKER = str(Path(__file__).with_name("redis_worker.py"))
WORKERS = 4


async def _spawn(args: list[str]) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, WORKER, *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    assert (await process.stdout.readline()).strip() == b"ready"
    return process


async def _go(processes: list[asyncio.subprocess.Process]) -> float:
    started = time.monotonic()
    for process in processes:
        assert process.stdin is not None
        process.stdin.write(b"go\n")
        await process.stdin.drain()
    return started


async def _finish(process: asyncio.subprocess.Process) -> dict[str, Any]:
    out, _ = await process.communicate()
    assert process.returncode == 0
    counts: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return counts


async def _rate_run(redis_url: str, seconds: float) -> None:
    rpm = 3000
    server = EnforcingServer(per_second=rpm // 60)
    await server.start()
    try:
        args = [redis_url, "budget", server.url, str(rpm), "0", "8", str(seconds)]
        processes = list(await asyncio.gather(*(_spawn(args) for _ in range(WORKERS))))
        await _go(processes)
        results = await asyncio.gather(*(_finish(p) for p in processes))
    finally:
        await server.close()
    # The rate over the run, from the first arrival (process start-up is not pacing).
    first = min(server.arrivals)
    accepted = server.accepted_between(first, first + seconds)
    rate = accepted / seconds * 60
    print(f"\n{WORKERS} workers, {seconds:.0f} s: {rate:.0f} requests/min of {rpm}, "
          f"{server.rejected} rejected, per worker {[r['ok'] for r in results]}")
    assert server.rejected == 0
    assert sum(r["failed"] for r in results) == 0, [r["errors"] for r in results]
    assert rate >= 0.95 * rpm
    assert all(r["ok"] > 0 for r in results)  # every worker got its share of the budget


async def test_four_processes_share_one_budget_short(redis_url: str) -> None:
    await _rate_run(redis_url, 5.0)


@pytest.mark.slow
async def test_four_processes_share_one_budget_20s(redis_url: str) -> None:
    await _rate_run(redis_url, 20.0)


async def test_four_processes_share_one_concurrency_cap_and_a_killed_one_frees_it(
    redis_url: str,
) -> None:
    from ghmodels_async.ratelimit import RedisRateLimiter

    cap = 6
    server = EnforcingServer(per_second=10_000, delay=0.05)
    await server.start()
    try:
        args = [redis_url, "conc", server.url, "60000", str(cap), "8", "3"]
        processes = list(await asyncio.gather(*(_spawn(args) for _ in range(WORKERS))))
        await _go(processes)
        async with RedisRateLimiter(redis_url, key="conc", max_concurrency=cap) as observer:
            while len(server.arrivals) < 100:  # let all of them contend first
                await asyncio.sleep(0.05)
            victim = processes[0]
            os.kill(victim.pid, signal.SIGKILL)
            await victim.wait()
            # Whatever the victim held ends within the TTL (lease_ttl=1 s in the worker):
            # no lease deadline is further than that from now, in Redis time.
            import redis.asyncio as aioredis

            leases = observer.redis_keys("m")["leases"]
            async with aioredis.Redis.from_url(redis_url) as store, store.pipeline() as atomic:
                atomic.time().zrange(leases, 0, -1, withscores=True)  # MULTI/EXEC: one instant
                (seconds, micros), deadlines = await atomic.execute()
            killed_ms = seconds * 1000 + micros // 1000
            assert all(score <= killed_ms + 1000 for _member, score in deadlines)
            results = await asyncio.gather(*(_finish(p) for p in processes[1:]))
            for _ in range(500):  # the live workers settled theirs; the victim's expire
                if await observer.in_flight("m") == 0:
                    break
                await asyncio.sleep(0.02)
            assert await observer.in_flight("m") == 0
            # ...and the whole cap is usable again.
            tickets = [await asyncio.wait_for(observer.reserve("m", 0), 2) for _ in range(cap)]
            for ticket in tickets:
                await observer.settle(ticket, None, None)
    finally:
        await server.close()
    print(f"\nmax in flight {server.max_in_flight} (cap {cap}), {len(server.arrivals)} requests")
    assert server.max_in_flight <= cap
    assert server.max_in_flight == cap  # the cap was reached, so the bound was tested
    assert server.rejected == 0
    assert sum(r["failed"] for r in results) == 0, [r["errors"] for r in results]
