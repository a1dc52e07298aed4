"""Strict request-body validation for the fake GitHub Models server.

Written independently of the client's encoder: it reads plain JSON values and
raises :class:`FakeAPIError` with a message naming the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ..contract import (
    ENCODING_FORMATS,
    MAX_STOP_SEQUENCES,
    PENALTY_MAX,
    PENALTY_MIN,
    REASONING_EFFORTS,
    TEMPERATURE_MAX,
    TEMPERATURE_MIN,
    TOP_P_MAX,
    TOP_P_MIN,
)
from .catalog import is_embeddings_model
from .strict import strict_violation

__all__ = [
    "CHAT_FIELDS",
    "EMBEDDINGS_FIELDS",
    "FakeAPIError",
    "FakeChatRequest",
    "FakeEmbeddingsRequest",
    "valid_org_login",
    "validate_chat",
    "validate_embeddings",
]

#: Top-level fields accepted in a chat body; any other one is a 400.
CHAT_FIELDS: Final = frozenset(
    {
        "model", "messages", "frequency_penalty", "presence_penalty", "max_tokens",
        "max_completion_tokens", "modalities", "response_format", "seed", "stream",
        "stream_options", "stop", "temperature", "top_p", "tool_choice", "tools",
        "reasoning_effort",
    }
)  # fmt: skip
#: Top-level fields accepted in an embeddings body.
EMBEDDINGS_FIELDS: Final = frozenset({"model", "input", "encoding_format", "dimensions", "user"})

ROLES: Final = ("system", "developer", "user", "assistant", "tool")
_MESSAGE_FIELDS: Final = frozenset(
    {"role", "content", "name", "tool_calls", "tool_call_id", "refusal"}
)
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ORG_RE: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9]))*$")
MAX_EMBEDDING_DIMENSIONS: Final = 4096


class FakeAPIError(Exception):
    """An error answer: status, code, message, extra headers, body ``shape`` (github/openai)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        shape: str = "github",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers: dict[str, str] = dict(headers or {})
        self.shape = shape


