"""fan_out / fan_out_stream given bad arguments or a failing input: a typed error naming
the argument, calls already started finish and are yielded before an input error, and
nothing is left running."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from ghmodels_async import ValidationError
from ghmodels_async.fanout import fan_out, fan_out_stream


async def settle_tasks(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    for _ in range(5):
        await asyncio.sleep(0)
    return {task for task in asyncio.all_tasks() - before if not task.done()}


@pytest.mark.parametrize("func", [None, 5, "upper"])
async def test_a_func_that_is_not_callable_is_refused_by_name(func: Any) -> None:
    with pytest.raises(ValidationError, match="func") as caught:
        await fan_out(func, [1, 2])
    assert caught.value.field == "func"
    with pytest.raises(ValidationError, match="func") as caught:
        fan_out_stream(func, [1, 2])
    assert caught.value.field == "func"


async def test_a_func_that_returns_no_awaitable_ends_the_run_with_a_validation_error() -> None:
    calls: list[int] = []

    def not_async(item: int) -> int:
        calls.append(item)
        return item

    with pytest.raises(ValidationError, match="awaitable") as caught:
        await fan_out(not_async, range(100), concurrency=2)  # type: ignore[arg-type]
    assert caught.value.field == "func" and len(calls) <= 2
    calls.clear()
    before = asyncio.all_tasks()
    with pytest.raises(ValidationError, match="awaitable"):
        async for _ in fan_out_stream(not_async, itertools.count(), concurrency=2):  # type: ignore[arg-type]
            pass
    assert len(calls) <= 3
    assert await settle_tasks(before) == set()


async def test_fan_out_refuses_a_non_iterable_by_name() -> None:
    async def work(item: int) -> int:
        return item

    with pytest.raises(ValidationError, match="items") as caught:
        await fan_out(work, 5)  # type: ignore[arg-type]
    assert caught.value.field == "items"


async def test_calls_in_flight_when_the_input_fails_are_yielded_before_its_error() -> None:
    release = asyncio.Event()
    running = 0
    three_running = asyncio.Event()

    def items() -> Iterator[int]:
        yield 0
        yield 1
        yield 2
        raise RuntimeError("input broke")

    async def work(item: int) -> int:
        nonlocal running
        running += 1
        if running == 3:
            three_running.set()
        await release.wait()
        return item * 10

    seen: list[int] = []
    before = asyncio.all_tasks()
    stream = fan_out_stream(work, items(), concurrency=4)

    async def consume() -> None:
        async for outcome in stream:
            assert outcome.ok
            seen.append(outcome.value or 0)

    consumer = asyncio.ensure_future(consume())
    await three_running.wait()
    release.set()
    with pytest.raises(RuntimeError, match="input broke"):
        await consumer
    assert sorted(seen) == [0, 10, 20]
    assert await settle_tasks(before) == set()


async def test_ordered_stream_also_yields_what_was_in_flight_before_an_input_error() -> None:
    async def items() -> AsyncIterator[int]:
        for number in range(5):
            yield number
        raise OSError("disk went away")

    async def work(item: int) -> int:
        await asyncio.sleep(0.001 * (5 - item))
        return item

    seen: list[int] = []
    with pytest.raises(OSError, match="disk went away"):
        async for outcome in fan_out_stream(work, items(), concurrency=3, ordered=True):
            seen.append(outcome.index)
    assert seen == [0, 1, 2, 3, 4]


async def test_breaking_while_the_async_input_hangs_leaks_nothing() -> None:
    async def hangs() -> AsyncIterator[int]:
        yield 1
        await asyncio.Event().wait()
        yield 2  # pragma: no cover

    async def work(item: int) -> int:
        return item

    before = asyncio.all_tasks()
    async with fan_out_stream(work, hangs(), concurrency=3) as outcomes:
        async for outcome in outcomes:
            assert outcome.value == 1
            break
    assert await settle_tasks(before) == set()


async def test_ordered_with_a_head_that_never_finishes_pulls_at_most_the_window() -> None:
    pulled = 0
    window_full = asyncio.Event()

    def endless() -> Iterator[int]:
        nonlocal pulled
        for number in itertools.count():
            pulled += 1
            if pulled == 6:
                window_full.set()
            yield number

    async def work(item: int) -> int:
        if item == 0:
            await asyncio.Event().wait()
        return item

    before = asyncio.all_tasks()
    stream = fan_out_stream(work, endless(), concurrency=3, ordered=True, window=6)
    consumer = asyncio.ensure_future(stream.__anext__())
    await window_full.wait()
    for _ in range(20):
        await asyncio.sleep(0)
    assert pulled == 6 and not consumer.done()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await stream.aclose()
    assert await settle_tasks(before) == set()


async def test_a_huge_concurrency_starts_workers_only_for_the_items_there_are() -> None:
    async def work(item: int) -> int:
        return item

    before = asyncio.all_tasks()
    peak = 0

    async def count_tasks(item: int) -> int:
        nonlocal peak
        peak = max(peak, len(asyncio.all_tasks() - before))
        return await work(item)

    stream = fan_out_stream(count_tasks, range(5), concurrency=10**9)
    outcomes = await asyncio.wait_for(_collect(stream), 10)
    assert sorted(o.value for o in outcomes) == [0, 1, 2, 3, 4]
    assert peak <= 7  # the consumer task of wait_for, and one worker per item plus one
    assert await settle_tasks(before) == set()


async def _collect(stream: Any) -> list[Any]:
    return [outcome async for outcome in stream]
