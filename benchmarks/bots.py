"""CPU per call of typed tools and structured output: ghmodels_async vs openai-python.

Two measurements, each on identical payloads, both libraries in the same run:

* **encode**: the request of a ``parse`` call carrying 20 tools and a structured-output
  type as ``response_format``, turned into body bytes. Ours: what ``create``/``parse``
  do before I/O (``convert_typed_options`` + ``build_chat_body``) with 20
  ``@function_tool`` functions and a Struct. openai: what its ``chat.completions.parse``
  does before I/O (``validate_input_tools``, ``type_to_response_format_param``,
  ``maybe_transform`` to ``CompletionCreateParams``, ``openapi_dumps``) with 20
  ``openai.pydantic_function_tool`` tools (built once, as users do) and a pydantic model.
* **parse**: the answer bytes of a structured answer turned into the typed result.
  Ours: ``decode_body`` + ``parse_completion`` (``message.parsed`` a Struct). openai:
  ``json.loads`` + ``construct_type(ChatCompletion)`` (its default, non-strict response
  processing) + ``parse_chat_completion`` (``message.parsed`` a pydantic model).

HTTP is left out on purpose: it is the same for a plain ``create`` and measured by
``benchmarks/run.py``. Run: ``python -m benchmarks.bots [--calls N] [--rounds R]``
(needs the ``bench`` extra). Prints CPU microseconds per call (best round) and ratios.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any, Literal

import msgspec

N_TOOLS = 20
MESSAGES = [
    {"role": "system", "content": "You plan trips. Use the tools, answer as an Itinerary."},
    {"role": "user", "content": "Three days in Lisbon in May, mid budget, with a day trip."},
]
MODEL = "openai/gpt-4.1"


# --- the types, once as msgspec Structs and once as pydantic models -----------------------


class Stop(msgspec.Struct):
    """One place to visit."""

    name: str
    minutes: int
    kind: Literal["museum", "food", "walk", "view"]
    note: str | None = None


class Day(msgspec.Struct):
    """One day of the trip."""

    title: str
    stops: list[Stop]


class Itinerary(msgspec.Struct):
    """A trip plan."""

    city: str
    days: list[Day]
    budget_eur: int
    tips: list[str]


def _answer_payload() -> dict[str, Any]:
    stops = [
        {"name": f"Place {i}", "minutes": 30 + i, "kind": "food", "note": None} for i in range(5)
    ]
    days = [{"title": f"Day {d}", "stops": stops} for d in range(1, 4)]
    content = {"city": "Lisbon", "days": days, "budget_eur": 900, "tips": ["walk", "tram 28"]}
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1764165540,
        "model": "gpt-4.1-2025-04-14",
        "system_fingerprint": "fp_6f2eabb9a5",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "message": {
                    "role": "assistant",
                    "content": json.dumps(content, separators=(",", ":")),
                    "refusal": None,
                },
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 812, "completion_tokens": 240, "total_tokens": 1052},
    }


ANSWER = json.dumps(_answer_payload(), separators=(",", ":")).encode()


def _ours() -> tuple[Callable[[], bytes], Callable[[], Any]]:
    from ghmodels_async._parse import parse_completion
    from ghmodels_async._sansio import build_chat_body, decode_body
    from ghmodels_async.tools import convert_typed_options, function_tool, output_codec
    from ghmodels_async.types import ChatCompletion

    tools = []
    for i in range(N_TOOLS):

        def lookup(city: str, day: int, kind: Literal["museum", "food", "walk"] = "walk") -> str:
            """Look up places of one kind in a city for a day."""
            return city

        lookup.__name__ = f"lookup_{i}"
        tools.append(function_tool(lookup))

    def encode() -> bytes:
        response_format, tool_params = convert_typed_options(Itinerary, tools)
        return build_chat_body(
            {
                "model": MODEL,
                "messages": MESSAGES,
                "response_format": response_format,
                "tools": tool_params,
            }
        )

    decoder = msgspec.json.Decoder(ChatCompletion)

    def parse() -> Any:
        completion = decode_body(decoder, ANSWER, "chat completion")
        parsed = parse_completion(completion, output_codec(Itinerary), {})
        return parsed.choices[0].message.parsed

    return encode, parse


def _openai() -> tuple[Callable[[], bytes], Callable[[], Any], Callable[[], bytes]]:
    import openai
    import pydantic
    from openai._models import construct_type
    from openai._utils import maybe_transform
    from openai._utils._json import openapi_dumps
    from openai.lib._parsing._completions import (
        parse_chat_completion,
        type_to_response_format_param,
        validate_input_tools,
    )
    from openai.types.chat import ChatCompletion, completion_create_params

    class PStop(pydantic.BaseModel):
        """One place to visit."""

        name: str
        minutes: int
        kind: Literal["museum", "food", "walk", "view"]
        note: str | None = None

    class PDay(pydantic.BaseModel):
        """One day of the trip."""

        title: str
        stops: list[PStop]

    class PItinerary(pydantic.BaseModel):
        """A trip plan."""

        city: str
        days: list[PDay]
        budget_eur: int
        tips: list[str]

    tools = []
    for i in range(N_TOOLS):
        model = pydantic.create_model(
            f"lookup_{i}",
            __doc__="Look up places of one kind in a city for a day.",
            city=(str, ...),
            day=(int, ...),
            kind=(Literal["museum", "food", "walk"], "walk"),
        )
        tools.append(openai.pydantic_function_tool(model))

    def encode() -> bytes:
        validate_input_tools(tools)
        body = maybe_transform(
            {
                "messages": MESSAGES,
                "model": MODEL,
                "response_format": type_to_response_format_param(PItinerary),
                "tools": tools,
            },
            completion_create_params.CompletionCreateParamsNonStreaming,
        )
        return openapi_dumps(body)

    prebuilt_format = type_to_response_format_param(PItinerary)

    def encode_prebuilt() -> bytes:
        """The same, with the schema built once outside the call (not what parse() does:
        shown to separate pydantic's schema generation from the rest)."""
        validate_input_tools(tools)
        body = maybe_transform(
            {
                "messages": MESSAGES,
                "model": MODEL,
                "response_format": prebuilt_format,
                "tools": tools,
            },
            completion_create_params.CompletionCreateParamsNonStreaming,
        )
        return openapi_dumps(body)

    def parse() -> Any:
        completion = construct_type(type_=ChatCompletion, value=json.loads(ANSWER))
        parsed = parse_chat_completion(
            response_format=PItinerary, chat_completion=completion, input_tools=tools
        )
        return parsed.choices[0].message.parsed

    return encode, parse, encode_prebuilt


def _cpu_per_call(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    for _ in range(min(200, calls)):
        fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            fn()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table; exit 1 only if an answer is wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    ours_encode, ours_parse = _ours()
    theirs_encode, theirs_parse, theirs_encode_prebuilt = _openai()
    # same request and same answer on both sides
    a, b = json.loads(ours_encode()), json.loads(theirs_encode())
    assert len(a["tools"]) == len(b["tools"]) == N_TOOLS
    assert a["response_format"]["type"] == b["response_format"]["type"] == "json_schema"
    mine, theirs = ours_parse(), theirs_parse()
    if msgspec.to_builtins(mine) != theirs.model_dump():
        print("the two parses disagree")
        return 1
    print(f"request: {len(a['tools'])} tools + json_schema ({len(ours_encode())} B ours, "
          f"{len(theirs_encode())} B openai); answer: {len(ANSWER)} B")  # fmt: skip
    print(f"{'what':<8} {'ghmodels_async µs':>18} {'openai µs':>10} {'ratio':>7}")
    for what, mine_fn, theirs_fn in (
        ("encode", ours_encode, theirs_encode),
        ("parse", ours_parse, theirs_parse),
        ("encode*", ours_encode, theirs_encode_prebuilt),
    ):
        ours_us = _cpu_per_call(mine_fn, args.calls, args.rounds)
        theirs_us = _cpu_per_call(theirs_fn, max(1, args.calls // 4), args.rounds)
        print(f"{what:<8} {ours_us:>18.1f} {theirs_us:>10.1f} {ours_us / theirs_us:>7.3f}")
    print("encode*: openai with its response_format built once outside the call (its parse()")
    print("rebuilds the pydantic schema on every call); ours is the same encode as above.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
