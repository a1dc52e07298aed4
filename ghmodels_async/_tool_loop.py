"""The tool loop behind ``run_tools`` and ``run_tools_stream``: call, run tools, repeat.

Each round sends the history, and if the model asks for tools, runs the calls of that
turn concurrently (at most ``tool_concurrency`` at once, each bounded by its timeout).
Every failure (unknown tool, arguments that do not decode, an exception, a timeout)
becomes a tool message telling the model what went wrong, under the right
``tool_call_id``: a call is never lost and one bad tool never ends the loop.
Cancelling the caller cancels the running tools.
"""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

import msgspec

from ._accumulator import StreamAccumulator
from ._errors import MaxToolRoundsError, ResponseDecodeError, ValidationError
from ._parse import parse_completion
from .types import AssistantMessage, ChatCompletion, ToolCall, ToolMessage

if TYPE_CHECKING:
    from .client import Completions
    from .tools import FunctionTool

__all__ = [
    "ContentDelta",
    "ReasoningDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolEvent",
    "ToolLoop",
    "ToolRunResult",
    "ToolRunStream",
    "decode_tool_arguments_quietly",
]

_encoder = msgspec.json.Encoder()

ErrorKind = Literal["unknown_tool", "invalid_arguments", "exception", "timeout"]


@dataclass(frozen=True)
class ToolCallStarted:
    """A tool call began running (after waiting for a ``tool_concurrency`` slot)."""

    call_id: str
    name: str
    arguments: str
    round: int


@dataclass(frozen=True)
class ToolCallFinished:
    """A tool call ended; ``content`` is what the model is sent. On failure ``error`` says
    how (``unknown_tool``, ``invalid_arguments``, ``exception``, ``timeout``) and
    ``exception`` holds the exception, if one was raised."""

    call_id: str
    name: str
    content: str
    round: int
    elapsed: float
    error: ErrorKind | None = None
    exception: BaseException | None = None


@dataclass(frozen=True)
class ContentDelta:
    """A piece of the model's text, as streamed (``run_tools_stream``)."""

    text: str
    round: int


@dataclass(frozen=True)
class ReasoningDelta:
    """A piece of the model's reasoning (``reasoning_content``/``reasoning``), as streamed."""

    text: str
    round: int


ToolEvent: TypeAlias = ToolCallStarted | ToolCallFinished
StreamEvent: TypeAlias = ContentDelta | ReasoningDelta | ToolCallStarted | ToolCallFinished


@dataclass
class ToolRunResult:
    """The end of a tool loop: the final completion (a ParsedChatCompletion when a type was
    given as ``response_format``), the whole history and the number of model calls."""

    completion: ChatCompletion
    messages: list[Any] = field(default_factory=list)
    rounds: int = 0


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValidationError(f"{name} must be an integer >= 1, got {value!r}", field=name)
    return value


def _render(result: Any) -> str:
    """A tool's return value as the text the model is sent (JSON unless it is text);
    lone surrogates (e.g. from bytes decoded with ``surrogateescape``) become U+FFFD, or
    the next request could not be encoded."""
    if isinstance(result, str):
        try:
            result.encode("utf-8")
        except UnicodeEncodeError:
            return re.sub("[\ud800-\udfff]", "\ufffd", result)
        return result
    return _encoder.encode(result).decode()


