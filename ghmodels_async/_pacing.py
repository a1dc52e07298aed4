"""The glue between a client's retry loop and its :class:`~ghmodels_async.ratelimit.RateLimiter`.

One :class:`Pacing` per client that has a limiter (none otherwise: zero cost). Per
attempt the loop calls :meth:`Pacing.reserve` before sending and exactly one of
:meth:`Pacing.answered` (an answer arrived), :meth:`Pacing.failed` (no usable answer:
an exception, cancellation included) or :meth:`Pacing.stream_end_hook` (a stream is
handed to the caller; its slot is settled when the stream ends or is closed).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ._info import RateLimitInfo, parse_retry_after
from .ratelimit import RateLimiter

__all__ = ["Pace", "Pacing"]

logger = logging.getLogger("ghmodels_async")


class Pace(msgspec.Struct, frozen=True):
    """What one call asks of the limiter: its model key and estimated token cost."""

    model: str
    tokens: int


class _Usage(msgspec.Struct):
    total_tokens: int | None = None


class _UsageOnly(msgspec.Struct):
    usage: _Usage | None = None


_usage_decoder = msgspec.json.Decoder(_UsageOnly)


def used_tokens(body: bytes) -> int | None:
    """``usage.total_tokens`` of a JSON answer body, ``None`` if it has none or is bad."""
    try:
        usage = _usage_decoder.decode(body).usage
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return None if usage is None else usage.total_tokens


class Pacing:
    """Runs one client's limiter calls; keeps strong references to the settle tasks it
    schedules from synchronous code (stream close, cancellation) until they finish."""

    __slots__ = ("_immediate", "_tasks", "limiter")

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        self._tasks: set[asyncio.Task[None]] = set()
        # A limiter whose settle never suspends (the in-process one says so) is settled
        # in line, even from synchronous code: no task, nothing a cancellation can cut.
        self._immediate = getattr(limiter, "settles_immediately", False) is True

    async def reserve(self, pace: Pace) -> Any:
        """Wait for the limiter's go for one attempt; return its ticket."""
        return await self.limiter.reserve(pace.model, pace.tokens)

    async def answered(
        self, ticket: Any, pace: Pace, status: int, headers: Mapping[str, str], body: bytes
    ) -> bool:
        """An attempt got an answer: settle it (with ``usage`` when 2xx) and, on a 429
        that says how long to wait, pause the model. True if the model was paused."""
        used = used_tokens(body) if status < 300 and body else None
        await self.settle(ticket, used, RateLimitInfo.from_headers(headers))
        if status != 429:
            return False
        wait = parse_retry_after(headers)
        if wait is None:
            return False
        await self.limiter.penalize(pace.model, wait, headers.get("x-ratelimit-type"))
        return True

    async def failed(self, ticket: Any, exc: BaseException) -> None:
        """An attempt ended without a usable answer. A cancelled task must not await
        again, so its settle runs as a task of its own; others settle in line."""
        if isinstance(exc, asyncio.CancelledError):
            self.settle_soon(ticket, None, None)
        else:
            await self.settle(ticket, None, None)

    async def settle(self, ticket: Any, used: int | None, info: RateLimitInfo | None) -> None:
        """Settle now, shielded from a cancellation arriving meanwhile."""
        if self._immediate:
            self._settle_now(ticket, used, info)
            return
        task = self._start(ticket, used, info)
        if task is not None:
            await asyncio.shield(task)

    def settle_soon(self, ticket: Any, used: int | None, info: RateLimitInfo | None) -> None:
        """Schedule a settle from synchronous code (a stream's close, a cancellation)."""
        if self._immediate:
            self._settle_now(ticket, used, info)
        else:
            self._start(ticket, used, info)

    def stream_end_hook(self, ticket: Any) -> Callable[[int | None, RateLimitInfo], None]:
        """The callback a stream calls once when it finishes or is closed."""

        def on_end(used: int | None, info: RateLimitInfo) -> None:
            self.settle_soon(ticket, used, info)

        return on_end

    def _settle_now(self, ticket: Any, used: int | None, info: RateLimitInfo | None) -> None:
        coro = self.limiter.settle(ticket, used, info)
        try:
            coro.send(None)
        except StopIteration:
            return
        except Exception:
            logger.exception("the rate limiter failed to settle a request")
            return
        coro.close()
        logger.error("the rate limiter's settle suspended although it settles_immediately")

    def _start(
        self, ticket: Any, used: int | None, info: RateLimitInfo | None
    ) -> asyncio.Task[None] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # e.g. a stream garbage-collected after its loop ended
            return None
        task = loop.create_task(self._settle(ticket, used, info))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _settle(self, ticket: Any, used: int | None, info: RateLimitInfo | None) -> None:
        try:
            await self.limiter.settle(ticket, used, info)
        except Exception:  # a failing settle must not break the call that already ended
            logger.exception("the rate limiter failed to settle a request")
