"""Raw aiohttp plus msgspec: encode the request dict, decode into small typed Structs.

This is about the least work a typed client can do: one ``Encoder``, one ``Decoder``
per type, SSE cut with ``bytes.split`` and each ``data:`` payload decoded once.
"""

from __future__ import annotations

import aiohttp
import msgspec
from yarl import URL

from benchmarks import payloads
from benchmarks.clients._base import Adapter
from benchmarks.clients.raw_aiohttp import HEADERS, new_session


class Message(msgspec.Struct):
    content: str | None = None


class Choice(msgspec.Struct):
    message: Message


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class Completion(msgspec.Struct):
    choices: list[Choice]
    usage: Usage | None = None


class Delta(msgspec.Struct):
    content: str | None = None


class ChunkChoice(msgspec.Struct):
    delta: Delta


class Chunk(msgspec.Struct):
    choices: list[ChunkChoice]
    usage: Usage | None = None


_encode = msgspec.json.Encoder().encode
_decode_completion = msgspec.json.Decoder(Completion).decode
_decode_chunk = msgspec.json.Decoder(Chunk).decode


class Client(Adapter):
    async def open(
        self, origin: str, flags: str, max_connections: int, patient: bool = False
    ) -> None:
        self._session: aiohttp.ClientSession = new_session(max_connections, patient)
        self._url = URL(f"{origin}{flags}/inference/chat/completions")

    async def chat(self) -> int:
        body = _encode(
            {
                "model": payloads.MODEL,
                "messages": payloads.MESSAGES,
                "temperature": payloads.TEMPERATURE,
                "max_tokens": payloads.MAX_TOKENS,
            }
        )
        async with self._session.post(self._url, data=body, headers=HEADERS) as resp:
            raw = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {raw[:200]!r}")
        content = _decode_completion(raw).choices[0].message.content
        return len(content or "")

    async def stream(self) -> tuple[int, int]:
        body = _encode(
            {
                "model": payloads.MODEL,
                "messages": payloads.MESSAGES,
                "temperature": payloads.TEMPERATURE,
                "max_tokens": payloads.MAX_TOKENS,
                "stream": True,
                "stream_options": {"include_usage": True},
            }
        )
        chars = tokens = 0
        tail = b""
        async with self._session.post(self._url, data=body, headers=HEADERS) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            async for block in resp.content.iter_any():
                events = (tail + block if tail else block).split(b"\n\n")
                tail = events.pop()
                for event in events:
                    if not event.startswith(b"data: "):
                        continue
                    data = event[6:]
                    if data == b"[DONE]":
                        return chars, tokens
                    chunk = _decode_chunk(data)
                    if chunk.choices:
                        content = chunk.choices[0].delta.content
                        if content:
                            chars += len(content)
                    if chunk.usage is not None:
                        tokens = chunk.usage.completion_tokens
        raise RuntimeError("stream ended without [DONE]")

    async def close(self) -> None:
        await self._session.close()
