"""``Prompt``: a loaded prompt file you can render, run, stream and evaluate.

``render(**variables)`` returns the typed request (``types.ChatCompletionRequest``,
validated, ``msgspec.json.encode`` of it is the exact body sent); ``run`` sends it and
returns the ``ChatCompletion``. Variables are checked both ways: a placeholder without a
value (missing) and a value no message uses (unknown, usually a typo) are both errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from .._errors import ValidationError
from ..types import ChatCompletion, ChatCompletionRequest
from ._load import load_prompt_file, parse_prompt_text
from ._model import PromptFile
from ._render import check_unknown, fill, mentions, placeholders

if TYPE_CHECKING:
    from .._stream import ChatCompletionStream
    from ..client import Client
    from ._report import EvalReport, TestResult

__all__ = ["Prompt", "request_options"]


def request_options(request: ChatCompletionRequest) -> dict[str, Any]:
    """The keyword arguments of ``client.chat.completions.create`` for ``request``."""
    return {
        name: value
        for name in request.__struct_fields__
        if (value := getattr(request, name)) is not None
    }


class Prompt:
    """A validated ``.prompt.yml`` file. ``file`` holds every field as a typed Struct."""

    def __init__(self, file: PromptFile, *, path: str | None = None) -> None:
        self.file = file
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> Prompt:
        """Read and validate a prompt file (needs the ``[prompts]`` extra: PyYAML).

        Raises PromptFileError naming the file, the line and the field of a problem.
        """
        return cls(load_prompt_file(path), path=str(path))

    @classmethod
    def from_text(cls, text: str, name: str = "<prompt>") -> Prompt:
        """Validate prompt-file YAML given as text; ``name`` appears in errors."""
        return cls(parse_prompt_text(text, name), path=name)

    def __repr__(self) -> str:
        return f"Prompt(name={self.name!r}, model={self.model!r}, path={self.path!r})"

    @property
    def name(self) -> str:
        """The file's ``name`` (may be empty)."""
        return self.file.name

    @property
    def description(self) -> str:
        """The file's ``description`` (may be empty)."""
        return self.file.description

    @property
    def model(self) -> str | None:
        """The model the prompt runs on."""
        return self.file.model

    @property
    def variables(self) -> list[str]:
        """The ``{{variables}}`` the messages use, in order of first use."""
        names: dict[str, None] = {}
        for message in self.file.messages:
            names.update(dict.fromkeys(placeholders(message.content)))
        return list(names)

    def with_model(self, model: str) -> Prompt:
        """A copy running on ``model`` (judges keep their own ``modelId``)."""
        try:
            file = msgspec.convert({**msgspec.to_builtins(self.file), "model": model}, PromptFile)
        except msgspec.ValidationError as exc:
            raise ValidationError(f"invalid model {model!r}: {exc}", field="model") from None
        return Prompt(file, path=self.path)

    def render(self, /, **variables: object) -> ChatCompletionRequest:
        """The request for these variables; PromptVariableError names missing or unknown
        variables, ValidationError a request the API would refuse."""
        usable = [name for m in self.file.messages for name in mentions(m.content)]
        check_unknown(variables, usable, where=self.path or "prompt")
        return self.render_row(variables)

    def render_row(self, row: Mapping[str, object]) -> ChatCompletionRequest:
        """The request for a test row (extra keys are allowed: evaluators read them)."""
        where = self.path or "prompt"
        if not self.file.model:
            raise ValidationError(
                f"{where}: no model: set `model:` in the file or choose one (-m MODEL)",
                field="model",
            )
        messages = [
            {"role": m.role, "content": fill(m.content, row, where=f"{where}: messages[{i}]")}
            for i, m in enumerate(self.file.messages)
        ]
        params = self.file.model_parameters
        body: dict[str, Any] = {
            "model": self.file.model,
            "messages": messages,
            "max_tokens": params.max_tokens,
            "temperature": params.temperature,
            "top_p": params.top_p,
        }
        fmt = self.file.response_format
        if fmt == "json_schema":
            spec = self.file.json_schema_spec()
            assert spec is not None  # the file's own check guarantees it
            body["response_format"] = {
                "type": "json_schema", "json_schema": msgspec.to_builtins(spec),
            }  # fmt: skip
        elif fmt is not None:
            body["response_format"] = {"type": fmt}
        try:
            return msgspec.convert(body, ChatCompletionRequest)
        except msgspec.ValidationError as exc:
            raise ValidationError(f"{where}: invalid request: {exc}") from None

    async def run(self, client: Client, /, **variables: object) -> ChatCompletion:
        """Send the rendered prompt and return the completion."""
        request = self.render(**variables)
        completion: ChatCompletion = await client.chat.completions.create(
            **request_options(request)
        )
        return completion

    async def stream(self, client: Client, /, **variables: object) -> ChatCompletionStream:
        """Send the rendered prompt with ``stream=True``; use the result with ``async with``."""
        request = self.render(**variables)
        stream: ChatCompletionStream = await client.chat.completions.create(
            **request_options(request), stream=True
        )
        return stream

    async def evaluate(
        self,
        client: Client,
        *,
        concurrency: int = 8,
        requests_per_minute: float | None = None,
        on_row: Callable[[int, TestResult], None] | None = None,
    ) -> EvalReport:
        """Run every ``testData`` row concurrently and apply the evaluators.

        Rows go through ``fanout.fan_out`` (at most ``concurrency`` rows in flight, row
        starts paced to ``requests_per_minute``); each row's judges run after its answer.
        A row whose call fails is reported failed with its ``error``.
        """
        from ._eval import run_eval

        report, _errors = await run_eval(
            self, client, concurrency=concurrency,
            requests_per_minute=requests_per_minute, on_row=on_row,
        )  # fmt: skip
        return report
