"""What the in-process rate limiter costs per call, against no limiter in the same run.

    python -m benchmarks.limiter [--calls N] [--rounds R] [--concurrency C] [--json out.json]

Two measurements, each alternating the arms round by round so load drift hits both:

* ``bare``: ``await reserve()`` + ``await settle()`` on a ``Limiter`` whose budgets
  never make anyone wait (every bookkeeping step runs: slot, schedule, window log), vs
  the same two awaits on a no-op limiter. Process CPU time per call.
* ``glue``: the client's per-call pacing path without the network (``Pacing.reserve``
  then ``Pacing.answered`` on a canned answer: usage decoded, headers parsed) through a
  ``Limiter`` vs a no-op limiter.
* ``client``: ``Client.chat.completions.create`` against the canned local server
  (``benchmarks.canned_server``, its own process), ``C`` calls in flight, with
  ``Client(rate_limiter=Limiter(max_concurrency=...))`` vs ``Client()``: the whole
  per-call cost of pacing in the client (reserve, settle task, usage and header
  parsing). Client CPU time per call, and calls per second.

Figures are the median over rounds; the ratio column is against the baseline arm of the
same run. A timing on a shared machine is a figure, not a test: nothing here fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchmarks import payloads
from benchmarks.run import canned_server
from ghmodels_async import Client, RateLimitInfo
from ghmodels_async._pacing import Pace, Pacing
from ghmodels_async.ratelimit import Limiter

MODEL = "openai/gpt-4.1"
NO_WAIT = dict(
    requests_per_minute=1e12, tokens_per_minute=1e15, max_concurrency=100_000, max_wait=None
)


class NoopLimiter:
    """The baseline of ``bare``: the protocol's two awaits, doing nothing."""

    async def reserve(self, model: str, tokens: int) -> object:
        return None

    async def settle(self, ticket: Any, used: int | None, info: RateLimitInfo | None) -> None:
        return None

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        return None


class InlineNoopLimiter(NoopLimiter):
    """The same, settled in line by the client (as the in-process Limiter is)."""

    settles_immediately = True


async def bare_round(limiter: Any, calls: int) -> float:
    info = RateLimitInfo()  # an answer without remaining-* headers: nothing to learn
    start = time.process_time()
    for _ in range(calls):
        ticket = await limiter.reserve(MODEL, 300)
        await limiter.settle(ticket, 250, info)
    return (time.process_time() - start) / calls


async def glue_round(limiter: Any, calls: int) -> float:
    """What the client does per call under a limiter, without the network: reserve, then
    settle from a real answer's headers and body (usage decoded, headers parsed)."""
    pacing = Pacing(limiter)
    pace = Pace(MODEL, 300)
    body = payloads.completion_body()
    # no remaining-* headers: with them a budget of 1e12 a minute would rightly follow
    # the server's smaller count and wait
    headers = {"content-type": "application/json", "x-request-id": "7c1f3a52-0b8e"}
    start = time.process_time()
    for _ in range(calls):
        ticket = await pacing.reserve(pace)
        await pacing.answered(ticket, pace, 200, headers, body)
    return (time.process_time() - start) / calls


async def client_round(
    origin: str, limited: bool, calls: int, concurrency: int
) -> tuple[float, float]:
    # concurrency only: the canned server always says "149 requests left", so a
    # requests-per-minute budget above that would (rightly) follow the server's pace
    limiter = Limiter(max_concurrency=100_000) if limited else None
    async with Client(token="bench", base_url=origin, rate_limiter=limiter) as client:
        messages = [{"role": "user", "content": "Say hello."}]

        async def one() -> None:
            answer = await client.chat.completions.create(
                model=MODEL, messages=messages, max_tokens=64
            )
            assert answer.choices

        async def worker(count: int) -> None:
            for _ in range(count):
                await one()

        for _ in range(50):  # warm the pool
            await one()
        share, extra = divmod(calls, concurrency)
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(worker(share + (i < extra)) for i in range(concurrency)))
        return (time.process_time() - cpu) / calls, calls / (time.perf_counter() - wall)


def alternate(rounds: int, arms: dict[str, Callable[[], Awaitable[Any]]]) -> dict[str, list[Any]]:
    results: dict[str, list[Any]] = {name: [] for name in arms}
    loop = asyncio.new_event_loop()
    try:
        for _ in range(rounds):
            for name, arm in arms.items():
                results[name].append(loop.run_until_complete(arm()))
    finally:
        loop.close()
    return results


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--calls", type=int, default=2000, help="client calls per round (2000)")
    ap.add_argument("--bare-calls", type=int, default=50000, help="bare calls per round (50000)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args(argv)

    bare = alternate(
        args.rounds,
        {
            "noop": lambda: bare_round(NoopLimiter(), args.bare_calls),
            "Limiter": lambda: bare_round(Limiter(**NO_WAIT), args.bare_calls),  # type: ignore[arg-type]
        },
    )
    glue = alternate(
        args.rounds,
        {
            "noop, in-line settle": lambda: glue_round(InlineNoopLimiter(), args.bare_calls),
            "noop, settle task": lambda: glue_round(NoopLimiter(), args.bare_calls),
            "Limiter": lambda: glue_round(
                Limiter(max_concurrency=100_000, requests_per_minute=1e12), args.bare_calls
            ),
        },
    )
    with canned_server(chunks=20, barrier_timeout=60.0) as server:
        client = alternate(
            args.rounds,
            {
                "Client()": lambda: client_round(
                    server.origin, False, args.calls, args.concurrency
                ),
                "Client(rate_limiter=Limiter)": lambda: client_round(
                    server.origin, True, args.calls, args.concurrency
                ),
            },
        )

    report: dict[str, Any] = {"rounds": args.rounds, "bare": {}, "client": {}}
    print(f"bare reserve+settle, {args.bare_calls} calls x {args.rounds} rounds (median)")
    base = statistics.median(bare["noop"])
    for name, values in bare.items():
        per = statistics.median(values)
        report["bare"][name] = {"us_per_call": per * 1e6, "calls_per_s": 1 / per}
        print(
            f"  {name:<30} {per * 1e6:8.2f} us/call  {1 / per:>12,.0f} calls/s  x{per / base:.2f}"
        )
    print(f"client pacing path (reserve + settle from a real answer), {args.bare_calls} calls")
    base = statistics.median(glue["noop, in-line settle"])
    report["glue"] = {}
    for name, values in glue.items():
        per = statistics.median(values)
        report["glue"][name] = {"us_per_call": per * 1e6, "calls_per_s": 1 / per}
        print(
            f"  {name:<30} {per * 1e6:8.2f} us/call  {1 / per:>12,.0f} calls/s  x{per / base:.2f}"
        )
    print(
        f"client chat call, {args.calls} calls at concurrency {args.concurrency} "
        f"x {args.rounds} rounds (median)"
    )
    base = statistics.median(cpu for cpu, _ in client["Client()"])
    for name, pairs in client.items():
        cpu = statistics.median(c for c, _ in pairs)
        rate = statistics.median(r for _, r in pairs)
        report["client"][name] = {"cpu_us_per_call": cpu * 1e6, "calls_per_s": rate}
        print(
            f"  {name:<30} {cpu * 1e6:8.1f} us CPU/call {rate:>10,.0f} calls/s  x{cpu / base:.2f}"
        )
    extra = report["client"]["Client(rate_limiter=Limiter)"]["cpu_us_per_call"] - base * 1e6
    print(f"  pacing adds {extra:.1f} us of client CPU per call")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)


if __name__ == "__main__":
    main()
