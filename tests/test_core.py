"""The pure core, tested without I/O or sleeping: the retry decision (a table of
attempt, failure, headers → wait or error), error mapping of answers, and errors as
plain data (lowercase header dict, pickle round trip of every class in the tree)."""

from __future__ import annotations

import email.utils
import pickle
from typing import Any

import pytest

import ghmodels_async
from ghmodels_async import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    BadRequestError,
    GHModelsError,
    GoneError,
    IncompleteStreamError,
    NotFoundError,
    RateLimitError,
    RedirectError,
    ResponseDecodeError,
    RetryPolicy,
    RetryWaitTooLongError,
    ServerError,
    StreamEventError,
    ValidationError,
)
from ghmodels_async._errors import (
    RETIREMENT_HINT,
    ContentDecodeError,
    FinishReasonError,
    MaxToolRoundsError,
)
from ghmodels_async._retry import retry_decision
from ghmodels_async._sansio import error_for_answer, error_from_response
from ghmodels_async.types import ChatCompletion

POLICY = RetryPolicy(max_retries=3, initial_backoff=0.5, max_backoff=8.0, max_retry_wait=60.0)
RAND = 0.5  # the jitter draw every row uses: backoff = 0.5 * min(8, 0.5 * 2**attempt)
NOW = 1_800_000_000.0
DATE_IN_30_S = email.utils.formatdate(NOW + 30, usegmt=True)


def status(code: int, **headers: str) -> APIStatusError:
    return error_from_response(code, headers, b'{"error": {"code": "c", "message": "m"}}')


# (name, attempt, failure, expected: a wait in seconds or the class of error raised)
# fmt: off
DECISIONS: list[tuple[str, int, GHModelsError, float | type[BaseException]]] = [
    ("429 asks 2 s", 0, status(429, **{"retry-after": "2"}), 2.0),
    ("429 asks in ms", 0, status(429, **{"retry-after-ms": "1500"}), 1.5),
    ("429 asks by date", 1, status(429, **{"retry-after": DATE_IN_30_S}), 30.0),
    ("429 ratelimit-timeremaining", 0, status(429, **{"x-ratelimit-timeremaining": "9"}), 9.0),
    ("429 asks exactly the limit", 0, status(429, **{"retry-after": "60"}), 60.0),
    ("429 asks too long", 0, status(429, **{"retry-after": "61"}), RetryWaitTooLongError),
    ("503 asks too long stays", 0, status(503, **{"retry-after": "120"}), ServerError),
    ("503 asks 1 s", 2, status(503, **{"retry-after": "1"}), 1.0),
    ("500 no hint: backoff 0", 0, status(500), 0.25),
    ("502 no hint: backoff 1", 1, status(502), 0.5),
    ("504 no hint: backoff 2", 2, status(504), 1.0),
    ("408 is retried", 0, status(408), 0.25),
    ("429 no hint: backoff", 0, status(429), 0.25),
    ("out of attempts", 3, status(503, **{"retry-after": "1"}), ServerError),
    ("400 is final", 0, status(400, **{"retry-after": "1"}), BadRequestError),
    ("404 is final", 0, status(404), NotFoundError),
    ("410 is final", 0, status(410, **{"retry-after": "0"}), GoneError),
    ("redirect is final", 0, RedirectError("r", status_code=302, location="x"), RedirectError),
    ("connection refused", 0, APIConnectionError("refused"), 0.25),
    ("connect timeout", 2, APITimeoutError("slow"), 1.0),
    ("answer had begun", 0, APIConnectionError("x", retryable=False), APIConnectionError),
    ("connection, out of attempts", 3, APIConnectionError("refused"), APIConnectionError),
    ("stream ended before an event", 1, IncompleteStreamError("cut"), 0.5),
    ("decode error is final", 0, ResponseDecodeError("bad"), ResponseDecodeError),
    ("stream event error is final", 0, StreamEventError("boom"), StreamEventError),
]
# fmt: on


