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
    __slots__ = (
        "content", "current", "finish_reason", "reasoning", "refusal", "role", "tool_calls",
    )  # fmt: skip

    def __init__(self) -> None:
        self.role = "assistant"
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.refusal: list[str] = []
        self.finish_reason: str | None = None
        # keyed by (index, n): n > 0 when a server numbers several calls with one index
        self.tool_calls: dict[tuple[int, int], _ToolCallParts] = {}
        self.current: dict[int, tuple[int, int]] = {}  # index -> the call it adds to now

    def tool_call(self, index: int, call_id: str | None, name: str | None) -> _ToolCallParts:
        """The call a fragment with ``index`` adds to. A fragment naming a function, with
        an id other than the one its index had, starts a new call (servers that send
        every parallel call whole at index 0); any other fragment goes on with the last
        call of its index (a server that sends a fresh id with every fragment too)."""
        key = self.current.get(index)
        if key is not None:
            call = self.tool_calls[key]
            if not (name and call.name and call_id and call.id and call_id != call.id):
                return call
            key = (index, key[1] + 1)
        else:
            key = (index, 0)
        call = self.tool_calls[key] = _ToolCallParts()
        self.current[index] = key
        return call


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
                    function = fragment.function
                    call = parts.tool_call(
                        fragment.index, fragment.id, function.name if function else None
                    )
                    if fragment.id and not call.id:  # the id the call was announced with
                        call.id = fragment.id
                    if fragment.type:
                        call.type = fragment.type
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
