"""azure-ai-inference's async ChatCompletionsClient on azure-core's aiohttp transport.

The transport gets an aiohttp session whose connector has the benchmark's limit
(azure-core's own session would use aiohttp's default of 100 connections).
"""

from __future__ import annotations

import aiohttp
from azure.ai.inference.aio import ChatCompletionsClient
from azure.ai.inference.models import AsyncStreamingChatCompletions, SystemMessage, UserMessage
from azure.core.credentials import AzureKeyCredential
from azure.core.pipeline.transport import AioHttpTransport

from benchmarks import payloads
from benchmarks.clients._base import PATIENT_S, Adapter

_MESSAGES = [SystemMessage(payloads.SYSTEM_PROMPT), UserMessage(payloads.USER_PROMPT)]


class Client(Adapter):
    async def open(
        self, origin: str, flags: str, max_connections: int, patient: bool = False
    ) -> None:
        timeouts = {"connection_timeout": PATIENT_S, "read_timeout": PATIENT_S} if patient else {}
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max_connections))
        self._client = ChatCompletionsClient(
            endpoint=f"{origin}{flags}/models",
            credential=AzureKeyCredential(payloads.TOKEN),
            transport=AioHttpTransport(session=self._session, session_owner=False, **timeouts),
        )

    async def chat(self) -> int:
        c = await self._client.complete(
            messages=_MESSAGES,
            model=payloads.MODEL,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
        )
        return len(c.choices[0].message.content or "")

    async def stream(self) -> tuple[int, int]:
        chars = 0
        tokens = -1
        stream = await self._client.complete(  # an AsyncStreamingChatCompletions
            messages=_MESSAGES,
            model=payloads.MODEL,
            temperature=payloads.TEMPERATURE,
            max_tokens=payloads.MAX_TOKENS,
            stream=True,
            model_extras={"stream_options": {"include_usage": True}},
        )
        assert isinstance(stream, AsyncStreamingChatCompletions)
        async with stream:
            async for update in stream:
                if update.choices:
                    content = update.choices[0].delta.content
                    if content:
                        chars += len(content)
                if update.usage is not None:
                    tokens = update.usage.completion_tokens
        return chars, tokens

    async def close(self) -> None:
        await self._client.close()
        await self._session.close()