@pytest.mark.parametrize(
    ("attempt", "failure", "expected"),
    [pytest.param(a, f, e, id=name) for name, a, f, e in DECISIONS],
)
def test_retry_decision_table(
    attempt: int, failure: GHModelsError, expected: float | type[BaseException]
) -> None:
    decision = retry_decision(POLICY, attempt, failure, rand=lambda: RAND, now=NOW)
    if isinstance(expected, float):
        assert decision == pytest.approx(expected)
    else:
        assert type(decision) is expected
        if expected is not RetryWaitTooLongError:
            assert decision is failure  # the failure itself, not a copy


def test_too_long_wait_keeps_the_answer_facts() -> None:
    failure = status(429, **{"retry-after": "3600", "x-ratelimit-type": "UserByModelByDay"})
    decision = retry_decision(POLICY, 0, failure)
    assert isinstance(decision, RetryWaitTooLongError) and isinstance(decision, RateLimitError)
    assert decision.wait == 3600.0
    assert decision.retry_after == 3600.0
    assert decision.rate_limit.limit_type == "UserByModelByDay"
    assert (decision.status_code, decision.code, decision.body) == (429, "c", failure.body)
    assert "3600" in str(decision) and "max_retry_wait=60" in str(decision)


def test_backoff_waits_are_clamped_to_max_retry_wait() -> None:
    policy = RetryPolicy(max_retries=9, initial_backoff=4.0, max_backoff=100.0, max_retry_wait=5.0)
    waits = [retry_decision(policy, n, status(500), rand=lambda: 1.0) for n in range(4)]
    assert waits == [4.0, 5.0, 5.0, 5.0]
    assert retry_decision(RetryPolicy(max_retries=0), 0, status(503)) is not None
    assert isinstance(retry_decision(RetryPolicy(max_retries=0), 0, status(503)), ServerError)


# ---------------------------------------------------------------------------
# error mapping
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message", "code", "param", "error_type"),
    [
        (b'{"error": {"code": "unknown_model", "message": "Unknown model: x", '
         b'"param": "model", "type": "invalid_request_error"}}',
         "Unknown model: x", "unknown_model", "model", "invalid_request_error"),
        (b'{"error": {"code": 42, "message": "numeric code"}}', "numeric code", "42", None, None),
        (b'{"error": "plain string"}', "plain string", None, None, None),
        (b'{"message": "top-level message"}', "top-level message", None, None, None),
        (b"<html>Bad Gateway</html>", "<html>Bad Gateway</html>", None, None, None),
        (b"", "no error message in the response body", None, None, None),
    ],
)  # fmt: skip
def test_error_from_response_reads_every_body_shape(
    body: bytes, message: str, code: str | None, param: str | None, error_type: str | None
) -> None:
    error = error_from_response(400, {"x-request-id": "r1"}, body)
    assert type(error) is BadRequestError
    assert (error.message, error.code, error.param, error.error_type) == (
        message, code, param, error_type
    )  # fmt: skip
    assert error.status_code == 400
    assert error.request_id == "r1"
    assert error.body == body


@pytest.mark.parametrize(
    ("code", "cls"),
    [(400, BadRequestError), (404, NotFoundError), (410, GoneError), (429, RateLimitError),
     (418, APIStatusError), (500, ServerError), (599, ServerError)],
)  # fmt: skip
def test_error_classes_by_status(code: int, cls: type[APIStatusError]) -> None:
    assert type(error_from_response(code, {}, b"")) is cls


def test_410_and_429_messages() -> None:
    gone = error_from_response(410, {}, b'{"error": {"message": "This endpoint is gone"}}')
    assert RETIREMENT_HINT in gone.message and "the endpoint is gone" not in gone.message
    bare = error_from_response(410, {}, b"")
    assert "the endpoint is gone" in bare.message
    limited = error_from_response(429, {"retry-after": "7"}, b'{"error": {"message": "Slow"}}')
    assert limited.message == "Slow (retry after 7 s)"
    assert limited.retry_after == 7.0


