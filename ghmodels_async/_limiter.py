"""The in-process rate limiter: per-model budgets, scheduled start times, shared pauses.

Each model key has its own budgets (like GitHub's ``UserByModelByMinute``): requests
and tokens per minute, concurrent requests, requests per day. Reservations are
GCRA-style: a caller gets an exact start time computed from a few numbers (the next
allowed start of each budget), and sleeps once until then; nothing polls. A 429 pauses
the model once for everybody; the server's ``x-ratelimit-remaining-*`` headers slow the
schedule when someone else uses the same quota. Clock and sleep are injectable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from ._errors import ConfigurationError, RateLimitWaitTooLongError, ValidationError
from ._info import RateLimitInfo

__all__ = ["Limiter", "Limits", "Ticket"]

logger = logging.getLogger("ghmodels_async")

OnWait = Callable[[str, float, str], None]


def _check_number(name: str, value: object, *, positive: bool = True) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise ConfigurationError(f"{name} must be a number, got {value!r}")
    if (value <= 0) if positive else (value < 0):
        raise ConfigurationError(f"{name} must be {'> 0' if positive else '>= 0'}, got {value!r}")
    if math.isinf(value):
        raise ConfigurationError(f"{name} must be finite, got {value!r}")


#: The longest pause a 429 (or a caller) can impose: a larger wait, even infinite, is cut
#: to this, so a hostile ``retry-after`` never stops a model for good.
MAX_PAUSE = 7 * 86400.0


def check_pause(wait: object) -> float:
    """``wait`` as seconds in [0, MAX_PAUSE]; ValidationError (field ``wait``) if it is not
    a number >= 0."""
    if isinstance(wait, bool) or not isinstance(wait, (int, float)) or not wait >= 0:
        raise ValidationError(f"wait must be a number >= 0, got {wait!r}", field="wait")
    return min(float(wait), MAX_PAUSE)


@dataclass(frozen=True)
class Limits:
    """The budgets of one model key; ``None`` means unlimited.

    ``requests_per_minute`` and ``tokens_per_minute`` are spread evenly over the
    limiter's ``window`` (60 s unless scaled); ``burst`` requests may start back to back
    before the spacing applies, and never more than ``requests_per_minute`` in any
    window (1, the default, is evenly spaced; ``burst=requests_per_minute`` is the
    server's own sliding window). ``requests_per_day`` counts starts in a rolling
    ``day``; ``max_concurrency`` caps requests in flight (a stream counts until it ends
    or is closed).
    """

    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_concurrency: int | None = None
    requests_per_day: int | None = None
    burst: int = 1

    def __post_init__(self) -> None:
        _check_number("requests_per_minute", self.requests_per_minute)
        _check_number("tokens_per_minute", self.tokens_per_minute)
        for name in ("max_concurrency", "requests_per_day", "burst"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ConfigurationError(f"{name} must be an integer >= 1, got {value!r}")
        rpm = self.requests_per_minute
        if self.burst > 1 and (rpm is None or self.burst > rpm):
            raise ConfigurationError(
                f"burst must be at most requests_per_minute, got {self.burst} for {rpm!r}"
            )


class Ticket:
    """One reservation: the model key, its scheduled ``start`` and estimated ``tokens``.
    Hand it back to :meth:`Limiter.settle` once; further settles are ignored."""

    __slots__ = ("_booked", "_entry", "_settled", "_slot", "_state", "start", "tokens")

    def __init__(
        self,
        state: _ModelState,
        start: float,
        tokens: int,
        entry: list[float],
        booked: tuple[float, float],
    ) -> None:
        self._state = state
        self.start = start
        self.tokens = tokens
        self._entry = entry
        self._booked = booked  # next_request before and after this booking (for rollback)
        self._settled = False
        self._slot = False  # holds a concurrency slot

    @property
    def model(self) -> str:
        """The model key the reservation was made for."""
        return self._state.key

    def __repr__(self) -> str:
        return f"Ticket(model={self.model!r}, start={self.start:.3f}, tokens={self.tokens})"


class _ModelState:
    """Budgets and schedule of one model key."""

    __slots__ = (
        "active",
        "base_interval",
        "base_token_interval",
        "day",
        "interval",
        "key",
        "limits",
        "log",
        "log_tokens",
        "next_request",
        "next_token",
        "pause_until",
        "request_reason",
        "stretch",
        "token_interval",
        "token_reason",
        "tolerance",
        "waiters",
    )

    def __init__(self, key: str, limits: Limits, window: float, headroom: float) -> None:
        self.key = key
        self.next_request = -math.inf  # GCRA theoretical arrival time of requests
        self.next_token = -math.inf  # ... by tokens_per_minute
        self.pause_until = -math.inf  # ... by a 429's retry-after
        self.active = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.day: deque[float] = deque()  # starts in the rolling day
        self.log: deque[list[float]] = deque()  # [start, tokens] of starts in the window
        self.log_tokens = 0.0
        self.configure(limits, window, headroom)

    def configure(self, limits: Limits, window: float, headroom: float) -> None:
        self.limits = limits
        self.stretch = stretch = window * (1.0 + headroom)
        rpm, tpm = limits.requests_per_minute, limits.tokens_per_minute
        # the configured spacing; ``interval``/``token_interval`` are the ones in force,
        # longer while the server's remaining-* headers say the quota is smaller
        self.base_interval = self.interval = stretch / rpm if rpm else 0.0
        self.base_token_interval = self.token_interval = stretch / tpm if tpm else 0.0
        self.request_reason = "requests_per_minute"
        self.token_reason = "tokens_per_minute"
        self.tolerance = (limits.burst - 1) * self.interval

    def set_interval(self, interval: float, reason: str) -> None:
        self.interval, self.request_reason = interval, reason
        # no bursts while following the server's smaller count
        self.tolerance = (
            (self.limits.burst - 1) * interval if interval == self.base_interval else 0.0
        )


class Limiter:
    """Paces requests per model key: requests/tokens per minute, concurrency, per day.

    Pass it to ``Client(rate_limiter=...)``; every chat, stream and embeddings request of
    that client (and of any client sharing it) then waits its turn. Budgets come from
    ``limits`` (or the same figures as keywords) and apply to each model key separately;
    ``per_model`` overrides them for some keys. The key is the model id exactly as sent
    (``"openai/gpt-4.1"``); ``key=`` maps ids to keys, e.g. ``key=lambda m: "all"`` for
    one budget shared by every model.

    - Starts are spaced ``window / requests_per_minute`` apart (times ``1 + headroom``,
      so network jitter never puts one request too many in the server's window).
    - A request's token estimate is charged up front and corrected by ``settle``.
    - A 429 (``penalize``) pauses every request of the model once until its wait ends.
    - An answer whose ``x-ratelimit-remaining-*`` shows the quota shrinking faster than
      this limiter spent it (another client shares it) pushes the next start back; a
      remaining count of 0 with ``x-ratelimit-timeremaining`` pauses until then.
    - A wait of ``report_after`` seconds or more is logged at INFO on the
      ``ghmodels_async`` logger and passed to ``on_wait(model, seconds, reason)``.
    - A wait above ``max_wait`` seconds (``None``: no bound) raises
      :class:`RateLimitWaitTooLongError` at once (a daily limit can mean hours). Waiting
      for a concurrency slot is not bounded (it depends on how long requests take).
    """

    #: ``settle`` never suspends, so a client settles it in line (no task per call).
    settles_immediately = True

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_concurrency: int | None = None,
        requests_per_day: int | None = None,
        per_model: Mapping[str, Limits] | None = None,
        key: Callable[[str], str] | None = None,
        window: float = 60.0,
        day: float = 86400.0,
        headroom: float = 0.05,
        max_wait: float | None = 600.0,
        report_after: float = 3.0,
        on_wait: OnWait | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        figures = (requests_per_minute, tokens_per_minute, max_concurrency, requests_per_day)
        if limits is None:
            limits = Limits(
                requests_per_minute=requests_per_minute,
                tokens_per_minute=tokens_per_minute,
                max_concurrency=max_concurrency,
                requests_per_day=requests_per_day,
            )
        elif any(value is not None for value in figures):
            raise ConfigurationError("pass either limits= or the figures as keywords, not both")
        elif not isinstance(limits, Limits):
            raise ConfigurationError(f"limits must be a Limits, got {type(limits).__name__}")
        for name, value in (("window", window), ("day", day), ("max_wait", max_wait)):
            _check_number(name, value)
        for name, value in (("headroom", headroom), ("report_after", report_after)):
            _check_number(name, value, positive=False)
        overrides = dict(per_model or {})
        for model_key, preset in overrides.items():
            if not isinstance(preset, Limits):
                raise ConfigurationError(f"per_model[{model_key!r}] must be a Limits")
        for name, hook in (("key", key), ("on_wait", on_wait), ("clock", clock), ("sleep", sleep)):
            if (hook is not None or name in ("clock", "sleep")) and not callable(hook):
                raise ConfigurationError(f"{name} must be callable, got {hook!r}")
        self.limits = limits
        self.per_model = overrides
        self.window = float(window)
        self.day = float(day)
        self.headroom = float(headroom)
        self.max_wait = math.inf if max_wait is None else float(max_wait)
        self.report_after = float(report_after)
        self.on_wait = on_wait
        self._key = key
        self._clock = clock
        self._sleep = sleep
        self._states: dict[str, _ModelState] = {}

    # -- configuration ---------------------------------------------------------

    def limits_for(self, key: str) -> Limits:
        """The budgets that apply to model key ``key`` (override point for tier presets)."""
        return self.per_model.get(key, self.limits)

    def _state(self, model: str) -> _ModelState:
        key = model if self._key is None else self._key(model)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _ModelState(
                key, self.limits_for(key), self.window, self.headroom
            )
        return state

    def _reconfigure(self) -> None:
        """Re-read ``limits_for`` for the model keys already seen."""
        for key, state in self._states.items():
            state.configure(self.limits_for(key), self.window, self.headroom)
            self._wake(state)  # a larger cap (or none) lets waiters in now

    def in_flight(self, model: str) -> int:
        """Requests of ``model``'s key holding a concurrency slot now."""
        return self._state(model).active

    # -- the RateLimiter protocol -----------------------------------------------

    async def reserve(self, model: str, tokens: int) -> Ticket:
        """Wait until a request to ``model`` costing about ``tokens`` may start.

        Takes a concurrency slot first (FIFO), then books the earliest start every
        budget allows and sleeps until it. Cancelled while waiting, it gives back what
        it took. Raises :class:`RateLimitWaitTooLongError` when the start is more than
        ``max_wait`` seconds away.
        """
        if not isinstance(model, str) or not model:
            raise ValidationError(f"model must be a non-empty string, got {model!r}", field="model")
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValidationError(f"tokens must be an integer >= 0, got {tokens!r}", field="tokens")
        state = self._state(model)
        cap = state.limits.max_concurrency
        if cap is not None:
            if state.active < cap and not state.waiters:
                state.active += 1
            else:
                await self._wait_for_slot(state)
        try:
            ticket = await self._book(state, tokens)
        except BaseException:
            if cap is not None:
                self._release_slot(state)
            raise
        ticket._slot = cap is not None
        return ticket

    async def settle(
        self, ticket: Ticket, used_tokens: int | None, rate_limit: RateLimitInfo | None
    ) -> None:
        """Free the ticket's slot, correct its tokens with ``used_tokens`` and learn from
        the answer's rate-limit headers (``None``: no answer)."""
        if not isinstance(ticket, Ticket):
            raise ValidationError("ticket must come from this limiter's reserve()", field="ticket")
        if ticket._settled:
            return
        ticket._settled = True
        state = ticket._state
        if ticket._slot:
            self._release_slot(state)
        if used_tokens is not None and used_tokens >= 0 and used_tokens != ticket.tokens:
            delta = used_tokens - ticket.tokens
            if state.token_interval:
                state.next_token += delta * state.token_interval
            entry = ticket._entry
            if entry[1] >= 0:  # still in the window log
                entry[1] = float(used_tokens)
                state.log_tokens += delta
        if rate_limit is not None:
            self._learn(state, rate_limit)

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        """Pause every request of ``model`` until ``wait`` seconds from now (a pause
        already running longer is kept: N workers hit by one 429 wait once)."""
        wait = check_pause(wait)
        state = self._state(model)
        until = self._clock() + wait
        if until > state.pause_until:
            state.pause_until = until
            if logger.isEnabledFor(logging.INFO):
                logger.info(
                    "rate limit: %s paused for %.1f s by a 429 (%s)",
                    state.key,
                    wait,
                    limit_type or "no x-ratelimit-type",
                )

    # -- internals -------------------------------------------------------------

    async def _wait_for_slot(self, state: _ModelState) -> None:
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        state.waiters.append(waiter)
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._release_slot(state)  # the slot was handed over just as we left
            else:
                with contextlib.suppress(ValueError):
                    state.waiters.remove(waiter)
            raise

    def _release_slot(self, state: _ModelState) -> None:
        """Hand the slot to the longest waiter, or free it (a cap lowered meanwhile
        first brings the count down)."""
        cap = state.limits.max_concurrency
        waiters = state.waiters
        while waiters and (cap is None or state.active <= cap):
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        state.active -= 1

    def _wake(self, state: _ModelState) -> None:
        """Give free slots to waiters (after the cap was raised or removed)."""
        cap = state.limits.max_concurrency
        waiters = state.waiters
        while waiters and (cap is None or state.active < cap):
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                state.active += 1

    def _earliest(self, state: _ModelState, now: float, tokens: int) -> tuple[float, str]:
        """The earliest start every budget allows, and the budget that sets it."""
        start, reason = now, "none"
        for bound, why in (
            (state.next_request - state.tolerance, state.request_reason),
            (state.next_token, state.token_reason),
            (state.pause_until, "retry_after"),
        ):
            if bound > start:
                start, reason = bound, why
        limits = state.limits
        if limits.burst > 1 and limits.requests_per_minute:
            count = int(limits.requests_per_minute)  # at most this many in any window
            log = state.log
            if len(log) >= count:
                bound = log[-count][0] + state.stretch
                if bound > start:
                    start, reason = bound, state.request_reason
        per_day = limits.requests_per_day
        if per_day is not None:
            day = state.day
            while day and day[0] <= now - self.day:
                day.popleft()
            if len(day) >= per_day:
                bound = day[-per_day] + self.day
                if bound > start:
                    start, reason = bound, "requests_per_day"
        return start, reason

    async def _book(self, state: _ModelState, tokens: int) -> Ticket:
        while True:
            now = self._clock()
            start, reason = self._earliest(state, now, tokens)
            wait = start - now
            if wait > self.max_wait:
                raise RateLimitWaitTooLongError(
                    f"the rate limiter would make this {state.key} request wait {wait:.1f} s "
                    f"({reason}), more than max_wait={self.max_wait:g} s",
                    model=state.key,
                    wait=wait,
                    reason=reason,
                )
            ticket = self._commit(state, start, tokens, now)
            if wait <= 0:
                return ticket
            if wait >= self.report_after:
                self._report(state.key, wait, reason)
            try:
                await self._sleep(wait)
            except BaseException:
                self._rollback(state, ticket)
                raise
            if state.pause_until <= start:
                return ticket
            self._rollback(state, ticket)  # a 429 arrived meanwhile: book again after it

    def _commit(self, state: _ModelState, start: float, tokens: int, now: float) -> Ticket:
        before = state.next_request
        if state.interval:
            state.next_request = max(before, start) + state.interval
        if state.token_interval:
            state.next_token = max(state.next_token, start) + tokens * state.token_interval
        if state.limits.requests_per_day is not None:
            state.day.append(start)
        entry = [start, float(tokens)]
        if state.interval or state.token_interval:
            log = state.log
            while log and log[0][0] <= now - state.stretch:
                old = log.popleft()
                state.log_tokens -= old[1]
                old[1] = -1.0  # marks "left the window" for settle
            log.append(entry)
            state.log_tokens += tokens
        return Ticket(state, start, tokens, entry, (before, state.next_request))

    def _rollback(self, state: _ModelState, ticket: Ticket) -> None:
        """Give back a booking that never started (cancelled, or moved by a pause)."""
        start = ticket.start
        before, after = ticket._booked
        if state.next_request == after:
            state.next_request = before  # it was the latest booking: its slot is free again
        if state.token_interval:
            state.next_token -= ticket.tokens * state.token_interval
        if state.limits.requests_per_day is not None:
            with contextlib.suppress(ValueError):
                state.day.remove(start)
        entry = ticket._entry
        if entry[1] >= 0:
            try:
                state.log.remove(entry)
            except ValueError:
                pass
            else:
                state.log_tokens -= entry[1]
        ticket._settled = True

    def _learn(self, state: _ModelState, info: RateLimitInfo) -> None:
        """Follow the server's remaining-* counts when they disagree with this limiter's.

        If the server reports fewer requests (tokens) left in its window than this
        limiter's budget minus what it started in its own window, the quota is smaller
        than configured or shared with another client: until the counts agree again,
        starts are spaced so that what is left fits the window, ``window / (own +
        remaining)``. A count of 0 with ``x-ratelimit-timeremaining`` pauses until then.
        """
        now = self._clock()
        remaining = info.remaining_requests
        if remaining == 0 and info.time_remaining:
            state.pause_until = max(state.pause_until, now + info.time_remaining)
        log = state.log
        if not log:
            return
        while log and log[0][0] <= now - state.stretch:
            old = log.popleft()
            state.log_tokens -= old[1]
            old[1] = -1.0
        limits = state.limits
        last_start = log[-1][0] if log else now
        rpm = limits.requests_per_minute
        if remaining is not None and rpm:
            since = now - self.window
            own = sum(1 for entry in log if since < entry[0] <= now)
            if (rpm - own) - remaining > 1:  # one of slack: the server counts a bit later
                fits = state.stretch / max(own + remaining, 1)
                state.set_interval(max(state.base_interval, fits), "server_remaining")
                state.next_request = max(state.next_request, last_start + state.interval)
            else:
                state.set_interval(state.base_interval, "requests_per_minute")
        tpm = limits.tokens_per_minute
        tokens_left = info.remaining_tokens
        if tokens_left is not None and tpm:
            own_tokens = max(state.log_tokens, 0.0)
            if (tpm - own_tokens) - tokens_left > 0.01 * tpm:
                fits = state.stretch / max(own_tokens + tokens_left, 1.0)
                state.token_interval = max(state.base_token_interval, fits)
                state.token_reason = "server_remaining"
            else:
                state.token_interval = state.base_token_interval
                state.token_reason = "tokens_per_minute"

    def _report(self, key: str, wait: float, reason: str) -> None:
        if logger.isEnabledFor(logging.INFO):
            logger.info("rate limit: %s waits %.1f s (%s)", key, wait, reason)
        if self.on_wait is not None:
            try:
                self.on_wait(key, wait, reason)
            except Exception:  # a broken progress display must not fail the request
                logger.exception("on_wait hook failed")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(limits={self.limits!r}, window={self.window:g})"
