"""When to retry and how long to wait: a pure decision, no sleeping, no sending.

:func:`retry_decision` maps (policy, attempt, what went wrong, clock, random) to a wait
in seconds or the exception to raise. The client's single retry loop sleeps the wait
(the edge's job) and makes the next attempt; everything that decides lives here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Annotated

import msgspec

from ._config import check_struct
from ._errors import (
    APIConnectionError,
    APIStatusError,
    GHModelsError,
    IncompleteStreamError,
    RetryWaitTooLongError,
)
from ._info import parse_retry_after

__all__ = ["RetryPolicy", "is_retryable_status", "next_delay", "retry_decision"]

_Seconds = Annotated[float, msgspec.Meta(ge=0)]


class RetryPolicy(msgspec.Struct, frozen=True):
    """How a client retries (the client builds it from ``max_retries=``/``max_retry_wait=``).

    ``max_retries`` extra attempts (0 disables retries). Without a server hint the wait is
    exponential backoff with full jitter, ``uniform(0, min(max_backoff, initial_backoff *
    2**attempt))``. A server-asked wait above ``max_retry_wait`` is not slept through: the
    error is raised at once with the wait in it (a daily limit can ask for hours).
    """

    max_retries: Annotated[int, msgspec.Meta(ge=0)] = 2
    initial_backoff: _Seconds = 0.5
    max_backoff: _Seconds = 8.0
    max_retry_wait: _Seconds = 60.0

    def __post_init__(self) -> None:
        check_struct(self, _RETRY_MESSAGES)


_RETRY_MESSAGES = {
    "max_retries": "max_retries must be an integer >= 0, got {value!r}",
    "initial_backoff": "initial_backoff must be a number >= 0, got {value!r}",
    "max_backoff": "max_backoff must be a number >= 0, got {value!r}",
    "max_retry_wait": "max_retry_wait must be a number >= 0, got {value!r}",
}


def is_retryable_status(status: int) -> bool:
    """408, 429 and 5xx are worth another try; 410 and every other 4xx are final."""
    return status == 429 or status == 408 or status >= 500


def next_delay(
    attempt: int,
    policy: RetryPolicy,
    headers: Mapping[str, str] | None = None,
    rand: Callable[[], float] = random.random,
    now: float | None = None,
) -> tuple[float, bool]:
    """The wait before retry number ``attempt + 1`` and whether the server asked for it.

    The server's ``retry-after-ms`` / ``retry-after`` / ``x-ratelimit-timeremaining``
    (lowercase names) wins; otherwise exponential backoff with full jitter, capped at
    ``max_backoff``.
    """
    if headers is not None:
        asked = parse_retry_after(headers, now)
        if asked is not None:
            return asked, True
    # (the exponent is capped: 2.0**1024 overflows, and 2**64 is past any max_backoff)
    ceiling = min(policy.max_backoff, policy.initial_backoff * (2.0 ** min(attempt, 64)))
    return rand() * ceiling, False


def retry_decision(
    policy: RetryPolicy,
    attempt: int,
    failure: GHModelsError,
    rand: Callable[[], float] = random.random,
    now: float | None = None,
) -> float | GHModelsError:
    """Seconds to wait before retry ``attempt + 1``, or the exception to raise instead.

    ``attempt`` counts the attempts already failed minus one (0 after the first).
    Retried: a status in :func:`is_retryable_status`, a connection failure marked
    ``retryable``, a stream that broke before its first event. A server-asked wait above
    ``max_retry_wait`` is raised at once: a 429 as :class:`RetryWaitTooLongError` (with
    ``wait``), any other status as itself; other waits are clamped to ``max_retry_wait``.
    ``now`` is the wall clock (for an HTTP-date ``retry-after``), ``rand`` the jitter.
    """
    if attempt >= policy.max_retries:
        return failure
    if isinstance(failure, APIStatusError):
        if not is_retryable_status(failure.status_code):
            return failure
        delay, asked = next_delay(attempt, policy, failure.headers, rand, now)
        if asked and delay > policy.max_retry_wait:
            if failure.status_code != 429:
                # e.g. a 503 asking for minutes: not slept through either, but it stays a
                # ServerError (RetryWaitTooLongError is a RateLimitError).
                return failure
            too_long = RetryWaitTooLongError(
                f"{failure.message} — the server asks to wait {delay:g} s, more than "
                f"max_retry_wait={policy.max_retry_wait:g} s",
                status_code=failure.status_code,
                code=failure.code,
                headers=failure.headers,
                body=failure.body,
                param=failure.param,
                error_type=failure.error_type,
                details=failure.details,
                wait=delay,
            )
            return too_long
    elif isinstance(failure, APIConnectionError):
        if not failure.retryable:
            return failure
        delay, _ = next_delay(attempt, policy, None, rand)
    elif isinstance(failure, IncompleteStreamError):
        delay, _ = next_delay(attempt, policy, None, rand)
    else:
        return failure
    return min(delay, policy.max_retry_wait)
