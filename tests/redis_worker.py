"""One worker process of the multi-process Redis limiter tests.

``python redis_worker.py REDIS_URL KEY SERVER_URL RPM MAX_CONCURRENCY TASKS SECONDS``:
builds its own ``Client`` and ``RedisRateLimiter``, prints ``ready``, waits for a line on
stdin, then keeps ``TASKS`` calls going for ``SECONDS`` and prints its counts as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from ghmodels_async import Client, GHModelsError
from ghmodels_async.ratelimit import RedisRateLimiter


async def main() -> None:
    redis_url, key, server_url = sys.argv[1:4]
    rpm, concurrency, tasks, seconds = (float(x) for x in sys.argv[4:8])
    limiter = RedisRateLimiter(
        redis_url,
        key=key,
        requests_per_minute=rpm,
        max_concurrency=int(concurrency) or None,
        lease_ttl=1.0,
        socket_timeout=30.0,  # a shared, loaded CI machine: Redis timeouts are not under test
    )
    counts = {"ok": 0, "failed": 0}
    errors: dict[str, int] = {}
    async with Client("t", base_url=server_url, rate_limiter=limiter, max_retries=0) as client:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        deadline = time.monotonic() + seconds

        async def loop() -> None:
            while time.monotonic() < deadline:
                try:
                    await client.chat.completions.create(
                        model="m", messages=[{"role": "user", "content": "hi"}]
                    )
                    counts["ok"] += 1
                except GHModelsError as exc:
                    counts["failed"] += 1
                    errors[f"{type(exc).__name__}: {exc}"[:200]] = 1

        await asyncio.gather(*(loop() for _ in range(int(tasks))))
    await limiter.aclose()
    print(json.dumps({**counts, "errors": sorted(errors)}), flush=True)


asyncio.run(main())
