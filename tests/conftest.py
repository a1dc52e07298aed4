"""Helpers shared by the test files: connection accounting, waiting for a condition,
and the recorded retry sleep.

``retry_sleeps`` (autouse) replaces ``Client._sleep`` for every test: each wait the
client asks for is recorded (``retry_sleeps.waits``) and returns at once, so tests
assert the exact requested waits instead of timing windows. ``retry_sleeps.block =
True`` makes the waits hang instead (until ``close()`` wakes them, as it must).

``redis_server`` / ``redis_url``: one real redis-server process for the session, emptied
for each test (the Redis limiter tests).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import aiohttp
import pytest
from redis_server import RedisServer

from ghmodels_async import Client


def connector_counts(client: Client) -> tuple[int, int]:
    """(connections in use, idle pooled connections) of the client's aiohttp connector."""
    session = client._transport._session
    if session is None:
        return 0, 0
    connector = session.connector
    assert isinstance(connector, aiohttp.TCPConnector)
    idle = sum(len(conns) for conns in connector._conns.values())
    return len(connector._acquired), idle


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait until ``predicate()`` holds (for effects with no event to wait on, such as
    a peer noticing a closed socket); fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class RetrySleeps:
    """Stands in for ``Client._sleep``: records every requested wait (seconds)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.block = False
        self.sleeping = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.waits.append(delay)
        self.sleeping.set()
        if self.block:
            await asyncio.get_running_loop().create_future()  # until cancelled by close()
        await asyncio.sleep(0)


@pytest.fixture(autouse=True)
def retry_sleeps() -> Iterator[RetrySleeps]:
    """Every test's clients record their retry waits instead of sleeping them."""
    sleeps = RetrySleeps()
    original = Client.__dict__["_sleep"]
    Client._sleep = staticmethod(sleeps)  # type: ignore[assignment]
    try:
        yield sleeps
    finally:
        Client._sleep = original


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the session (each test flushes it through ``redis_url``)."""
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the session's redis-server, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server.url) as connection:
        connection.flushall()
    return redis_server.url
