"""What the Redis rate limiter itself costs per call, against the in-process limiter.

    python -m benchmarks.redis_limiter [--calls N] [--rounds R] [--concurrency C]
                                       [--redis-url URL] [--json out.json]

One "call" is what the client does around each request: ``reserve`` then ``settle``
(settled with a usage that differs from the estimate, as real answers do). Budgets
are set so high that no call ever waits, so the figures are pure overhead: the Redis
limiter's Lua round trips (one to reserve, one to settle the tokens and free the lease)
against the same calls on the in-process limiter, on a no-op limiter (the floor: just
the two awaits) and one bare Redis PING per call, all in the same run. Sequential
figures are latency (µs per call); concurrent ones are throughput (calls/s with C
tasks on one event loop).

Without ``--redis-url`` it starts its own ``redis-server`` from PATH on a free
loopback port (no persistence) and stops it after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any


class NoopLimiter:
    """The floor: the protocol's two awaits and nothing else."""

    async def reserve(self, model: str, tokens: int) -> Any:
        return None

    async def settle(self, ticket: Any, used_tokens: int | None, rate_limit: Any) -> None:
        return None

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        return None


class PingLimiter:
    """One bare Redis round trip (PING) per call: what a single trip costs here."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as aioredis

        self._redis = aioredis.Redis.from_url(url)

    async def reserve(self, model: str, tokens: int) -> Any:
        return await self._redis.ping()

    async def settle(self, ticket: Any, used_tokens: int | None, rate_limit: Any) -> None:
        return None

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        return None

    async def aclose(self) -> None:
        await self._redis.aclose()


def _in_process_factory() -> Callable[..., Any] | None:
    """The in-process limiter of ``ghmodels_async.ratelimit``, if this checkout has it."""
    import ghmodels_async.ratelimit as ratelimit

    return getattr(ratelimit, "Limiter", None)


def _start_redis() -> tuple[subprocess.Popen[bytes], str, tempfile.TemporaryDirectory[str]]:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (apt-get install redis-server) and no --redis-url")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    workdir = tempfile.TemporaryDirectory(prefix="ghm-bench-redis-")
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
         "no", "--dir", workdir.name, "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.1) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    break
        except OSError:
            time.sleep(0.01)
    return process, f"redis://127.0.0.1:{port}/0", workdir


async def _sequential(limiter: Any, calls: int) -> float:
    """Seconds per reserve+settle, one call at a time."""
    start = time.perf_counter()
    for _ in range(calls):
        ticket = await limiter.reserve("bench-model", 100)
        await limiter.settle(ticket, 90, None)
    return (time.perf_counter() - start) / calls


async def _concurrent(limiter: Any, calls: int, concurrency: int) -> float:
    """Calls per second with ``concurrency`` tasks sharing the limiter."""
    per_task = calls // concurrency

    async def task() -> None:
        for _ in range(per_task):
            ticket = await limiter.reserve("bench-model", 100)
            await limiter.settle(ticket, 90, None)

    start = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(concurrency)))
    return per_task * concurrency / (time.perf_counter() - start)


async def _measure(url: str, calls: int, rounds: int, concurrency: int) -> dict[str, Any]:
    from ghmodels_async.ratelimit import RedisRateLimiter

    huge: dict[str, Any] = {"requests_per_minute": 1e9, "tokens_per_minute": 1e12}
    limiters: dict[str, Callable[[], Any]] = {"no-op (floor)": NoopLimiter}
    in_process = _in_process_factory()
    if in_process is not None:
        limiters["in-process"] = lambda: in_process(**huge)
        limiters["in-process +concurrency"] = lambda: in_process(**huge, max_concurrency=10**6)
    limiters["redis PING (1 round trip)"] = lambda: PingLimiter(url)
    limiters["redis rpm+tpm"] = lambda: RedisRateLimiter(url, key="bench-a", **huge)
    limiters["redis rpm+tpm+concurrency"] = lambda: RedisRateLimiter(
        url, key="bench-b", max_concurrency=10**6, **huge
    )
    results: dict[str, Any] = {}
    for name, make in limiters.items():
        limiter = make()
        await _sequential(limiter, min(200, calls))  # warm up (script load, connections)
        seq = min([await _sequential(limiter, calls) for _ in range(rounds)])
        conc = max([await _concurrent(limiter, calls, concurrency) for _ in range(rounds)])
        results[name] = {"us_per_call": seq * 1e6, "calls_per_s": 1 / seq,
                         "concurrent_calls_per_s": conc}
        if hasattr(limiter, "aclose"):
            await limiter.aclose()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    server = None
    url = args.redis_url
    if url is None:
        server, url, workdir = _start_redis()
    try:
        results = asyncio.run(_measure(url, args.calls, args.rounds, args.concurrency))
    finally:
        if server is not None:
            server.terminate()
            server.wait()
            workdir.cleanup()
    baseline_name = "in-process" if "in-process" in results else "no-op (floor)"
    base = results[baseline_name]
    print(f"{args.calls} reserve+settle calls, best of {args.rounds} rounds; "
          f"concurrent: {args.concurrency} tasks; ratios against {baseline_name}")
    if "in-process" not in results:
        print("(this checkout has no in-process limiter: baseline is the no-op floor)")
    print(f"{'limiter':<28}{'µs/call':>10}{'calls/s':>11}{'x':>7}{'conc calls/s':>15}{'x':>7}")
    for name, row in results.items():
        print(f"{name:<28}{row['us_per_call']:>10.1f}{row['calls_per_s']:>11.0f}"
              f"{row['us_per_call'] / base['us_per_call']:>7.1f}"
              f"{row['concurrent_calls_per_s']:>15.0f}"
              f"{base['concurrent_calls_per_s'] / row['concurrent_calls_per_s']:>7.1f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"baseline": baseline_name, "results": results}, out, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
