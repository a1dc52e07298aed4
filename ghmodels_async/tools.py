"""Tools from typed Python functions, and the public names of typed output and tool loops.

``@function_tool`` turns a function (async or not) into a :class:`FunctionTool`: its
parameters become a msgspec Struct, whose strict-mode JSON Schema is the tool's
``parameters``; its docstring becomes the description. The model's arguments decode
straight into that Struct. Pass tools to ``client.chat.completions.create(tools=...)``,
``parse(tools=...)`` or ``run_tools(tools=...)``; still call the function as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import inspect
import re
import typing
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeVar, overload

import msgspec

from ._errors import ValidationError
from ._parse import ParsedChatCompletion, ParsedChatCompletionMessage, ParsedChoice
from ._schema import StrictSchema, TypeCodec, codec_for, strict_schema
from ._tool_loop import (
    ContentDelta,
    ReasoningDelta,
    ToolCallFinished,
    ToolCallStarted,
    ToolEvent,
    ToolRunResult,
    ToolRunStream,
)

__all__ = [
    "ContentDelta",
    "FunctionTool",
    "ParsedChatCompletion",
    "ParsedChatCompletionMessage",
    "ParsedChoice",
    "ReasoningDelta",
    "ToolCallFinished",
    "ToolCallStarted",
    "ToolEvent",
    "ToolRunResult",
    "ToolRunStream",
    "function_tool",
    "response_format_for",
]

P = ParamSpec("P")
R = TypeVar("R")

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Params|Returns|Raises|Yields)\s*:?\s*$")
_ARG_LINE = re.compile(r"^\s{2,}(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")
_SPHINX = re.compile(r"^\s*:param\s+(?:[^:]*\s)?(\w+)\s*:\s*(.*)$")


def _split_docstring(doc: str | None) -> tuple[str | None, dict[str, str]]:
    """The description (text before any ``Args:`` section) and per-argument texts
    (Google style ``name: text`` under ``Args:``, or Sphinx ``:param name: text``)."""
    if not doc:
        return None, {}
    lines = inspect.cleandoc(doc).splitlines()
    summary: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    last: str | None = None
    for line in lines:
        header = _SECTION.match(line)
        sphinx = _SPHINX.match(line)
        if sphinx:
            last = sphinx.group(1)
            args[last] = sphinx.group(2).strip()
            section = "sphinx"
        elif header:
            section = header.group(1)
            last = None
        elif section in ("Args", "Arguments", "Parameters", "Params"):
            arg = _ARG_LINE.match("  " + line if not line.startswith(" ") else line)
            if arg and not line.startswith("    " * 2):
                last = arg.group(1).lstrip("*")
                args[last] = arg.group(2).strip()
            elif last is not None and line.strip():
                args[last] = f"{args[last]} {line.strip()}".strip()
        elif section is None:
            summary.append(line)
        elif section == "sphinx" and last is not None and line.strip():
            args[last] = f"{args[last]} {line.strip()}"
    text = "\n".join(summary).strip()
    return (text or None), args


def _is_mutable(value: Any) -> bool:
    """Whether a parameter default would be shared (and changed) between calls."""
    if isinstance(value, (list, dict, set, bytearray)):
        return True
    if isinstance(value, msgspec.Struct):
        return not type(value).__struct_config__.frozen
    return False


def _has_description(tp: Any) -> bool:
    if typing.get_origin(tp) is typing.Annotated:
        return any(isinstance(m, msgspec.Meta) and m.description for m in tp.__metadata__)
    return False


class FunctionTool(Generic[P, R]):
    """A function the model can call: name, description, typed parameters, schema.

    Calling the object calls the function. ``param()`` is the ``tools=[...]`` entry sent
    to the server (built once); ``decode_arguments`` turns the model's JSON into the
    parameters Struct; ``invoke`` runs the function with it (a sync function runs in a
    worker thread unless ``thread=False``, so it never blocks the event loop).
    """

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        description: str | None = None,
        strict: bool = True,
        timeout: float | None = None,
        thread: bool = True,
    ) -> None:
        if not callable(fn):
            raise ValidationError(f"function_tool needs a function, got {fn!r}", field="fn")
        self.fn = fn
        self.name = name if name is not None else getattr(fn, "__name__", "")
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            hint = (
                "; a lambda, a functools.partial or a callable object has no usable name: "
                "pass function_tool(name=...)"
                if name is None
                else ""
            )
            raise ValidationError(
                f"tool name must be 1-64 letters, digits, '_' or '-', got {self.name!r}{hint}",
                field="name",
            )
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0
        ):  # (NaN fails "> 0" too)
            raise ValidationError(
                f"timeout must be a number of seconds > 0, got {timeout!r}", field="timeout"
            )
        summary, arg_docs = _split_docstring(getattr(fn, "__doc__", None))
        self.description = description if description is not None else summary
        self.strict = bool(strict)
        self.timeout = None if timeout is None else float(timeout)
        self.is_async = inspect.iscoroutinefunction(fn)
        self.thread = thread
        self._positional: list[str] = []
        self.params_type: type[msgspec.Struct] = self._params_struct(fn, arg_docs)
        self.schema_info: StrictSchema = self._schema()
        self._codec: TypeCodec[Any] = TypeCodec(self.params_type, self.schema_info)
        self._param: dict[str, Any] | None = None
        functools.update_wrapper(self, fn)

    def _params_struct(self, fn: Callable[..., Any], docs: Mapping[str, str]) -> type[Any]:
        try:
            signature = inspect.signature(fn)
            hints = typing.get_type_hints(fn, include_extras=True)
        except (TypeError, ValueError, NameError) as exc:
            raise ValidationError(
                f"tool {self.name!r}: cannot read the function's signature: {exc}", field=self.name
            ) from None
        fields: list[Any] = []
        for param in signature.parameters.values():
            where = f"{self.name}.{param.name}"
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise ValidationError(
                    f"tool {self.name!r}: *args/**kwargs ({param.name}) cannot be described to "
                    "the model; list the parameters",
                    field=where,
                )
            if param.name not in hints:
                raise ValidationError(
                    f"tool {self.name!r}: parameter {param.name!r} has no type annotation",
                    field=where,
                )
            tp = hints[param.name]
            doc = docs.get(param.name)
            if doc and not _has_description(tp):
                tp = typing.Annotated[tp, msgspec.Meta(description=doc)]
            if param.kind is param.POSITIONAL_ONLY:
                self._positional.append(param.name)
            if param.default is param.empty:
                fields.append((param.name, tp))
            elif _is_mutable(param.default):
                # Python shares one such default between calls; each call gets a copy here
                factory = functools.partial(copy.deepcopy, param.default)
                fields.append((param.name, tp, msgspec.field(default_factory=factory)))
            else:
                fields.append((param.name, tp, param.default))
        try:
            return msgspec.defstruct(
                f"{self.name}_arguments", fields, kw_only=True, forbid_unknown_fields=True
            )
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"tool {self.name!r}: {exc}", field=self.name) from None

    def _schema(self) -> StrictSchema:
        if self.strict:
            return strict_schema(self.params_type, self.name)
        try:
            raw = msgspec.json.schema(self.params_type)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"tool {self.name!r}: {exc}", field=self.name) from None
        defs = dict(raw.get("$defs", {}))
        root = dict(defs.pop(f"{self.name}_arguments", raw))
        root.pop("title", None)
        if defs:
            root["$defs"] = defs
        return StrictSchema(self.name, root, None, frozenset())

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON Schema of the parameters, as sent."""
        return self.schema_info.schema

    def param(self) -> dict[str, Any]:
        """The ``tools=[...]`` entry for this function (built once, shared: do not mutate)."""
        if self._param is None:
            function: dict[str, Any] = {"name": self.name, "parameters": self.parameters}
            if self.description:
                function["description"] = self.description
            if self.strict:
                function["strict"] = True
            self._param = {"type": "function", "function": function}
        return self._param

    def decode_arguments(self, arguments: str | bytes) -> Any:
        """The model's JSON arguments as the parameters Struct; raises
        ``msgspec.DecodeError``/``msgspec.ValidationError`` when they do not match."""
        return self._codec.decode(arguments or "{}")

    async def invoke(self, arguments: Any) -> Any:
        """Run the function with a decoded parameters Struct; returns what it returns."""
        values = {f: getattr(arguments, f) for f in arguments.__struct_fields__}
        args = [values.pop(name) for name in self._positional]
        if self.is_async:
            return await typing.cast(Callable[..., Awaitable[Any]], self.fn)(*args, **values)
        if self.thread:
            return await asyncio.to_thread(self.fn, *args, **values)
        outcome = self.fn(*args, **values)
        if inspect.isawaitable(outcome):
            return await outcome
        return outcome

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"FunctionTool(name={self.name!r}, strict={self.strict}, timeout={self.timeout})"


