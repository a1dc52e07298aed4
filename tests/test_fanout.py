"""fan_out: order, bounded concurrency, per-item errors, pacing, cancellation."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from ghmodels_async import Client
from ghmodels_async.fanout import Outcome, fan_out
from ghmodels_async.testing import FakeServer


async def test_results_keep_input_order_and_concurrency_is_bounded() -> None:
    running = 0
    peak = 0

    async def work(item: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (item % 5))
        running -= 1
        return item * 2

    outcomes = await fan_out(work, range(200), concurrency=7)
    assert [o.index for o in outcomes] == list(range(200))
    assert [o.value for o in outcomes] == [i * 2 for i in range(200)]
    assert all(o.ok for o in outcomes)
    assert peak == 7


async def test_a_failing_item_does_not_stop_the_others() -> None:
    async def work(item: int) -> int:
        if item % 3 == 0:
            raise ValueError(f"bad {item}")
        return item

    seen: list[Outcome[int]] = []
    outcomes = await fan_out(work, range(10), concurrency=3, on_done=seen.append)
    assert len(seen) == 10
    failed = [o for o in outcomes if not o.ok]
    assert [o.index for o in failed] == [0, 3, 6, 9]
    assert all(isinstance(o.error, ValueError) and o.value is None for o in failed)
    assert [o.value for o in outcomes if o.ok] == [1, 2, 4, 5, 7, 8]


async def test_requests_per_minute_spaces_the_starts() -> None:
    starts: list[float] = []

    async def work(item: int) -> None:
        starts.append(time.monotonic())

    await fan_out(work, range(4), concurrency=4, requests_per_minute=60 * 20)  # 50 ms apart
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.045 for gap in gaps), gaps


async def test_cancelling_the_caller_cancels_every_worker() -> None:
    started = asyncio.Event()

    async def work(item: int) -> None:
        started.set()
        await asyncio.sleep(30)

    before = asyncio.all_tasks()
    task = asyncio.ensure_future(fan_out(work, range(50), concurrency=5))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before == set()


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
async def test_bad_concurrency_is_refused(bad: object) -> None:
    async def work(item: int) -> int:
        return item

    with pytest.raises(ValueError, match="concurrency"):
        await fan_out(work, [1], concurrency=bad)  # type: ignore[arg-type]


async def test_fan_out_of_chat_calls_over_one_client() -> None:
    async with FakeServer() as server, Client("t", base_url=server.url) as client:

        async def ask(n: int) -> str | None:
            completion = await client.chat.completions.create(
                model="openai/gpt-4.1-mini", messages=[{"role": "user", "content": f"n{n}"}]
            )
            return completion.choices[0].message.content

        outcomes = await fan_out(ask, range(300), concurrency=50)
    assert [o.value for o in outcomes] == [f"Echo: n{n}" for n in range(300)]
