"""When to retry and how long to wait: pure decisions, no sleeping, no sending."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping

import msgspec

from ._errors import ConfigurationError
from ._info import parse_retry_after

__all__ = ["RetryPolicy", "is_retryable_status", "next_delay"]


class RetryPolicy(msgspec.Struct, frozen=True):
    """How a client retries.

    ``max_retries`` extra attempts (0 disables retries). Without a server hint the wait is
    exponential backoff with full jitter, ``uniform(0, min(max_backoff, initial_backoff *
    2**attempt))``. A server-asked wait above ``max_retry_wait`` is not slept through: the
    error is raised at once with the wait in it (a daily limit can ask for hours).
    """

    max_retries: int = 2
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_wait: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigurationError(
                f"max_retries must be an integer >= 0, got {self.max_retries!r}"
            )
        for name in ("initial_backoff", "max_backoff", "max_retry_wait"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ConfigurationError(f"{name} must be a number >= 0, got {value!r}")


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx are worth another try; 410 and every other 4xx are final."""
    return status == 429 or status == 408 or status >= 500


def next_delay(
    attempt: int,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    rand: Callable[[], float] = random.random,
) -> tuple[float, bool]:
    """The wait before retry number ``attempt + 1`` and whether the server asked for it.

    The server's ``retry-after-ms`` / ``retry-after`` / ``x-ratelimit-timeremaining``
    wins; otherwise exponential backoff with full jitter, capped at ``max_backoff``.
    """
    if headers is not None:
        asked = parse_retry_after(headers)
        if asked is not None:
            return asked, True
    ceiling = min(policy.max_backoff, policy.initial_backoff * (2.0**attempt))
    return rand() * ceiling, False