class ToolLoop:
    """One run of the loop; ``run()`` or ``stream()`` drives it (once)."""

    def __init__(
        self,
        completions: Completions,
        *,
        model: str,
        messages: Sequence[Any],
        tools: Sequence[FunctionTool[Any, Any]],
        max_rounds: int,
        tool_concurrency: int,
        tool_timeout: float | None,
        on_event: Callable[[ToolEvent], Awaitable[None] | None] | None,
        options: Mapping[str, Any],
    ) -> None:
        from .tools import FunctionTool, is_output_type, output_codec, tool_index

        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise ValidationError("messages must be a list of messages", field="messages")
        if isinstance(tools, (str, bytes)) or not isinstance(tools, Sequence) or not tools:
            raise ValidationError("tools must be a non-empty list of function_tool", field="tools")
        for i, tool in enumerate(tools):
            if not isinstance(tool, FunctionTool):
                raise ValidationError(
                    f"run_tools runs functions: tools[{i}] must be a @function_tool, got "
                    f"{type(tool).__name__}",
                    field=f"tools[{i}]",
                )
        if tool_timeout is not None and (
            isinstance(tool_timeout, bool)
            or not isinstance(tool_timeout, (int, float))
            or not tool_timeout > 0  # NaN too
        ):
            raise ValidationError(
                f"tool_timeout must be a number of seconds > 0, got {tool_timeout!r}",
                field="tool_timeout",
            )
        if on_event is not None and not callable(on_event):
            raise ValidationError("on_event must be a callable", field="on_event")
        for name in ("stream", "tools", "messages", "model"):
            if name in options:
                raise ValidationError(f"{name} cannot be passed to run_tools here", field=name)
        self._completions = completions
        self._model = model
        self._history: list[Any] = list(messages)
        self._index = tool_index(tools)
        self._params = [t.param() for t in tools]
        self._max_rounds = _positive_int(max_rounds, "max_rounds")
        self._concurrency = _positive_int(tool_concurrency, "tool_concurrency")
        self._tool_timeout = tool_timeout
        self._on_event = on_event
        self._options = dict(options)
        response_format = self._options.get("response_format")
        self._codec = None
        if response_format is not None and is_output_type(response_format):
            self._codec = output_codec(response_format)
        self.result: ToolRunResult | None = None

    # -- one round ------------------------------------------------------------

    def _turn(self, completion: ChatCompletion, round_: int) -> list[ToolCall] | None:
        """The calls the model asks for (ids filled in), or None when it is done."""
        if not completion.choices:
            raise ResponseDecodeError("the answer has no choices")
        choice = completion.choices[0]
        message = choice.message
        if not message.tool_calls:
            if choice.finish_reason == "tool_calls" and not message.content and (
                message.refusal is None
            ):
                raise ResponseDecodeError(
                    "the model's answer has finish_reason 'tool_calls' but no tool call and "
                    "no text: there is nothing to run and nothing to return"
                )
            return None
        return _with_unique_ids(message.tool_calls, round_)

    def _finish(self, completion: ChatCompletion, rounds: int) -> ToolRunResult:
        message = completion.choices[0].message
        self._history.append(
            AssistantMessage(content=message.content, refusal=message.refusal)
            if message.content is not None or message.refusal is not None
            else AssistantMessage(content="")
        )
        if self._codec is not None:
            completion = parse_completion(completion, self._codec, self._index)
        self.result = ToolRunResult(completion=completion, messages=self._history, rounds=rounds)
        return self.result

    def _over(self, completion: ChatCompletion, rounds: int) -> MaxToolRoundsError:
        return MaxToolRoundsError(
            f"the model still asks for tools after max_rounds={self._max_rounds} calls",
            messages=self._history,
            completion=completion,
            rounds=rounds,
        )

    async def _emit(self, event: ToolEvent) -> None:
        if self._on_event is not None:
            outcome = self._on_event(event)
            if inspect.isawaitable(outcome):
                await outcome

    async def _execute(self, call: ToolCall) -> tuple[str, ErrorKind | None, BaseException | None]:
        name = call.function.name
        tool = self._index.get(name)
        if tool is None:
            known = ", ".join(sorted(self._index))
            return (
                f"Error: there is no tool named {name!r}; the tools are: {known}.",
                ("unknown_tool"),
                None,
            )
        arguments = call.function.parsed_arguments
        if arguments is None:
            try:
                arguments = tool.decode_arguments(call.function.arguments)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                return (
                    f"Error: invalid arguments for {name!r}: {exc}. Call it again with "
                    "arguments that match its parameters.",
                    "invalid_arguments",
                    exc,
                )
            call.function.__dict__["_parsed_arguments"] = arguments
        timeout = tool.timeout if tool.timeout is not None else self._tool_timeout
        task = asyncio.ensure_future(tool.invoke(arguments))
        try:
            done, _ = await asyncio.wait((task,), timeout=timeout)
        except BaseException:  # the caller was cancelled: so is the tool
            task.cancel()
            raise
        if not done:
            task.cancel()
            await asyncio.wait((task,))
            return f"Error: {name!r} did not finish within {timeout:g} s.", "timeout", None
        if task.cancelled():
            return f"Error: {name!r} was cancelled.", "exception", None
        failure = task.exception()
        if failure is not None:
            text = f"Error: {name!r} failed: {type(failure).__name__}: {failure}"
            return text, "exception", failure
        try:
            return _render(task.result()), None, None
        except (TypeError, ValueError, OverflowError) as render_exc:
            return (
                f"Error: {name!r} returned a value that is not JSON: {render_exc}",
                "exception",
                render_exc,
            )

    async def _run_call(
        self,
        call: ToolCall,
        round_: int,
        slots: asyncio.Semaphore,
        emit: Callable[[ToolEvent], Awaitable[None]],
    ) -> ToolMessage:
        async with slots:
            function = call.function
            await emit(ToolCallStarted(call.id, function.name, function.arguments, round_))
            started = time.perf_counter()
            content, error, exc = await self._execute(call)
            elapsed = time.perf_counter() - started
            await emit(
                ToolCallFinished(
                    call.id, call.function.name, content, round_, elapsed, error, exception=exc
                )
            )
        return ToolMessage(content=content, tool_call_id=call.id)

    def _record_turn(self, completion: ChatCompletion, calls: list[ToolCall]) -> None:
        if self._options.get("tool_choice") not in (None, "auto", "none"):
            # a forced choice ("required", one named tool) applies to the first call only,
            # or the model could never answer without calling a tool again
            self._options["tool_choice"] = "auto"
        message = completion.choices[0].message
        decode_tool_arguments_quietly(message, self._index)
        self._history.append(AssistantMessage(content=message.content, tool_calls=calls))

    def _request(self, stream: bool) -> Awaitable[Any]:
        return self._completions.create(  # type: ignore[call-overload,no-any-return]
            model=self._model,
            messages=self._history,
            tools=self._params,
            stream=stream,
            **self._options,
        )

    # -- drivers ----------------------------------------------------------------

    async def run(self) -> ToolRunResult:
        """Run the loop to the end and return the result."""
        slots = asyncio.Semaphore(self._concurrency)
        for round_ in range(1, self._max_rounds + 1):
            completion: ChatCompletion = await self._request(False)
            calls = self._turn(completion, round_)
            if calls is None:
                return self._finish(completion, round_)
            if round_ == self._max_rounds:
                raise self._over(completion, round_)
            self._record_turn(completion, calls)
            tasks = [
                asyncio.ensure_future(self._run_call(call, round_, slots, self._emit))
                for call in calls
            ]
            try:
                results = await asyncio.gather(*tasks)
            finally:
                await _stop(tasks)
            self._history.extend(results)
        raise AssertionError("unreachable")  # pragma: no cover

    async def stream(self) -> AsyncIterator[StreamEvent]:
        """Run the loop, yielding text deltas and tool events as they happen."""
        slots = asyncio.Semaphore(self._concurrency)
        for round_ in range(1, self._max_rounds + 1):
            accumulator = StreamAccumulator()
            answer = await self._request(True)
            async with answer:
                async for chunk in answer:
                    accumulator.add(chunk)
                    for choice in chunk.choices:
                        if choice.index != 0:
                            continue
                        delta = choice.delta
                        if delta.content:
                            yield ContentDelta(delta.content, round_)
                        thought = delta.reasoning_content or delta.reasoning
                        if thought:
                            yield ReasoningDelta(thought, round_)
            completion = accumulator.completion()
            completion.__dict__["_response_info"] = answer.response
            calls = self._turn(completion, round_)
            if calls is None:
                self._finish(completion, round_)
                return
            if round_ == self._max_rounds:
                raise self._over(completion, round_)
            self._record_turn(completion, calls)
            queue: asyncio.Queue[ToolEvent] = asyncio.Queue()

            async def emit(event: ToolEvent, queue: asyncio.Queue[ToolEvent] = queue) -> None:
                queue.put_nowait(event)
                await self._emit(event)

            tasks = [
                asyncio.ensure_future(self._run_call(call, round_, slots, emit)) for call in calls
            ]
            work = asyncio.gather(*tasks)
            try:
                for _ in range(2 * len(calls)):  # one start and one finish per call
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait((getter, work), return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        work.result()  # a hook raised: re-raise it here
                    yield getter.result()
                results = await work
            finally:
                await _stop(tasks)
                if work.done() and not work.cancelled():
                    work.exception()  # retrieved (it was re-raised above if set)
            self._history.extend(results)


def _with_unique_ids(calls: Sequence[ToolCall], round_: int) -> list[ToolCall]:
    """The calls of one turn, each with an id of its own: a missing id is filled in and a
    repeated one renamed, so every tool message answers exactly one call (the first call
    keeps an id the model gave)."""
    given = {call.id for call in calls if call.id}
    used: set[str] = set()
    unique: list[ToolCall] = []
    for j, call in enumerate(calls):
        call_id = call.id
        if not call_id or call_id in used:
            stem = f"{call_id}_{j}" if call_id else f"call_{round_}_{j}"
            call_id, n = stem, 1
            while call_id in used or call_id in given:
                call_id, n = f"{stem}_{n}", n + 1
            call = ToolCall(id=call_id, type=call.type, function=call.function)
        used.add(call_id)
        unique.append(call)
    return unique


async def _stop(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel the tool calls still running (the caller was cancelled, a hook raised, or
    the stream was left) and wait until every one has stopped."""
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)


def decode_tool_arguments_quietly(
    message: Any, tools: Mapping[str, FunctionTool[Any, Any]]
) -> None:
    """Set ``parsed_arguments`` where the arguments decode; bad ones are reported to the
    model by the call itself, not raised here."""
    for call in message.tool_calls or ():
        tool = tools.get(call.function.name)
        if tool is None or call.function.parsed_arguments is not None:
            continue
        try:
            call.function.__dict__["_parsed_arguments"] = tool.decode_arguments(
                call.function.arguments
            )
        except (msgspec.DecodeError, msgspec.ValidationError):
            continue


class ToolRunStream:
    """The streaming tool loop: ``async for event in run`` yields ContentDelta,
    ReasoningDelta, ToolCallStarted and ToolCallFinished; afterwards ``run.result`` is
    the ToolRunResult. Leaving early (``break``, ``aclose()``, ``async with``) closes the
    HTTP stream and cancels running tools."""

    def __init__(self, loop: ToolLoop) -> None:
        self._loop = loop
        self._events = loop.stream()

    def __aiter__(self) -> ToolRunStream:
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._events.__anext__()

    @property
    def result(self) -> ToolRunResult:
        """The result, once the iteration has ended (RuntimeError before)."""
        if self._loop.result is None:
            raise RuntimeError("the tool loop has not finished: iterate it to the end first")
        return self._loop.result

    async def until_done(self) -> ToolRunResult:
        """Consume the remaining events and return the result."""
        async for _ in self:
            pass
        return self.result

    async def aclose(self) -> None:
        """Stop the loop: close the stream and cancel running tools."""
        await self._events.aclose()  # type: ignore[attr-defined]

    async def __aenter__(self) -> ToolRunStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
