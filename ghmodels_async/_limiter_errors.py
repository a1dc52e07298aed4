"""Errors a rate limiter raises before any request is sent.

Kept apart from the redis code so they can be caught (and imported) without the
``redis`` extra installed.
"""

from __future__ import annotations

from ._errors import GHModelsError

__all__ = ["LimiterUnavailableError", "LimiterWaitTooLongError"]


class LimiterUnavailableError(GHModelsError):
    """The shared limiter's store (Redis) cannot be reached, so the request was not sent.

    Raised rather than sending unpaced traffic; ``RedisRateLimiter(fallback="local")``
    paces locally instead.
    """


class LimiterWaitTooLongError(GHModelsError):
    """The limiter would have to wait longer than its ``max_wait`` before this request.

    ``wait`` is the wait it would have needed in seconds (for a spent daily budget, the
    time until the next UTC day); ``reason`` is ``"rate"``, ``"concurrency"`` or
    ``"day"``.
    """

    def __init__(self, message: str, *, wait: float, reason: str) -> None:
        super().__init__(message)
        self.wait = wait
        self.reason = reason
