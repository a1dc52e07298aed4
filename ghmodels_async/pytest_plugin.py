"""pytest fixtures for the fake GitHub Models server (registered via the ``pytest11`` entry).

- ``fake_models_server``: a running :class:`ghmodels_async.testing.FakeServer` per test.
  Options come from the marker ``@pytest.mark.fake_models(quirks=True, ...)``, whose
  keyword arguments are passed to ``FakeServer``.
- ``fake_models_client``: ``ghmodels_async.Client(token="fake-token", base_url=server.url)``,
  opened with ``async with`` and closed after the test.

Both are async fixtures run by pytest-asyncio, in its ``auto`` mode and in its default
``strict`` mode alike: an ``async def`` test that requests one of them is marked
``@pytest.mark.asyncio`` by this plugin when it is not already. Without pytest-asyncio
this module still imports (so installing ghmodels_async never breaks an unrelated pytest
run) and pytest reports the async fixtures as unsupported when a test requests them.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import AsyncIterator, Generator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .client import Client
    from .testing import FakeServer

__all__ = ["fake_models_client", "fake_models_server"]

#: The token the ``fake_models_client`` fixture sends.
FAKE_TOKEN = "fake-token"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``fake_models`` marker."""
    config.addinivalue_line(
        "markers", "fake_models(**options): keyword arguments for the fake_models_server FakeServer"
    )


try:
    from pytest_asyncio import fixture as _async_fixture

    _HAVE_PYTEST_ASYNCIO = True
except ImportError:  # pragma: no cover - without pytest-asyncio, pytest reports the fixture
    _async_fixture = pytest.fixture  # type: ignore[assignment]
    _HAVE_PYTEST_ASYNCIO = False

_OUR_FIXTURES = frozenset({"fake_models_server", "fake_models_client"})


@pytest.hookimpl(hookwrapper=True, trylast=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> Generator[None, Any, None]:
    """Mark ``async def`` tests using these fixtures ``asyncio`` (for strict mode).

    ``trylast`` makes this wrapper run inside pytest-asyncio's, so the mark is there
    when pytest-asyncio turns the collected function into an asyncio test.
    """
    outcome = yield
    if not _HAVE_PYTEST_ASYNCIO or outcome.excinfo is not None:
        return
    result = outcome.get_result()
    for node in result if isinstance(result, list) else [result]:
        if (
            isinstance(node, pytest.Function)
            and inspect.iscoroutinefunction(node.obj)
            and _OUR_FIXTURES.intersection(node.fixturenames)
            and node.get_closest_marker("asyncio") is None
        ):
            node.add_marker(pytest.mark.asyncio)


@_async_fixture
async def fake_models_server(request: pytest.FixtureRequest) -> AsyncIterator[FakeServer]:
    """A started FakeServer on 127.0.0.1 (options from ``@pytest.mark.fake_models``)."""
    from .testing import FakeServer

    marker = request.node.get_closest_marker("fake_models")
    options: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    async with FakeServer(**options) as server:
        yield server


@_async_fixture
async def fake_models_client(fake_models_server: FakeServer) -> AsyncIterator[Client]:
    """A ``ghmodels_async.Client`` pointed at ``fake_models_server``."""
    client_cls: type[Client] = importlib.import_module("ghmodels_async").Client
    async with client_cls(token=FAKE_TOKEN, base_url=fake_models_server.url) as client:
        yield client
