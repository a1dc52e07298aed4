"""Pacing shared by every call of a client: the :class:`RateLimiter` interface.

A client given ``Client(rate_limiter=...)`` asks the limiter before every attempt it
sends (single calls, streams, fan-outs alike) and reports back after it:

1. ``ticket = await limiter.reserve(model, tokens)`` waits until a request to ``model``
   estimated at ``tokens`` tokens may start (requests per minute, tokens per minute,
   concurrent requests, requests per day) and returns an opaque ticket;
2. ``await limiter.settle(ticket, used_tokens, rate_limit)`` when that attempt has
   ended, however it ended: frees its concurrency slot, corrects the token estimate
   with the real ``usage`` (``None``: keep the estimate) and lets the limiter learn from
   the server's ``x-ratelimit-remaining-*`` headers (``rate_limit``, ``None`` if there
   was no answer);
3. ``await limiter.penalize(model, wait, limit_type)`` when the server answered 429 and
   asked for ``wait`` seconds: every request of that model pauses, once, not once per
   worker.

Implementations: the in-process :class:`Limiter` (and :class:`TierLimiter`, budgets
from the GitHub Models tier presets) here, and :class:`RedisRateLimiter` (extra
``ghmodels_async[redis]``, imported on first use so this module never imports redis)
that shares one budget between processes and machines. All are interchangeable behind
this protocol, which is why it holds no client internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._errors import RateLimitWaitTooLongError
from ._info import RateLimitInfo
from ._limiter import Limiter, Limits, Ticket
from ._limiter_errors import LimiterUnavailableError
from ._tiers import TIER_LIMITS, TierLimiter, tier_of

if TYPE_CHECKING:
    from ._redis_limiter import RedisRateLimiter

__all__ = [
    "TIER_LIMITS",
    "Limiter",
    "LimiterUnavailableError",
    "Limits",
    "RateLimitWaitTooLongError",
    "RateLimiter",
    "RedisRateLimiter",
    "Ticket",
    "TierLimiter",
    "estimate_tokens",
    "tier_of",
]


def __getattr__(name: str) -> Any:
    """``RedisRateLimiter`` is imported on first use: ``redis`` is an optional extra."""
    if name == "RedisRateLimiter":
        try:
            from ._redis_limiter import RedisRateLimiter
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "RedisRateLimiter needs the redis extra: pip install 'ghmodels_async[redis]'"
            ) from exc
        return RedisRateLimiter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@runtime_checkable
class RateLimiter(Protocol):
    """What a client needs from a limiter: reserve before an attempt, settle after it,
    penalize on a 429."""

    async def reserve(self, model: str, tokens: int) -> Any:
        """Wait until a request to ``model`` costing about ``tokens`` may start; return
        a ticket for :meth:`settle`. Raise a ``GHModelsError`` if it never may."""
        ...

    async def settle(
        self, ticket: Any, used_tokens: int | None, rate_limit: RateLimitInfo | None
    ) -> None:
        """The attempt of ``ticket`` ended: free its slot, correct its tokens."""
        ...

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        """The server answered 429 asking for ``wait`` seconds: pause ``model``."""
        ...


def estimate_tokens(body: bytes, max_output_tokens: int | None) -> int:
    """A cheap upper-ish estimate of a request's token cost before it is sent.

    About four bytes of JSON per input token, plus the output the request allows; the
    real ``usage`` corrects it when the answer arrives.
    """
    return len(body) // 4 + (max_output_tokens or 0)