@overload
def function_tool(fn: Callable[P, R], /) -> FunctionTool[P, R]: ...


@overload
def function_tool(
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = True,
    timeout: float | None = None,
    thread: bool = True,
) -> Callable[[Callable[P, R]], FunctionTool[P, R]]: ...


def function_tool(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool = True,
    timeout: float | None = None,
    thread: bool = True,
) -> FunctionTool[P, R] | Callable[[Callable[P, R]], FunctionTool[P, R]]:
    """Make a function a tool: ``@function_tool`` or ``@function_tool(timeout=5)``.

    ``name`` defaults to the function's name, ``description`` to its docstring (an
    ``Args:`` section describes the parameters). ``strict=True`` sends a strict-mode
    schema (a type strict mode cannot express raises ValidationError here, at
    decoration). ``timeout`` bounds one call in ``run_tools``. A sync function runs in a
    worker thread (``thread=False``: in the event loop).
    """

    def wrap(target: Callable[P, R]) -> FunctionTool[P, R]:
        return FunctionTool(
            target, name=name, description=description, strict=strict, timeout=timeout,
            thread=thread,
        )  # fmt: skip

    return wrap(fn) if fn is not None else wrap


_formats: dict[Any, dict[str, Any]] = {}


def response_format_for(tp: Any) -> dict[str, Any]:
    """The ``response_format`` asking for JSON of type ``tp`` (strict json_schema),
    built once per type (shared: do not mutate)."""
    try:
        cached = _formats.get(tp)
    except TypeError:
        cached = None
    if cached is None:
        spec = strict_schema(tp)
        json_schema: dict[str, Any] = {"name": spec.name, "schema": spec.schema, "strict": True}
        if spec.description:
            json_schema["description"] = spec.description
        cached = {"type": "json_schema", "json_schema": json_schema}
        with contextlib.suppress(TypeError):  # an unhashable type: not cached
            _formats[tp] = cached
    return cached


