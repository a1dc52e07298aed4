"""The in-process Limiter on a virtual clock: exact scheduled start times, no real sleeping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import pickle
from collections.abc import Coroutine
from typing import Any

import pytest

from ghmodels_async import ConfigurationError, GHModelsError, RateLimitInfo, ValidationError
from ghmodels_async.ratelimit import (
    TIER_LIMITS,
    Limiter,
    Limits,
    RateLimiter,
    RateLimitWaitTooLongError,
    Ticket,
    TierLimiter,
)
from ghmodels_async.types import CatalogModel

M = "openai/gpt-4.1"


class VirtualClock:
    """A clock whose sleeps end only when the test advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), future))
        await future

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future = heapq.heappop(self._sleepers)
            self.now = deadline
            if not future.done():
                future.set_result(None)
            await settle_loop()
        self.now = target
        await settle_loop()


async def settle_loop() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def start(coro: Coroutine[Any, Any, Ticket]) -> asyncio.Task[Ticket]:
    """Run a reservation until it blocks (so it books at the current virtual time)."""
    task = asyncio.ensure_future(coro)
    await settle_loop()
    return task


def limiter(clock: VirtualClock, **options: object) -> Limiter:
    options.setdefault("headroom", 0.0)
    return Limiter(clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]


async def reserve_all(lim: Limiter, clock: VirtualClock, count: int, model: str = M) -> list[float]:
    """Start ``count`` reservations at once; return the clock time each one got through."""
    started: list[float] = []

    async def one() -> Ticket:
        ticket = await lim.reserve(model, 10)
        started.append(clock())
        return ticket

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    await settle_loop()
    while not all(task.done() for task in tasks):
        await clock.advance(0.5)
    tickets = [task.result() for task in tasks]
    assert sorted(t.start for t in tickets) == started
    return started


async def test_it_implements_the_protocol() -> None:
    assert isinstance(Limiter(), RateLimiter)
    assert isinstance(TierLimiter(), RateLimiter)


async def test_requests_per_minute_gives_each_caller_an_exact_start() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_minute=60)
    assert await reserve_all(lim, clock, 5) == [0.0, 1.0, 2.0, 3.0, 4.0]
    # one sleep per waiting caller, each exactly as long as its wait: scheduled, not polled
    assert sorted(clock.slept) == [1.0, 2.0, 3.0, 4.0]


async def test_a_burst_starts_back_to_back_then_spacing_applies() -> None:
    clock = VirtualClock()
    lim = limiter(clock, limits=Limits(requests_per_minute=6, burst=3))  # 10 s apart
    assert await reserve_all(lim, clock, 5) == [0.0, 0.0, 0.0, 10.0, 20.0]


async def test_a_full_burst_is_the_servers_sliding_window() -> None:
    clock = VirtualClock()
    lim = limiter(clock, limits=Limits(requests_per_minute=3, burst=3))
    # three at once, then nothing until the first three leave the 60 s window
    assert await reserve_all(lim, clock, 7) == [0.0] * 3 + [60.0] * 3 + [120.0]


async def test_headroom_stretches_the_spacing() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_minute=10, window=1.0, headroom=0.1)
    starts = await reserve_all(lim, clock, 3)
    assert starts == pytest.approx([0.0, 0.11, 0.22])


async def test_budgets_are_per_model_key_and_key_can_group_them() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_minute=60)
    a = await lim.reserve("a", 1)
    b = await lim.reserve("b", 1)
    assert (a.start, b.start) == (0.0, 0.0)
    shared = limiter(clock, requests_per_minute=60, key=lambda model: "all")
    first = await shared.reserve("a", 1)
    task = await start(shared.reserve("b", 1))
    await clock.advance(1.0)
    assert (first.start, (await task).start, (await task).model) == (0.0, 1.0, "all")


async def test_per_model_overrides() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_minute=60, per_model={"slow": Limits(requests_per_minute=6)})
    await lim.reserve("slow", 1)
    task = await start(lim.reserve("slow", 1))
    await clock.advance(10.0)
    assert (await task).start == 10.0


async def test_tokens_are_charged_up_front_and_corrected_by_settle() -> None:
    clock = VirtualClock()
    lim = limiter(clock, tokens_per_minute=600)  # 10 tokens a second
    first = await lim.reserve(M, 100)
    second_task = await start(lim.reserve(M, 10))
    await settle_loop()
    # booked at once behind the estimate of 100 tokens: 10 s
    await lim.settle(first, 20, None)  # used only 20: later bookings move 8 s earlier
    third_task = await start(lim.reserve(M, 10))
    await clock.advance(20.0)
    second, third = await second_task, await third_task
    assert second.start == 10.0
    assert third.start == 3.0  # 10 (estimate) - 8 (refund) + 1 (the second's 10 tokens)


