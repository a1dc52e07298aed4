"""Folding streamed chunks back into one ChatCompletion (pure: no I/O)."""

from __future__ import annotations

from .types import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionMessage,
    Choice,
    FunctionCall,
    ToolCall,
    Usage,
)

__all__ = ["StreamAccumulator"]


class _ToolCallParts:
    __slots__ = ("arguments", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.type = "function"
        self.name = ""
        self.arguments: list[str] = []


class _ChoiceParts:
    __slots__ = ("content", "finish_reason", "reasoning", "refusal", "role", "tool_calls")

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, _ToolCallParts] = {}


class StreamAccumulator:
    """Folds chunks into a ChatCompletion: text joined, tool calls joined by index,
    finish_reason and usage kept. Feed it with :meth:`add` while you print the chunks."""

    def __init__(self) -> None:
        self._choices: dict[int, _ChoiceParts] = {}
        self.id = ""
        self.model = ""
        self.created = 0
        self.system_fingerprint: str | None = None
        self.usage: Usage | None = None

    def add(self, chunk: ChatCompletionChunk) -> None:
        """Take one chunk into account."""
        if chunk.id and not self.id:
            self.id = chunk.id
        if chunk.model and not self.model:
            self.model = chunk.model
        if chunk.created and not self.created:
            self.created = chunk.created
        if chunk.system_fingerprint:
            self.system_fingerprint = chunk.system_fingerprint
        if chunk.usage is not None:
            self.usage = chunk.usage
        for choice in chunk.choices:
            parts = self._choices.get(choice.index)
            if parts is None:
                parts = self._choices[choice.index] = _ChoiceParts()
            delta = choice.delta
            if delta.role:
                parts.role = delta.role
            if delta.content:
                parts.content.append(delta.content)
            if delta.refusal:
                parts.refusal.append(delta.refusal)
            thought = delta.reasoning_content or delta.reasoning
            if thought:
                parts.reasoning.append(thought)
            if delta.tool_calls:
                for fragment in delta.tool_calls:
                    call = parts.tool_calls.get(fragment.index)
                    if call is None:
                        call = parts.tool_calls[fragment.index] = _ToolCallParts()
                    if fragment.id:
                        call.id = fragment.id
                    if fragment.type:
                        call.type = fragment.type
                    function = fragment.function
                    if function is not None:
                        if function.name:
                            call.name += function.name
                        if function.arguments:
                            call.arguments.append(function.arguments)
            if choice.finish_reason is not None:
                parts.finish_reason = choice.finish_reason

    def completion(self) -> ChatCompletion:
        """The ChatCompletion the chunks so far add up to."""
        choices = []
        for index in sorted(self._choices):
            parts = self._choices[index]
            tool_calls = [
                ToolCall(
                    id=call.id,
                    type=call.type,
                    function=FunctionCall(name=call.name, arguments="".join(call.arguments)),
                )
                for _, call in sorted(parts.tool_calls.items())
            ]
            message = ChatCompletionMessage(
                role=parts.role,
                content="".join(parts.content) if parts.content else None,
                refusal="".join(parts.refusal) if parts.refusal else None,
                tool_calls=tool_calls or None,
                reasoning_content="".join(parts.reasoning) if parts.reasoning else None,
            )
            choices.append(Choice(index=index, message=message, finish_reason=parts.finish_reason))
        return ChatCompletion(
            id=self.id,
            created=self.created,
            model=self.model,
            system_fingerprint=self.system_fingerprint,
            choices=choices,
            usage=self.usage,
        )
