"""pytest fixtures for the fake GitHub Models server (registered via the ``pytest11`` entry).

- ``fake_models_server``: a running :class:`ghmodels_async.testing.FakeServer` per test.
  Options come from the marker ``@pytest.mark.fake_models(quirks=True, ...)``, whose
  keyword arguments are passed to ``FakeServer``.
- ``fake_models_client``: ``ghmodels_async.Client(token="fake-token", base_url=server.url)``,
  opened with ``async with`` and closed after the test.

Both are async fixtures run by pytest-asyncio; without it this module still imports (so
installing ghmodels_async never breaks an unrelated pytest run) and pytest reports the
async fixtures as unsupported when a test requests them.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator
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
except ImportError:  # pragma: no cover - without pytest-asyncio, pytest reports the fixture
    _async_fixture = pytest.fixture  # type: ignore[assignment]


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
