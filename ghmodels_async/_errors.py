"""The exception tree of ghmodels_async. Every error the public API raises is in it::

    GHModelsError
    ├── ConfigurationError (also ValueError)   missing token, bad base URL, bad settings
    ├── ValidationError (also ValueError)      bad call arguments, found before any I/O
    ├── ClientClosedError                      the client was closed (before or during a call)
    ├── APIStatusError                         the server answered with an error status
    │   ├── BadRequestError                    400
    │   ├── AuthenticationError                401
    │   ├── PermissionDeniedError              403
    │   ├── NotFoundError                      404
    │   ├── GoneError                          410 (endpoint retired; never retried)
    │   ├── RequestTooLargeError               413 (e.g. tokens_limit_reached)
    │   ├── UnprocessableEntityError           422
    │   ├── RateLimitError                     429 (with .rate_limit and .retry_after)
    │   │   └── RetryWaitTooLongError          the asked wait exceeds max_retry_wait
    │   └── ServerError                        5xx
    ├── APIConnectionError                     transport failure, no usable answer
    │   └── APITimeoutError                    connect / whole-call / stream-idle timeout
    ├── RedirectError                          a 3xx: never followed, the token stays home
    ├── ResponseError                          the answer itself is unusable
    │   ├── ResponseDecodeError                malformed or unexpected JSON
    │   │   └── ContentDecodeError             content/tool arguments do not match the type
    │   ├── ResponseTooLargeError              body or SSE event over the configured size
    │   └── FinishReasonError                  the answer stopped early (.completion)
    │       ├── LengthFinishReasonError        finish_reason "length": the answer was cut
    │       └── ContentFilterFinishReasonError finish_reason "content_filter"
    ├── MaxToolRoundsError                     run_tools used max_rounds model calls
    └── StreamError                            a stream went wrong after it started
        ├── IncompleteStreamError              body ended before ``data: [DONE]``
        ├── StreamEventError                   the server sent an error event mid-stream
        └── StreamConsumedError                a stream iterated a second time
    WrongEventLoopError (also RuntimeError)    a client used from a second event loop

Errors hold plain data only (no aiohttp objects) and never contain the token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._info import RateLimitInfo, parse_retry_after

if TYPE_CHECKING:
    from .types import ChatCompletion

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ClientClosedError",
    "ConfigurationError",
    "ContentDecodeError",
    "ContentFilterFinishReasonError",
    "FinishReasonError",
    "GHModelsError",
    "GoneError",
    "IncompleteStreamError",
    "LengthFinishReasonError",
    "MaxToolRoundsError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitWaitTooLongError",
    "RedirectError",
    "RequestTooLargeError",
    "ResponseDecodeError",
    "ResponseError",
    "ResponseTooLargeError",
    "RetryWaitTooLongError",
    "ServerError",
    "StreamConsumedError",
    "StreamError",
    "StreamEventError",
    "UnprocessableEntityError",
    "ValidationError",
    "WrongEventLoopError",
]

RETIREMENT_HINT = (
    "GitHub retired its hosted GitHub Models service on 2026-07-30. Point the client at "
    "another endpoint with the same contract: Client(base_url=..., path_prefix=...), e.g. "
    "an Azure AI Foundry resource or any OpenAI-compatible server "
    "(base_url='http://localhost:8000', path_prefix='/v1')."
)


def _restore(cls: type[GHModelsError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    """Rebuild a pickled error without calling its ``__init__`` (whose keyword-only
    arguments pickle's default protocol cannot pass)."""
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class GHModelsError(Exception):
    """Base of every error raised by ghmodels_async.

    Errors are plain data and pickle whole (type, message and fields), so they cross
    process boundaries (multiprocessing, task queues) intact.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, dict(self.__dict__)))


class ConfigurationError(GHModelsError, ValueError):
    """The client was configured wrongly (no token, a malformed base URL, ...)."""


class ValidationError(GHModelsError, ValueError):
    """A call argument is invalid; raised before any network I/O.

    ``field`` names the offending parameter (a JSON path such as ``messages[1].role``).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class ClientClosedError(GHModelsError):
    """The client is closed: the call was made after ``close()`` or was cut by it."""


class RateLimitWaitTooLongError(GHModelsError):
    """A client-side rate limiter would make this request wait more than its ``max_wait``.

    Raised before anything is sent (no HTTP status): ``model`` is the limiter's model key,
    ``wait`` the seconds the request would have waited and ``reason`` what it waits for
    (``"retry_after"``, ``"requests_per_day"``, ``"requests_per_minute"``, ...).
    """

    def __init__(self, message: str, *, model: str, wait: float, reason: str) -> None:
        super().__init__(message)
        self.model = model
        self.wait = wait
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_wait_error, (str(self), self.model, self.wait, self.reason))


def _rebuild_wait_error(
    message: str, model: str, wait: float, reason: str
) -> RateLimitWaitTooLongError:
    return RateLimitWaitTooLongError(message, model=model, wait=wait, reason=reason)


