"""Micro-benchmark of the JSON work of one chat call, without any network.

    python -m benchmarks.micro [--quick] [--json out.json]

Operations (same inputs for every codec):

* ``encode``: a prebuilt request object (Struct / pydantic model / dict) to bytes;
* ``build+encode``: the caller's plain dicts (20 messages, 5 tools with JSON-schema
  parameters, several options) validated into the request type, then encoded;
* ``decode completion``: a non-streaming answer with two tool calls and usage, from
  bytes to the typed object, reading the content and every tool call's arguments;
* ``decode chunk``: one streamed ``chat.completion.chunk``, reading ``delta.content``.

Codecs: ``msgspec`` (small local Structs, ``_micro_msgspec.py``), ``ghmodels_async``
(its ``types`` and ``_sansio.encode_chat_body``/``build_chat_body``, when importable),
``pydantic`` v2 (``_micro_pydantic.py``; ``model_validate_json`` / ``model_dump_json``),
``json`` (stdlib ``dumps``/``loads`` into dicts, no validation).
Each figure is the minimum over rounds of the median of ``timeit`` repeats, in ns per
operation; ratios are against ``msgspec`` in the same run.

To measure the client's own code instead of the local Structs, change ``CODECS`` (one
place, at the bottom of the codec section).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# --- codecs ----------------------------------------------------------------------------


@dataclass
class Codec:
    name: str
    encode: Callable[[Any], bytes]  # prebuilt request object -> bytes
    prebuilt: Any  # the request object ``encode`` is timed on
    build_encode: Callable[[dict[str, Any]], bytes]  # plain dicts -> validated -> bytes
    read_completion: Callable[[bytes], tuple[str | None, str, int]]
    read_chunk: Callable[[bytes], str | None]


def msgspec_local() -> Codec:
    """Small local msgspec Structs, the idioms of DESIGN.md (one Encoder, typed Decoders)."""
    import msgspec

    from benchmarks import _micro_msgspec as m

    encoder = msgspec.json.Encoder()
    return _msgspec_codec("msgspec", encoder.encode, m.Request, m.Completion, m.Chunk, None)


def ghmodels_async_codec() -> Codec | None:
    """ghmodels_async's own types and request encoder, if the package is importable."""
    try:
        import msgspec

        from ghmodels_async import _sansio, types
    except ImportError:
        return None
    build = getattr(_sansio, "encode_chat_body", None) or getattr(_sansio, "build_chat_body", None)
    encoder = msgspec.json.Encoder()
    return _msgspec_codec(
        "ghmodels_async",
        encoder.encode,
        types.ChatCompletionRequest,
        types.ChatCompletion,
        types.ChatCompletionChunk,
        None if build is None else lambda d: build(d),
    )


def _msgspec_codec(
    name: str,
    encode: Callable[[Any], bytes],
    request_t: Any,
    completion_t: Any,
    chunk_t: Any,
    build: Callable[[dict[str, Any]], bytes] | None,
) -> Codec:
    import msgspec

    dec_completion = msgspec.json.Decoder(completion_t).decode
    dec_chunk = msgspec.json.Decoder(chunk_t).decode

    def build_encode(d: dict[str, Any]) -> bytes:
        return encode(msgspec.convert(d, request_t))

    def read_completion(b: bytes) -> tuple[str | None, str, int]:
        c = dec_completion(b)
        m = c.choices[0].message
        args = "".join(t.function.arguments for t in m.tool_calls or ())
        return m.content, args, c.usage.total_tokens

    def read_chunk(b: bytes) -> str | None:
        c = dec_chunk(b)
        return c.choices[0].delta.content if c.choices else None

    return Codec(
        name,
        encode,
        msgspec.convert(REQUEST, request_t),
        build or build_encode,
        read_completion,
        read_chunk,
    )


def pydantic_v2() -> Codec | None:
    try:
        from benchmarks._micro_pydantic import Chunk, Completion, Request
    except ImportError:
        return None

    def encode(r: Request) -> bytes:
        return r.model_dump_json(exclude_none=True).encode()

    def read_completion(b: bytes) -> tuple[str | None, str, int]:
        c = Completion.model_validate_json(b)
        m = c.choices[0].message
        args = "".join(t.function.arguments for t in m.tool_calls or ())
        assert c.usage is not None
        return m.content, args, c.usage.total_tokens

    def read_chunk(b: bytes) -> str | None:
        c = Chunk.model_validate_json(b)
        return c.choices[0].delta.content if c.choices else None

    return Codec(
        "pydantic",
        encode,
        Request.model_validate(REQUEST),
        lambda d: encode(Request.model_validate(d)),
        read_completion,
        read_chunk,
    )


def stdlib_json() -> Codec:
    def encode(d: dict[str, Any]) -> bytes:
        return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()

    def read_completion(b: bytes) -> tuple[str | None, str, int]:
        c = json.loads(b)
        m = c["choices"][0]["message"]
        args = "".join(t["function"]["arguments"] for t in m.get("tool_calls") or ())
        return m.get("content"), args, c["usage"]["total_tokens"]

    def read_chunk(b: bytes) -> str | None:
        c = json.loads(b)
        return c["choices"][0]["delta"].get("content") if c["choices"] else None

    return Codec(
        "json",
        encode,
        REQUEST,
        lambda d: encode({k: v for k, v in d.items() if v is not None}),
        read_completion,
        read_chunk,
    )


