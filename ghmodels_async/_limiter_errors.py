"""The error a shared rate limiter raises when its store is out of reach.

Kept apart from the redis code so they can be caught (and imported) without the
``redis`` extra installed.
"""

from __future__ import annotations

from ._errors import GHModelsError

__all__ = ["LimiterUnavailableError"]


class LimiterUnavailableError(GHModelsError):
    """The shared limiter's store (Redis) cannot be reached, so the request was not sent.

    Raised rather than sending unpaced traffic; ``RedisRateLimiter(fallback="local")``
    paces locally instead.
    """

