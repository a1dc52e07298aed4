"""Shared fixtures: a real redis-server for the Redis limiter tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from redis_server import RedisServer


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
