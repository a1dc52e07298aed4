"""Typed wire objects: every request and response body of the API as a msgspec Struct.

Request Structs omit unset options (``omit_defaults``) and refuse unknown keys, so a
typo in a message dict is an error rather than a silently dropped field. Response
Structs give every field a default and ignore unknown ones, so an extra server field
or a missing ``model`` never breaks decoding. This module knows no URLs and no I/O.
"""

from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

from .contract import (
    MAX_STOP_SEQUENCES,
    PENALTY_MAX,
    PENALTY_MIN,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    TOP_P_MAX,
    TOP_P_MIN,
    EncodingFormat,
    ReasoningEffort,
)

if TYPE_CHECKING:
    from ._info import ResponseInfo

__all__ = [
    "AssistantMessage",
    "CatalogModel",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionRequest",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "ContentPart",
    "DeveloperMessage",
    "Embedding",
    "EmbeddingsRequest",
    "EmbeddingsResponse",
    "EmbeddingsUsage",
    "FunctionCall",
    "FunctionCallDelta",
    "FunctionDefinition",
    "ImageURL",
    "ImageURLPart",
    "JSONSchema",
    "Message",
    "ModelLimits",
    "NamedFunction",
    "NamedToolChoice",
    "PromptTokensDetails",
    "ResponseFormat",
    "ResponseFormatJSONObject",
    "ResponseFormatJSONSchema",
    "ResponseFormatText",
    "StreamOptions",
    "SystemMessage",
    "TextPart",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolMessage",
    "Usage",
    "UserMessage",
]

# ---------------------------------------------------------------------------
# Constrained scalars (checked by msgspec.convert before any network I/O)
# ---------------------------------------------------------------------------

ModelId = Annotated[
    str,
    Meta(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._:@+-]*(/[A-Za-z0-9_][A-Za-z0-9._:@+-]*)*\Z",
        max_length=256,
        description="{publisher}/{model_name}; no spaces, '..', '?', '#', '%' or backslashes",
    ),
]
FunctionName = Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}\Z")]
UnitInterval = Annotated[float, Meta(ge=TEMPERATURE_MIN, le=TEMPERATURE_MAX)]
TopP = Annotated[float, Meta(ge=TOP_P_MIN, le=TOP_P_MAX)]
Penalty = Annotated[float, Meta(ge=PENALTY_MIN, le=PENALTY_MAX)]
PositiveInt = Annotated[int, Meta(ge=1)]
NonEmptyStr = Annotated[str, Meta(min_length=1)]

# ---------------------------------------------------------------------------
# Request side
# ---------------------------------------------------------------------------


class _Param(Struct, omit_defaults=True, forbid_unknown_fields=True):
    """Base of request-side Structs: unset fields are not sent, unknown keys are refused."""


class TextPart(_Param, tag_field="type", tag="text"):
    """A text content part: ``{"type": "text", "text": ...}``."""

    text: str


class ImageURL(_Param):
    """An image reference: an http(s) URL or a ``data:`` URL, with optional detail level."""

    url: str
    detail: Literal["auto", "low", "high"] | None = None


class ImageURLPart(_Param, tag_field="type", tag="image_url"):
    """An image content part: ``{"type": "image_url", "image_url": {"url": ...}}``."""

    image_url: ImageURL


ContentPart = TextPart | ImageURLPart


class FunctionCall(Struct, dict=True):
    """The function a tool call invokes; ``arguments`` is a JSON string written by the model.

    Every field is always encoded: OpenAI-compatible servers require them in an assistant
    message, and msgspec's ``omit_defaults`` would drop a value *identical* to the default.
    """

    name: str = ""
    arguments: str = ""

    @property
    def parsed_arguments(self) -> Any:
        """The arguments decoded into the typed parameters of the ``function_tool`` of that
        name (set by ``parse`` and ``run_tools``); ``None`` otherwise. Never encoded."""
        return self.__dict__.get("_parsed_arguments")


class ToolCall(Struct):
    """One tool call, as returned by the model and as sent back in an assistant message.

    Always encoded whole (``"type": "function"`` included), like FunctionCall.
    """

    id: str = ""
    type: str = "function"
    function: FunctionCall = field(default_factory=FunctionCall)


