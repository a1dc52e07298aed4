"""The openai package on its aiohttp transport (``openai[aiohttp]``)."""

from __future__ import annotations

from typing import Any

from openai import DefaultAioHttpClient

from benchmarks.clients.openai import Client as _OpenAIClient


class Client(_OpenAIClient):
    def http_client(self, limits: Any) -> Any:
        return DefaultAioHttpClient(limits=limits)
