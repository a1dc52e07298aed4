"""Deterministic answers of the fake GitHub Models server: replies, usage, chunks, vectors."""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

import msgspec

from .judge import judge_verdict
from .validation import FakeChatRequest, FakeEmbeddingsRequest

__all__ = [
    "Answer",
    "Reply",
    "ReplySource",
    "ScriptRule",
    "ScriptedToolCall",
    "build_answer",
    "chunk_events",
    "completion_body",
    "count_tokens",
    "embedding_vector",
    "embeddings_body",
    "last_user_text",
    "schema_instance",
]

_WORD: Final = re.compile(r"\S+")
_PIECE_WORDS: Final = 3
_ARG_PIECE: Final = 8


def count_tokens(text: str) -> int:
    """The fake tokenizer: one token per whitespace-separated word."""
    return len(text.split())


@dataclass(frozen=True)
class ScriptedToolCall:
    """A tool call in a scripted reply; ``id`` defaults to ``call_<n>``."""

    name: str
    arguments: str = "{}"
    id: str | None = None


@dataclass(frozen=True)
class Reply:
    """A scripted answer. ``finish_reason=None`` derives it (``tool_calls``/``stop``/``length``).

    ``tool_calls`` takes :class:`ScriptedToolCall` objects or ``(name, arguments_json)`` pairs.
    """

    text: str | None = None
    tool_calls: Sequence[ScriptedToolCall | tuple[str, str]] = ()
    refusal: str | None = None
    finish_reason: str | None = None
    #: reasoning text, sent as ``reasoning_content`` (message and stream deltas, before
    #: the content), the way vLLM, llama.cpp and DeepSeek send it
    reasoning: str | None = None


#: What ``FakeServer.script`` accepts: a Reply, plain text, or a function of the JSON body.
ReplySource: TypeAlias = Reply | str | Callable[[dict[str, Any]], Reply | str]


@dataclass
class ScriptRule:
    """A registered reply; ``remaining`` counts down (None = forever), ``hits`` counts up."""

    reply: ReplySource
    model: str | None = None
    prompt_contains: str | None = None
    remaining: int | None = None
    hits: int = 0

    def matches(self, model: str, prompt: str) -> bool:
        """True if this rule answers a request for ``model`` whose last user text is ``prompt``."""
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.model is not None and self.model != model:
            return False
        return self.prompt_contains is None or self.prompt_contains in prompt

    def take(self, body: dict[str, Any]) -> Reply:
        """Consume one use of the rule and produce its reply."""
        self.hits += 1
        if self.remaining is not None:
            self.remaining -= 1
        reply = self.reply(body) if callable(self.reply) else self.reply
        return Reply(text=reply) if isinstance(reply, str) else reply


@dataclass
class Answer:
    """The final assistant message plus usage numbers."""

    content: str | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    refusal: str | None = None
    finish_reason: str = "stop"
    reasoning: str | None = None
    prompt_tokens: int = 1
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def usage(self) -> dict[str, Any]:
        """The ``usage`` object of the answer."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text"
        )
    return ""


def last_user_text(messages: Sequence[Mapping[str, Any]]) -> str:
    """Text of the last user message (or of the last message if no user spoke)."""
    for msg in reversed(messages):
        if msg.get("role") == "user":
            return _content_text(msg.get("content"))
    return _content_text(messages[-1].get("content")) if messages else ""


def prompt_tokens(messages: Sequence[Mapping[str, Any]]) -> int:
    """Words in every message's text and tool-call arguments, at least 1."""
    total = 0
    for msg in messages:
        total += count_tokens(_content_text(msg.get("content")))
        for call in msg.get("tool_calls") or ():
            total += count_tokens(call["function"]["arguments"])
    return max(1, total)


def _first_words(text: str, limit: int) -> str:
    """The prefix of ``text`` holding its first ``limit`` words (spacing kept)."""
    end = 0
    for i, match in enumerate(_WORD.finditer(text)):
        if i == limit:
            break
        end = match.end()
    return text[:end]


