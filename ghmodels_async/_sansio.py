"""The protocol, without I/O: URLs and headers, request bodies, and reading answers.

Everything here is a pure function of its inputs (plus msgspec): building a request
from call options, and turning ``(status, headers, body)`` into a typed result or the
right exception. The aiohttp edge (``_transport``) only moves the bytes.

Contract with the edge: answer headers arrive as a mapping whose names are lowercase
(a plain ``dict`` works); everything here reads lowercase names only.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from . import _errors as errors
from ._errors import ConfigurationError, ResponseDecodeError, ValidationError
from ._info import parse_retry_after
from ._version import __version__
from .contract import ENCODING_FORMATS, REASONING_EFFORTS
from .types import ChatCompletionMessage, ChatCompletionRequest, EmbeddingsRequest

__all__ = [
    "DECODE_ERRORS",
    "DEFAULT_BASE_URL",
    "Endpoints",
    "build_chat_body",
    "build_embeddings_body",
    "check_headers",
    "check_secret",
    "decode_base64_embedding",
    "decode_body",
    "error_for_answer",
    "error_from_response",
    "make_headers",
    "validate_org",
]

T = TypeVar("T")

DEFAULT_BASE_URL = "https://models.github.ai"
GITHUB_PATH_PREFIX = "/inference"
GITHUB_API_VERSION = "2022-11-28"
USER_AGENT = (
    f"ghmodels-async/{__version__} (Python {sys.version_info[0]}.{sys.version_info[1]}; "
    f"msgspec {msgspec.__version__})"
)

# Patterns are strings, compiled (and cached) by ``re`` on first use: keeps import fast.
_ORG_LOGIN = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_PATH_PREFIX = r"(/[A-Za-z0-9._~-]+)*"
# host (letters of any script, digits, '.', '_', '-') or an [IPv6] literal, then :port
_AUTHORITY = r"(\[[0-9A-Fa-f:.]+\]|[\w.-]+)(:[0-9]*)?"
_encoder = msgspec.json.Encoder()
# RFC 9110 field names are "tokens"; values are visible characters, spaces and tabs.
_HEADER_NAME = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_HEADER_VALUE_FORBIDDEN = r"[\x00-\x08\x0a-\x1f\x7f]"
# Headers that frame the request: set by the user they desynchronise the connection.
_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "host", "connection"})
# Errors msgspec (or UTF-8 decoding inside it) raises for a malformed answer.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError)


# ---------------------------------------------------------------------------
# Configuration: URLs and headers, built once per client
# ---------------------------------------------------------------------------


def validate_org(org: object) -> str:
    """Return ``org`` if it is a valid GitHub organization login, else raise.

    Logins are 1-39 letters, digits and single inner hyphens; anything else (``..``,
    ``/``, ``?``, spaces) could change the URL path, so it is refused, never escaped.
    """
    if not isinstance(org, str) or re.fullmatch(_ORG_LOGIN, org) is None:
        raise ValidationError(
            f"org must be a GitHub organization login (1-39 letters, digits or inner "
            f"single hyphens), got {org!r}",
            field="org",
        )
    return org


def _validate_base_url(base_url: object) -> str:
    """``base_url`` without its trailing ``/``, if it is exactly an http(s) origin plus
    an optional plain path; anything a URL parser would silently rewrite (whitespace,
    control characters, an empty ``?`` or ``#``, dot segments) or refuse only at call
    time (a bad port, a broken IPv6 literal) is refused here, naming the problem."""
    if not isinstance(base_url, str):
        raise ConfigurationError(f"base_url must be a string, got {type(base_url).__name__}")
    example = f"an absolute http(s) URL such as {DEFAULT_BASE_URL!r}"
    if re.search(r"[\x00-\x20\x7f]", base_url):
        raise ConfigurationError(
            f"base_url contains whitespace or a control character (a stray space or newline "
            f"when it was copied?); it must be {example}, got {base_url!r}"
        )
    if "?" in base_url or "#" in base_url:
        raise ConfigurationError(
            "base_url must not carry a query or fragment ('?' or '#'); use api_version= "
            f"for the api-version query, got {base_url!r}"
        )
    try:
        parts = urlsplit(base_url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not 0-65535
    except ValueError as exc:
        raise ConfigurationError(f"base_url is not a valid URL ({exc}): {base_url!r}") from None
    if parts.scheme not in ("http", "https") or not base_url[len(parts.scheme) :].startswith(
        "://"
    ):
        raise ConfigurationError(f"base_url must be {example}, got {base_url!r}")
    if "@" in parts.netloc:
        raise ConfigurationError(
            "base_url must not carry credentials (user:password@); pass the secret as "
            "token= or api_key="
        )
    if not parts.hostname or re.fullmatch(_AUTHORITY, parts.netloc) is None:
        raise ConfigurationError(
            f"base_url must be {example} (a host name, an IPv4 address or an [IPv6] "
            f"literal, then an optional :port), got {base_url!r}"
        )
    path = parts.path.rstrip("/")
    dotted = re.search(r"(^|/)(\.|%2e){1,2}(/|$)", path, re.IGNORECASE) is not None
    if dotted or re.fullmatch(_PATH_PREFIX, path) is None:
        raise ConfigurationError(
            "base_url's path must be plain segments of letters, digits and '._~-' "
            f"(no '..', '.', '//' or escapes), got {parts.path!r}"
        )
    return base_url.rstrip("/")


def _validate_prefix(name: str, prefix: object) -> str:
    if not isinstance(prefix, str):
        raise ConfigurationError(f"{name} must be a string, got {type(prefix).__name__}")
    prefix = "/" + prefix.strip("/") if prefix.strip("/") else ""
    dotted = "/../" in prefix + "/" or "/./" in prefix + "/"
    if re.fullmatch(_PATH_PREFIX, prefix) is None or dotted:
        raise ConfigurationError(
            f"{name} must be a plain URL path like '/inference', got {prefix!r}"
        )
    return prefix


class Endpoints:
    """The URLs of one client configuration, computed once and cached per org."""

    __slots__ = ("_cache", "api_version", "base_url", "catalog_url", "path_prefix")

    def __init__(
        self,
        base_url: str = DEFAULT_BASE_URL,
        path_prefix: str = "/inference",
        catalog_path: str | None = None,
        api_version: str | None = None,
    ) -> None:
        self.base_url = _validate_base_url(base_url)
        self.path_prefix = _validate_prefix("path_prefix", path_prefix)
        if api_version is not None and (
            not isinstance(api_version, str)
            or not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", api_version)
        ):
            raise ConfigurationError(
                f"api_version must look like '2024-05-01-preview', got {api_version!r}"
            )
        self.api_version = api_version
        if catalog_path is None:
            # GitHub's catalog lives at /catalog/models; an OpenAI-compatible server
            # (vLLM, llama.cpp, Ollama...) lists its models at {prefix}/models.
            github = self.path_prefix == GITHUB_PATH_PREFIX
            catalog_path = "/catalog/models" if github else f"{self.path_prefix}/models"
        self.catalog_url = self._with_query(
            self.base_url + _validate_prefix("catalog_path", catalog_path)
        )
        self._cache: dict[tuple[str, str | None], str] = {}

    def _with_query(self, url: str) -> str:
        return f"{url}?api-version={self.api_version}" if self.api_version else url

    def check_org(self, org: object, error: type[ValidationError | ConfigurationError]) -> str:
        """Return ``org`` if attribution is possible here: a valid login, and GitHub's
        ``/inference`` prefix (``/orgs/{org}/inference/...`` is GitHub's route; other
        endpoints have no org attribution, so sending the name elsewhere is refused)."""
        if self.path_prefix != GITHUB_PATH_PREFIX:
            message = (
                f"org attribution is a GitHub Models feature (/orgs/{{org}}/inference); "
                f"this client uses path_prefix={self.path_prefix!r}, where it has no meaning. "
                "Drop org= for this endpoint"
            )
            if error is ValidationError:
                raise ValidationError(message, field="org")
            raise ConfigurationError(message)
        return validate_org(org)

    def url(self, operation: str, org: str | None) -> str:
        """The URL of ``operation`` (``chat/completions`` or ``embeddings``), attributed to
        ``org`` when given (``/orgs/{org}`` + prefix)."""
        key = (operation, org)
        cached = self._cache.get(key)
        if cached is None:
            if org is not None:
                self.check_org(org, ValidationError)
            org_part = "" if org is None else f"/orgs/{validate_org(org)}"
            cached = self._with_query(f"{self.base_url}{org_part}{self.path_prefix}/{operation}")
            self._cache[key] = cached
        return cached


def check_secret(name: str, value: object) -> str:
    """Return a token or API key if it is a non-empty run of visible ASCII characters.

    Whitespace and control characters (tab, ``\\x0b``, ``\\x1b``, DEL...) and non-ASCII
    are refused here, at construction, instead of failing every later call. The value
    itself is never put in the message.
    """
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"the {name} must be a non-empty string")
    if not all("\x21" <= c <= "\x7e" for c in value):
        raise ConfigurationError(
            f"the {name} contains whitespace, control or non-ASCII characters; "
            "check for a stray newline or tab when it was copied"
        )
    return value


def make_headers(
    token: str | None, extra: Mapping[str, str] | None = None, *, api_key: str | None = None
) -> dict[str, str]:
    """The request headers of the contract, plus the caller's extra headers.

    With ``api_key`` (Azure AI Foundry key auth) the key goes in ``api-key`` and no
    ``Authorization`` bearer is sent.
    """
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": GITHUB_API_VERSION,
        "User-Agent": USER_AGENT,
    }
    if api_key is not None:
        headers["api-key"] = api_key
    elif token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if extra:
        headers.update(check_headers(extra))
    return headers


def check_headers(extra: object) -> dict[str, str]:
    """Validate caller-supplied headers before any I/O: names are RFC 9110 tokens, values
    hold no CR, LF, NUL or other control characters, and the framing headers
    (Content-Length, Transfer-Encoding, Host, Connection) are refused."""
    if not isinstance(extra, Mapping):
        raise ValidationError(
            f"extra headers must be a mapping of str to str, got {type(extra).__name__}",
            field="headers",
        )
    checked: dict[str, str] = {}
    for key, value in extra.items():
        if not isinstance(key, str):
            raise ValidationError(
                f"header names and values must be strings: header name {key!r} is a "
                f"{type(key).__name__}",
                field="headers",
            )
        if not isinstance(value, str):
            raise ValidationError(
                f"header names and values must be strings: the value of header {key!r} is "
                f"a {type(value).__name__}",
                field="headers",
            )
        if re.fullmatch(_HEADER_NAME, key) is None:
            raise ValidationError(
                f"header name {key!r} is not a valid HTTP field name (letters, digits and "
                "!#$%&'*+.^_`|~- only; no spaces, colons or non-ASCII)",
                field="headers",
            )
        if key.lower() in _FRAMING_HEADERS:
            raise ValidationError(
                f"header {key!r} frames the request and is set by the client itself; "
                "it cannot be overridden",
                field="headers",
            )
        if re.search(_HEADER_VALUE_FORBIDDEN, value) is not None:
            raise ValidationError(
                f"the value of header {key!r} contains a line break or control character",
                field="headers",
            )
        checked[key] = value
    return checked


# ---------------------------------------------------------------------------
# Request bodies
# ---------------------------------------------------------------------------

_HINTS = {
    "model": "a model id like 'openai/gpt-4.1' (letters, digits, '._:@+-', '/' between parts)",
    "temperature": "a number in [0, 1]",
    "top_p": "a number in [0, 1]",
    "frequency_penalty": "a number in [-2, 2]",
    "presence_penalty": "a number in [-2, 2]",
    "max_tokens": "an integer >= 1",
    "max_completion_tokens": "an integer >= 1",
    "dimensions": "an integer >= 1",
    "seed": "a 64-bit integer",
    "role": "one of 'system', 'developer', 'user', 'assistant', 'tool'",
    "tool_choice": "'auto', 'required', 'none' or {'type': 'function', 'function': {'name': ...}}",
    "reasoning_effort": "one of " + ", ".join(map(repr, REASONING_EFFORTS)),
    "modalities": "a list of 'text' and 'audio'",
    "name": "1-64 letters, digits, '_' or '-'",
    "type": "one of the documented type tags",
    "input": "a non-empty string or a non-empty list of non-empty strings",
    "encoding_format": " or ".join(map(repr, ENCODING_FORMATS)),
    "messages": "a non-empty list of messages",
    "tool_call_id": "the non-empty id of the tool call this message answers",
}
_AT = r" - at (?P<key>`key` in )?`\$\.?(?P<path>[^`]*)`$"
_LAST_NAME = r"([A-Za-z_]+)(?:\[\d+\])*$"
_MISSING = r"missing required field `([^`]+)`"


def validation_error(exc: msgspec.ValidationError, what: str) -> ValidationError:
    """Turn msgspec's message into one naming the field and what is allowed."""
    text = str(exc)
    match = re.search(_AT, text)
    path = match.group("path") if match else ""
    problem = text[: match.start()] if match else text
    keyed = match is not None and match.group("key") is not None
    if keyed:  # msgspec: "... - at `key` in `$.messages[0]`"
        problem = f"a key of this mapping is not valid ({problem})"
    if problem.startswith("Expected `str` matching regex"):
        problem = "Invalid value"
    missing = re.search(_MISSING, problem)
    if missing:  # name the missing field itself, e.g. messages[1].tool_call_id
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
    name_match = re.search(_LAST_NAME, path)
    hint = _HINTS.get(name_match.group(1)) if name_match else None
    if "unknown field" in problem or missing or keyed:
        hint = None
    where = path or what
    message = f"invalid {what} argument {where}: {problem}"
    if hint:
        message += f"; expected {hint}"
    return ValidationError(message, field=where or None)


def _plain_item(item: Any) -> Any:
    """Structs (e.g. a ChatCompletionMessage) and other mappings become plain dicts, so
    msgspec validates them like a dict copied from an OpenAI example."""
    if isinstance(item, ChatCompletionMessage):
        # an answer sent back as history: only what an assistant message carries (servers
        # refuse reasoning_content in input messages)
        plain = {"role": item.role, "content": item.content}
        if item.tool_calls:
            plain["tool_calls"] = msgspec.to_builtins(item.tool_calls)
        if item.refusal is not None:
            plain["refusal"] = item.refusal
        return plain
    if isinstance(item, msgspec.Struct):
        return msgspec.to_builtins(item)
    if isinstance(item, Mapping):
        return dict(item)
    return item  # anything else: msgspec.convert names the problem


def _plain_list(items: Any, field: str) -> Any:
    """A list whose items are all plain dicts; the hot path returns ``items`` itself."""
    if type(items) is not list:
        if not isinstance(items, tuple):
            if items is None:
                return items
            raise ValidationError(
                f"{field} must be a list, got {type(items).__name__}", field=field
            )
        items = list(items)
    for item in items:
        if type(item) is not dict:
            return [i if type(i) is dict else _plain_item(i) for i in items]
    return items


def _surrogate_path(value: Any, path: str) -> str | None:
    """Where in ``value`` a string holds a lone surrogate (``"\\ud800"``), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, msgspec.Struct):
        value = msgspec.to_builtins(value)
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _surrogate_path(key, path) or _surrogate_path(item, f"{path}.{key}")
            if found is not None:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _surrogate_path(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _unencodable_text(value: Any, what: str) -> ValidationError:
    where = (_surrogate_path(value, "") or "").lstrip(".") or what
    return ValidationError(
        f"invalid {what} argument {where}: the text holds a lone surrogate (e.g. '\\ud800'), "
        "which is not valid Unicode and cannot be sent as UTF-8 JSON",
        field=where,
    )


def _encode(payload: dict[str, Any], kind: type[Any], what: str, extra_body: Any) -> bytes:
    try:
        request = msgspec.convert(payload, kind)
    except msgspec.ValidationError as exc:
        raise validation_error(exc, what) from None
    if extra_body is None:
        try:
            return _encoder.encode(request)
        except UnicodeEncodeError:
            raise _unencodable_text(request, what) from None
    if not isinstance(extra_body, Mapping):
        raise ValidationError("extra_body must be a mapping", field="extra_body")
    merged = msgspec.to_builtins(request)
    merged.update(extra_body)
    try:
        return _encoder.encode(merged)
    except UnicodeEncodeError:
        extra = _surrogate_path(extra_body, "extra_body")
        if extra is not None:
            raise ValidationError(
                f"{extra} holds a lone surrogate (e.g. '\\ud800'), which is not valid "
                "Unicode and cannot be sent as UTF-8 JSON",
                field=extra,
            ) from None
        raise _unencodable_text(merged, what) from None
    except (TypeError, OverflowError) as exc:
        raise ValidationError(
            f"extra_body is not JSON-encodable: {exc}", field="extra_body"
        ) from None


def build_chat_body(options: dict[str, Any], extra_body: Any = None) -> bytes:
    """Validate chat options (REST names, ``None`` meaning unset) and encode the body.

    ``options`` is consumed (normalised in place). ``None`` values are passed to msgspec
    as they are: every optional field defaults to ``None``, so it is not sent.
    """
    options["messages"] = _plain_list(options.get("messages"), "messages")
    tools = options.get("tools")
    if tools is not None:
        options["tools"] = _plain_list(tools, "tools")
    for key in ("response_format", "tool_choice", "stream_options"):
        value = options.get(key)
        if value is not None and type(value) is not dict and type(value) is not str:
            options[key] = _plain_item(value)
    if options.get("stream_options") is not None and not options.get("stream"):
        raise ValidationError(
            "stream_options is only allowed with stream=True", field="stream_options"
        )
    return _encode(options, ChatCompletionRequest, "chat", extra_body)


def build_embeddings_body(options: dict[str, Any], extra_body: Any = None) -> bytes:
    """Validate embeddings options and encode the body."""
    return _encode(options, EmbeddingsRequest, "embeddings", extra_body)


# ---------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------


class _ErrorDetail(msgspec.Struct):
    code: str | int | None = None
    message: str | None = None
    type: str | None = None
    param: str | None = None
    details: Any = None


class _ErrorEnvelope(msgspec.Struct):
    """Every error shape seen: nested ``{"error": {...}}``, vLLM's flat
    ``{"object": "error", "message", "type", "code"}`` and TGI's
    ``{"error": "text", "error_type": ...}``."""

    error: _ErrorDetail | str | None = None
    message: str | None = None
    code: str | int | None = None
    type: str | None = None
    error_type: str | None = None
    param: str | None = None


_error_decoder = msgspec.json.Decoder(_ErrorEnvelope)


def parse_error_body(body: bytes) -> _ErrorDetail | None:
    """Read either error shape of the API, or ``None`` if the body is neither."""
    try:
        envelope = _error_decoder.decode(body)
    except UnicodeDecodeError:  # invalid UTF-8 in a string: read it with U+FFFD instead
        try:
            envelope = _error_decoder.decode(body.decode("utf-8", "replace").encode())
        except DECODE_ERRORS:
            return None
    except DECODE_ERRORS:
        return None
    if isinstance(envelope.error, _ErrorDetail):
        return envelope.error
    if isinstance(envelope.error, str):
        kind = envelope.error_type or envelope.type
        code = envelope.code if envelope.code is not None else kind
        return _ErrorDetail(message=envelope.error, code=code, type=kind)
    if envelope.message is not None:
        return _ErrorDetail(
            message=envelope.message,
            code=envelope.code,
            type=envelope.type or envelope.error_type,
            param=envelope.param,
        )
    return None


def error_from_response(
    status: int, headers: Mapping[str, str], body: bytes
) -> errors.APIStatusError:
    """The exception for an error answer, from either body shape (or the raw text)."""
    detail = parse_error_body(body)
    code = None if detail is None or detail.code is None else str(detail.code)
    if detail is not None and detail.message:
        message = detail.message
    else:
        text = body[:500].decode("utf-8", "replace").strip()
        message = text or "no error message in the response body"
    if status == 410:
        gone = "" if "gone" in message.lower() else " — the endpoint is gone."
        message = f"{message}{gone} {errors.RETIREMENT_HINT}"
    elif status == 429:
        wait = parse_retry_after(headers)
        if wait is not None and "wait" not in message.lower():
            message = f"{message} (retry after {wait:g} s)"
    cls = errors.status_error_class(status)
    return cls(
        message,
        status_code=status,
        code=code,
        headers=headers,
        body=body,
        param=None if detail is None else detail.param,
        error_type=None if detail is None else detail.type,
        details=None if detail is None else detail.details,
    )


def error_for_answer(
    status: int, headers: Mapping[str, str], body: bytes
) -> errors.APIStatusError | errors.RedirectError:
    """The exception for a non-2xx answer: a redirect (never followed, so the token is
    never sent elsewhere) or a status error."""
    if status < 400:
        location = headers.get("location")
        return errors.RedirectError(
            f"the server answered {status} redirecting to {location!r}; redirects are not "
            "followed so the token is never sent elsewhere: configure that URL as base_url",
            status_code=status,
            location=location,
        )
    return error_from_response(status, headers, body)


def decode_base64_embedding(text: str) -> list[float]:
    """The floats of a ``encoding_format="base64"`` vector (little-endian float32)."""
    import array
    import base64
    import binascii

    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ResponseDecodeError("an embedding is not valid base64") from None
    if len(raw) % 4:
        raise ResponseDecodeError(
            f"a base64 embedding has {len(raw)} bytes, not a whole number of float32 values"
        )
    values = array.array("f", raw)
    if sys.byteorder != "little":  # pragma: no cover - the wire format is little-endian
        values.byteswap()
    return values.tolist()


def decode_body(decoder: msgspec.json.Decoder[T], body: bytes, what: str) -> T:
    """Decode a successful answer, or raise ResponseDecodeError naming what was wrong."""
    try:
        return decoder.decode(body)
    except DECODE_ERRORS as exc:
        preview = body[:200].decode("utf-8", "replace")
        raise ResponseDecodeError(
            f"the server's {what} answer is not valid: {exc} (body starts: {preview!r})"
        ) from None
