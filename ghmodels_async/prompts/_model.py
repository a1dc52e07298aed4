"""Typed msgspec Structs for a ``.prompt.yml`` file, with the format's rules as checks.

Field names follow the file (``modelParameters``, ``testData``, ``startsWith`` ...) through
``rename="camel"``. Unknown keys are refused so a typo (``maxToken``) is an error naming
its line instead of a silently ignored setting. Checks that span fields (exactly one
evaluator kind, a known built-in) run in ``__post_init__``, so msgspec reports them
with the path of the offending object, which the loader maps back to a YAML line.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct, field

from ..types import ModelId

__all__ = [
    "BUILTIN_NAMES",
    "Evaluator",
    "JsonSchemaSpec",
    "LLMEvaluator",
    "ModelParameters",
    "PromptChoice",
    "PromptFile",
    "PromptMessage",
    "StringEvaluator",
    "TestValue",
]

#: The built-in evaluators a file may name with ``uses: github/<name>``.
BUILTIN_NAMES = ("similarity", "relevance", "coherence", "fluency", "groundedness")

#: A testData value: text, or a number/boolean that becomes text when filled in.
TestValue = str | int | float | bool

_ROLES = ("system", "user", "assistant")


class _Node(Struct, forbid_unknown_fields=True, rename="camel", omit_defaults=True):
    """Base of the file's Structs: camelCase keys, unknown keys refused."""


class ModelParameters(_Node):
    """``modelParameters``: the sampling options sent with every request."""

    max_tokens: Annotated[int, Meta(ge=1)] | None = None
    temperature: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None
    top_p: Annotated[float, Meta(ge=0.0, le=1.0)] | None = None


class PromptMessage(_Node):
    """One templated message; ``role`` is system, user or assistant (any case)."""

    role: str
    content: str

    def __post_init__(self) -> None:
        role = self.role.lower()
        if role not in _ROLES:
            raise ValueError(f"role must be one of {', '.join(_ROLES)}, got {self.role!r}")
        self.role = role


class JsonSchemaSpec(Struct, frozen=True):
    """The ``json_schema`` of the request: a name, the schema and an optional ``strict``."""

    name: Annotated[str, Meta(pattern=r"^[A-Za-z0-9_-]{1,64}\Z")]
    schema: dict[str, Any]
    strict: bool | None = None


class StringEvaluator(_Node):
    """A string check on the trimmed answer; exactly one of the four is set.

    ``equals`` is exact; ``contains``, ``startsWith`` and ``endsWith`` ignore case. The
    value may hold ``{{variables}}`` filled from the test row.
    """

    equals: str | None = None
    contains: str | None = None
    starts_with: str | None = None
    ends_with: str | None = None

    def __post_init__(self) -> None:
        set_ = [name for name, value in self.checks() if value]
        if len(set_) != 1:
            found = ", ".join(set_) or "none"
            raise ValueError(
                "a string evaluator needs exactly one non-empty check of equals, contains, "
                f"startsWith, endsWith (found: {found})"
            )

    def checks(self) -> list[tuple[str, str | None]]:
        """The checks by their file names, in the format's order."""
        return [
            ("equals", self.equals),
            ("contains", self.contains),
            ("startsWith", self.starts_with),
            ("endsWith", self.ends_with),
        ]

    def check(self) -> tuple[str, str]:
        """The one check that is set: its file name and its (unfilled) value."""
        return next((name, value) for name, value in self.checks() if value)


class PromptChoice(_Node):
    """A judge answer and its score; a score above 0 passes."""

    choice: str | int
    score: float

    def __post_init__(self) -> None:
        if isinstance(self.choice, bool):
            raise ValueError("choice must be text or a number")
        self.choice = str(self.choice)
        if not self.choice.strip():
            raise ValueError("choice must not be empty")

    @property
    def text(self) -> str:
        """The choice as text."""
        return str(self.choice)


class LLMEvaluator(_Node):
    """A judge model asked ``prompt`` (which sees ``{{completion}}``); scored ``choices``."""

    model_id: ModelId
    prompt: str
    choices: Annotated[list[PromptChoice], Meta(min_length=1)]
    system_prompt: str | None = None


class Evaluator(_Node):
    """One named evaluator: ``string``, ``llm`` or ``uses: github/<builtin>``."""

    name: Annotated[str, Meta(min_length=1)]
    string: StringEvaluator | None = None
    llm: LLMEvaluator | None = None
    uses: str | None = None

    def __post_init__(self) -> None:
        kinds = [k for k in ("string", "llm", "uses") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError(
                f"evaluator {self.name!r} needs exactly one of string, llm, uses "
                f"(found: {', '.join(kinds) or 'none'})"
            )
        if self.uses is not None:
            known = [f"github/{name}" for name in BUILTIN_NAMES]
            if self.uses not in known:
                raise ValueError(
                    f"uses names no built-in evaluator: {self.uses!r} (known: {', '.join(known)})"
                )


class PromptFile(_Node):
    """The whole file. ``jsonSchema`` is kept as written (a JSON string or a mapping);
    :meth:`json_schema_spec` is its parsed form."""

    messages: Annotated[list[PromptMessage], Meta(min_length=1)]
    name: str = ""
    description: str = ""
    model: ModelId | None = None
    model_parameters: ModelParameters = field(default_factory=ModelParameters)
    response_format: Literal["text", "json_object", "json_schema"] | None = None
    json_schema: str | dict[str, Any] | None = None
    test_data: list[dict[str, TestValue]] = field(default_factory=list)
    evaluators: list[Evaluator] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.json_schema is not None and self.response_format != "json_schema":
            raise ValueError("jsonSchema is only used with responseFormat: json_schema")
        if self.response_format == "json_schema" and self.json_schema is None:
            raise ValueError("responseFormat json_schema needs a jsonSchema")
        self.json_schema_spec()  # a malformed schema is an error of the file

    def json_schema_spec(self) -> JsonSchemaSpec | None:
        """The parsed ``jsonSchema`` (None without one)."""
        if self.json_schema is None:
            return None
        return _parse_schema(self.json_schema, self.name)


def _parse_schema(raw: str | dict[str, Any], file_name: str) -> JsonSchemaSpec:
    """``jsonSchema`` as a JSON string (current format) or a YAML mapping; a mapping
    without ``name``/``schema`` is a bare schema (older examples) and gets a name."""
    if isinstance(raw, str):
        try:
            value = msgspec.json.decode(raw)
        except msgspec.DecodeError as exc:
            raise ValueError(f"jsonSchema is not valid JSON: {exc}") from None
        if not isinstance(value, dict):
            raise ValueError("jsonSchema must hold a JSON object")
    else:
        value = raw
    if "schema" not in value:
        slug = "".join(c if c.isalnum() or c in "_-" else "_" for c in file_name)[:64]
        value = {"name": slug or "response", "schema": value}
    try:
        return msgspec.convert(value, JsonSchemaSpec)
    except msgspec.ValidationError as exc:
        raise ValueError(f"jsonSchema: {exc}") from None
