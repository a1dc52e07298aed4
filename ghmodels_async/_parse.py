"""Typed parse of a chat completion: ``message.parsed`` and ``parsed_arguments``.

A completion becomes a :class:`ParsedChatCompletion` whose messages carry the content
decoded into the asked type (msgspec, straight from the text). A refusal leaves
``parsed`` at ``None``; ``finish_reason`` ``length`` or ``content_filter`` raise typed
errors carrying the completion; content that is not the type raises
``ContentDecodeError`` carrying the raw text. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import msgspec

from ._errors import ContentDecodeError, ContentFilterFinishReasonError, LengthFinishReasonError
from .types import ChatCompletion, ChatCompletionMessage, Choice

if TYPE_CHECKING:
    from ._schema import TypeCodec
    from .tools import FunctionTool

__all__ = [
    "ParsedChatCompletion",
    "ParsedChatCompletionMessage",
    "ParsedChoice",
    "check_finish_reason",
    "decode_tool_arguments",
    "parse_completion",
]

T = TypeVar("T")


class ParsedChatCompletionMessage(ChatCompletionMessage, Generic[T], dict=True, gc=True):
    """A ChatCompletionMessage plus ``parsed``: the content decoded into the asked type.

    ``parsed`` is not a wire field: the message can still be sent back as history.
    """

    @property
    def parsed(self) -> T | None:
        """The content as the asked type; ``None`` on a refusal or a tool-call turn."""
        value: T | None = self.__dict__.get("_parsed")
        return value


class ParsedChoice(Choice, Generic[T]):
    """A Choice whose message is a :class:`ParsedChatCompletionMessage`."""

    message: ParsedChatCompletionMessage[T] = msgspec.field(
        default_factory=ParsedChatCompletionMessage
    )


class ParsedChatCompletion(ChatCompletion, Generic[T]):
    """A ChatCompletion whose choices carry ``message.parsed``."""

    choices: list[ParsedChoice[T]] = msgspec.field(  # type: ignore[assignment]
        default_factory=list
    )


def check_finish_reason(completion: ChatCompletion) -> None:
    """Raise when a choice stopped on the token limit or the content filter."""
    for choice in completion.choices:
        reason = choice.finish_reason
        if reason == "length":
            usage = completion.usage
            used = f" after {usage.completion_tokens} completion tokens" if usage else ""
            raise LengthFinishReasonError(
                f"the answer was cut at the token limit{used} (finish_reason 'length'), so "
                "it cannot be parsed; raise max_tokens/max_completion_tokens",
                completion=completion,
            )
        if reason == "content_filter":
            raise ContentFilterFinishReasonError(
                "the content filter stopped the answer (finish_reason 'content_filter')",
                completion=completion,
            )


def decode_tool_arguments(
    message: ChatCompletionMessage,
    tools: Mapping[str, FunctionTool[Any, Any]],
    where: str,
    completion: ChatCompletion | None,
) -> None:
    """Set ``function.parsed_arguments`` on each call of a known tool; raise
    ContentDecodeError for arguments that do not match the tool's parameters."""
    for j, call in enumerate(message.tool_calls or ()):
        tool = tools.get(call.function.name)
        if tool is None:
            continue
        try:
            parsed = tool.decode_arguments(call.function.arguments)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ContentDecodeError(
                f"the arguments of the call to {tool.name!r} do not match its parameters: {exc}",
                raw=call.function.arguments,
                where=f"{where}.tool_calls[{j}].function.arguments",
                completion=completion,
            ) from None
        call.function.__dict__["_parsed_arguments"] = parsed


def _parsed_message(message: ChatCompletionMessage) -> ParsedChatCompletionMessage[Any]:
    if type(message) is ParsedChatCompletionMessage:
        return message
    return ParsedChatCompletionMessage(**msgspec.structs.asdict(message))


def parse_completion(
    completion: ChatCompletion,
    codec: TypeCodec[T] | None,
    tools: Mapping[str, FunctionTool[Any, Any]],
) -> ParsedChatCompletion[T]:
    """The completion with ``message.parsed`` (when ``codec`` is given) and tool-call
    ``parsed_arguments`` set; raises the finish-reason and decode errors."""
    check_finish_reason(completion)
    if codec is not None and not completion.choices:
        raise ContentDecodeError(
            "the answer has no choices, so there is nothing to parse",
            raw="",
            where="choices",
            completion=completion,
        )
    choices: list[ParsedChoice[T]] = []
    fields = msgspec.structs.asdict(completion)
    for i, choice in enumerate(completion.choices):
        message = _parsed_message(choice.message)
        where = f"choices[{i}].message"
        if codec is not None and message.content is None and message.refusal is None:
            if not message.tool_calls:  # a tool-call turn has no content to parse
                raise ContentDecodeError(
                    f"the answer has no content to parse (content is null, no refusal, no "
                    f"tool call; finish_reason {choice.finish_reason!r})",
                    raw="",
                    where=f"{where}.content",
                    completion=completion,
                )
        elif codec is not None and message.content is not None and message.refusal is None:
            try:
                message.__dict__["_parsed"] = codec.decode(message.content)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ContentDecodeError(
                    f"the answer does not match {getattr(codec.type, '__name__', codec.type)}: "
                    f"{exc}",
                    raw=message.content,
                    where=f"{where}.content",
                    completion=completion,
                ) from None
        if tools:
            decode_tool_arguments(message, tools, where, completion)
        choices.append(
            ParsedChoice(index=choice.index, message=message, finish_reason=choice.finish_reason)
        )
    fields["choices"] = choices
    parsed: ParsedChatCompletion[T] = ParsedChatCompletion(**fields)
    parsed.__dict__.update(completion.__dict__)  # the HTTP facts (.response)
    return parsed
