"""ghmodels_async: an asyncio-native client for the GitHub Models inference REST API.

The same contract is served by Azure AI Foundry and OpenAI-compatible servers, so the
base URL and path prefix are configuration. See the README for a tour.
"""

from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ClientClosedError,
    ConfigurationError,
    GHModelsError,
    GoneError,
    IncompleteStreamError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RateLimitWaitTooLongError,
    RedirectError,
    RequestTooLargeError,
    ResponseDecodeError,
    ResponseError,
    ResponseTooLargeError,
    RetryWaitTooLongError,
    ServerError,
    StreamError,
    StreamEventError,
    UnprocessableEntityError,
    ValidationError,
)
from ._info import RateLimitInfo, ResponseInfo
from ._retry import RetryPolicy
from ._stream import ChatCompletionStream, StreamAccumulator
from ._timeout import Timeout
from ._version import __version__
from .client import Client, RetryEvent

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletionStream",
    "Client",
    "ClientClosedError",
    "ConfigurationError",
    "GHModelsError",
    "GoneError",
    "IncompleteStreamError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RateLimitInfo",
    "RateLimitWaitTooLongError",
    "RedirectError",
    "RequestTooLargeError",
    "ResponseDecodeError",
    "ResponseError",
    "ResponseInfo",
    "ResponseTooLargeError",
    "RetryEvent",
    "RetryPolicy",
    "RetryWaitTooLongError",
    "ServerError",
    "StreamAccumulator",
    "StreamError",
    "StreamEventError",
    "Timeout",
    "UnprocessableEntityError",
    "ValidationError",
    "__version__",
]