class SystemMessage(_Param, tag_field="role", tag="system"):
    """Instructions for the model's behaviour."""

    content: str | list[TextPart]
    name: str | None = None


class DeveloperMessage(_Param, tag_field="role", tag="developer"):
    """Developer instructions (the newer name of the system role for reasoning models)."""

    content: str | list[TextPart]
    name: str | None = None


class UserMessage(_Param, tag_field="role", tag="user"):
    """A user turn: text, or a list of text and image parts."""

    content: str | list[ContentPart]
    name: str | None = None


class AssistantMessage(_Param, tag_field="role", tag="assistant"):
    """An earlier model turn, possibly carrying the tool calls it asked for."""

    content: str | list[TextPart] | None = None
    tool_calls: list[ToolCall] | None = None
    refusal: str | None = None
    name: str | None = None


class ToolMessage(_Param, tag_field="role", tag="tool"):
    """The result of a tool call, tied to it by ``tool_call_id``."""

    content: str | list[TextPart]
    tool_call_id: NonEmptyStr


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage


class FunctionDefinition(_Param):
    """A callable function: name, description and JSON-Schema parameters."""

    name: FunctionName
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Param, tag_field="type", tag="function"):
    """A tool the model may call (only functions exist)."""

    function: FunctionDefinition


class NamedFunction(_Param):
    """The function named by a forced tool choice."""

    name: FunctionName


class NamedToolChoice(_Param, tag_field="type", tag="function"):
    """``{"type": "function", "function": {"name": ...}}``: force one tool."""

    function: NamedFunction


ToolChoice = Literal["auto", "required", "none"] | NamedToolChoice


class ResponseFormatText(_Param, tag_field="type", tag="text"):
    """Plain text answers (the default)."""


class ResponseFormatJSONObject(_Param, tag_field="type", tag="json_object"):
    """Answers that are a JSON object."""


class JSONSchema(_Param):
    """A named JSON Schema the answer must follow."""

    name: FunctionName
    schema: dict[str, Any]
    strict: bool | None = None
    description: str | None = None


class ResponseFormatJSONSchema(_Param, tag_field="type", tag="json_schema"):
    """Structured output: answers that validate against ``json_schema.schema``."""

    json_schema: JSONSchema


ResponseFormat = ResponseFormatText | ResponseFormatJSONObject | ResponseFormatJSONSchema


class StreamOptions(_Param):
    """Streaming options; ``include_usage`` adds a final usage-only chunk."""

    include_usage: bool | None = None


class ChatCompletionRequest(_Param):
    """The body of ``POST .../chat/completions``, every documented parameter included."""

    model: ModelId
    messages: Annotated[list[Message], Meta(min_length=1)]
    frequency_penalty: Penalty | None = None
    presence_penalty: Penalty | None = None
    max_tokens: PositiveInt | None = None
    max_completion_tokens: PositiveInt | None = None
    modalities: list[Literal["text", "audio"]] | None = None
    reasoning_effort: ReasoningEffort | None = None
    response_format: ResponseFormat | None = None
    seed: Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)] | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    stop: str | Annotated[list[str], Meta(max_length=MAX_STOP_SEQUENCES)] | None = None
    temperature: UnitInterval | None = None
    top_p: TopP | None = None
    tool_choice: ToolChoice | None = None
    tools: list[Tool] | None = None


class EmbeddingsRequest(_Param):
    """The body of ``POST .../embeddings``."""

    model: ModelId
    input: NonEmptyStr | Annotated[list[NonEmptyStr], Meta(min_length=1)]
    encoding_format: EncodingFormat | None = None
    dimensions: PositiveInt | None = None
    user: str | None = None


# ---------------------------------------------------------------------------
# Response side: every field defaulted, unknown fields ignored
# ---------------------------------------------------------------------------


class _Reply(Struct, omit_defaults=True, gc=False):
    """Base of response-side Structs."""


class PromptTokensDetails(_Reply):
    """Breakdown of prompt tokens."""

    cached_tokens: int | None = None
    audio_tokens: int | None = None


