"""The pytest plugin as a user gets it: fixtures arrive through the pytest11 entry point."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from ghmodels_async import Client
from ghmodels_async.testing import FakeServer


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    plugins = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert plugins.get("ghmodels_async") == "ghmodels_async.pytest_plugin"


async def test_fixtures_come_without_any_import(
    fake_models_server: FakeServer, fake_models_client: Client
) -> None:
    completion = await fake_models_client.chat.completions.create(
        model="openai/gpt-4.1", messages=[{"role": "user", "content": "plugged in"}]
    )
    assert completion.choices[0].message.content == "Echo: plugged in"
    assert fake_models_client.base_url == fake_models_server.url
    assert fake_models_server.last_request.headers["Authorization"] == "Bearer fake-token"


@pytest.mark.fake_models(token="only-this-one")
async def test_marker_options_reach_the_server(fake_models_server: FakeServer) -> None:
    assert fake_models_server.token == "only-this-one"
