"""ghmodels_async: an asyncio-native client for the GitHub Models inference REST API.

The same contract is served by Azure AI Foundry and OpenAI-compatible servers, so the
base URL and path prefix are configuration. See the README for a tour.

Every public name is imported on first use (PEP 562 ``__getattr__``): ``import
ghmodels_async`` loads nothing, and ``import ghmodels_async.testing`` (the fake server)
loads none of the client's modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names, eagerly, for type checkers
    from ._accumulator import StreamAccumulator
    from ._errors import (
        APIConnectionError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ClientClosedError,
        ConfigurationError,
        ContentDecodeError,
        ContentFilterFinishReasonError,
        FinishReasonError,
        GHModelsError,
        GoneError,
        IncompleteStreamError,
        LengthFinishReasonError,
        MaxToolRoundsError,
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
        StreamConsumedError,
        StreamError,
        StreamEventError,
        UnprocessableEntityError,
        ValidationError,
        WrongEventLoopError,
    )
    from ._info import (
        RateLimitInfo,
        ResponseInfo,
    )
    from ._limiter_errors import LimiterUnavailableError
    from ._retry import RetryPolicy
    from ._stream import ChatCompletionStream
    from ._timeout import Timeout
    from ._version import __version__
    from .client import (
        Client,
        RetryEvent,
    )

_LAZY: dict[str, str] = {
    # name: module it lives in (imported on first use; see __getattr__)
    "APIConnectionError": "._errors",
    "APIStatusError": "._errors",
    "APITimeoutError": "._errors",
    "AuthenticationError": "._errors",
    "BadRequestError": "._errors",
    "ClientClosedError": "._errors",
    "ConfigurationError": "._errors",
    "ContentDecodeError": "._errors",
    "ContentFilterFinishReasonError": "._errors",
    "FinishReasonError": "._errors",
    "GHModelsError": "._errors",
    "GoneError": "._errors",
    "IncompleteStreamError": "._errors",
    "LengthFinishReasonError": "._errors",
    "MaxToolRoundsError": "._errors",
    "NotFoundError": "._errors",
    "PermissionDeniedError": "._errors",
    "RateLimitError": "._errors",
    "RateLimitWaitTooLongError": "._errors",
    "RedirectError": "._errors",
    "RequestTooLargeError": "._errors",
    "ResponseDecodeError": "._errors",
    "ResponseError": "._errors",
    "ResponseTooLargeError": "._errors",
    "RetryWaitTooLongError": "._errors",
    "ServerError": "._errors",
    "StreamConsumedError": "._errors",
    "StreamError": "._errors",
    "StreamEventError": "._errors",
    "UnprocessableEntityError": "._errors",
    "ValidationError": "._errors",
    "WrongEventLoopError": "._errors",
    "LimiterUnavailableError": "._limiter_errors",
    "RateLimitInfo": "._info",
    "ResponseInfo": "._info",
    "RetryPolicy": "._retry",
    "StreamAccumulator": "._accumulator",
    "ChatCompletionStream": "._stream",
    "Timeout": "._timeout",
    "__version__": "._version",
    "Client": ".client",
    "RetryEvent": ".client",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ghmodels_async' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # the next lookup is a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "ContentDecodeError",
    "ContentFilterFinishReasonError",
    "FinishReasonError",
    "GHModelsError",
    "GoneError",
    "IncompleteStreamError",
    "LengthFinishReasonError",
    "LimiterUnavailableError",
    "MaxToolRoundsError",
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
    "StreamConsumedError",
    "StreamError",
    "StreamEventError",
    "Timeout",
    "UnprocessableEntityError",
    "ValidationError",
    "WrongEventLoopError",
    "__version__",
]
