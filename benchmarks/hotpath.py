"""The hot path of this library, without any network, against hand-written msgspec.

    python -m benchmarks.hotpath [--quick]

Per operation, this library's code next to what a minimal hand-written msgspec client
does for the same job (local Structs in ``_baseline_structs.py``), timed in the same
run; the ratio is the figure to read:

* ``build+encode request``: the caller's plain dicts (20 messages, 5 tools with
  JSON-schema parameters, 8 options) validated and encoded (``_sansio.build_chat_body``
  against ``msgspec.convert`` + ``Encoder.encode``);
* ``decode completion``: a non-streaming answer with two tool calls and usage, bytes to
  typed object, reading content, every tool call's arguments and usage;
* ``per chunk``: one SSE event of a stream, bytes to the typed chunk's
  ``delta.content`` (``SSEDecoder.feed`` + the stream's chunk decoder, against
  ``bytes.split`` + a typed decode);
* ``accumulate chunk``: ``StreamAccumulator.add`` of one chunk (no baseline).

Figures are the minimum over rounds of the median of ``timeit`` repeats, in ns per
operation. Whole calls through the client (HTTP included) are measured by
``benchmarks.run`` (CPU time) and ``benchmarks.instructions`` (instruction counts).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from typing import Any

import msgspec

from benchmarks import _baseline_structs as base
from ghmodels_async import StreamAccumulator
from ghmodels_async._sansio import build_chat_body
from ghmodels_async._sse import SSEDecoder
from ghmodels_async.client import _completion_decoder
from ghmodels_async.types import ChatCompletionChunk

# --- inputs ----------------------------------------------------------------------------

_LOREM = (
    "The quarterly report shows revenue growth in three regions, a flat fourth, and "
    "rising support costs; summarise the drivers and list what to check next week."
)


def _tool(
    name: str, description: str, properties: dict[str, Any], required: list[str]
) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": required,
                "additionalProperties": False,
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _tool(
        "get_weather",
        "Current weather for a city.",
        {
            "city": {"type": "string", "description": "City name"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        ["city"],
    ),
    _tool(
        "search_documents",
        "Full-text search over the knowledge base.",
        {
            "query": {"type": "string"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 50},
            "filters": {
                "type": "object",
                "properties": {
                    "author": {"type": "string"},
                    "after": {"type": "string", "format": "date"},
                    "tags": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
        ["query"],
    ),
    _tool(
        "create_ticket",
        "Open a support ticket.",
        {
            "title": {"type": "string", "maxLength": 120},
            "body": {"type": "string"},
            "priority": {"type": "string", "enum": ["low", "normal", "high", "urgent"]},
            "assignees": {"type": "array", "items": {"type": "string"}, "maxItems": 5},
        },
        ["title", "body"],
    ),
    _tool(
        "convert_currency",
        "Convert an amount between currencies at today's rate.",
        {
            "amount": {"type": "number"},
            "from": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "to": {"type": "string", "pattern": "^[A-Z]{3}$"},
        },
        ["amount", "from", "to"],
    ),
    _tool(
        "schedule_meeting",
        "Put a meeting in the calendar.",
        {
            "subject": {"type": "string"},
            "start": {"type": "string", "format": "date-time"},
            "duration_minutes": {"type": "integer", "enum": [15, 30, 45, 60, 90]},
            "attendees": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"email": {"type": "string"}, "optional": {"type": "boolean"}},
                    "required": ["email"],
                },
            },
        },
        ["subject", "start"],
    ),
]


def _messages() -> list[dict[str, Any]]:
    msgs: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful analyst."}]
    for i in range(7):
        msgs.append({"role": "user", "content": f"Question {i}: {_LOREM}"})
        if i % 2:
            msgs.append({"role": "assistant", "content": f"Answer {i}: {_LOREM}"})
            continue
        call_id = f"call_{i:02d}abcdefghijklmnop"
        msgs.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": "search_documents",
                            "arguments": json.dumps({"query": f"report {i}", "limit": 5}),
                        },
                    }
                ],
            }
        )
        msgs.append({"role": "tool", "tool_call_id": call_id, "content": f"Result {i}: {_LOREM}"})
    msgs.append({"role": "user", "content": "Now put it together in one paragraph."})
    return msgs


MESSAGES = _messages()
assert len(MESSAGES) == 20, len(MESSAGES)

OPTIONS: dict[str, Any] = {
    "model": "openai/gpt-4.1",
    "temperature": 0.3,
    "top_p": 0.9,
    "max_tokens": 1024,
    "seed": 42,
    "stop": ["\n\n###"],
    "presence_penalty": 0.1,
    "tool_choice": "auto",
}
REQUEST: dict[str, Any] = {**OPTIONS, "messages": MESSAGES, "tools": TOOLS}

COMPLETION = json.dumps(
    {
        "id": "chatcmpl-BxQ4r8kVb2mZ7nL0pW3sT6yH9cJaE",
        "object": "chat.completion",
        "created": 1764165540,
        "model": "gpt-4.1-2025-04-14",
        "system_fingerprint": "fp_6f2eabb9a5",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "logprobs": None,
                "message": {
                    "role": "assistant",
                    "content": "I'll look up the figures and the weather first.",
                    "refusal": None,
                    "annotations": [],
                    "tool_calls": [
                        {
                            "id": "call_Xb7YpQ2sL0aVmN4k",
                            "type": "function",
                            "function": {
                                "name": "search_documents",
                                "arguments": '{"query":"quarterly revenue by region","limit":10}',
                            },
                        },
                        {
                            "id": "call_R3tUv8wZ1cDeF6gH",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": '{"city":"Zürich","unit":"celsius"}',
                            },
                        },
                    ],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 1287,
            "completion_tokens": 64,
            "total_tokens": 1351,
            "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        },
    },
    ensure_ascii=False,
).encode()

CHUNK = (
    b'{"id":"chatcmpl-BxQ4r8kVb2mZ7nL0pW3sT6yH9cJaE","object":"chat.completion.chunk",'
    b'"created":1764165540,"model":"gpt-4.1-2025-04-14","system_fingerprint":"fp_6f2eabb9a5",'
    b'"choices":[{"index":0,"delta":{"content":" revenue"},"finish_reason":null,'
    b'"logprobs":null}],"usage":null}'
)

# What reading the decoded objects must give, for every codec.
EXPECT_COMPLETION = (
    "I'll look up the figures and the weather first.",
    '{"query":"quarterly revenue by region","limit":10}{"city":"Zürich","unit":"celsius"}',
    1351,
)
EXPECT_CHUNK = " revenue"


# --- operations ------------------------------------------------------------------------

EVENT = b"data: " + CHUNK + b"\n\n"
_encoder = msgspec.json.Encoder()
_base_completion = msgspec.json.Decoder(base.Completion).decode
_base_chunk = msgspec.json.Decoder(base.Chunk).decode
_chunk_decoder = msgspec.json.Decoder(ChatCompletionChunk).decode
_sse = SSEDecoder()
_accumulator = StreamAccumulator()
_decoded_chunk = _chunk_decoder(CHUNK)


def _read_completion(completion: Any) -> tuple[str | None, str, int]:
    message = completion.choices[0].message
    arguments = "".join(call.function.arguments for call in message.tool_calls or ())
    return message.content, arguments, completion.usage.total_tokens


def ours_build() -> bytes:
    return build_chat_body(dict(REQUEST))


def base_build() -> bytes:
    return _encoder.encode(msgspec.convert(REQUEST, base.Request))


def ours_completion() -> tuple[str | None, str, int]:
    return _read_completion(_completion_decoder.decode(COMPLETION))


def base_completion() -> tuple[str | None, str, int]:
    return _read_completion(_base_completion(COMPLETION))


def ours_chunk() -> str | None:
    [data] = _sse.feed(EVENT)
    return _chunk_decoder(data).choices[0].delta.content


def base_chunk() -> str | None:
    data = EVENT.split(b"\n\n")[0][6:]
    return _base_chunk(data).choices[0].delta.content


def ours_accumulate() -> None:
    _accumulator.add(_decoded_chunk)


# (operation, this library, the hand-written baseline or None)
OPERATIONS: list[tuple[str, Callable[[], object], Callable[[], object] | None]] = [
    ("build+encode request", ours_build, base_build),
    ("decode completion", ours_completion, base_completion),
    ("per chunk (SSE + decode)", ours_chunk, base_chunk),
    ("accumulate chunk", ours_accumulate, None),
]


def check() -> None:
    """Both sides must do the same job: same wire JSON, same values read."""
    if json.loads(ours_build()) != json.loads(base_build()):
        raise AssertionError("the request bodies differ")
    if ours_completion() != EXPECT_COMPLETION or base_completion() != EXPECT_COMPLETION:
        raise AssertionError("a completion was read wrongly")
    if ours_chunk() != EXPECT_CHUNK or base_chunk() != EXPECT_CHUNK:
        raise AssertionError("a chunk was read wrongly")


def _ns_per_op(fn: Callable[[], object], rounds: int, repeat: int, target_s: float) -> float:
    timer = timeit.Timer(fn)
    number, took = timer.autorange()
    number = max(1, int(number * target_s / max(took, 1e-9)))
    return min(
        statistics.median(timer.repeat(repeat=repeat, number=number)) / number * 1e9
        for _ in range(rounds)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hotpath", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (~5 s)")
    parser.add_argument("--rounds", type=int, help="rounds (default 7, quick 2)")
    parser.add_argument("--repeat", type=int, default=5, help="timeit repeats per round")
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 7)
    target_s = 0.01 if args.quick else 0.02
    check()
    print(
        f"request: {len(MESSAGES)} messages, {len(TOOLS)} tools, {len(ours_build())} bytes; "
        f"completion {len(COMPLETION)} bytes; chunk {len(CHUNK)} bytes; "
        f"min over {rounds} rounds of the median of {args.repeat} repeats\n"
    )
    print("| operation | ghmodels_async ns | hand-written msgspec ns | ratio |")
    print("|---|---|---|---|")
    for name, ours, baseline in OPERATIONS:
        mine = _ns_per_op(ours, rounds, args.repeat, target_s)
        if baseline is None:
            print(f"| {name} | {mine:,.0f} | - | - |")
            continue
        theirs = _ns_per_op(baseline, rounds, args.repeat, target_s)
        print(f"| {name} | {mine:,.0f} | {theirs:,.0f} | {mine / theirs:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
