"""Many calls at bounded concurrency, one outcome per item.

``fan_out`` runs an async function over items with at most ``concurrency`` calls in
flight (a fixed pool of workers, so ten thousand items do not mean ten thousand
tasks) and, optionally, at most ``requests_per_minute`` starts, and returns the
outcomes in input order. ``fan_out_stream`` does the same over any iterable or async
iterable, read lazily, and yields each outcome as it finishes (or in order, through
a bounded reorder buffer), so a million items run in the memory of a few hundred.
A failing item never stops the others: its exception is kept in its ``Outcome``.
It knows nothing of HTTP.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Annotated, Any, Generic, TypeVar, Union

import msgspec

from ._config import check
from ._errors import ValidationError

__all__ = ["FanOutStream", "Outcome", "fan_out", "fan_out_stream"]

T = TypeVar("T")
R = TypeVar("R")
_AtLeastOne = Annotated[int, msgspec.Meta(ge=1)]
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
    """Spaces call starts at least ``interval`` seconds apart (shared by all workers).

    The next start is counted from when the previous one really began, not from when it
    was due: a late wake-up (a busy loop) then delays the next start instead of
    squeezing it closer, so no window ever sees more than ``requests_per_minute``.
    """

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
                now = time.monotonic()
            self._next = now + self._interval


class _NotAwaitableError(ValidationError):
    """``func(item)`` returned no awaitable: ``func`` is not an async function (ends the run)."""


def _start(func: Callable[[T], Awaitable[R]], item: T) -> Awaitable[R]:
    """``func(item)``, refused unless it is an awaitable (an ``async def`` function's call)."""
    result = func(item)
    if not inspect.isawaitable(result):
        raise _NotAwaitableError(
            f"func must be an async function: it returned {type(result).__name__}, "
            "not an awaitable", field="func",
        )  # fmt: skip
    return result


def _check_func(func: object) -> None:
    if not callable(func):
        raise ValidationError(
            f"func must be an async function, got {type(func).__name__}", field="func"
        )


def _check_limits(concurrency: int, requests_per_minute: float | None) -> None:
    """Refuse a bad ``concurrency`` or ``requests_per_minute`` (ValidationError, a ValueError)."""
    check(
        concurrency,
        _AtLeastOne,
        "concurrency must be an integer >= 1, got {value!r}",
        lambda message: ValidationError(message, field="concurrency"),
    )
    rate = check(
        requests_per_minute,
        _Rate | None,
        "requests_per_minute must be a number > 0, got {value!r}",
        lambda message: ValidationError(message, field="requests_per_minute"),
    )
    if rate == float("inf"):  # msgspec bounds are finite: infinity is refused here
        raise ValidationError(
            f"requests_per_minute must be a number > 0, got {requests_per_minute!r}",
            field="requests_per_minute",
        )


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
    caller cancels every worker. ``on_done`` is called as each item finishes. A ``func``
    whose call returns no awaitable ends the run with ``ValidationError`` (field ``func``).
    """
    _check_func(func)
    _check_limits(concurrency, requests_per_minute)
    if not isinstance(items, Iterable):
        raise ValidationError(
            f"items must be an iterable, got {type(items).__name__}", field="items"
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
                    index, value=await _start(func, work[index]),
                    seconds=time.perf_counter() - started,
                )  # fmt: skip
            except _NotAwaitableError:
                raise
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


class _WorkerDone:
    """Queue marker: one worker has stopped because the input is exhausted."""


class _InputFailed:
    """Queue marker: pulling from the input raised; the stream re-raises it."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = _WorkerDone()
_Message = Union[Outcome[R], _WorkerDone, _InputFailed]  # noqa: UP007 (a runtime alias)


class _Pool(Generic[R]):
    """The workers of one streaming fan-out and the state they share.

    Kept apart from :class:`FanOutStream` so the worker tasks hold no reference to the
    stream: dropping the stream (``break``) then frees it at once, and it cancels them.
    """

    def __init__(
        self,
        func: Callable[[T], Awaitable[R]],
        items: Iterable[T] | AsyncIterable[T],
        *,
        concurrency: int,
        ordered: bool,
        window: int,
        requests_per_minute: float | None,
    ) -> None:
        self._func: Callable[[Any], Awaitable[R]] = func
        self._sync_items: Iterator[Any] | None = None
        self._async_items: AsyncIterator[Any] | None = None
        if isinstance(items, AsyncIterable):
            self._async_items = aiter(items)
        else:
            self._sync_items = iter(items)
        self._concurrency = concurrency
        self._ordered = ordered
        self._window = window
        self._pacer = _Pacer(requests_per_minute)
        self._next_index = 0  # index the next pulled item gets
        self._exhausted = False
        self._workers: list[asyncio.Task[None]] = []
        self._queue: asyncio.Queue[_Message[R]] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._pull_lock: asyncio.Lock | None = None
        self._running = 0  # workers not yet done
        self._started_workers = 0  # workers started (they only stop when the input ends)
        self._pending: dict[int, Outcome[R]] = {}  # ordered: finished, waiting for their turn
        self._next_to_yield = 0
        self._failure: BaseException | None = None  # the input's error, raised once drained

    # -- workers -----------------------------------------------------------------

    async def _pull(self) -> tuple[int, Any] | None:
        """The next (index, item), or None when the input is exhausted."""
        if self._exhausted:
            return None
        if self._sync_items is not None:
            try:
                item = next(self._sync_items)
            except StopIteration:
                self._exhausted = True
                return None
        else:
            assert self._async_items is not None and self._pull_lock is not None
            async with self._pull_lock:  # an async generator cannot be advanced twice at once
                if self._exhausted:
                    return None
                try:
                    item = await anext(self._async_items)
                except StopAsyncIteration:
                    self._exhausted = True
                    return None
        index = self._next_index
        self._next_index += 1
        return index, item

    async def _worker(self) -> None:
        assert self._queue is not None and self._slots is not None
        queue, slots = self._queue, self._slots
        try:
            while True:
                await slots.acquire()  # released when the consumer takes an outcome
                try:
                    pulled = await self._pull()
                except Exception as exc:  # the input itself failed: end the stream with it
                    self._exhausted = True  # the other workers finish what they hold
                    slots.release()
                    queue.put_nowait(_InputFailed(exc))
                    return
                if pulled is None:
                    slots.release()
                    return
                if self._started_workers < self._concurrency:
                    self._spawn()  # this worker is busy now: one more may pull, up to the cap
                index, item = pulled
                del pulled
                await self._pacer.wait_turn()
                started = time.perf_counter()
                try:
                    outcome: Outcome[R] = Outcome(
                        index, value=await _start(self._func, item),
                        seconds=time.perf_counter() - started,
                    )  # fmt: skip
                except _NotAwaitableError as exc:  # a wrong func: end the stream with it
                    self._exhausted = True
                    queue.put_nowait(_InputFailed(exc))
                    return
                except Exception as exc:  # one item's failure must not stop the rest
                    outcome = Outcome(index, error=exc, seconds=time.perf_counter() - started)
                del item
                queue.put_nowait(outcome)
        finally:
            queue.put_nowait(_DONE)

    def start(self) -> None:
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self._window)
        if self._async_items is not None:
            self._pull_lock = asyncio.Lock()
        self._spawn()

    def _spawn(self) -> None:
        """Start one more worker unless ``concurrency`` are running or the input is done.

        Workers start one by one as items turn up, so a huge ``concurrency`` over a short
        input costs a task per item, never a task per unit of ``concurrency``.
        """
        if self._exhausted or self._started_workers >= self._concurrency:
            return
        self._started_workers += 1
        self._running += 1
        self._workers.append(asyncio.ensure_future(self._worker()))

    async def next_outcome(self) -> Outcome[R] | None:
        assert self._queue is not None
        while True:
            if self._ordered and self._next_to_yield in self._pending:
                self._next_to_yield += 1
                return self._pending.pop(self._next_to_yield - 1)
            if self._running == 0 and self._queue.empty():
                if self._failure is not None:
                    failure, self._failure = self._failure, None
                    raise failure
                return None
            message = await self._queue.get()
            if isinstance(message, _WorkerDone):
                self._running -= 1
            elif isinstance(message, _InputFailed):
                # raised once the calls already started have finished and been taken
                if self._failure is None:
                    self._failure = message.error
            elif not self._ordered:
                return message
            else:
                self._pending[message.index] = message

    def release_slot(self) -> None:
        """The consumer took an outcome: one more item may be pulled."""
        assert self._slots is not None
        self._slots.release()

    @property
    def started(self) -> bool:
        """True once the workers were started."""
        return self._queue is not None

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel every worker; return them (to be awaited) and forget what is held."""
        workers, self._workers = self._workers, []
        for task in workers:
            task.cancel()
        self._pending.clear()
        return workers


class FanOutStream(AsyncIterator[Outcome[R]]):
    """Outcomes of a streaming fan-out, as an async iterator (see :func:`fan_out_stream`).

    A fixed pool of ``concurrency`` worker tasks pulls items from the input one at a
    time, so memory holds at most ``window`` items (in flight or finished and not yet
    taken), whatever the input's length. Breaking out of ``async for``, cancelling the
    consumer, :meth:`aclose` or leaving ``async with`` cancels the calls in flight.
    """

    def __init__(self, pool: _Pool[R]) -> None:
        self._pool = pool
        self._closed = False

    def __aiter__(self) -> FanOutStream[R]:
        return self

    async def __anext__(self) -> Outcome[R]:
        if self._closed:
            raise StopAsyncIteration
        if not self._pool.started:
            self._pool.start()
        try:
            outcome = await self._pool.next_outcome()
        except BaseException:
            await self.aclose()
            raise
        if outcome is None:
            await self.aclose()
            raise StopAsyncIteration
        self._pool.release_slot()
        return outcome

    async def aclose(self) -> None:
        """Cancel the calls in flight and wait until every worker has stopped."""
        self._closed = True
        workers = self._pool.cancel()
        if workers:
            await asyncio.gather(*workers, return_exceptions=True)

    async def __aenter__(self) -> FanOutStream[R]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # ``break`` out of ``async for`` drops the last reference without awaiting
        # anything: cancel the workers here so nothing keeps running unseen.
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.cancel()


def fan_out_stream(
    func: Callable[[T], Awaitable[R]],
    items: Iterable[T] | AsyncIterable[T],
    *,
    concurrency: int = 16,
    ordered: bool = False,
    window: int | None = None,
    requests_per_minute: float | None = None,
) -> FanOutStream[R]:
    """Call ``func(item)`` for every item, yielding each :class:`Outcome` as it finishes.

    ``items`` may be any iterable or async iterable, even an endless one: it is read
    lazily, one item per free worker. Each outcome carries its input ``index``. With
    ``ordered=True`` outcomes come in input order; the reorder buffer holds at most
    ``window`` items (default ``2 * concurrency``) and pulling pauses while it is full,
    so one slow item cannot make memory grow. Unordered, ``window`` bounds the outcomes
    finished but not yet taken the same way. Use it as ``async for outcome in ...`` or
    ``async with fan_out_stream(...) as outcomes:``.

    If the input raises, no further item is pulled; the calls already started finish,
    their outcomes are yielded, then the stream raises the input's exception. A ``func``
    whose call returns no awaitable ends the stream the same way with ``ValidationError``.
    """
    _check_func(func)
    _check_limits(concurrency, requests_per_minute)
    if window is None:
        window = 2 * concurrency
    check(
        window,
        _AtLeastOne,
        "window must be an integer >= 1, got {value!r}",
        lambda message: ValidationError(message, field="window"),
    )
    if not isinstance(items, (Iterable, AsyncIterable)):
        raise ValidationError(
            f"items must be an iterable or an async iterable, got {type(items).__name__}",
            field="items",
        )
    return FanOutStream(
        _Pool(
            func, items, concurrency=min(concurrency, window), ordered=ordered, window=window,
            requests_per_minute=requests_per_minute,
        )
    )