def test_error_for_answer_redirects_read_the_lowercase_location() -> None:
    redirect = error_for_answer(302, {"location": "https://elsewhere.example/x"}, b"")
    assert isinstance(redirect, RedirectError)
    assert redirect.location == "https://elsewhere.example/x"
    assert redirect.status_code == 302
    assert "https://elsewhere.example/x" in str(redirect)
    assert isinstance(error_for_answer(503, {}, b""), ServerError)


def test_error_headers_are_a_plain_lowercase_dict() -> None:
    error = error_from_response(429, {"Retry-After": "3", "X-Request-Id": "abc"}, b"")
    assert type(error.headers) is dict
    assert error.headers == {"retry-after": "3", "x-request-id": "abc"}
    assert error.retry_after == 3.0 and error.request_id == "abc"


# ---------------------------------------------------------------------------
# every error pickles with all its fields
# ---------------------------------------------------------------------------


def _error_classes() -> list[type[GHModelsError]]:
    found: list[type[GHModelsError]] = []
    pending: list[type[GHModelsError]] = [GHModelsError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def _example(cls: type[GHModelsError]) -> GHModelsError:
    completion = ChatCompletion(id="chatcmpl-1", model="m")
    if issubclass(cls, FinishReasonError):
        return cls("cut", completion=completion)
    if issubclass(cls, ContentDecodeError):
        return cls("bad json", raw="{", where="content", completion=completion)
    if issubclass(cls, MaxToolRoundsError):
        return cls("rounds", messages=[{"role": "user", "content": "hi"}], completion=completion,
                   rounds=3)  # fmt: skip
    if issubclass(cls, RetryWaitTooLongError):
        return cls("wait", wait=99.0, status_code=429, code="c", headers={"Retry-After": "99"},
                   body=b"{}", param="p", error_type="t", details={"k": [1]})  # fmt: skip
    if issubclass(cls, APIStatusError):
        return cls("m", status_code=503, code="c", headers={"X-Request-Id": "r"}, body=b"b",
                   param="p", error_type="t", details=[1, 2])  # fmt: skip
    if issubclass(cls, ValidationError):
        return cls("bad", field="messages[0].role")
    if issubclass(cls, APIConnectionError):
        return cls("down", retryable=False)
    if issubclass(cls, RedirectError):
        return cls("moved", status_code=301, location="https://x.example")
    if issubclass(cls, StreamEventError):
        return cls("boom", code="server_error")
    return cls("plain")


def test_every_error_class_is_covered() -> None:
    exported = [getattr(ghmodels_async, name) for name in ghmodels_async.__all__]
    public = {obj for obj in exported if isinstance(obj, type) and issubclass(obj, GHModelsError)}
    assert public <= set(_error_classes())
    assert len(public) >= 24


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda cls: cls.__name__)
def test_error_pickle_round_trip(cls: type[GHModelsError]) -> None:
    error = _example(cls)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is cls
    assert copy.args == error.args
    assert str(copy) == str(error)
    assert vars(copy) == vars(error)
    if isinstance(error, APIStatusError):
        assert isinstance(copy, APIStatusError)
        assert type(copy.headers) is dict
        assert copy.request_id == error.request_id
        assert copy.retry_after == error.retry_after


def test_a_mapped_answer_pickles_with_its_facts() -> None:
    error: Any = error_from_response(
        429, {"Retry-After": "5", "X-Ratelimit-Type": "UserByModelByMinute"}, b'{"error": {}}'
    )
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status_code, copy.headers, copy.body, copy.message) == (
        429, {"retry-after": "5", "x-ratelimit-type": "UserByModelByMinute"}, b'{"error": {}}',
        error.message,
    )  # fmt: skip
    assert copy.rate_limit == error.rate_limit
