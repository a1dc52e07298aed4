"""ghmodels_async through its public API only."""

from __future__ import annotations

import inspect
from typing import Any

from benchmarks import payloads
from benchmarks.clients._base import PATIENT_S, Adapter
from ghmodels_async import Client as GHClient


class Client(Adapter):
    async def open(
        self, origin: str, flags: str, max_connections: int, patient: bool = False
    ) -> None:
        kwargs: dict[str, Any] = {}
        params = inspect.signature(GHClient).parameters
        if "max_connections" in params:
            kwargs["max_connections"] = max_connections
        else:
            self.notes.append("Client has no max_connections: default connection limit")
        if patient and "timeout" in params:
            try:
                from ghmodels_async import Timeout
            except ImportError:
                kwargs["timeout"] = PATIENT_S
            else:
                kwargs["timeout"] = Timeout(connect=PATIENT_S, total=PATIENT_S)
        self._client = GHClient(
            token=payloads.TOKEN, base_url=origin, path_prefix=f"{flags}/inference", **kwargs
        )
        await self._client.__aenter__()

    async def chat(self) -> int:
        c = await self._client.chat.completions.create(
            model=payloads.MODEL,
            messages=payloads.MESSAGES,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
        )
        return len(c.choices[0].message.content or "")

    async def stream(self) -> tuple[int, int]:
        chars = 0
        tokens = -1
        stream = await self._client.chat.completions.create(
            model=payloads.MODEL,
            messages=payloads.MESSAGES,
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
        if stream.usage is not None:
            tokens = stream.usage.completion_tokens
        return chars, tokens

    async def close(self) -> None:
        await self._client.__aexit__(None, None, None)
