"""Prompt files (``.prompt.yml``): load, render, run and evaluate them like ``gh models``.

``Prompt.load(path)`` validates a file (PyYAML, the ``[prompts]`` extra, is imported only
then); ``prompt.render(**variables)`` gives the typed request, ``await prompt.run(client,
**variables)`` the completion, ``await prompt.evaluate(client)`` an :class:`EvalReport`
whose ``to_json()`` has the ``gh models eval --json`` shape. See ``docs/prompts.md``.
"""

from ._builtins import BUILTIN_EVALUATORS, JUDGE_MODEL
from ._errors import MissingExtraError, PromptFileError, PromptVariableError
from ._evaluate import CHOICES_LINE
from ._model import (
    Evaluator,
    JsonSchemaSpec,
    LLMEvaluator,
    ModelParameters,
    PromptChoice,
    PromptFile,
    PromptMessage,
    StringEvaluator,
)
from ._prompt import Prompt, request_options
from ._report import EvalReport, EvalSummary, EvaluationResult, TestResult

__all__ = [
    "BUILTIN_EVALUATORS",
    "CHOICES_LINE",
    "JUDGE_MODEL",
    "EvalReport",
    "EvalSummary",
    "EvaluationResult",
    "Evaluator",
    "JsonSchemaSpec",
    "LLMEvaluator",
    "MissingExtraError",
    "ModelParameters",
    "Prompt",
    "PromptChoice",
    "PromptFile",
    "PromptFileError",
    "PromptMessage",
    "PromptVariableError",
    "StringEvaluator",
    "TestResult",
    "request_options",
]
