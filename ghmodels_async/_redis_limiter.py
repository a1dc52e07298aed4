"""One rate limit shared by many processes and machines, kept in Redis.

:class:`RedisRateLimiter` implements :class:`ghmodels_async.ratelimit.RateLimiter`, so it
drops into ``Client(rate_limiter=...)`` in place of the in-process limiter. Each
decision is one Lua script run atomically on Redis time (see ``_redis_scripts``):

- requests and tokens per minute are *reservations* (GCRA): every caller, from any
  worker, is told when it may start and sleeps until then, so the aggregate rate stays
  at the budget instead of bouncing off it; only a wait over ``max_wait`` is refused;
- tokens are charged with the estimate up front and corrected with the real usage;
- concurrency is a sorted set of leases with deadlines; a worker renews its live leases
  in the background, so a long stream keeps its slot while a worker killed with SIGKILL
  stops renewing and its slots free within ``lease_ttl``;
- a 429's ``retry-after`` sets a pause every worker sharing the key obeys.

Redis unreachable raises :class:`LimiterUnavailableError` before anything is sent;
``fallback="local"`` paces locally instead (at ``fallback_share`` of the budget) with a
warning, and returns to Redis once it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import secrets
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from ._errors import RateLimitWaitTooLongError, ValidationError
from ._info import RateLimitInfo
from ._limiter import check_pause
from ._limiter_errors import LimiterUnavailableError
from ._redis_scripts import PENALIZE, RENEW, RESERVE, SETTLE

__all__ = ["RedisRateLimiter", "RedisTicket"]

logger = logging.getLogger("ghmodels_async.ratelimit")

# Down, refusing (auth, read-only replica, out of memory) or not Redis at all: the
# limiter cannot decide, so no request goes out unpaced.
_UNREACHABLE = (RedisError, OSError)
_MICRO = 1_000_000
_BINDING = {1: "retry_after", 2: "requests_per_minute", 3: "tokens_per_minute"}


def _sha1(text: str) -> str:
    import hashlib

    return hashlib.sha1(text.encode()).hexdigest()


_SHAS = {script: _sha1(script) for script in (RESERVE, SETTLE, PENALIZE, RENEW)}


@dataclass(slots=True)
class RedisTicket:
    """What :meth:`RedisRateLimiter.reserve` hands back: the lease and the estimate."""

    model: str
    tokens: int
    lease: str | None
    local: bool = False
    start: float = 0.0  # when it may start, in seconds of Redis time (local: monotonic)


def _positive(name: str, value: float | None, *, integer: bool = False) -> None:
    if value is None:
        return
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        kind = "an integer" if integer else "a number"
        raise ValidationError(f"{name} must be {kind} > 0, got {value!r}", field=name)
    if not (value > 0 and math.isfinite(value)):
        raise ValidationError(f"{name} must be > 0, got {value!r}", field=name)


class _LocalPacer:
    """The same schedule in this process only: the opt-in fallback while Redis is down."""

    def __init__(self, limiter: RedisRateLimiter, share: float) -> None:
        self._limiter = limiter
        self._share = share
        self._rpm_tat: dict[str, float] = {}
        self._tpm_tat: dict[str, float] = {}
        self._pause: dict[str, float] = {}
        self._in_flight: dict[str, int] = {}
        self._freed = asyncio.Event()

    async def reserve(self, model: str, tokens: int) -> RedisTicket:
        lim = self._limiter
        scope = lim._scope(model)
        while lim.max_concurrency is not None:
            cap = max(1, int(lim.max_concurrency * self._share))
            if self._in_flight.get(scope, 0) < cap:
                break
            self._freed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._freed.wait(), lim.poll_interval)
        now = time.monotonic()
        start = max(now, self._pause.get(scope, 0.0))
        per_request = lim._per_request_us / _MICRO / self._share
        per_token = lim._per_token_us / _MICRO / self._share
        if per_request:
            start = max(start, self._rpm_tat.get(scope, 0.0))
        if per_token:
            start = max(start, self._tpm_tat.get(scope, 0.0))
        wait = start - now
        if wait > lim.max_wait:
            raise RateLimitWaitTooLongError(
                f"the local fallback would wait {wait:.1f} s, over max_wait",
                model=model, wait=wait, reason="requests_per_minute",
            )
        if per_request:
            self._rpm_tat[scope] = start + per_request
        if per_token:
            self._tpm_tat[scope] = start + tokens * per_token
        if lim.max_concurrency is not None:
            self._in_flight[scope] = self._in_flight.get(scope, 0) + 1
        ticket = RedisTicket(
            model, tokens, "local" if lim.max_concurrency else None, True, start
        )
        try:
            if wait > 0:
                await asyncio.sleep(wait)
        except BaseException:
            self.settle(ticket, None)
            raise
        return ticket

    def settle(self, ticket: RedisTicket, used_tokens: int | None) -> None:
        lim = self._limiter
        scope = lim._scope(ticket.model)
        if ticket.lease is not None:
            self._in_flight[scope] = max(0, self._in_flight.get(scope, 0) - 1)
            self._freed.set()
        if used_tokens is not None and lim._per_token_us and scope in self._tpm_tat:
            per_token = lim._per_token_us / _MICRO / self._share
            delta = (used_tokens - ticket.tokens) * per_token
            now = time.monotonic()
            tat = self._tpm_tat[scope]
            self._tpm_tat[scope] = max(tat, now) + delta if delta > 0 else max(tat + delta, now)

    def penalize(self, model: str, wait: float) -> None:
        scope = self._limiter._scope(model)
        self._pause[scope] = max(self._pause.get(scope, 0.0), time.monotonic() + wait)


class RedisRateLimiter:
    """A :class:`~ghmodels_async.ratelimit.RateLimiter` whose budget lives in Redis, so
    every process and machine using the same ``key`` shares one limit.

    ``redis_url_or_client`` is a ``redis://`` URL (the limiter owns and closes that
    connection) or a ``redis.asyncio`` client (``Redis`` or ``RedisCluster``) you own.
    Budgets are kept per ``key`` and model id, as the in-process ``Limiter`` keys them;
    ``model_key`` maps ids to budget keys (``model_key=lambda m: "all"``: one budget for
    every model of the key). ``headroom`` (default 2%) is kept unused against arrival
    jitter. ``max_wait`` (``None``: no bound) bounds how long a caller may be made to
    wait for the rate budgets (not for a concurrency slot) before
    :class:`~ghmodels_async.RateLimitWaitTooLongError`. ``lease_ttl`` is how long a
    concurrency slot of a dead worker stays taken; live workers renew theirs every
    ``lease_ttl / 3``.
    """

    def __init__(
        self,
        redis_url_or_client: str | Any,
        *,
        key: str,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
        max_concurrency: int | None = None,
        requests_per_day: int | None = None,
        headroom: float = 0.02,
        max_wait: float | None = 600.0,
        lease_ttl: float = 30.0,
        model_key: Callable[[str], str] | None = None,
        fallback: Literal["local"] | None = None,
        fallback_share: float = 1.0,
        poll_interval: float = 0.02,
        socket_timeout: float = 5.0,
    ) -> None:
        if not isinstance(key, str) or not key or any(c in key for c in "{}\r\n\0"):
            raise ValidationError(
                f"key must be a non-empty string without braces or newlines, got {key!r}",
                field="key",
            )
        _positive("requests_per_minute", requests_per_minute)
        _positive("tokens_per_minute", tokens_per_minute)
        _positive("max_concurrency", max_concurrency, integer=True)
        _positive("requests_per_day", requests_per_day, integer=True)
        _positive("max_wait", max_wait)
        if model_key is not None and not callable(model_key):
            raise ValidationError("model_key must be callable", field="model_key")
        _positive("lease_ttl", lease_ttl)
        _positive("poll_interval", poll_interval)
        _positive("socket_timeout", socket_timeout)
        _positive("fallback_share", fallback_share)
        if (
            isinstance(headroom, bool)
            or not isinstance(headroom, (int, float))
            or not 0 <= headroom < 1
        ):
            raise ValidationError(f"headroom must be in [0, 1), got {headroom!r}", field="headroom")
        if fallback not in (None, "local"):
            raise ValidationError(
                f"fallback must be None or 'local', got {fallback!r}", field="fallback"
            )
        if fallback_share > 1:
            raise ValidationError("fallback_share must be in (0, 1]", field="fallback_share")
        if lease_ttl < 0.3:
            raise ValidationError("lease_ttl must be at least 0.3 s", field="lease_ttl")
        if isinstance(redis_url_or_client, str):
            if not redis_url_or_client.startswith(("redis://", "rediss://", "unix://")):
                raise ValidationError(
                    "redis_url_or_client must be a redis://, rediss:// or unix:// URL "
                    "or a redis.asyncio client",
                    field="redis_url_or_client",
                )
            self._redis: Any = aioredis.Redis.from_url(
                redis_url_or_client,
                socket_timeout=socket_timeout,
                socket_connect_timeout=socket_timeout,
            )
            self._owns_client = True
        elif hasattr(redis_url_or_client, "evalsha"):
            self._redis = redis_url_or_client
            self._owns_client = False
        else:
            raise ValidationError(
                "redis_url_or_client must be a URL or a redis.asyncio client, got "
                f"{type(redis_url_or_client).__name__}",
                field="redis_url_or_client",
            )
        self.key = key
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.max_concurrency = max_concurrency
        self.requests_per_day = requests_per_day
        self.headroom = float(headroom)
        self.max_wait = math.inf if max_wait is None else float(max_wait)
        self.lease_ttl = float(lease_ttl)
        self._model_key = model_key
        self.fallback = fallback
        self.poll_interval = float(poll_interval)
        keep = 1.0 - self.headroom
        self._per_request_us = (
            60 * _MICRO / (requests_per_minute * keep) if requests_per_minute else 0.0
        )
        self._per_token_us = 60 * _MICRO / (tokens_per_minute * keep) if tokens_per_minute else 0.0
        self._local = _LocalPacer(self, fallback_share) if fallback == "local" else None
        self._local_until = 0.0  # monotonic time before which Redis is not retried
        self._held: dict[str, set[str]] = {}
        self._renewer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter(key={self.key!r}, requests_per_minute="
            f"{self.requests_per_minute!r}, tokens_per_minute={self.tokens_per_minute!r}, "
            f"max_concurrency={self.max_concurrency!r}, requests_per_day="
            f"{self.requests_per_day!r})"
        )

    # -- keys ---------------------------------------------------------------------

    def _scope(self, model: str) -> str:
        if self._model_key is None:
            return model
        scope = self._model_key(model)
        if not isinstance(scope, str) or not scope:
            raise ValidationError(
                f"model_key({model!r}) must return a non-empty string, got {scope!r}",
                field="model_key",
            )
        return scope

    def redis_keys(self, model: str) -> dict[str, str]:
        """The Redis keys holding ``model``'s budget (one hash tag: one cluster slot)."""
        base = f"ghmodels:{{{self.key}}}:{self._scope(model)}"
        return {
            "rpm": f"{base}:rpm",
            "tpm": f"{base}:tpm",
            "pause": f"{base}:pause",
            "leases": f"{base}:leases",
            "day": f"{base}:day",
        }

    # -- Redis calls --------------------------------------------------------------

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self._redis.evalsha(_SHAS[script], len(keys), *keys, *args)
        except NoScriptError:
            return await self._redis.eval(script, len(keys), *keys, *args)

    def _unreachable(self, exc: BaseException) -> None:
        if self._local is None:
            raise LimiterUnavailableError(
                f"the rate limiter's Redis failed for key {self.key!r} "
                f"({type(exc).__name__}: {exc}); no request was sent "
                "(RedisRateLimiter(fallback='local') paces locally instead)"
            ) from exc
        if self._local_until <= time.monotonic():
            message = (
                f"Redis unreachable ({exc}); pacing locally for key {self.key!r} until it "
                "answers again"
            )
            logger.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=3)
        self._local_until = time.monotonic() + 5.0

    # -- the protocol -------------------------------------------------------------

    async def reserve(self, model: str, tokens: int) -> RedisTicket:
        """Wait until a request to ``model`` costing about ``tokens`` tokens may start
        under the shared budget; return its ticket for :meth:`settle`."""
        if not isinstance(model, str) or not model:
            raise ValidationError(f"model must be a non-empty string, got {model!r}", field="model")
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValidationError(f"tokens must be an integer >= 0, got {tokens!r}", field="tokens")
        if self._local is not None and self._local_until > time.monotonic():
            return await self._local.reserve(model, tokens)
        keys = self.redis_keys(model)
        lease = secrets.token_hex(8) if self.max_concurrency else ""
        args = [
            repr(self._per_request_us),
            repr(self._per_token_us),
            tokens,
            self.max_concurrency or 0,
            lease,
            int(self.lease_ttl * 1000),
            int(min(self.max_wait, 1e9) * _MICRO),
            self.requests_per_day or 0,
        ]
        began = time.monotonic()
        while True:
            try:
                answer = await self._run(RESERVE, list(keys.values()), args)
            except _UNREACHABLE as exc:
                self._unreachable(exc)
                assert self._local is not None
                return await self._local.reserve(model, tokens)
            status, value = int(answer[0]), int(answer[1])
            if status == 0:
                break
            waited = time.monotonic() - began
            if status == 1:  # every slot is taken: poll until a settle or an expiry frees one
                await asyncio.sleep(self.poll_interval * (0.5 + random.random()))
            elif status == 2:
                reason = _BINDING.get(int(answer[2]), "requests_per_minute")
                raise RateLimitWaitTooLongError(
                    f"the shared limiter would wait {value / _MICRO:.1f} s ({reason}) before "
                    f"this request to {model!r}, over max_wait ({self.max_wait} s)",
                    model=model,
                    wait=value / _MICRO,
                    reason=reason,
                )
            else:
                seconds = value / _MICRO
                if seconds + waited > self.max_wait:
                    raise RateLimitWaitTooLongError(
                        f"the daily budget of {self.requests_per_day} requests to {model!r} "
                        f"is spent; it renews in {seconds:.0f} s (UTC midnight)",
                        model=model,
                        wait=seconds,
                        reason="requests_per_day",
                    )
                await asyncio.sleep(seconds)
        ticket = RedisTicket(model, tokens, lease or None, start=int(answer[2]) / _MICRO)
        if lease:
            self._hold(keys["leases"], lease)
        if value > 0:
            try:
                await asyncio.sleep(value / _MICRO)
            except BaseException:
                await asyncio.shield(self.settle(ticket, None, None))
                raise
        return ticket

    async def settle(
        self, ticket: Any, used_tokens: int | None, rate_limit: RateLimitInfo | None
    ) -> None:
        """The attempt of ``ticket`` ended: free its lease, correct its token charge with
        the real usage, and pause the model if the server said its budget is spent.

        Never raises for an unreachable Redis (the call itself already succeeded or
        failed on its own): the lease then frees by expiry.
        """
        if not isinstance(ticket, RedisTicket):
            raise ValidationError("ticket must come from RedisRateLimiter.reserve", field="ticket")
        if rate_limit is not None and (
            rate_limit.remaining_requests == 0 or rate_limit.remaining_tokens == 0
        ):
            pause = rate_limit.retry_after or rate_limit.time_remaining
            if pause and pause > 0:
                await self.penalize(ticket.model, pause, rate_limit.limit_type)
        if ticket.local:
            if self._local is not None:
                self._local.settle(ticket, used_tokens)
            return
        keys = self.redis_keys(ticket.model)
        if ticket.lease is not None:
            held = self._held.get(keys["leases"])
            if held is not None:
                held.discard(ticket.lease)
        delta = 0.0
        if used_tokens is not None and self._per_token_us:
            delta = (used_tokens - ticket.tokens) * self._per_token_us
        if ticket.lease is None and delta == 0:
            return
        try:
            await self._run(
                SETTLE, [keys["tpm"], keys["leases"]], [ticket.lease or "", repr(delta)]
            )
        except _UNREACHABLE as exc:
            logger.warning("Redis unreachable while settling (%s); the lease expires alone", exc)

    async def penalize(self, model: str, wait: float, limit_type: str | None) -> None:
        """The server answered 429 asking for ``wait`` seconds: every worker sharing the
        key pauses requests to ``model`` until then (a longer pause is kept)."""
        wait = check_pause(wait)
        if not wait:
            return
        if self._local is not None:
            self._local.penalize(model, wait)
        try:
            await self._run(PENALIZE, [self.redis_keys(model)["pause"]], [int(wait * _MICRO)])
        except _UNREACHABLE as exc:
            if self._local is None:
                logger.warning("Redis unreachable while recording a %.1f s pause: %s", wait, exc)

    # -- lease renewal ------------------------------------------------------------

    def _hold(self, leases_key: str, lease: str) -> None:
        self._held.setdefault(leases_key, set()).add(lease)
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        ttl_ms = int(self.lease_ttl * 1000)
        while any(self._held.values()):
            await asyncio.sleep(self.lease_ttl / 3)
            for leases_key, held in list(self._held.items()):
                if not held:
                    del self._held[leases_key]
                    continue
                try:
                    await self._run(RENEW, [leases_key], [ttl_ms, *held])
                except _UNREACHABLE as exc:
                    logger.warning("Redis unreachable while renewing leases: %s", exc)

    async def in_flight(self, model: str) -> int:
        """How many unexpired concurrency leases ``model`` has right now, all workers
        together (for monitoring and tests)."""
        leases = self.redis_keys(model)["leases"]
        try:
            now_s, now_us = await self._redis.time()
            now_ms = int(now_s) * 1000 + int(now_us) // 1000
            return int(await self._redis.zcount(leases, now_ms + 1, "+inf"))
        except _UNREACHABLE as exc:
            raise LimiterUnavailableError(f"cannot reach Redis: {exc}") from exc

    async def aclose(self) -> None:
        """Stop renewing leases and close the Redis connection if this limiter opened it."""
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
            self._renewer = None
        if self._owns_client:
            await self._redis.aclose()

    async def __aenter__(self) -> RedisRateLimiter:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