class CompletionTokensDetails(_Reply):
    """Breakdown of completion tokens."""

    reasoning_tokens: int | None = None
    audio_tokens: int | None = None
    accepted_prediction_tokens: int | None = None
    rejected_prediction_tokens: int | None = None


class Usage(_Reply):
    """Token accounting for one call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None


class ChatCompletionMessage(_Reply, omit_defaults=False):
    """The model's message; it can be appended to ``messages`` for the next turn.

    Not ``omit_defaults``: ``role`` must survive ``to_builtins`` to tag the message.
    """

    role: str = "assistant"
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None

    def __post_init__(self) -> None:
        # vLLM, llama.cpp and DeepSeek send ``reasoning_content``; Ollama ``reasoning``:
        # either name fills both, so code reading one works with every server.
        # (nothing stored when both are None: the common answer, decoded on every call)
        if self.reasoning_content is None:
            if self.reasoning is not None:
                self.reasoning_content = self.reasoning
        elif self.reasoning is None:
            self.reasoning = self.reasoning_content


class Choice(_Reply):
    """One answer of a non-streaming completion."""

    index: int = 0
    message: ChatCompletionMessage = field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None


class _Response(_Reply, dict=True, gc=True):
    """A top-level response; ``dict=True`` lets the client attach the HTTP response facts."""

    @property
    def response(self) -> "ResponseInfo | None":
        """The HTTP facts (headers, request id, rate limits) of the answer, when it came
        from the client; ``None`` for an object built or decoded by hand."""
        info: ResponseInfo | None = self.__dict__.get("_response_info")
        return info


class ChatCompletion(_Response):
    """A non-streaming chat completion."""

    id: str = ""
    object: str = "chat.completion"
    created: int = 0
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[Choice] = field(default_factory=list)
    usage: Usage | None = None


class FunctionCallDelta(_Reply):
    """A fragment of a streamed function call; ``arguments`` pieces are joined in order."""

    name: str | None = None
    arguments: str | None = None


class ToolCallDelta(_Reply):
    """A fragment of a streamed tool call, identified by ``index``."""

    index: int = 0
    id: str | None = None
    type: str | None = None
    function: FunctionCallDelta | None = None


class ChoiceDelta(_Reply):
    """What one chunk adds to a choice."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCallDelta] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None  # Ollama's name for reasoning_content


class ChunkChoice(_Reply):
    """One choice of a stream chunk."""

    index: int = 0
    delta: ChoiceDelta = field(default_factory=ChoiceDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Reply):
    """One streamed event; the include_usage chunk has ``choices == []`` and ``usage`` set."""

    id: str = ""
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str = ""
    system_fingerprint: str | None = None
    choices: list[ChunkChoice] = field(default_factory=list)
    usage: Usage | None = None


class ModelLimits(_Reply):
    """Per-request token limits of a catalog model."""

    max_input_tokens: int | None = None
    max_output_tokens: int | None = None


class CatalogModel(_Reply):
    """One entry of ``GET /catalog/models`` (or of an OpenAI-style ``/models`` list)."""

    id: str = ""
    name: str = ""
    publisher: str = ""
    registry: str = ""
    summary: str = ""
    html_url: str = ""
    version: str = ""
    capabilities: list[str] = field(default_factory=list)
    limits: ModelLimits | None = None
    rate_limit_tier: str | None = None
    supported_input_modalities: list[str] = field(default_factory=list)
    supported_output_modalities: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    owned_by: str | None = None


class Embedding(_Reply):
    """One vector; a base64 string when ``encoding_format="base64"`` was asked."""

    object: str = "embedding"
    index: int = 0
    embedding: list[float] | str = field(default_factory=list)


class EmbeddingsUsage(_Reply):
    """Token accounting of an embeddings call."""

    prompt_tokens: int = 0
    total_tokens: int = 0


class EmbeddingsResponse(_Response):
    """The answer of ``POST .../embeddings``."""

    object: str = "list"
    data: list[Embedding] = field(default_factory=list)
    model: str = ""
    usage: EmbeddingsUsage | None = None


def to_builtins(obj: Any) -> Any:
    """Plain JSON-ready data from a Struct (or anything msgspec can encode)."""
    return msgspec.to_builtins(obj)
