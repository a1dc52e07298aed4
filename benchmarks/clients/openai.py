"""The openai package with its default transport (httpx / httpx2).

``http_client`` is openai's own ``DefaultAsyncHttpxClient`` (the SDK's defaults) with
only the connection limits raised, so a large in-flight test is not capped at 1000.
"""

from __future__ import annotations

import importlib
from typing import Any

from openai import AsyncOpenAI, DefaultAsyncHttpxClient

try:  # openai >= 3 uses the httpx2 fork; older releases use httpx
    httpx: Any = importlib.import_module("httpx2")
except ImportError:  # pragma: no cover - depends on the installed openai
    httpx = importlib.import_module("httpx")

from benchmarks import payloads
from benchmarks.clients._base import PATIENT_S, Adapter

_MESSAGES: Any = payloads.MESSAGES  # plain dicts, as most callers pass them


class Client(Adapter):
    def http_client(self, limits: Any) -> Any:
        return DefaultAsyncHttpxClient(limits=limits)

    async def open(
        self, origin: str, flags: str, max_connections: int, patient: bool = False
    ) -> None:
        limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        )
        kwargs: dict[str, Any] = {}
        if patient:
            kwargs["timeout"] = httpx.Timeout(PATIENT_S, connect=PATIENT_S)
        self._client = AsyncOpenAI(
            api_key=payloads.TOKEN,
            base_url=f"{origin}{flags}/v1",
            http_client=self.http_client(limits),
            **kwargs,
        )

    async def chat(self) -> int:
        c = await self._client.chat.completions.create(
            model=payloads.MODEL,
            messages=_MESSAGES,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
        )
        return len(c.choices[0].message.content or "")

    async def stream(self) -> tuple[int, int]:
        chars = 0
        tokens = -1
        stream = await self._client.chat.completions.create(
            model=payloads.MODEL,
            messages=_MESSAGES,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
            stream=True,
            stream_options={"include_usage": True},
        )
        async with stream:
            async for chunk in stream:
                if chunk.choices:
                    content = chunk.choices[0].delta.content
                    if content:
                        chars += len(content)
                if chunk.usage is not None:
                    tokens = chunk.usage.completion_tokens
        return chars, tokens

    async def close(self) -> None:
        await self._client.close()
