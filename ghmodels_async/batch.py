"""Batch files: every line of a JSONL file sent as one request, every answer one line out.

Input lines are request bodies (``{"model", "messages", ...}`` for chat, ``{"model",
"input", ...}`` for embeddings) or OpenAI batch lines (``{"custom_id", "method",
"url", "body"}``). Output lines are ``{"custom_id", "line", "response", "error"}``:
``response`` is ``{"status_code", "request_id", "body"}`` with the answer, ``error``
``{"type", "message", "status_code", "code"}`` with the typed error (see
docs/fanout.md). The input is streamed through :func:`~ghmodels_async.fanout.fan_out_stream`
and the output is the only state, so a batch of any length runs in flat memory and a
rerun resumes where the last one stopped.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ._batch_files import (
    IdSet,
    LineWriter,
    count_lines,
    first_unreadable_line,
    id_hash,
    read_lines,
    repair_torn_tail,
    scan_output,
)
from ._errors import (
    APIStatusError,
    AuthenticationError,
    ClientClosedError,
    ConfigurationError,
    GHModelsError,
    GoneError,
    RedirectError,
    ResponseDecodeError,
    ValidationError,
)
from .client import Client, Completions, Embeddings
from .fanout import _check_limits, fan_out_stream
from .progress import Progress

__all__ = [
    "BadLine",
    "BatchRequest",
    "BatchRun",
    "BatchStoppedError",
    "BatchSummary",
    "parse_line",
]

#: Errors that would fail every line alike: the batch stops instead of recording them.
FATAL_ERRORS: tuple[type[GHModelsError], ...] = (
    AuthenticationError, GoneError, RedirectError, ConfigurationError, ClientClosedError,
)  # fmt: skip
_CALL_OPTIONS = {"stream", "org", "extra_headers", "extra_body", "timeout", "max_retries"}
_CHAT_FIELDS = frozenset(inspect.signature(Completions.create).parameters) - _CALL_OPTIONS - {
    "self"
}
_EMBEDDINGS_FIELDS = frozenset(inspect.signature(Embeddings.create).parameters) - (
    _CALL_OPTIONS | {"self"}
)
_BATCH_LINE_KEYS = frozenset({"custom_id", "method", "url", "body"})
_BOM = b"\xef\xbb\xbf"


class BatchStoppedError(GHModelsError):
    """The batch stopped early: too many failures in a row (the server looks down)."""


@dataclass(frozen=True)
class BatchRequest:
    """One parsed input line: the call to make and the id its answer is keyed by."""

    line: int
    custom_id: str | None
    operation: str  # "chat" or "embeddings"
    arguments: Mapping[str, Any]


@dataclass(frozen=True)
class BadLine:
    """An input line that is not a valid request; recorded as an error, never sent."""

    line: int
    custom_id: str | None
    error: ValidationError


@dataclass
class BatchSummary:
    """What a batch run did: answered, failed by error type, skipped, tokens, time."""

    answered: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    bad_line_count: int = 0
    skipped: int = 0
    still_failed: int = 0
    tokens: int = 0
    seconds: float = 0.0
    repaired_bytes: int = 0
    unreadable_output_lines: int = 0
    stopped: GHModelsError | None = None
    interrupted: bool = False

    @property
    def failed_count(self) -> int:
        """Lines that failed in this run (bad input lines included)."""
        return sum(self.failed.values())

    @property
    def complete(self) -> bool:
        """True when every input line has an answer in the output file."""
        return (
            not self.failed and not self.still_failed and self.stopped is None
            and not self.interrupted
        )  # fmt: skip


def _object(value: Any, what: str, field_name: str | None = None) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(
            f"{what} must be a JSON object, got {type(value).__name__}", field=field_name
        )
    return value


def _operation(url: str | None, body: Mapping[str, Any]) -> str:
    if url is not None:
        path = url.split("?", 1)[0].rstrip("/")
        if path.endswith("/chat/completions"):
            return "chat"
        if path.endswith("/embeddings"):
            return "embeddings"
        raise ValidationError(
            f"url {url!r} is not supported: use /v1/chat/completions or /v1/embeddings",
            field="url",
        )
    if "messages" in body:
        return "chat"
    if "input" in body:
        return "embeddings"
    raise ValidationError(
        "a request body needs messages (chat completions) or input (embeddings)",
        field="messages",
    )


def _arguments(operation: str, body: Mapping[str, Any], model: str | None) -> dict[str, Any]:
    known = _CHAT_FIELDS if operation == "chat" else _EMBEDDINGS_FIELDS
    if "stream" in body and body["stream"] not in (False, None):
        raise ValidationError("stream is not supported in a batch: drop it", field="stream")
    arguments = {k: v for k, v in body.items() if k in known}
    extra = {k: v for k, v in body.items() if k not in known and k != "stream"}
    if extra:
        arguments["extra_body"] = extra
    if "model" not in arguments:
        if model is None:
            raise ValidationError("the request has no model (or pass --model)", field="model")
        arguments["model"] = model
    return arguments


def parse_line(line: int, raw: bytes, model: str | None = None) -> BatchRequest | BadLine:
    """Parse one input line; a bad one becomes a :class:`BadLine` naming the problem."""
    custom_id: str | None = None
    try:
        if line == 1 and raw.startswith(_BOM):  # written by some Windows tools
            raw = raw[len(_BOM):]
        try:
            data = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise ValidationError(
                    f"not valid JSON: not UTF-8 text (byte {bad.start}: {bad.reason})"
                ) from None
            raise ValidationError(f"not valid JSON ({exc})") from None
        except UnicodeDecodeError as exc:  # msgspec checks UTF-8 inside strings this way
            raise ValidationError(
                f"not valid JSON: not UTF-8 text (byte {exc.start}: {exc.reason})"
            ) from None
        data = _object(data, "a line")
        url: str | None = None
        batch_line = "body" in data and "messages" not in data and "input" not in data
        if batch_line and not set(data) <= _BATCH_LINE_KEYS:
            raw_id = data.get("custom_id")
            custom_id = raw_id if isinstance(raw_id, str) else None
            unknown = ", ".join(sorted(repr(key) for key in set(data) - _BATCH_LINE_KEYS))[:200]
            raise ValidationError(
                f"unknown key {unknown} in a batch line (custom_id, method, url, body); "
                "request options go inside body", field=sorted(set(data) - _BATCH_LINE_KEYS)[0],
            )  # fmt: skip
        if batch_line:
            raw_id = data.get("custom_id")
            if raw_id is not None and not isinstance(raw_id, str):
                raise ValidationError("custom_id must be a string", field="custom_id")
            custom_id = raw_id
            method = data.get("method", "POST")
            if not isinstance(method, str) or method.upper() != "POST":
                raise ValidationError(f"method must be POST, got {method!r}", field="method")
            url = data.get("url")
            if url is not None and not isinstance(url, str):
                raise ValidationError("url must be a string", field="url")
            body = _object(data["body"], "body", "body")
        else:
            body = data
        operation = _operation(url, body)
        return BatchRequest(line, custom_id, operation, _arguments(operation, body, model))
    except ValidationError as exc:
        message = f"line {line}: {exc}"
        return BadLine(line, custom_id, ValidationError(message, field=exc.field))


class _Response(msgspec.Struct):
    status_code: int
    request_id: str | None
    body: msgspec.Raw


class _Error(msgspec.Struct):
    type: str
    message: str
    status_code: int | None = None
    code: str | None = None
    request_id: str | None = None
    field: str | None = None


class _OutputLine(msgspec.Struct):
    custom_id: str | None
    line: int
    response: _Response | None
    error: _Error | None


@dataclass(frozen=True)
class _Result:
    """What one line produced: the output line's bytes and what the summary needs."""

    data: bytes
    error_type: str | None
    tokens: int


