"""GHMODELS_BASE_URL: the base URL a Client uses when ``base_url=`` is not passed."""

from __future__ import annotations

import pytest

from ghmodels_async import Client
from ghmodels_async.testing import FakeServer


async def test_env_base_url_is_used_when_no_base_url_is_passed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with FakeServer() as server:
        monkeypatch.setenv("GHMODELS_BASE_URL", server.url)
        async with Client("t0ken") as client:
            assert client.base_url == server.url
            c = await client.chat.completions.create(
                model="openai/gpt-4.1", messages=[{"role": "user", "content": "hi"}]
            )
        assert c.choices[0].message.content
        assert server.last_request.path == "/inference/chat/completions"


async def test_explicit_base_url_wins_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GHMODELS_BASE_URL", "http://127.0.0.1:9")
    async with FakeServer() as server, Client("t0ken", base_url=server.url) as client:
        await client.models.list()
        assert client.base_url == server.url
        assert server.last_request.path == "/catalog/models"


@pytest.mark.parametrize("value", [None, ""])
def test_unset_or_empty_environment_means_the_github_default(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("GHMODELS_BASE_URL", raising=False)
    else:
        monkeypatch.setenv("GHMODELS_BASE_URL", value)
    assert Client("t0ken").base_url == "https://models.github.ai"


def test_a_bad_environment_base_url_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ghmodels_async import ConfigurationError

    monkeypatch.setenv("GHMODELS_BASE_URL", "ftp://example.invalid")
    with pytest.raises(ConfigurationError):
        Client("t0ken")
