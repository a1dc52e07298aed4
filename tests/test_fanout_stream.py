"""fan_out_stream: lazy input, completion order and input order, the memory bound,
cancellation with nothing leaked, async iterables, per-item errors."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from ghmodels_async import Client, ValidationError
from ghmodels_async.fanout import Outcome, fan_out_stream
from ghmodels_async.testing import FakeServer


class Meter:
    """Counts what the test's own callable and input see: pulled, running, peaks."""

    def __init__(self) -> None:
        self.pulled = 0
        self.running = 0
        self.peak_running = 0
        self.finished = 0

    def endless(self) -> Iterator[int]:
        for number in itertools.count():
            self.pulled += 1
            yield number

    async def work(self, item: int) -> int:
        self.running += 1
        self.peak_running = max(self.peak_running, self.running)
        try:
            await asyncio.sleep(0.0005 * (item % 7))
            return item * 10
        finally:
            self.running -= 1
            self.finished += 1


async def settle_tasks(before: set[asyncio.Task[object]]) -> set[asyncio.Task[object]]:
    """The tasks started since ``before`` still alive after the loop had a few turns."""
    for _ in range(5):
        await asyncio.sleep(0)
    return {task for task in asyncio.all_tasks() - before if not task.done()}


async def test_an_endless_generator_is_read_lazily_and_break_stops_it() -> None:
    meter = Meter()
    before = asyncio.all_tasks()
    seen: list[Outcome[int]] = []
    async for outcome in fan_out_stream(meter.work, meter.endless(), concurrency=8):
        seen.append(outcome)
        if len(seen) == 100:
            break
    assert await settle_tasks(before) == set()
    # pulled = taken (100) + at most the window (2 * 8) held in flight or unconsumed
    assert 100 <= meter.pulled <= 100 + 16
    assert meter.running == 0  # the ones in flight at the break were cancelled
    assert sorted(o.value for o in seen) == sorted(o.index * 10 for o in seen)


async def test_items_held_by_the_stream_never_exceed_the_window() -> None:
    meter = Meter()
    highest_gap = 0
    taken = 0
    async for _ in fan_out_stream(meter.work, meter.endless(), concurrency=6, window=10):
        taken += 1
        highest_gap = max(highest_gap, meter.pulled - taken)
        if taken == 500:
            break
        if taken % 50 == 0:
            await asyncio.sleep(0.01)  # a slow consumer: workers must stop pulling
    assert meter.peak_running == 6
    assert 0 < highest_gap <= 10


async def test_ordered_yields_input_order_and_a_slow_head_stops_the_pulling() -> None:
    head_release = asyncio.Event()
    pulled = 0

    def items() -> Iterator[int]:
        nonlocal pulled
        for number in range(200):
            pulled += 1
            yield number

    async def work(item: int) -> int:
        if item == 0:
            await head_release.wait()
        return item

    stream = fan_out_stream(work, items(), concurrency=4, ordered=True, window=9)
    first = asyncio.ensure_future(stream.__anext__())
    for _ in range(50):
        await asyncio.sleep(0)
    assert not first.done()
    assert pulled == 9  # the reorder buffer is full: item 0 and 8 finished ones
    head_release.set()
    rest = [(await first).index] + [o.index async for o in stream]
    assert rest == list(range(200))


async def test_unordered_yields_in_completion_order_with_input_indexes() -> None:
    gates = {n: asyncio.Event() for n in range(3)}

    async def work(item: int) -> int:
        await gates[item].wait()
        return item

    stream = fan_out_stream(work, [0, 1, 2], concurrency=3)
    collected: list[int] = []

    async def consume() -> None:
        async for outcome in stream:
            collected.append(outcome.index)

    consumer = asyncio.ensure_future(consume())
    for n in (2, 0, 1):
        gates[n].set()
        for _ in range(10):
            await asyncio.sleep(0)
    await consumer
    assert collected == [2, 0, 1]


