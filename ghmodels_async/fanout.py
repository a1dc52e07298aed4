"""Many calls at bounded concurrency: results in input order, one outcome per item.

``fan_out`` runs an async function over items with at most ``concurrency`` calls in
flight (a fixed pool of workers, so ten thousand items do not mean ten thousand
tasks) and, optionally, at most ``requests_per_minute`` starts. A failing item never
stops the others: its exception is kept in its ``Outcome``. It knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

import msgspec

from ._config import check

__all__ = ["Outcome", "fan_out"]

T = TypeVar("T")
R = TypeVar("R")
_Concurrency = Annotated[int, msgspec.Meta(ge=1)]
_Rate = Annotated[float, msgspec.Meta(gt=0)]


@dataclass(frozen=True)
class Outcome(Generic[R]):
    """The result of one item: ``value`` when ``ok``, else the ``error`` it raised."""

    index: int
    value: R | None = None
    error: Exception | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True if the call returned without raising."""
        return self.error is None


class _Pacer:
    """Spaces call starts at least ``interval`` seconds apart (shared by all workers)."""

    def __init__(self, requests_per_minute: float | None) -> None:
        self._interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def wait_turn(self) -> None:
        if not self._interval:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await asyncio.sleep(self._next - now)
                now = self._next
            self._next = now + self._interval


async def fan_out(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T],
    *,
    concurrency: int = 16,
    requests_per_minute: float | None = None,
    on_done: Callable[[Outcome[R]], None] | None = None,
) -> list[Outcome[R]]:
    """Call ``func(item)`` for every item; return the outcomes in input order.

    Exceptions (subclasses of ``Exception``) are captured per item; cancellation of the
    caller cancels every worker. ``on_done`` is called as each item finishes.
    """
    check(
        concurrency, _Concurrency, "concurrency must be an integer >= 1, got {value!r}", ValueError
    )
    check(
        requests_per_minute,
        _Rate | None,
        "requests_per_minute must be > 0, got {value!r}",
        ValueError,
    )
    work = list(items)
    outcomes: list[Outcome[R] | None] = [None] * len(work)
    pacer = _Pacer(requests_per_minute)
    position = iter(range(len(work)))

    async def worker() -> None:
        for index in position:
            await pacer.wait_turn()
            started = time.perf_counter()
            try:
                outcome: Outcome[R] = Outcome(
                    index, value=await func(work[index]), seconds=time.perf_counter() - started
                )
            except Exception as exc:  # one item's failure must not stop the rest
                outcome = Outcome(index, error=exc, seconds=time.perf_counter() - started)
            outcomes[index] = outcome
            if on_done is not None:
                on_done(outcome)

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(work)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return [outcome for outcome in outcomes if outcome is not None]