class APIStatusError(GHModelsError):
    """The server answered with an error status.

    ``status_code``, ``code`` (the service's error code, e.g. ``unknown_model``),
    ``message``, ``headers``, ``request_id`` and the raw ``body`` are kept.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        param: str | None = None,
        error_type: str | None = None,
        details: Any = None,
    ) -> None:
        self.message = message
        self.status_code = status_code
        self.code = code
        # A plain dict with lower-case names: picklable, and no aiohttp object is kept.
        self.headers: Mapping[str, str] = (
            {} if headers is None else {name.lower(): value for name, value in headers.items()}
        )
        self.body = body
        self.param = param
        self.error_type = error_type
        self.details = details
        label = f"{status_code} {code}" if code else str(status_code)
        super().__init__(f"HTTP {label}: {message}")

    @property
    def request_id(self) -> str | None:
        """The server's request id, for support tickets and logs."""
        return self.headers.get("x-request-id") or self.headers.get("x-github-request-id")

    @property
    def rate_limit(self) -> RateLimitInfo:
        """The rate-limit headers of the failed answer."""
        return RateLimitInfo.from_headers(self.headers)

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait before retrying, if it said."""
        return parse_retry_after(self.headers)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class BadRequestError(APIStatusError):
    """400: the server refused the request (bad parameter, unknown model...)."""


class AuthenticationError(APIStatusError):
    """401: the token is missing, wrong, or lacks the ``models: read`` permission."""


class PermissionDeniedError(APIStatusError):
    """403: no access to this model, or the organization has Models disabled."""


class NotFoundError(APIStatusError):
    """404: unknown model, organization or path."""


class GoneError(APIStatusError):
    """410: the endpoint is retired. Final: never retried."""


class RequestTooLargeError(APIStatusError):
    """413: the request exceeds the model's limits (``tokens_limit_reached``)."""


class UnprocessableEntityError(APIStatusError):
    """422: a well-formed but unsupported request (e.g. bad modalities)."""


class RateLimitError(APIStatusError):
    """429: a rate limit was hit; ``rate_limit`` and ``retry_after`` say which and how long."""


class RetryWaitTooLongError(RateLimitError):
    """429 whose asked wait (``wait`` seconds) exceeds the client's ``max_retry_wait``."""

    wait: float = 0.0


class ServerError(APIStatusError):
    """5xx: the server failed."""


class APIConnectionError(GHModelsError):
    """The request did not get a usable answer: connection refused, reset, DNS, TLS...

    ``retryable`` is False when the failure came after the answer had started (its
    status line was read), where a retry could duplicate work the server already did.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class APITimeoutError(APIConnectionError):
    """A timeout: connecting, the whole non-streaming call, or the idle wait of a stream."""


class RedirectError(GHModelsError):
    """The server answered with a redirect; it is not followed so the token never leaves."""

    def __init__(self, message: str, *, status_code: int, location: str | None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.location = location


class ResponseError(GHModelsError):
    """The answer arrived but cannot be used."""


class ResponseDecodeError(ResponseError):
    """The answer is not the JSON the API promises (malformed, truncated or mistyped)."""


class ResponseTooLargeError(ResponseError):
    """A response body or a single SSE event exceeds the configured size limit."""


class StreamError(GHModelsError):
    """A stream failed after it started."""


class IncompleteStreamError(StreamError):
    """The stream ended before ``data: [DONE]``: the answer is incomplete."""


class StreamEventError(StreamError):
    """The server sent an error object inside the stream.

    ``message``, ``code`` and ``error_type`` are read from whichever shape the server
    used (nested ``{"error": {...}}``, vLLM's flat one, TGI's ``{"error", "error_type"}``);
    ``str(err)`` says it happened mid-stream.
    """

    def __init__(
        self,
        text: str,
        *,
        code: str | None = None,
        message: str | None = None,
        error_type: str | None = None,
    ) -> None:
        super().__init__(text)
        self.message = text if message is None else message
        self.code = code
        self.error_type = error_type


class StreamConsumedError(StreamError):
    """A stream was iterated (or collected) a second time: a stream is consumed once."""


class WrongEventLoopError(GHModelsError, RuntimeError):
    """The client was used from an event loop other than the one it first ran in (for
    example a second ``asyncio.run()``): a client and its connections belong to one loop."""


STATUS_ERRORS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    410: GoneError,
    413: RequestTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}


def status_error_class(status: int) -> type[APIStatusError]:
    """The exception class for an HTTP error status."""
    if status >= 500:
        return ServerError
    return STATUS_ERRORS.get(status, APIStatusError)


class FinishReasonError(ResponseError):
    """Base of the errors for an answer that stopped for a reason other than its end;
    ``completion`` is the whole ChatCompletion (usage included)."""

    def __init__(self, message: str, *, completion: ChatCompletion) -> None:
        super().__init__(message)
        self.completion = completion


class LengthFinishReasonError(FinishReasonError):
    """``finish_reason == "length"``: the answer hit the token limit and is cut, so it
    cannot be parsed; raise ``max_tokens``/``max_completion_tokens`` or shorten the task."""


class ContentFilterFinishReasonError(FinishReasonError):
    """``finish_reason == "content_filter"``: the service's content filter cut the answer."""


class ContentDecodeError(ResponseDecodeError):
    """The model's content (or a tool call's arguments) is not JSON of the asked type.

    ``raw`` is the text as received, ``where`` names it (``content`` or
    ``tool_calls[0].function.arguments``) and ``completion`` the whole answer.
    """

    def __init__(
        self, message: str, *, raw: str, where: str, completion: ChatCompletion | None
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.where = where
        self.completion = completion


class MaxToolRoundsError(GHModelsError):
    """``run_tools`` made ``max_rounds`` model calls and the model still asks for tools.

    ``messages`` is the history up to the last complete round (appendable as is, to go
    on with a new call), ``completion`` the last answer (its tool calls not executed).
    """

    def __init__(
        self, message: str, *, messages: list[Any], completion: ChatCompletion, rounds: int
    ) -> None:
        super().__init__(message)
        self.messages = messages
        self.completion = completion
        self.rounds = rounds