async def test_concurrency_cap_is_fifo_and_settle_hands_the_slot_over() -> None:
    clock = VirtualClock()
    lim = limiter(clock, max_concurrency=2)
    a, b = await lim.reserve(M, 1), await lim.reserve(M, 1)
    order: list[str] = []

    async def wait(name: str) -> Ticket:
        ticket = await lim.reserve(M, 1)
        order.append(name)
        return ticket

    c, d = asyncio.ensure_future(wait("c")), asyncio.ensure_future(wait("d"))
    await settle_loop()
    assert not c.done() and not d.done() and lim.in_flight(M) == 2
    await lim.settle(a, None, None)
    await lim.settle(a, None, None)  # a second settle of one ticket is ignored
    await settle_loop()
    assert order == ["c"] and lim.in_flight(M) == 2
    await lim.settle(b, None, None)
    await settle_loop()
    assert order == ["c", "d"]
    for ticket in (await c, await d):
        await lim.settle(ticket, None, None)
    assert lim.in_flight(M) == 0


async def test_cancelled_waiters_give_back_their_slot_and_booking() -> None:
    clock = VirtualClock()
    lim = limiter(clock, max_concurrency=1, requests_per_minute=60)
    held = await lim.reserve(M, 1)
    waiting = await start(lim.reserve(M, 1))
    await settle_loop()
    waiting.cancel()
    await settle_loop()
    await lim.settle(held, None, None)
    assert lim.in_flight(M) == 0
    # cancelled while sleeping until its start: the booking is given back
    sleeper = await start(lim.reserve(M, 1))
    await settle_loop()
    assert clock.slept == [1.0]
    sleeper.cancel()
    await settle_loop()
    assert lim.in_flight(M) == 0
    again = await start(lim.reserve(M, 1))
    await clock.advance(1.0)
    assert (await again).start == 1.0


async def test_a_429_pauses_the_model_once_for_everybody() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_minute=60)
    first = await lim.reserve(M, 1)
    sleepers = [await start(lim.reserve(M, 1)) for _ in range(2)]  # booked 1.0, 2.0
    await clock.advance(0.5)
    await lim.penalize(M, 3.0, "UserByModelByMinute")  # pause until 3.5
    await lim.penalize(M, 1.0, "UserByModelByMinute")  # shorter: the longer pause stays
    other = await lim.reserve("other/model", 1)
    await clock.advance(10.0)
    starts = [first.start] + [(await task).start for task in sleepers]
    assert starts == [0.0, 3.5, 4.5]
    assert other.start == 0.5


async def test_requests_per_day_and_max_wait() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_day=3, day=100.0, max_wait=50.0)
    for _ in range(3):
        await lim.reserve(M, 1)
    with pytest.raises(RateLimitWaitTooLongError) as info:
        await lim.reserve(M, 1)
    error = info.value
    assert isinstance(error, GHModelsError)
    assert (error.model, error.wait, error.reason) == (M, 100.0, "requests_per_day")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.model, copy.wait, copy.reason, str(copy)) == (M, 100.0, error.reason, str(error))
    patient = limiter(clock, requests_per_day=1, day=100.0, max_wait=None)
    await patient.reserve(M, 1)
    task = await start(patient.reserve(M, 1))
    await clock.advance(100.0)
    assert (await task).start == 100.0


async def test_a_long_pause_raises_instead_of_sleeping_and_frees_the_slot() -> None:
    clock = VirtualClock()
    lim = limiter(clock, max_concurrency=1, max_wait=60.0)
    await lim.penalize(M, 3600.0, "UserByModelByDay")
    with pytest.raises(RateLimitWaitTooLongError) as info:
        await lim.reserve(M, 1)
    assert info.value.reason == "retry_after"
    assert lim.in_flight(M) == 0


async def test_remaining_headers_slow_the_schedule_when_the_quota_is_smaller() -> None:
    clock = VirtualClock()
    lim = limiter(clock, requests_per_minute=60)
    ticket = await lim.reserve(M, 1)
    # we spent 1 of 60, so the server should report 59: a report of 58 is within slack
    await lim.settle(ticket, None, RateLimitInfo(remaining_requests=58))
    task = await start(lim.reserve(M, 1))
    await clock.advance(1.0)
    ticket = await task
    assert ticket.start == 1.0
    # 50 left although we spent 2 (someone else spends the quota, or it is smaller than
    # configured): space the starts so the 52 fit the window
    await lim.settle(ticket, None, RateLimitInfo(remaining_requests=50))
    starts = await reserve_all(lim, clock, 2)
    assert starts == pytest.approx([1.0 + 60 / 52, 1.0 + 2 * 60 / 52])
    # the counts agree again (5 started here, the server says 60 - 5 = 55): the next start
    # is still the one booked at the server's pace, the ones after it are 1 s apart again
    task = await start(lim.reserve(M, 1))
    await clock.advance(2.0)
    ticket = await task
    assert ticket.start == pytest.approx(1.0 + 3 * 60 / 52)
    await lim.settle(ticket, None, RateLimitInfo(remaining_requests=55))
    first, second = await reserve_all(lim, clock, 2)
    assert second - first == pytest.approx(1.0)