# The one place to change what is measured. The first codec is the ratio baseline.
CODECS: list[Callable[[], Codec | None]] = [
    msgspec_local,
    ghmodels_async_codec,
    pydantic_v2,
    stdlib_json,
]
BASELINE = "msgspec"


# --- timing ----------------------------------------------------------------------------


def _without_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _without_none(v) for k, v in x.items() if v is not None}
    if isinstance(x, list):
        return [_without_none(v) for v in x]
    return x


def check(codec: Codec) -> None:
    """Every codec must produce the same wire JSON (``null`` = absent) and read the same."""
    for what, body in (
        ("encode", codec.encode(codec.prebuilt)),
        ("build+encode", codec.build_encode(REQUEST)),
    ):
        if _without_none(json.loads(body)) != _without_none(REQUEST):
            raise AssertionError(f"{codec.name} {what}: wire JSON differs from the request")
    if codec.read_completion(COMPLETION) != EXPECT_COMPLETION:
        raise AssertionError(f"{codec.name}: wrong completion {codec.read_completion(COMPLETION)}")
    if codec.read_chunk(CHUNK) != EXPECT_CHUNK:
        raise AssertionError(f"{codec.name}: wrong chunk {codec.read_chunk(CHUNK)!r}")


def ops(codec: Codec) -> dict[str, Callable[[], object]]:
    prebuilt, encode, build, rc, rk = (
        codec.prebuilt,
        codec.encode,
        codec.build_encode,
        codec.read_completion,
        codec.read_chunk,
    )
    return {
        "encode request": lambda: encode(prebuilt),
        "build+encode request": lambda: build(REQUEST),
        "decode completion": lambda: rc(COMPLETION),
        "decode chunk": lambda: rk(CHUNK),
    }


def measure(
    codecs: list[Codec], rounds: int, repeat: int, target_s: float
) -> dict[str, dict[str, float]]:
    """ns/op per (op, codec): min over rounds of the median of ``repeat`` timeit runs."""
    timers = {c.name: {op: timeit.Timer(fn) for op, fn in ops(c).items()} for c in codecs}
    numbers: dict[tuple[str, str], int] = {}
    for cname, by_op in timers.items():
        for op, t in by_op.items():
            n, took = t.autorange()  # n such that one run takes >= 0.2 s
            numbers[cname, op] = max(1, int(n * target_s / max(took, 1e-9)))
    medians: dict[str, dict[str, list[float]]] = {
        op: {c.name: [] for c in codecs} for op in ops(codecs[0])
    }
    for _ in range(rounds):
        for cname, by_op in timers.items():  # interleaved so drift hits all codecs
            for op, t in by_op.items():
                n = numbers[cname, op]
                runs = t.repeat(repeat=repeat, number=n)
                medians[op][cname].append(statistics.median(runs) / n * 1e9)
    return {op: {c: min(v) for c, v in per.items()} for op, per in medians.items()}


def render(results: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(results.values())))
    head = ["operation", *(f"{n} ns" for n in names), *(f"{n} \u00d7{BASELINE}" for n in names[1:])]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op, per in results.items():
        base = per[BASELINE]
        cells = [
            op,
            *(f"{per[n]:,.0f}" for n in names),
            *(f"{per[n] / base:.2f}" for n in names[1:]),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.micro", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter rounds (~15 s)")
    ap.add_argument("--rounds", type=int, help="rounds (default 9, quick 2)")
    ap.add_argument("--repeat", type=int, default=5, help="timeit repeats per round")
    ap.add_argument("--json", type=Path, help="write the figures to this file")
    args = ap.parse_args(argv)
    rounds = args.rounds or (2 if args.quick else 9)
    target_s = 0.01 if args.quick else 0.02

    codecs = [c for c in (factory() for factory in CODECS) if c is not None]
    if not codecs or codecs[0].name != BASELINE:
        print(f"the baseline codec {BASELINE!r} is not available", file=sys.stderr)
        return 1
    for codec in codecs:
        check(codec)
    missing = {"ghmodels_async", "pydantic", "json"} - {c.name for c in codecs}
    results = measure(codecs, rounds, args.repeat, target_s)
    print(
        f"request: {len(MESSAGES)} messages, {len(TOOLS)} tools, {len(REQUEST)} fields, "
        f"{len(codecs[0].encode(codecs[0].prebuilt))} bytes; completion {len(COMPLETION)} "
        f"bytes; chunk {len(CHUNK)} bytes; min over {rounds} rounds of median of "
        f"{args.repeat} repeats\n"
    )
    print(render(results))
    for name in sorted(missing):
        print(f"note: {name} not importable, not measured")
    if args.json:
        args.json.write_text(json.dumps({"ns_per_op": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
