"""Soak: thousands of calls through ONE client at concurrency 64 against a FakeServer
injecting faults at set rates. Every call must end with the fake's exact answer or a
typed GHModelsError; afterwards no connection is in use, no task is left behind, and
memory stays flat between two equal batches.

Marked ``soak``: the default ``pytest -q`` deselects it; run it with
``pytest -m soak`` (about 15 s on two cores; CI runs it as its own step).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import time
import tracemalloc
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from conftest import connector_counts

from ghmodels_async import (
    APIConnectionError,
    ChatCompletionStream,
    Client,
    GHModelsError,
    IncompleteStreamError,
    RateLimitError,
    RetryEvent,
    ServerError,
    StreamAccumulator,
    Timeout,
)
from ghmodels_async._transport import RawResponse
from ghmodels_async.testing import FakeServer
from ghmodels_async.types import ChatCompletion

pytestmark = pytest.mark.soak

TOKEN = "ghp_RECOGNISABLE_TOKEN_123"
MODEL = "openai/gpt-4.1-mini"
CONCURRENCY = 64
# per batch; warm-up + two measured batches = 2100 + 330 calls in all
BATCH_PLAIN = 700
BATCH_STREAM = 110
MEMORY_BOUND = 2 * 1024 * 1024  # all allocations, the fake server's included
CLIENT_MEMORY_BOUND = 512 * 1024  # ~650 B per call of the batch

FAULTS = [
    ("rate_limit;wait=0.01", 0.04),
    ("internal_error", 0.03),
    ("service_unavailable", 0.03),
    ("delay_headers;delay=0.05", 0.05),
    ("stream_cut;after=2", 0.03),
    ("drop", 0.02),
]
# errors a call may legitimately end with under these faults (after retries)
PLAIN_ERRORS = (APIConnectionError, ServerError, RateLimitError)
STREAM_ERRORS = (*PLAIN_ERRORS, IncompleteStreamError)


@dataclass
class Tally:
    ok: int = 0
    early_exits: int = 0
    errors: collections.Counter[str] = field(default_factory=collections.Counter)
    unexpected: list[BaseException] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer(seed=1234) as srv:
        for fault, rate in FAULTS:
            srv.inject(fault, times=None, rate=rate, path_contains="/chat/completions")
        yield srv


def prompt(n: int) -> str:
    return f"soak call number {n} says hi"


async def one_plain(client: Client, n: int, tally: Tally) -> None:
    try:
        result = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompt(n)}]
        )
    except PLAIN_ERRORS as exc:
        tally.errors[type(exc).__name__] += 1
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        return
    except BaseException as exc:  # anything else is a failure of the test
        tally.unexpected.append(exc)
        return
    content = result.choices[0].message.content
    if content != f"Echo: {prompt(n)}" or result.response is None:
        tally.wrong.append(f"{n}: {content!r}")
    else:
        tally.ok += 1


async def one_stream(client: Client, n: int, tally: Tally) -> None:
    accumulator = StreamAccumulator()
    stop_early = n % 10 == 0  # leave some streams after their second chunk
    try:
        stream = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": prompt(n)}], stream=True
        )
        async with stream:
            async for chunk in stream:
                accumulator.add(chunk)
                if stop_early and len(accumulator.completion().choices[0].message.content or ""):
                    break
    except STREAM_ERRORS as exc:
        tally.errors[type(exc).__name__] += 1
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)
        return
    except BaseException as exc:
        tally.unexpected.append(exc)
        return
    content = accumulator.completion().choices[0].message.content or ""
    expected = f"Echo: {prompt(n)}"
    if stop_early:
        if not (content and expected.startswith(content) and stream.finished):
            tally.wrong.append(f"{n} (early): {content!r}")
        else:
            tally.early_exits += 1
    elif content != expected or stream.response.request_id is None:
        tally.wrong.append(f"{n}: {content!r}")
    else:
        tally.ok += 1


async def run_batch(client: Client, start: int, plain: int, streams: int) -> Tally:
    tally = Tally()
    jobs = iter(
        [(one_plain, n) for n in range(start, start + plain)]
        + [(one_stream, n) for n in range(start + plain, start + plain + streams)]
    )
    # interleave the streams with the plain calls
    ordered = sorted(jobs, key=lambda job: (job[1] * 7919) % 10007)
    queue = iter(ordered)

    async def worker() -> None:
        for func, n in queue:
            await func(client, n, tally)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return tally


def check(tally: Tally, plain: int, streams: int) -> None:
    assert tally.unexpected == [], tally.unexpected[:5]
    assert tally.wrong == [], tally.wrong[:5]
    assert tally.ok + tally.early_exits + tally.failed == plain + streams
    # stream_cut (3 %, not retryable once the answer started) dominates the failures;
    # a retryable fault three times in a row is rare
    assert tally.ok + tally.early_exits >= 0.9 * (plain + streams), tally
    assert tally.early_exits >= streams // 10 * 0.8


def live_objects() -> collections.Counter[str]:
    """Live instances of the per-call objects a leak would keep."""
    kinds = (
        aiohttp.ClientResponse,
        ChatCompletionStream,
        ChatCompletion,
        GHModelsError,
        RawResponse,
    )
    counts: collections.Counter[str] = collections.Counter()
    for obj in gc.get_objects():
        if isinstance(obj, kinds):
            counts[type(obj).__name__] += 1
    return counts


def client_side(snapshot: tracemalloc.Snapshot) -> tracemalloc.Snapshot:
    """The snapshot without the fake server's allocations (same process, same loop)."""
    return snapshot.filter_traces(
        [
            tracemalloc.Filter(False, "*/aiohttp/web_*"),
            tracemalloc.Filter(False, "*/ghmodels_async/testing/*"),
            tracemalloc.Filter(False, tracemalloc.__file__),
        ]
    )


