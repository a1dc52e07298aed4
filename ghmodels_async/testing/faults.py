"""Fault injection and rate-limit emulation for the fake GitHub Models server."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Final

from .validation import FakeAPIError

__all__ = [
    "DEFAULT_TIERS",
    "FAULT_KINDS",
    "Fault",
    "FaultRule",
    "RateLimitTable",
    "TierLimit",
    "TierRateLimiter",
    "parse_faults",
]

#: Error faults → HTTP status answered.
ERROR_STATUS: Final[Mapping[str, int]] = {
    "rate_limit": 429,
    "internal_error": 500,
    "bad_gateway": 502,
    "service_unavailable": 503,
    "gone": 410,
    "tokens_limit": 413,
    "openai_error": 400,
    "error": 500,
}
#: Faults that change how a (successful) answer is delivered.
DELIVERY_KINDS: Final = frozenset(
    {
        "delay_headers", "chunk_delay", "stream_cut", "stream_end_early", "truncated_json",
        "malformed_json", "split_chunks", "drop", "quirks",
    }
)  # fmt: skip
#: Every fault name accepted by ``Fault(kind=...)`` and the ``x-fake-fault`` header.
FAULT_KINDS: Final = frozenset(ERROR_STATUS) | DELIVERY_KINDS

GONE_MESSAGE: Final = (
    "GitHub Models was retired on 2026-07-30; this endpoint is gone. "
    "Move to Azure AI Foundry or another OpenAI-compatible endpoint."
)


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour (see ``docs/fake-server.md`` for each ``kind``).

    - ``wait``: seconds in ``retry-after``/``x-ratelimit-timeremaining`` (rate_limit: 46;
      service_unavailable: header only when set).
    - ``limit_type``: ``x-ratelimit-type`` of a rate_limit fault.
    - ``delay``: seconds for delay_headers / chunk_delay / between split_chunks slices.
    - ``after``: intact SSE events (or body bytes / 2 when not streaming) before the
      stream_cut / stream_end_early / truncated_json / malformed_json damage.
    - ``size``: largest slice in bytes for split_chunks.
    - ``status``: the status of the generic ``error`` kind (or an override).
    - ``shape``: ``"github"`` or ``"openai"`` error body.
    """

    kind: str
    wait: float | None = None
    limit_type: str = "UserByModelByMinute"
    delay: float | None = None
    after: int = 2
    size: int = 5
    status: int | None = None
    shape: str = "github"
    message: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(
                f"unknown fault {self.kind!r}; known: {', '.join(sorted(FAULT_KINDS))}"
            )
        if self.shape not in ("github", "openai"):
            raise ValueError("shape must be 'github' or 'openai'")

    @property
    def is_error(self) -> bool:
        """True if this fault answers an error instead of the normal answer."""
        return self.kind in ERROR_STATUS

    def error(self, model: str | None) -> FakeAPIError:
        """The error answer of an error fault."""
        status = self.status or ERROR_STATUS[self.kind]
        headers: dict[str, str] = {}
        code, message = "internal_error", "The server had an error processing your request."
        if self.kind == "rate_limit":
            wait = 46 if self.wait is None else self.wait
            code = "RateLimitReached"
            message = (
                f"Rate limit of 10 per 60s exceeded for {self.limit_type}. "
                f"Please wait {_seconds(wait)} seconds before retrying."
            )
            headers = rate_limit_headers(wait, self.limit_type)
        elif self.kind == "service_unavailable":
            code, message = "service_unavailable", "The service is temporarily unavailable."
            if self.wait is not None:
                headers["retry-after"] = _seconds(self.wait)
        elif self.kind == "bad_gateway":
            code, message = "bad_gateway", "Bad gateway."
        elif self.kind == "gone":
            code, message = "gone", GONE_MESSAGE
        elif self.kind == "tokens_limit":
            code = "tokens_limit_reached"
            message = (
                f"Request body too large for {model or 'gpt-4o'} model. Max size: 8000 tokens."
            )
        elif self.kind == "openai_error":
            code, message = "invalid_request_error", "The request was rejected by the upstream."
        shape = "openai" if self.kind == "openai_error" else self.shape
        return FakeAPIError(status, code, self.message or message, headers, shape=shape)


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"


def rate_limit_headers(wait: float, limit_type: str) -> dict[str, str]:
    """Headers of a 429 exactly as the service sends them."""
    return {
        "retry-after": _seconds(wait),
        "x-ratelimit-timeremaining": _seconds(wait),
        "x-ratelimit-type": limit_type,
        "x-ratelimit-remaining-requests": "0",
        "x-ms-error-code": "RateLimitReached",
    }


_INT_FIELDS: Final = {"after", "size", "status"}
_FLOAT_FIELDS: Final = {"wait", "delay"}


def parse_faults(header: str) -> list[Fault]:
    """Parse ``x-fake-fault: kind[;key=value]...[, kind...]``; raise ValueError if bad."""
    faults = []
    known = {f.name for f in fields(Fault)} - {"kind"}
    for item in header.split(","):
        parts = [p.strip() for p in item.split(";") if p.strip()]
        if not parts:
            continue
        options: dict[str, Any] = {}
        for part in parts[1:]:
            key, sep, value = part.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in known:
                raise ValueError(f"bad fault option {part!r}")
            options[key] = (
                int(value) if key in _INT_FIELDS
                else float(value) if key in _FLOAT_FIELDS
                else value.strip()
            )  # fmt: skip
        faults.append(Fault(parts[0].replace("-", "_"), **options))
    return faults


