"""The floor: aiohttp posting prebuilt bytes with prebuilt headers, reading raw bytes.

Nothing is encoded or decoded; a stream is cut into events on ``b"\\n\\n"`` and
counted. Whatever a real client does on top of this is its overhead.
"""

from __future__ import annotations

import json

import aiohttp
from yarl import URL

from benchmarks import payloads
from benchmarks.clients._base import PATIENT_S, Adapter

_REQUEST = {
    "model": payloads.MODEL,
    "messages": payloads.MESSAGES,
    "temperature": payloads.TEMPERATURE,
    "max_tokens": payloads.MAX_TOKENS,
}
BODY = json.dumps(_REQUEST).encode()
STREAM_BODY = json.dumps(
    {**_REQUEST, "stream": True, "stream_options": {"include_usage": True}}
).encode()
HEADERS = {
    "Authorization": f"Bearer {payloads.TOKEN}",
    "Content-Type": "application/json",
    "Accept": "application/json",
}


def new_session(max_connections: int, patient: bool = False) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(total=PATIENT_S) if patient else aiohttp.ClientTimeout()
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=max_connections), timeout=timeout
    )


class Client(Adapter):
    floor = True

    async def open(
        self, origin: str, flags: str, max_connections: int, patient: bool = False
    ) -> None:
        self._session = new_session(max_connections, patient)
        self._url = URL(f"{origin}{flags}/inference/chat/completions")

    async def chat(self) -> int:
        async with self._session.post(self._url, data=BODY, headers=HEADERS) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}: {body[:200]!r}")
        return len(body)

    async def stream(self) -> tuple[int, int]:
        events = size = 0
        tail = b""
        async with self._session.post(self._url, data=STREAM_BODY, headers=HEADERS) as resp:
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            async for block in resp.content.iter_any():
                size += len(block)
                parts = (tail + block if tail else block).split(b"\n\n")
                tail = parts.pop()
                events += len(parts)
        return events, size

    async def close(self) -> None:
        await self._session.close()