def schema_instance(schema: Any, root: Any = None, depth: int = 0) -> Any:
    """A minimal JSON value valid against ``schema`` (common JSON Schema keywords)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > 32:
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return schema_instance(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return schema_instance(schema[key][0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict):
                for key, value in part.items():
                    if key == "properties":
                        merged.setdefault("properties", {}).update(value)
                    elif key == "required":
                        merged["required"] = [*merged.get("required", []), *value]
                    else:
                        merged.setdefault(key, value)
        return schema_instance(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else None
    if kind == "object":
        props = schema.get("properties") or {}
        return {
            name: schema_instance(props.get(name, {}), root, depth + 1)
            for name in schema.get("required") or ()
        }
    if kind == "array":
        prefix = schema.get("prefixItems") or []
        items = [schema_instance(s, root, depth + 1) for s in prefix]
        need = int(schema.get("minItems", 0))
        while len(items) < need:
            items.append(schema_instance(schema.get("items", {}), root, depth + 1))
        return items
    if kind == "string":
        formats = {
            "date-time": "1970-01-01T00:00:00Z", "date": "1970-01-01", "time": "00:00:00Z",
            "email": "user@example.com", "uri": "https://example.com/",
            "uuid": "00000000-0000-0000-0000-000000000000",
        }  # fmt: skip
        if schema.get("format") in formats:
            return formats[schema["format"]]
        return "x" * int(schema.get("minLength", 0))
    if kind in ("integer", "number"):
        return _number_instance(schema, kind == "integer")
    if kind == "boolean":
        return False
    return None


def _number_instance(schema: Mapping[str, Any], integer: bool) -> int | float:
    value: float = 0
    low, high = schema.get("minimum"), schema.get("maximum")
    xlow, xhigh = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, (int, float)) and value < low:
        value = low
    if isinstance(xlow, (int, float)) and value <= xlow:
        value = math.floor(xlow) + 1 if integer else xlow + 0.5
    if isinstance(high, (int, float)) and value > high:
        value = high
    if isinstance(xhigh, (int, float)) and value >= xhigh:
        value = math.ceil(xhigh) - 1 if integer else xhigh - 0.5
    return math.ceil(value) if integer else value


def _default_reply(req: FakeChatRequest, prompt: str) -> Reply:
    choice = req.tool_choice
    if req.tools and (choice == "required" or isinstance(choice, dict)):
        name = choice["function"]["name"] if isinstance(choice, dict) else None
        tool = next(
            (t for t in req.tools if name is None or t["function"]["name"] == name), req.tools[0]
        )
        args = schema_instance(tool["function"].get("parameters", {"type": "object"}))
        if not isinstance(args, dict):
            args = {}
        return Reply(tool_calls=[ScriptedToolCall(tool["function"]["name"], _json(args))])
    fmt = (req.response_format or {}).get("type")
    if fmt == "json_schema":
        assert req.response_format is not None
        schema = req.response_format["json_schema"]["schema"]
        return Reply(text=_json(schema_instance(schema)))
    if fmt == "json_object":
        return Reply(text=_json({"echo": prompt}))
    verdict = judge_verdict(req.messages)  # an eval judge prompt: see testing/judge.py
    if verdict is not None:
        return Reply(text=verdict)
    return Reply(text=f"Echo: {prompt}")


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def build_answer(
    req: FakeChatRequest, rules: list[ScriptRule], body: dict[str, Any], reasoning: bool
) -> Answer:
    """Pick the first matching scripted reply (or the default) and shape the final answer."""
    prompt = last_user_text(req.messages)
    rule = next((r for r in rules if r.matches(req.model, prompt)), None)
    reply = rule.take(body) if rule is not None else _default_reply(req, prompt)
    text = reply.text
    finish = "stop"
    for stop in req.stop:
        if text is not None and stop and stop in text:
            text = text[: text.index(stop)]
    if text is not None and req.max_tokens is not None and count_tokens(text) > req.max_tokens:
        text, finish = _first_words(text, req.max_tokens), "length"
    calls: list[dict[str, Any]] = []
    for n, call in enumerate(reply.tool_calls):
        tc = ScriptedToolCall(*call) if isinstance(call, tuple) else call
        calls.append(
            {
                "id": tc.id or f"call_{n}",
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.arguments},
            }
        )
    if calls and finish != "length":
        finish = "tool_calls"
    effort = {"minimal": 4, "low": 8, "medium": 16, "high": 32}.get(
        req.reasoning_effort or "medium", 16
    )
    reasoning_tokens = effort if reasoning else 0
    completion = count_tokens(text or "") + count_tokens(reply.refusal or "")
    completion += sum(
        count_tokens(c["function"]["name"]) + count_tokens(c["function"]["arguments"])
        for c in calls
    )
    return Answer(
        content=text,
        tool_calls=calls,
        refusal=reply.refusal,
        finish_reason=reply.finish_reason or finish,
        reasoning=reply.reasoning,
        prompt_tokens=prompt_tokens(req.messages),
        completion_tokens=completion + reasoning_tokens,
        reasoning_tokens=reasoning_tokens,
    )


def _filter_results() -> dict[str, Any]:
    safe = {"filtered": False, "severity": "safe"}
    return {"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe}


def completion_body(
    answer: Answer, *, cid: str, created: int, model: str, fingerprint: str, quirks: bool
) -> dict[str, Any]:
    """The non-streaming ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": answer.content}
    if answer.tool_calls:
        message["tool_calls"] = answer.tool_calls
    if answer.refusal is not None:
        message["refusal"] = answer.refusal
    if answer.reasoning is not None:
        message["reasoning_content"] = answer.reasoning
    choice: dict[str, Any] = {"index": 0, "finish_reason": answer.finish_reason, "message": message}
    body: dict[str, Any] = {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": fingerprint,
        "choices": [choice],
        "usage": answer.usage(),
    }
    if quirks:
        choice["content_filter_results"] = _filter_results()
        choice["logprobs"] = None
        body["prompt_filter_results"] = [
            {"prompt_index": 0, "content_filter_results": _filter_results()}
        ]
    return body