@dataclass
class FaultRule:
    """An injected fault: fires on matching requests, ``remaining`` times (None = always)."""

    fault: Fault
    remaining: int | None = 1
    rate: float | None = None
    path_contains: str | None = None
    hits: int = 0


@dataclass(frozen=True)
class TierLimit:
    """Limits of one ``rate_limit_tier``: requests per window, concurrent requests, tokens."""

    requests: int
    concurrent: int
    max_input_tokens: int = 8000
    tokens: int = 150000


#: Published free-tier limits (per user and model); reasoning models use ``custom``.
DEFAULT_TIERS: Final[Mapping[str, TierLimit]] = {
    "low": TierLimit(15, 5),
    "high": TierLimit(10, 2),
    "embeddings": TierLimit(15, 5, max_input_tokens=64000),
    "custom": TierLimit(2, 1, max_input_tokens=4000),
}


@dataclass(frozen=True)
class RateLimitTable:
    """Rate-limit emulation settings; a small ``window`` (seconds) makes tests fast.

    ``exact_retry_after=True`` sends fractional seconds (``0.250``) in ``retry-after``;
    otherwise whole seconds rounded up, as the service does.
    """

    tiers: Mapping[str, TierLimit] = field(default_factory=lambda: dict(DEFAULT_TIERS))
    window: float = 60.0
    exact_retry_after: bool = False

    def scaled(self, **tiers: TierLimit) -> RateLimitTable:
        """A copy with some tiers replaced."""
        return replace(self, tiers={**self.tiers, **tiers})


class TierRateLimiter:
    """Sliding-window request counting and concurrency slots per (token, model)."""

    def __init__(self, table: RateLimitTable, enforce: bool) -> None:
        self.table = table
        self.enforce = enforce
        self._starts: dict[tuple[str, str], deque[float]] = {}
        self._tokens: dict[tuple[str, str], deque[tuple[float, int]]] = {}
        self._active: dict[tuple[str, str], int] = {}

    def _wait(self, seconds: float) -> float:
        return seconds if self.table.exact_retry_after else float(max(1, math.ceil(seconds)))

    def _prune(self, key: tuple[str, str], now: float) -> deque[float]:
        starts = self._starts.setdefault(key, deque())
        while starts and starts[0] <= now - self.table.window:
            starts.popleft()
        used = self._tokens.setdefault(key, deque())
        while used and used[0][0] <= now - self.table.window:
            used.popleft()
        return starts

    def acquire(self, user: str, model: str, tier: str, prompt_tokens: int) -> None:
        """Take a slot for one request, or raise the 429 the service would answer."""
        limit = self.table.tiers.get(tier)
        if limit is None or not self.enforce:
            return
        if prompt_tokens > limit.max_input_tokens:
            raise FakeAPIError(
                413, "tokens_limit_reached",
                f"Request body too large for {model} model. Max size: {limit.max_input_tokens}"
                " tokens.",
            )  # fmt: skip
        key = (user, model)
        now = time.monotonic()
        starts = self._prune(key, now)
        if self._active.get(key, 0) >= limit.concurrent:
            wait = self._wait(self.table.window / 60)
            raise FakeAPIError(
                429, "RateLimitReached",
                f"Rate limit of {limit.concurrent} concurrent requests exceeded for "
                f"UserConcurrentRequests. Please wait {_seconds(wait)} seconds before retrying.",
                rate_limit_headers(wait, "UserConcurrentRequests"),
            )  # fmt: skip
        if len(starts) >= limit.requests:
            wait = self._wait(starts[0] + self.table.window - now)
            raise FakeAPIError(
                429, "RateLimitReached",
                f"Rate limit of {limit.requests} per {_seconds(self.table.window)}s exceeded for "
                f"UserByModelByMinute. Please wait {_seconds(wait)} seconds before retrying.",
                rate_limit_headers(wait, "UserByModelByMinute"),
            )  # fmt: skip
        starts.append(now)
        self._active[key] = self._active.get(key, 0) + 1

    def release(self, user: str, model: str, tier: str, tokens: int) -> None:
        """Free the slot taken by :meth:`acquire` and count the tokens used."""
        if tier not in self.table.tiers or not self.enforce:
            return
        key = (user, model)
        self._active[key] = max(0, self._active.get(key, 0) - 1)
        self._tokens.setdefault(key, deque()).append((time.monotonic(), tokens))

    def remaining(self, user: str, model: str | None, tier: str | None) -> tuple[int, int]:
        """``(remaining requests, remaining tokens)`` for the rate-limit headers."""
        limit = self.table.tiers.get(tier or "")
        if not self.enforce or limit is None or model is None:
            return 10000, 1000000
        key = (user, model)
        starts = self._prune(key, time.monotonic())
        used = sum(n for _, n in self._tokens[key])
        return max(0, limit.requests - len(starts)), max(0, limit.tokens - used)