async def test_a_budget_far_above_the_servers_follows_the_server() -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float, str]] = []
    lim = limiter(clock, requests_per_minute=1e9, on_wait=lambda *a: seen.append(a))
    ticket = await lim.reserve(M, 1)
    await lim.settle(ticket, None, RateLimitInfo(remaining_requests=9))  # really 10 a minute
    assert await reserve_all(lim, clock, 2) == pytest.approx([6.0, 12.0])
    assert seen == [(M, 6.0, "server_remaining"), (M, 12.0, "server_remaining")]


async def test_remaining_zero_with_time_remaining_pauses() -> None:
    clock = VirtualClock()
    lim = limiter(clock)
    ticket = await lim.reserve(M, 1)
    await lim.settle(ticket, None, RateLimitInfo(remaining_requests=0, time_remaining=7.0))
    task = await start(lim.reserve(M, 1))
    await clock.advance(10.0)
    assert (await task).start == 7.0


async def test_remaining_tokens_slow_the_token_schedule() -> None:
    clock = VirtualClock()
    lim = limiter(clock, tokens_per_minute=6000)  # 100 tokens a second
    ticket = await lim.reserve(M, 100)
    await lim.settle(ticket, 100, RateLimitInfo(remaining_tokens=4900))  # 1000 spent elsewhere
    # booked behind the first at the configured pace (100 tokens: 1 s), then at the
    # server's: 5000 tokens fit the window, so 10 tokens take 60 / 500 = 0.12 s
    assert await reserve_all(lim, clock, 2) == pytest.approx([1.0, 1.12])


async def test_long_waits_are_reported(caplog: pytest.LogCaptureFixture) -> None:
    clock = VirtualClock()
    seen: list[tuple[str, float, str]] = []
    lim = limiter(
        clock, requests_per_minute=12, report_after=3.0, on_wait=lambda *a: seen.append(a)
    )
    caplog.set_level(logging.INFO, logger="ghmodels_async")
    await reserve_all(lim, clock, 2)  # the second waits 5 s
    assert seen == [(M, 5.0, "requests_per_minute")]
    assert "rate limit: openai/gpt-4.1 waits 5.0 s (requests_per_minute)" in caplog.text
    quick = limiter(clock, requests_per_minute=60, on_wait=lambda *a: seen.append(a))
    await reserve_all(quick, clock, 2)  # 1 s: below report_after
    assert len(seen) == 1


async def test_a_failing_on_wait_hook_does_not_fail_the_request() -> None:
    clock = VirtualClock()

    def broken(model: str, seconds: float, reason: str) -> None:
        raise RuntimeError("progress bar broke")

    lim = limiter(clock, requests_per_minute=6, report_after=1.0, on_wait=broken)
    assert await reserve_all(lim, clock, 2) == [0.0, 10.0]


@pytest.mark.parametrize(
    ("options", "name"),
    [
        ({"requests_per_minute": 0}, "requests_per_minute"),
        ({"tokens_per_minute": -1}, "tokens_per_minute"),
        ({"max_concurrency": 1.5}, "max_concurrency"),
        ({"requests_per_day": True}, "requests_per_day"),
        ({"window": float("nan")}, "window"),
        ({"max_wait": "soon"}, "max_wait"),
        ({"headroom": -0.1}, "headroom"),
        ({"on_wait": 3}, "on_wait"),
        ({"limits": Limits(), "requests_per_minute": 1}, "limits="),
        ({"per_model": {"m": 3}}, "per_model"),
        ({"clock": 5}, "clock"),
        ({"sleep": None}, "sleep"),
    ],
)
def test_bad_settings_are_configuration_errors(options: dict[str, object], name: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        Limiter(**options)  # type: ignore[arg-type]


def test_a_burst_above_the_rate_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="burst"):
        Limits(requests_per_minute=2, burst=3)
    with pytest.raises(ConfigurationError, match="burst"):
        Limits(burst=2)  # a burst of what rate?
    with pytest.raises(ConfigurationError, match="burst"):
        Limits(requests_per_minute=2, burst=0)


async def test_bad_arguments_are_validation_errors() -> None:
    lim = Limiter()
    with pytest.raises(ValidationError) as info:
        await lim.reserve(M, -1)
    assert info.value.field == "tokens"
    with pytest.raises(ValidationError):
        await lim.reserve("", 1)
    with pytest.raises(ValidationError):
        await lim.penalize(M, float("nan"), None)
    with pytest.raises(ValidationError):
        await lim.settle("not a ticket", None, None)


