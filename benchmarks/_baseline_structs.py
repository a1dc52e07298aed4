"""Hand-written msgspec Structs: the baseline of `benchmarks.hotpath` (DESIGN.md idioms)."""

from __future__ import annotations

from typing import Any

import msgspec


class Function(msgspec.Struct, omit_defaults=True):
    name: str
    arguments: str


class ToolCall(msgspec.Struct, omit_defaults=True):
    id: str
    type: str
    function: Function


class Message(msgspec.Struct, omit_defaults=True):
    role: str
    content: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


class FunctionDef(msgspec.Struct, omit_defaults=True):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(msgspec.Struct, omit_defaults=True):
    type: str
    function: FunctionDef


class Request(msgspec.Struct, omit_defaults=True):
    model: str
    messages: list[Message]
    tools: list[Tool] | None = None
    tool_choice: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    stream: bool | None = None


class Usage(msgspec.Struct):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: dict[str, int] | None = None
    completion_tokens_details: dict[str, int] | None = None


class AnswerMessage(msgspec.Struct):
    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(msgspec.Struct):
    index: int = 0
    message: AnswerMessage = msgspec.field(default_factory=AnswerMessage)
    finish_reason: str | None = None


class Completion(msgspec.Struct):
    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[Choice] = msgspec.field(default_factory=list)
    usage: Usage | None = None


class Delta(msgspec.Struct):
    role: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(msgspec.Struct):
    index: int = 0
    delta: Delta = msgspec.field(default_factory=Delta)
    finish_reason: str | None = None


class Chunk(msgspec.Struct):
    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[ChunkChoice] = msgspec.field(default_factory=list)
    usage: Usage | None = None