@dataclass
class FakeChatRequest:
    """The parts of a validated chat body that shape the answer."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    stop: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    reasoning_effort: str | None = None


@dataclass
class FakeEmbeddingsRequest:
    """A validated embeddings body."""

    model: str
    inputs: list[str]
    encoding_format: str = "float"
    dimensions: int | None = None


def valid_org_login(login: str) -> bool:
    """GitHub login rules: letters, digits and single inner hyphens, at most 39 chars."""
    return len(login) <= 39 and _ORG_RE.match(login) is not None


def _bad(name: str, message: str, code: str = "invalid_request_body") -> FakeAPIError:
    return FakeAPIError(400, code, f"Invalid value for '{name}': {message}")


def _check_strict(schema: Any, path: str) -> None:
    """Refuse a ``strict: true`` schema that breaks the strict-mode rules (strict.py)."""
    violation = strict_violation(schema, path)
    if violation is not None:
        where, problem = violation
        raise FakeAPIError(
            400, "invalid_json_schema", f"Invalid schema for strict mode at '{where}': {problem}."
        )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_unknown(body: Mapping[str, Any], allowed: frozenset[str], where: str = "") -> None:
    for key in body:
        if key not in allowed:
            raise FakeAPIError(
                400, "unsupported_parameter", f"Unsupported parameter: '{where}{key}'."
            )


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if not _is_number(value):
        raise _bad(name, f"expected a number, got {type(value).__name__}.", "invalid_type")
    if not low <= value <= high:
        raise _bad(name, f"{value} is out of range [{low:g}, {high:g}].", "unsupported_value")


def _positive_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not _is_int(value):
        raise _bad(name, "expected an integer.", "invalid_type")
    if value < 1:
        raise _bad(name, f"{value} must be at least 1.", "unsupported_value")
    return int(value)


def _choice(body: Mapping[str, Any], name: str, options: tuple[str, ...], where: str = "") -> Any:
    value = body.get(name)
    if value is not None and value not in options:
        raise _bad(
            where + name,
            f"{value!r}. Supported values are: {', '.join(options)}.",
            "unsupported_value",
        )
    return value


def _model(body: Mapping[str, Any], catalog: Mapping[str, Mapping[str, Any]]) -> str:
    model = body.get("model")
    if model is None:
        raise FakeAPIError(
            400, "missing_required_parameter", "Missing required parameter: 'model'."
        )
    if not isinstance(model, str):
        raise _bad("model", "expected a string.", "invalid_type")
    if model not in catalog:
        raise FakeAPIError(400, "unknown_model", f"Unknown model: {model}")
    return model


def _text_of_content(content: Any, path: str, *, allow_images: bool) -> None:
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise _bad(path, "expected a string or a non-empty list of content parts.", "invalid_type")
    for i, part in enumerate(content):
        where = f"{path}[{i}]"
        if not isinstance(part, dict):
            raise _bad(where, "expected a content part object.", "invalid_type")
        kind = part.get("type")
        if kind == "text":
            _check_unknown(part, frozenset({"type", "text"}), where + ".")
            if not isinstance(part.get("text"), str):
                raise _bad(where + ".text", "expected a string.", "invalid_type")
        elif kind == "image_url" and allow_images:
            _check_unknown(part, frozenset({"type", "image_url"}), where + ".")
            image = part.get("image_url")
            if not isinstance(image, dict) or not isinstance(image.get("url"), str):
                raise _bad(where + ".image_url", "expected {'url': string}.", "invalid_type")
            _check_unknown(image, frozenset({"url", "detail"}), where + ".image_url.")
            _choice(image, "detail", ("auto", "low", "high"), where + ".image_url.")
        else:
            allowed = "text, image_url" if allow_images else "text"
            raise _bad(
                where + ".type", f"{kind!r}. Supported values are: {allowed}.", "unsupported_value"
            )


def _tool_calls(calls: Any, path: str) -> list[str]:
    if not isinstance(calls, list) or not calls:
        raise _bad(path, "expected a non-empty list.", "invalid_type")
    ids = []
    for i, call in enumerate(calls):
        where = f"{path}[{i}]"
        if not isinstance(call, dict):
            raise _bad(where, "expected an object.", "invalid_type")
        _check_unknown(call, frozenset({"id", "type", "function"}), where + ".")
        if not isinstance(call.get("id"), str):
            raise _bad(where + ".id", "expected a string.", "invalid_type")
        if call.get("type") != "function":
            raise _bad(where + ".type", "expected 'function'.", "unsupported_value")
        function = call.get("function")
        if not isinstance(function, dict):
            raise _bad(where + ".function", "expected an object.", "invalid_type")
        _check_unknown(function, frozenset({"name", "arguments"}), where + ".function.")
        for key in ("name", "arguments"):
            if not isinstance(function.get(key), str):
                raise _bad(f"{where}.function.{key}", "expected a string.", "invalid_type")
        ids.append(call["id"])
    return ids


def _messages(value: Any) -> list[dict[str, Any]]:
    if value is None:
        raise FakeAPIError(
            400, "missing_required_parameter", "Missing required parameter: 'messages'."
        )
    if not isinstance(value, list) or not value:
        raise _bad("messages", "expected a non-empty list of messages.", "invalid_type")
    open_calls: set[str] = set()
    for i, msg in enumerate(value):
        path = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise _bad(path, "expected a message object.", "invalid_type")
        _check_unknown(msg, _MESSAGE_FIELDS, path + ".")
        role = msg.get("role")
        if role not in ROLES:
            raise _bad(
                path + ".role", f"{role!r}. Supported values are: {', '.join(ROLES)}.",
                "unsupported_value",
            )  # fmt: skip
        if "name" in msg and not isinstance(msg["name"], str):
            raise _bad(path + ".name", "expected a string.", "invalid_type")
        content = msg.get("content")
        if role == "assistant":
            if "tool_calls" in msg and msg["tool_calls"] is not None:
                open_calls.update(_tool_calls(msg["tool_calls"], path + ".tool_calls"))
            elif content is None and msg.get("refusal") is None:
                raise _bad(path + ".content", "required unless tool_calls is set.")
            if content is not None:
                _text_of_content(content, path + ".content", allow_images=False)
            if msg.get("refusal") is not None and not isinstance(msg["refusal"], str):
                raise _bad(path + ".refusal", "expected a string.", "invalid_type")
            continue
        for key in ("tool_calls", "refusal"):
            if key in msg:
                raise FakeAPIError(
                    400, "unsupported_parameter",
                    f"Unsupported parameter: '{path}.{key}' (only for assistant messages).",
                )  # fmt: skip
        if content is None:
            raise FakeAPIError(
                400, "missing_required_parameter",
                f"Missing required parameter: '{path}.content'.",
            )  # fmt: skip
        _text_of_content(content, path + ".content", allow_images=role == "user")
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str):
                raise FakeAPIError(
                    400, "missing_required_parameter",
                    f"Missing required parameter: '{path}.tool_call_id'.",
                )  # fmt: skip
            if call_id not in open_calls:
                raise _bad(
                    path + ".tool_call_id",
                    f"{call_id!r} does not answer a tool call of a preceding assistant message.",
                )
        elif "tool_call_id" in msg:
            raise FakeAPIError(
                400, "unsupported_parameter",
                f"Unsupported parameter: '{path}.tool_call_id' (only for tool messages).",
            )  # fmt: skip
    return value


def _tools(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _bad("tools", "expected a list.", "invalid_type")
    names: set[str] = set()
    for i, tool in enumerate(value):
        path = f"tools[{i}]"
        if not isinstance(tool, dict):
            raise _bad(path, "expected an object.", "invalid_type")
        _check_unknown(tool, frozenset({"type", "function"}), path + ".")
        if tool.get("type") != "function":
            raise _bad(
                path + ".type", f"{tool.get('type')!r}. Supported values are: function.",
                "unsupported_value",
            )  # fmt: skip
        fn = tool.get("function")
        if not isinstance(fn, dict):
            raise _bad(path + ".function", "expected an object.", "invalid_type")
        _check_unknown(
            fn, frozenset({"name", "description", "parameters", "strict"}), path + ".function."
        )
        name = fn.get("name")
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise _bad(
                path + ".function.name",
                f"{name!r} must match ^[A-Za-z0-9_-]{{1,64}}$.",
                "unsupported_value",
            )
        if name in names:
            raise _bad(path + ".function.name", f"duplicate tool name {name!r}.")
        names.add(name)
        if "description" in fn and not isinstance(fn["description"], str):
            raise _bad(path + ".function.description", "expected a string.", "invalid_type")
        if "parameters" in fn and not isinstance(fn["parameters"], dict):
            raise _bad(
                path + ".function.parameters", "expected a JSON Schema object.", "invalid_type"
            )
        if "strict" in fn and not isinstance(fn["strict"], bool):
            raise _bad(path + ".function.strict", "expected a boolean.", "invalid_type")
        if fn.get("strict") is True and "parameters" in fn:
            _check_strict(fn["parameters"], path + ".function.parameters")
    return value


def _tool_choice(value: Any, tools: list[dict[str, Any]]) -> str | dict[str, Any] | None:
    if value is None:
        return None
    names = {t["function"]["name"] for t in tools}
    if isinstance(value, str):
        if value not in ("auto", "required", "none"):
            raise _bad(
                "tool_choice", f"{value!r}. Supported values are: auto, required, none.",
                "unsupported_value",
            )  # fmt: skip
        if value == "required" and not tools:
            raise _bad("tool_choice", "'required' needs 'tools'.")
        return value
    if not isinstance(value, dict) or value.get("type") != "function":
        raise _bad("tool_choice", "expected a string or {'type':'function', ...}.", "invalid_type")
    _check_unknown(value, frozenset({"type", "function"}), "tool_choice.")
    fn = value.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    if not isinstance(name, str):
        raise _bad("tool_choice.function.name", "expected a string.", "invalid_type")
    if name not in names:
        raise _bad("tool_choice.function.name", f"{name!r} is not one of the declared tools.")
    return value


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("response_format", "expected an object.", "invalid_type")
    kind = _choice(value, "type", ("text", "json_object", "json_schema"), "response_format.")
    if kind is None:
        raise FakeAPIError(
            400, "missing_required_parameter", "Missing required parameter: 'response_format.type'."
        )
    if kind != "json_schema":
        _check_unknown(value, frozenset({"type"}), "response_format.")
        return value
    _check_unknown(value, frozenset({"type", "json_schema"}), "response_format.")
    spec = value.get("json_schema")
    if not isinstance(spec, dict):
        raise FakeAPIError(
            400, "missing_required_parameter",
            "Missing required parameter: 'response_format.json_schema'.",
        )  # fmt: skip
    _check_unknown(
        spec, frozenset({"name", "description", "schema", "strict"}), "response_format.json_schema."
    )
    name = spec.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise _bad(
            "response_format.json_schema.name", f"{name!r} must match ^[A-Za-z0-9_-]{{1,64}}$."
        )
    if not isinstance(spec.get("schema"), dict):
        raise _bad("response_format.json_schema.schema", "expected a JSON Schema object.")
    if "strict" in spec and not isinstance(spec["strict"], bool):
        raise _bad("response_format.json_schema.strict", "expected a boolean.", "invalid_type")
    if spec.get("strict") is True:
        _check_strict(spec["schema"], "response_format.json_schema.schema")
    return value


def validate_chat(body: Any, catalog: Mapping[str, Mapping[str, Any]]) -> FakeChatRequest:
    """Check a chat-completions body; return what the answer needs or raise FakeAPIError."""
    if not isinstance(body, dict):
        raise FakeAPIError(400, "invalid_request_body", "The request body must be a JSON object.")
    _check_unknown(body, CHAT_FIELDS)
    model = _model(body, catalog)
    entry = catalog[model]
    if is_embeddings_model(entry):
        raise FakeAPIError(
            400, "unsupported_model", f"Model {model} does not support chat completions."
        )
    messages = _messages(body.get("messages"))
    _number(body, "temperature", TEMPERATURE_MIN, TEMPERATURE_MAX)
    _number(body, "top_p", TOP_P_MIN, TOP_P_MAX)
    _number(body, "frequency_penalty", PENALTY_MIN, PENALTY_MAX)
    _number(body, "presence_penalty", PENALTY_MIN, PENALTY_MAX)
    max_tokens = _positive_int(body, "max_tokens")
    max_completion = _positive_int(body, "max_completion_tokens")
    limit = max_completion if max_completion is not None else max_tokens
    max_out = int(entry["limits"]["max_output_tokens"])
    if limit is not None and max_out and limit > max_out:
        name = "max_completion_tokens" if max_completion is not None else "max_tokens"
        raise _bad(
            name, f"{limit} is too large; {model} supports at most {max_out} completion tokens.",
            "unsupported_value",
        )  # fmt: skip
    if body.get("seed") is not None and not _is_int(body["seed"]):
        raise _bad("seed", "expected an integer.", "invalid_type")
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    elif stop is None:
        stop = []
    elif not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise _bad("stop", "expected a string or a list of strings.", "invalid_type")
    elif len(stop) > MAX_STOP_SEQUENCES:
        raise _bad("stop", f"at most {MAX_STOP_SEQUENCES} stop sequences.", "unsupported_value")
    modalities = body.get("modalities")
    if modalities is not None:
        if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
            raise _bad("modalities", "expected a list of strings.", "invalid_type")
        for m in modalities:
            if m not in ("text", "audio"):
                raise _bad(
                    "modalities", f"{m!r}. Supported values are: text, audio.", "unsupported_value"
                )
        if "audio" in modalities:
            raise FakeAPIError(
                422, "unsupported_modality",
                f"Invalid value for 'modalities': unsupported modality 'audio' for model {model}.",
            )  # fmt: skip
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _bad("stream", "expected a boolean.", "invalid_type")
    include_usage = False
    options = body.get("stream_options")
    if options is not None:
        if stream is not True:
            raise _bad("stream_options", "only allowed when 'stream' is true.")
        if not isinstance(options, dict):
            raise _bad("stream_options", "expected an object.", "invalid_type")
        _check_unknown(options, frozenset({"include_usage"}), "stream_options.")
        usage = options.get("include_usage")
        if usage is not None and not isinstance(usage, bool):
            raise _bad("stream_options.include_usage", "expected a boolean.", "invalid_type")
        include_usage = bool(usage)
    tools = _tools(body.get("tools"))
    tool_choice = _tool_choice(body.get("tool_choice"), tools)
    response_format = _response_format(body.get("response_format"))
    effort = _choice(body, "reasoning_effort", REASONING_EFFORTS)
    return FakeChatRequest(
        model=model,
        messages=messages,
        stream=bool(stream),
        include_usage=include_usage,
        max_tokens=limit,
        stop=stop,
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        reasoning_effort=effort,
    )


def validate_embeddings(
    body: Any, catalog: Mapping[str, Mapping[str, Any]]
) -> FakeEmbeddingsRequest:
    """Check an embeddings body; return the request or raise FakeAPIError."""
    if not isinstance(body, dict):
        raise FakeAPIError(400, "invalid_request_body", "The request body must be a JSON object.")
    _check_unknown(body, EMBEDDINGS_FIELDS)
    model = _model(body, catalog)
    if not is_embeddings_model(catalog[model]):
        raise FakeAPIError(400, "unsupported_model", f"Model {model} does not support embeddings.")
    value = body.get("input")
    if value is None:
        raise FakeAPIError(
            400, "missing_required_parameter", "Missing required parameter: 'input'."
        )
    inputs = [value] if isinstance(value, str) else value
    if not isinstance(inputs, list) or not inputs:
        raise _bad("input", "expected a string or a non-empty list of strings.", "invalid_type")
    for i, text in enumerate(inputs):
        if not isinstance(text, str):
            raise _bad(f"input[{i}]", "expected a string.", "invalid_type")
        if not text:
            raise _bad(f"input[{i}]", "must not be empty.", "unsupported_value")
    if len(inputs) > 2048:
        raise _bad("input", "at most 2048 inputs per request.", "unsupported_value")
    encoding = _choice(body, "encoding_format", ENCODING_FORMATS) or "float"
    dimensions = _positive_int(body, "dimensions")
    if dimensions is not None and dimensions > MAX_EMBEDDING_DIMENSIONS:
        raise _bad("dimensions", f"at most {MAX_EMBEDDING_DIMENSIONS}.", "unsupported_value")
    if body.get("user") is not None and not isinstance(body["user"], str):
        raise _bad("user", "expected a string.", "invalid_type")
    return FakeEmbeddingsRequest(model, list(inputs), encoding, dimensions)