_encoder = msgspec.json.Encoder()


def _output(line: int, custom_id: str | None, response: _Response | None,
            error: _Error | None) -> bytes:
    buffer = bytearray()
    _encoder.encode_into(_OutputLine(custom_id, line, response, error), buffer)
    buffer += b"\n"
    return bytes(buffer)


def _error_record(error: Exception) -> _Error:
    record = _Error(type(error).__name__, str(error) or type(error).__name__)
    if isinstance(error, APIStatusError):
        record.status_code = error.status_code
        record.code = error.code
        record.message = error.message
        record.request_id = error.request_id
    elif isinstance(error, ValidationError):
        record.field = error.field
    return record


class BatchRun:
    """One run of a batch from ``source`` into ``target`` over ``client``.

    ``await run()`` processes every line not already in ``target`` and returns the
    :attr:`summary` (kept up to date, so it is also there after a cancellation).
    ``retry_failed`` re-sends lines whose earlier attempts all failed; ``model`` fills
    lines without one; the batch stops after ``max_consecutive_failures`` failures in a
    row (0: never) or at the first error that every line would share (401, 410).
    """

    def __init__(
        self,
        client: Client,
        source: Path,
        target: Path,
        *,
        concurrency: int = 16,
        retry_failed: bool = False,
        model: str | None = None,
        requests_per_minute: float | None = None,
        max_consecutive_failures: int = 100,
        progress: Progress | None = None,
        on_bad_line: Callable[[int, str], None] | None = None,
    ) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError("concurrency must be an integer >= 1", field="concurrency")
        if (isinstance(max_consecutive_failures, bool)
                or not isinstance(max_consecutive_failures, int) or max_consecutive_failures < 0):
            raise ValidationError(
                "max_consecutive_failures must be an integer >= 0 (0: never stop), got "
                f"{max_consecutive_failures!r}", field="max_consecutive_failures",
            )  # fmt: skip
        _check_limits(concurrency, requests_per_minute)  # the fan-out's own check, up front
        if model is not None and not isinstance(model, str):
            raise ValidationError(f"model must be a string, got {model!r}", field="model")
        self.client = client
        self.source = Path(source)
        self.target = Path(target)
        self.concurrency = concurrency
        self.retry_failed = retry_failed
        self.model = model
        self.requests_per_minute = requests_per_minute
        self.max_consecutive_failures = max_consecutive_failures
        self.progress = progress
        self.on_bad_line = on_bad_line
        self.summary = BatchSummary()
        #: lines this run expects to send (known after :meth:`prepare`)
        self.expected: int | None = None
        self._prepared: tuple[IdSet, IdSet, LineWriter] | None = None

    def _work(self, skip: IdSet, retry: IdSet) -> Iterator[BatchRequest | BadLine]:
        checking = bool(skip) or bool(retry)
        seen = IdSet()  # custom_ids met so far: a second line with one is refused
        for line, raw in read_lines(self.source):
            if not raw.strip():
                continue
            parsed = parse_line(line, raw, self.model)
            if parsed.custom_id is not None:
                key = id_hash(parsed.custom_id, line)
                if key in seen:
                    # keyed by its line: its error must not pass for the first line's answer
                    parsed = BadLine(line, None, ValidationError(
                        f"line {line}: duplicate custom_id {parsed.custom_id[:200]!r} "
                        "(an earlier line has it; ids must be unique)", field="custom_id",
                    ))  # fmt: skip
                else:
                    seen.add(key)
            if checking:
                hashed = id_hash(parsed.custom_id, line)
                if hashed in skip:
                    self.summary.skipped += 1
                    continue
                if hashed in retry and not self.retry_failed:
                    self.summary.still_failed += 1
                    continue
            yield parsed

    async def _answer(self, work: BatchRequest | BadLine) -> _Result:
        if isinstance(work, BadLine):
            record = _error_record(work.error)
            return _Result(_output(work.line, work.custom_id, None, record), "BadLine", 0)
        try:
            result: Any
            if work.operation == "chat":
                result = await self.client.chat.completions.create(**work.arguments)
            else:
                result = await self.client.embeddings.create(**work.arguments)
        except FATAL_ERRORS:
            raise
        except ValidationError as exc:  # refused by the client before sending: a bad line
            bad = ValidationError(f"line {work.line}: {exc}", field=exc.field)
            record = _error_record(bad)
            return _Result(_output(work.line, work.custom_id, None, record), "BadLine", 0)
        except Exception as exc:  # every other failure is this line's answer
            record = _error_record(exc)
            return _Result(_output(work.line, work.custom_id, None, record), record.type, 0)
        empty = not result.choices if work.operation == "chat" else not result.data
        if empty:  # a 200 that is no answer (a proxy's page, another API): retry later
            what = "choices" if work.operation == "chat" else "data"
            record = _error_record(ResponseDecodeError(
                f"the server answered {work.operation} with no {what}: not an answer"
            ))  # fmt: skip
            return _Result(_output(work.line, work.custom_id, None, record), record.type, 0)
        info = result.response
        response = _Response(
            info.status if info is not None else 200,
            info.request_id if info is not None else None,
            msgspec.Raw(_encoder.encode(result)),
        )
        tokens = result.usage.total_tokens if result.usage is not None else 0
        return _Result(_output(work.line, work.custom_id, response, None), None, tokens)

    def prepare(self) -> None:
        """Open the files: repair a torn last line of the output, read the ids it holds,
        count the input. ``run()`` calls it if needed; call it first to fail early (a
        missing input, an output that cannot be written) before showing progress."""
        if self._prepared is not None:
            return
        summary = self.summary
        if not self.source.is_file():
            if self.source.exists():
                raise ValidationError(
                    f"input is not a regular file: {self.source} (a batch reads its input "
                    "twice and resumes from it: save a pipe's lines to a file first)",
                    field="input",
                )  # fmt: skip
            raise ValidationError(f"input file not found: {self.source}", field="input")
        if self.target.exists() and not self.target.is_file():
            raise ValidationError(f"output is not a regular file: {self.target}", field="output")
        if self.target.exists() and self.source.samefile(self.target):
            raise ValidationError(
                f"IN and OUT are the same file ({self.source}, {self.target}): "
                "pick another OUT", field="output",
            )  # fmt: skip
        try:
            summary.repaired_bytes = repair_torn_tail(self.target)
            done, only_failed, summary.unreadable_output_lines = scan_output(self.target)
            if summary.unreadable_output_lines:
                first = first_unreadable_line(self.target)
                raise ValidationError(
                    f"line {first} of {self.target} is not a batch answer line: is it "
                    "another tool's file? pick another OUT (or remove the foreign lines)",
                    field="output",
                )
            expected = count_lines(self.source) - len(done)
            writer = LineWriter(self.target)
        except OSError as exc:
            raise ValidationError(
                f"cannot use {exc.filename or self.target}: {exc.strerror or exc}",
                field="output" if exc.filename != str(self.source) else "input",
            ) from None
        if not self.retry_failed:
            expected -= len(only_failed)
        self.expected = max(0, expected)
        self._prepared = (done, only_failed, writer)

    async def run(self) -> BatchSummary:
        """Process the batch; return the summary (a fatal error ends it early, in
        ``summary.stopped``)."""
        summary = self.summary
        started = time.monotonic()
        self.prepare()
        assert self._prepared is not None
        done, only_failed, writer = self._prepared
        progress = self.progress
        if progress is not None:
            progress.total = self.expected
        in_a_row = 0
        try:
            stream = fan_out_stream(
                self._answer, self._work(done, only_failed), concurrency=self.concurrency,
                requests_per_minute=self.requests_per_minute,
            )
            async with stream:
                async for outcome in stream:
                    if outcome.error is not None:
                        error = outcome.error
                        summary.stopped = (
                            error if isinstance(error, GHModelsError)
                            else BatchStoppedError(f"{type(error).__name__}: {error}")
                        )
                        break
                    result = outcome.value
                    assert result is not None
                    try:
                        writer.write(result.data)
                    except OSError as exc:  # disk full, file system gone: stop, keep what is in
                        summary.stopped = BatchStoppedError(
                            f"cannot write {self.target}: {exc.strerror or exc}"
                        )
                        break
                    summary.tokens += result.tokens
                    if result.error_type is None:
                        summary.answered += 1
                        in_a_row = 0
                    else:
                        summary.failed[result.error_type] += 1
                        in_a_row += 1
                        if result.error_type == "BadLine":
                            self._report_bad_line(result.data)
                    if progress is not None:
                        progress.advance(ok=result.error_type is None,
                                         error_type=result.error_type, tokens=result.tokens)
                    if 0 < self.max_consecutive_failures <= in_a_row:
                        summary.stopped = BatchStoppedError(
                            f"stopped after {in_a_row} failures in a row "
                            f"(last: {result.error_type}); rerun with --retry-failed"
                        )
                        break
        except OSError as exc:  # the input cannot be read any more (what is in OUT stays)
            summary.stopped = BatchStoppedError(
                f"cannot read {exc.filename or self.source}: {exc.strerror or exc}"
            )
        except (asyncio.CancelledError, KeyboardInterrupt):
            summary.interrupted = True
            raise
        finally:
            writer.close()
            summary.seconds = time.monotonic() - started
        return summary

    def _report_bad_line(self, data: bytes) -> None:
        record = msgspec.json.decode(data, type=_OutputLine)
        message = record.error.message if record.error is not None else "bad line"
        self.summary.bad_line_count += 1
        if len(self.summary.bad_lines) < 20:
            self.summary.bad_lines.append((record.line, message))
        if self.on_bad_line is not None:
            self.on_bad_line(record.line, message)