async def test_soak_one_client_many_calls_with_faults(server: FakeServer) -> None:
    tasks_before = asyncio.all_tasks()
    gc.collect()
    # objects of those kinds that other test modules keep (e.g. a table of errors)
    objects_before = live_objects()
    retry_events: list[RetryEvent] = []
    client = Client(
        TOKEN,
        base_url=server.url,
        timeout=Timeout(connect=5.0, total=15.0, stream_idle=15.0),
        max_retries=2,
        max_retry_wait=1.0,
        on_retry=retry_events.append,
        max_connections=CONCURRENCY,
    )
    tallies: list[Tally] = []
    sizes: list[int] = []
    snapshots: list[tracemalloc.Snapshot] = []
    retries = 0
    started = time.monotonic()
    async with client:
        # warm-up: pools, caches and lazily built objects reach their steady state
        tallies.append(await run_batch(client, 0, BATCH_PLAIN, BATCH_STREAM))
        server.clear()  # the fake keeps every request; that is not the client's memory
        retries += len(retry_events)
        retry_events.clear()
        tracemalloc.start()
        try:
            for start in (10_000, 20_000):
                tallies.append(await run_batch(client, start, BATCH_PLAIN, BATCH_STREAM))
                server.clear()
                retries += len(retry_events)
                retry_events.clear()
                await asyncio.sleep(0.05)  # let closed connections finish closing
                gc.collect()
                assert live_objects() == objects_before, "per-call objects outlived their calls"
                sizes.append(tracemalloc.get_traced_memory()[0])
                snapshots.append(tracemalloc.take_snapshot())
        finally:
            tracemalloc.stop()
        acquired, idle = connector_counts(client)
        assert acquired == 0
        assert idle <= CONCURRENCY
    elapsed = time.monotonic() - started

    for tally in tallies:
        check(tally, BATCH_PLAIN, BATCH_STREAM)
    # the injected faults really happened, were retried, and some reached the caller
    calls = 3 * (BATCH_PLAIN + BATCH_STREAM)
    assert sum(rule.hits for rule in server.faults) > 0.15 * calls
    assert retries > 0.08 * calls
    errors = sum((t.errors for t in tallies), collections.Counter[str]())
    assert errors["APIConnectionError"] + errors["IncompleteStreamError"] > 0

    # memory is flat: the second equal batch adds (almost) nothing. What remains is
    # noise: how many keep-alive connections happen to be pooled at each snapshot.
    growth = sizes[1] - sizes[0]
    client_stats = client_side(snapshots[1]).compare_to(client_side(snapshots[0]), "lineno")
    client_growth = sum(stat.size_diff for stat in client_stats)
    report = "\n".join(map(str, client_stats[:10]))
    assert growth < MEMORY_BOUND, f"memory grew by {growth} B between equal batches\n{report}"
    assert client_growth < CLIENT_MEMORY_BOUND, f"client memory grew by {client_growth} B\n{report}"

    # nothing left behind once the client is closed: no client task (the fake's
    # connection handlers end when the fixture closes it)
    await asyncio.sleep(0.05)
    leftover = [t for t in asyncio.all_tasks() if t not in tasks_before and not t.done()]
    assert [t for t in leftover if "RequestHandler" not in t.get_coro().__qualname__] == []
    assert elapsed < 60.0