async def test_async_iterable_input() -> None:
    async def numbers() -> AsyncIterator[int]:
        for number in range(50):
            await asyncio.sleep(0)
            yield number

    async def work(item: int) -> int:
        await asyncio.sleep(0)
        return item + 1

    outcomes = [o async for o in fan_out_stream(work, numbers(), concurrency=7, ordered=True)]
    assert [(o.index, o.value) for o in outcomes] == [(n, n + 1) for n in range(50)]


async def test_exceptions_become_outcome_errors() -> None:
    async def work(item: int) -> int:
        if item % 4 == 1:
            raise KeyError(item)
        return item

    outcomes = [o async for o in fan_out_stream(work, range(20), concurrency=3, ordered=True)]
    failed = [o for o in outcomes if not o.ok]
    assert [o.index for o in failed] == [1, 5, 9, 13, 17]
    assert all(isinstance(o.error, KeyError) and o.value is None for o in failed)
    assert [o.value for o in outcomes if o.ok] == [n for n in range(20) if n % 4 != 1]


async def test_a_failing_input_ends_the_stream_with_its_error() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("input broke")

    async def work(item: int) -> int:
        return item

    before = asyncio.all_tasks()
    with pytest.raises(RuntimeError, match="input broke"):
        async for _ in fan_out_stream(work, items(), concurrency=2):
            pass
    assert await settle_tasks(before) == set()


async def test_cancelling_the_consumer_cancels_the_calls_in_flight() -> None:
    started = asyncio.Event()
    cancelled = 0
    running = 0

    async def work(item: int) -> None:
        nonlocal cancelled, running
        running += 1
        if running == 5:
            started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled += 1
            raise

    async def consume() -> None:
        async for _ in fan_out_stream(work, itertools.count(), concurrency=5):
            pass

    before = asyncio.all_tasks()
    consumer = asyncio.ensure_future(consume())
    await started.wait()
    await asyncio.sleep(0)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert cancelled == 5
    assert await settle_tasks(before) == set()


async def test_aclose_inside_async_with_leaks_nothing() -> None:
    before = asyncio.all_tasks()

    async def work(item: int) -> int:
        await asyncio.sleep(0.01)
        return item

    async with fan_out_stream(work, itertools.count(), concurrency=4) as outcomes:
        first = await outcomes.__anext__()
    assert first.ok
    assert await settle_tasks(before) == set()
    assert [o async for o in outcomes] == []  # closed: nothing more


async def test_empty_input() -> None:
    async def work(item: int) -> int:
        return item

    assert [o async for o in fan_out_stream(work, [], concurrency=3)] == []


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"concurrency": True}, "concurrency"),
        ({"window": 0}, "window"),
        ({"window": 2.5}, "window"),
        ({"requests_per_minute": -1}, "requests_per_minute"),
        ({"requests_per_minute": "60"}, "requests_per_minute"),
    ],
)
def test_bad_options_are_refused_by_name(options: dict[str, object], field: str) -> None:
    async def work(item: int) -> int:
        return item

    with pytest.raises(ValidationError, match=field) as caught:
        fan_out_stream(work, [1], **options)  # type: ignore[arg-type]
    assert caught.value.field == field


def test_a_non_iterable_is_refused() -> None:
    async def work(item: int) -> int:
        return item

    with pytest.raises(ValidationError, match="items"):
        fan_out_stream(work, 42)  # type: ignore[arg-type]


async def test_streamed_chat_calls_over_one_client() -> None:
    async with FakeServer() as server, Client("t", base_url=server.url) as client:

        async def ask(n: int) -> str | None:
            completion = await client.chat.completions.create(
                model="openai/gpt-4.1-mini", messages=[{"role": "user", "content": f"n{n}"}]
            )
            return completion.choices[0].message.content

        answers = {
            o.index: o.value async for o in fan_out_stream(ask, range(300), concurrency=40)
        }
    assert answers == {n: f"Echo: n{n}" for n in range(300)}


async def test_requests_per_minute_spaces_the_starts() -> None:
    starts: list[float] = []

    async def work(item: int) -> None:
        starts.append(asyncio.get_running_loop().time())

    async for _ in fan_out_stream(work, range(4), concurrency=4, requests_per_minute=60 * 20):
        pass
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert all(gap >= 0.045 for gap in gaps), gaps