def is_output_type(value: Any) -> bool:
    """True for a ``response_format`` given as a type (a Struct, dataclass, TypedDict...)
    rather than as a format dict or Struct instance."""
    return isinstance(value, type) or typing.get_origin(value) is not None


def convert_typed_options(response_format: Any, tools: Sequence[Any] | None) -> tuple[Any, Any]:
    """``create``'s conversion step: a type as ``response_format`` becomes its strict
    json_schema format, a FunctionTool in ``tools`` its ``tools`` entry. Anything else
    passes through unchanged (and is validated by the request builder)."""
    if response_format is not None and is_output_type(response_format):
        response_format = response_format_for(response_format)
    if tools is not None and not isinstance(tools, (str, bytes, Mapping)):
        try:
            items = list(tools)
        except TypeError:
            return response_format, tools
        if any(isinstance(t, FunctionTool) for t in items):
            tools = [t.param() if isinstance(t, FunctionTool) else t for t in items]
    return response_format, tools


def tool_index(tools: Sequence[Any] | None) -> dict[str, FunctionTool[Any, Any]]:
    """The FunctionTools of ``tools`` by name (duplicates are a ValidationError)."""
    index: dict[str, FunctionTool[Any, Any]] = {}
    for i, tool in enumerate(tools or ()):
        if isinstance(tool, FunctionTool):
            if tool.name in index:
                raise ValidationError(f"two tools are named {tool.name!r}", field=f"tools[{i}]")
            index[tool.name] = tool
    return index


def output_codec(tp: Any) -> TypeCodec[Any]:
    """The cached decoder of the answer type ``tp``."""
    return codec_for(tp)
