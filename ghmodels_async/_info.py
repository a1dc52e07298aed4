"""Facts about one HTTP answer: request id, rate-limit headers, retry hints.

Pure data parsed from a header mapping; no I/O. Parsing is lazy (done when a
property is first read) so the per-call hot path only stores the headers.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from functools import cached_property

import msgspec

__all__ = ["RateLimitInfo", "ResponseInfo", "parse_retry_after"]


# A plain non-negative decimal of bounded size: "inf", "1e999", "1_000", NaN, signs and
# hundreds of digits are garbage, read as "unknown" (never an OverflowError later).
_DECIMAL = r"[0-9]{1,15}(?:\.[0-9]{1,9})?"


def _number(value: str | None) -> float | None:
    if value is None or not isinstance(value, str):
        return None
    text = value.strip()
    if re.fullmatch(_DECIMAL, text) is None:
        return None
    return float(text)


def _integer(value: str | None) -> int | None:
    number = _number(value)
    return None if number is None else int(number)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds the server asks us to wait: ``retry-after-ms``, ``retry-after``, then
    ``x-ratelimit-timeremaining``; ``retry-after`` may be seconds or an HTTP date."""
    millis = _number(headers.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = headers.get("retry-after")
    if raw is not None:
        seconds = _number(raw)
        if seconds is not None:
            return seconds
        import email.utils  # only for the rare HTTP-date form; keeps import time down

        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and when.tzinfo is not None:
            current = time.time() if now is None else now
            return max(0.0, when.timestamp() - current)
    return _number(headers.get("x-ratelimit-timeremaining"))


class RateLimitInfo(msgspec.Struct, frozen=True):
    """The service's rate-limit headers of one answer (``None`` where absent)."""

    remaining_requests: int | None = None
    remaining_tokens: int | None = None
    limit_type: str | None = None
    time_remaining: float | None = None
    retry_after: float | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RateLimitInfo:
        """Parse ``x-ratelimit-*`` and ``retry-after*`` headers."""
        return cls(
            remaining_requests=_integer(headers.get("x-ratelimit-remaining-requests")),
            remaining_tokens=_integer(headers.get("x-ratelimit-remaining-tokens")),
            limit_type=headers.get("x-ratelimit-type"),
            time_remaining=_number(headers.get("x-ratelimit-timeremaining")),
            retry_after=parse_retry_after(headers),
        )


class ResponseInfo:
    """The HTTP facts of an answer: status, headers, request id, parsed rate limits."""

    __slots__ = ("__dict__", "body", "headers", "status")

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes | None = None) -> None:
        self.status = status
        self.headers = headers
        #: The raw response body (the very bytes that were decoded, not a copy), for
        #: fields the types do not know; ``None`` for a stream.
        self.body = body

    @property
    def request_id(self) -> str | None:
        """The server's request id (``x-request-id``, or GitHub's ``x-github-request-id``)."""
        headers = self.headers
        return headers.get("x-request-id") or headers.get("x-github-request-id")

    @cached_property
    def rate_limit(self) -> RateLimitInfo:
        """Rate-limit headers, parsed on first access."""
        return RateLimitInfo.from_headers(self.headers)

    def __repr__(self) -> str:
        return f"ResponseInfo(status={self.status}, request_id={self.request_id!r})"