def _pieces(text: str) -> list[str]:
    """Split ``text`` into pieces of a few words whose concatenation is ``text``."""
    bounds = [m.start() for m in _WORD.finditer(text)][_PIECE_WORDS::_PIECE_WORDS]
    starts = [0, *bounds]
    return [text[a:b] for a, b in zip(starts, [*bounds, len(text)], strict=True)] if text else []


def _arg_pieces(arguments: str) -> list[str]:
    size = max(1, min(_ARG_PIECE, (len(arguments) + 1) // 2))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)] or [""]


def chunk_events(
    answer: Answer,
    *,
    cid: str,
    created: int,
    model: str,
    fingerprint: str,
    include_usage: bool,
    quirks: bool,
) -> list[dict[str, Any]]:
    """Every ``chat.completion.chunk`` of a streamed answer, in order (``[DONE]`` excluded)."""

    def chunk(delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
        return {
            "id": cid,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "system_fingerprint": fingerprint,
            "choices": choices,
            "usage": None,
        }

    events: list[dict[str, Any]] = []
    if quirks:
        events.append(
            {
                "id": "", "object": "", "created": 0, "model": "", "choices": [],
                "prompt_filter_results": [
                    {"prompt_index": 0, "content_filter_results": _filter_results()}
                ],
            }
        )  # fmt: skip
    first = chunk({"role": "assistant", "content": "", "refusal": None})
    if quirks:
        del first["model"]
    events.append(first)
    if quirks:
        events.append(chunk({"content": None}))
    events.extend(chunk({"reasoning_content": p}) for p in _pieces(answer.reasoning or ""))
    events.extend(chunk({"content": piece}) for piece in _pieces(answer.content or ""))
    events.extend(chunk({"refusal": piece}) for piece in _pieces(answer.refusal or ""))
    for index, call in enumerate(answer.tool_calls):
        fn = call["function"]
        head = {"index": index, "id": call["id"], "type": "function"}
        events.append(
            chunk({"tool_calls": [{**head, "function": {"name": fn["name"], "arguments": ""}}]})
        )
        for piece in _arg_pieces(fn["arguments"]):
            events.append(
                chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            )
    events.append(chunk({}, answer.finish_reason))
    if quirks:
        tail = chunk(None)
        tail["choices"] = []
        events.append(tail)
    if include_usage:
        last = chunk(None)
        last["usage"] = answer.usage()
        events.append(last)
    return events


def embedding_vector(model: str, text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector (float32 values) derived from a hash of the text."""
    raw = b""
    counter = 0
    seed = f"{model}\0{text}".encode()
    while len(raw) < 4 * dimensions:
        raw += hashlib.sha256(seed + counter.to_bytes(4, "little")).digest()
        counter += 1
    ints = struct.unpack(f"<{dimensions}I", raw[: 4 * dimensions])
    values = [i / 2**31 - 1.0 for i in ints]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    packed = struct.pack(f"<{dimensions}f", *(v / norm for v in values))
    return list(struct.unpack(f"<{dimensions}f", packed))


def embeddings_body(req: FakeEmbeddingsRequest, dimensions: int) -> dict[str, Any]:
    """The embeddings answer: one vector per input, float list or base64 float32."""
    data = []
    for index, text in enumerate(req.inputs):
        vector = embedding_vector(req.model, text, dimensions)
        encoded: Any = vector
        if req.encoding_format == "base64":
            encoded = base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": encoded})
    tokens = sum(max(1, count_tokens(t)) for t in req.inputs)
    return {
        "object": "list",
        "data": data,
        "model": req.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
