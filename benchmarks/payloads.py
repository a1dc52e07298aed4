"""The one request every client sends and the canned answers the server gives.

Shared by the canned server (to build its response bytes) and by the measuring
worker (to check every answer), so a client that returns the wrong content is caught.
Standard library only.
"""

from __future__ import annotations

import json
from typing import Any

# --- the request (identical for every client) ------------------------------------------

MODEL = "openai/gpt-4.1"
SYSTEM_PROMPT = (
    "You are a concise technical assistant. Answer in plain prose, no lists, and keep "
    "the answer under two hundred words."
)
USER_PROMPT = (
    "Explain in a short paragraph why an asyncio HTTP client should reuse one "
    "connection pool and one JSON encoder instead of creating them for every request."
)
TEMPERATURE = 0.2
MAX_TOKENS = 256
MESSAGES: list[dict[str, str]] = [
    {"role": "system", "content": SYSTEM_PROMPT},
    {"role": "user", "content": USER_PROMPT},
]
TOKEN = "bench-token"

# --- the answer ------------------------------------------------------------------------

SERVED_MODEL = "gpt-4.1-2025-04-14"
COMPLETION_ID = "chatcmpl-BxQ4r8kVb2mZ7nL0pW3sT6yH9cJaE"
CREATED = 1764165540
FINGERPRINT = "fp_6f2eabb9a5"
COMPLETION_TEXT = (
    "Reusing one connection pool lets the client keep TCP (and TLS) connections alive "
    "between requests, so each call skips the handshake round trips and the kernel work "
    "of opening sockets; under concurrency the pool also caps how many sockets are open "
    "at once, which protects both the process and the server. A single JSON encoder "
    "avoids rebuilding internal buffers and type caches on every call, and a decoder "
    "bound to a fixed response type can validate and build objects in one pass straight "
    "from the received bytes. Together they turn per-request setup cost — allocations, "
    "handshakes, lookups — into a one-time cost paid when the client starts, which "
    "matters when an application sends thousands of small requests: the time saved is "
    "pure overhead that the caller would otherwise pay again and again, with nothing "
    "gained in return. It also makes latency more predictable and memory use flatter."
)
PROMPT_TOKENS = 61
COMPLETION_TOKENS = 152

_FILTER_SAFE = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def usage(completion_tokens: int) -> dict[str, Any]:
    return {
        "completion_tokens": completion_tokens,
        "completion_tokens_details": {
            "accepted_prediction_tokens": 0,
            "audio_tokens": 0,
            "reasoning_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
        "prompt_tokens": PROMPT_TOKENS,
        "prompt_tokens_details": {"audio_tokens": 0, "cached_tokens": 0},
        "total_tokens": PROMPT_TOKENS + completion_tokens,
    }


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def completion_body() -> bytes:
    """A realistic non-streaming ``chat.completion`` (Azure-backed GitHub Models shape)."""
    return _dumps(
        {
            "choices": [
                {
                    "content_filter_results": _FILTER_SAFE,
                    "finish_reason": "stop",
                    "index": 0,
                    "logprobs": None,
                    "message": {
                        "annotations": [],
                        "content": COMPLETION_TEXT,
                        "refusal": None,
                        "role": "assistant",
                    },
                }
            ],
            "created": CREATED,
            "id": COMPLETION_ID,
            "model": SERVED_MODEL,
            "object": "chat.completion",
            "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": _FILTER_SAFE}],
            "system_fingerprint": FINGERPRINT,
            "usage": usage(COMPLETION_TOKENS),
        }
    )


def stream_pieces(chunks: int) -> list[str]:
    """The content of each content chunk: the answer's words, repeated as needed."""
    words = COMPLETION_TEXT.split(" ")
    pieces = [words[0]] + [" " + w for w in words[1:]]
    return [pieces[i % len(pieces)] for i in range(chunks)]


def _chunk(choices: list[dict[str, Any]], usage_: dict[str, Any] | None) -> bytes:
    return _dumps(
        {
            "id": COMPLETION_ID,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": SERVED_MODEL,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
            "usage": usage_,
        }
    )


def stream_payloads(chunks: int, include_usage: bool = True) -> list[bytes]:
    """The ``data:`` payloads of one stream: content chunks, finish, usage, ``[DONE]``."""
    out: list[bytes] = []
    for i, piece in enumerate(stream_pieces(chunks)):
        delta: dict[str, Any] = {"content": piece}
        if i == 0:
            delta = {"role": "assistant", "content": piece, "refusal": None}
        out.append(
            _chunk(
                [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}],
                None,
            )
        )
    out.append(_chunk([{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}], None))
    if include_usage:
        out.append(_chunk([], usage(chunks)))
    out.append(b"[DONE]")
    return out


# --- what a correct client must see ----------------------------------------------------

EXPECTED_CHAT_CHARS = len(COMPLETION_TEXT)


def expected_stream_chars(chunks: int) -> int:
    return sum(len(p) for p in stream_pieces(chunks))


def stream_event_count(chunks: int) -> int:
    """JSON chunks per stream (content chunks + finish + usage), ``[DONE]`` excluded."""
    return chunks + 2