def catalog_entry(model_id: str, tier: str | None, tags: list[str] | None = None) -> CatalogModel:
    return CatalogModel(id=model_id, rate_limit_tier=tier, tags=tags or [])


def test_tier_limiter_picks_the_preset_of_each_model() -> None:
    lim = TierLimiter()
    lim.learn_catalog(
        [
            catalog_entry("openai/gpt-4.1", "high"),
            catalog_entry("openai/gpt-4.1-mini", "low"),
            catalog_entry("openai/o3-mini", "custom", ["reasoning"]),
            catalog_entry("openai/text-embedding-3-small", "embeddings"),
            catalog_entry("someone/new-thing", "premium"),  # no such preset: default
        ]
    )
    assert lim.tier_for("openai/gpt-4.1") == "high"
    assert lim.tier_for("gpt-4.1-mini") == "low"  # Azure-style id without the publisher
    assert lim.tier_for("openai/o3-mini") == "reasoning"
    assert lim.tier_for("openai/text-embedding-3-small") == "embeddings"
    assert lim.tier_for("openai/o1-preview") == "reasoning"  # not in the catalog: by its id
    assert lim.tier_for("someone/new-thing") == "high"
    assert lim.limits_for("openai/gpt-4.1-mini") == TIER_LIMITS["low"]
    assert TIER_LIMITS["high"] == Limits(10, None, 2, 50, burst=10)
    assert TierLimiter(default_tier="custom").default_tier == "reasoning"
    with pytest.raises(ConfigurationError, match="unknown tier"):
        lim.set_tiers({"x/y": "gold"})
    with pytest.raises(ConfigurationError, match="default_tier"):
        TierLimiter(default_tier="gold")


async def test_tier_limiter_updates_models_already_seen() -> None:
    clock = VirtualClock()
    smooth = {
        name: Limits(requests_per_minute=preset.requests_per_minute)
        for name, preset in TIER_LIMITS.items()
    }
    lim = TierLimiter(presets=smooth, clock=clock, sleep=clock.sleep, headroom=0.0)
    first = await lim.reserve("meta/some-model", 1)  # default tier high: 6 s apart
    lim.set_tiers({"meta/some-model": "low"})  # 15 a minute: 4 s apart
    task = await start(lim.reserve("meta/some-model", 1))
    await clock.advance(10.0)
    assert (first.start, (await task).start) == (0.0, 6.0)
    task = await start(lim.reserve("meta/some-model", 1))
    await clock.advance(10.0)
    assert (await task).start == 10.0


async def test_changing_a_models_tier_moves_its_concurrency_cap_safely() -> None:
    clock = VirtualClock()
    caps = {"one": Limits(max_concurrency=1), "three": Limits(max_concurrency=3)}
    lim = TierLimiter(presets=caps, default_tier="one", clock=clock, sleep=clock.sleep)
    first = await lim.reserve(M, 1)
    waiting = [await start(lim.reserve(M, 1)) for _ in range(3)]
    assert not any(task.done() for task in waiting)
    lim.set_tiers({M: "three"})  # a larger cap lets two waiters in at once
    await settle_loop()
    assert [task.done() for task in waiting] == [True, True, False]
    assert lim.in_flight(M) == 3
    lim.set_tiers({M: "one"})  # lowered: slots are not handed over until below the cap
    await lim.settle(first, None, None)
    await lim.settle(waiting[0].result(), None, None)
    await settle_loop()
    assert not waiting[2].done() and lim.in_flight(M) == 1
    await lim.settle(waiting[1].result(), None, None)
    await settle_loop()
    assert waiting[2].done() and lim.in_flight(M) == 1
    await lim.settle(waiting[2].result(), None, None)
    assert lim.in_flight(M) == 0


async def test_bad_tier_inputs_are_typed_errors() -> None:
    with pytest.raises(ConfigurationError, match="tiers"):
        TierLimiter(tiers=["openai/gpt-4.1"])  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="tiers"):
        TierLimiter(tiers={"openai/gpt-4.1": 3})  # type: ignore[dict-item]
    lim = TierLimiter()
    with pytest.raises(ValidationError) as info:
        lim.learn_catalog([{"id": 5}])
    assert info.value.field == "catalog"
    lim.learn_catalog([{"id": "x/raw-json", "rate_limit_tier": "low"}])  # JSON objects work
    assert lim.tier_for("x/raw-json") == "low"
    with pytest.raises(ValidationError) as info:
        await lim.load_catalog(object())  # type: ignore[arg-type]
    assert info.value.field == "client"


def test_the_client_wants_a_limiter_instance() -> None:
    from ghmodels_async import Client

    for wrong in (Limiter, object()):
        with pytest.raises(ConfigurationError, match="rate_limiter"):
            Client(token="t", rate_limiter=wrong)  # type: ignore[arg-type]
