"""Evaluate a prompt: every test row through the model concurrently, then its evaluators.

The rows fan out with ``fanout.fan_out`` (bounded concurrency, optional pacing); inside a
row the answer comes first, then each evaluator in file order, so at most
``concurrency`` calls are in flight. Results keep the file's row order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .._errors import GHModelsError, ValidationError
from ..fanout import Outcome, fan_out
from ._builtins import BUILTIN_EVALUATORS
from ._evaluate import judge_messages, judge_verdict, string_verdict
from ._prompt import request_options
from ._report import EvalReport, EvaluationResult, TestResult

if TYPE_CHECKING:
    from ..client import Client
    from ..types import ChatCompletion
    from ._model import Evaluator, LLMEvaluator
    from ._prompt import Prompt

__all__ = ["run_eval"]


def _answer_text(completion: ChatCompletion) -> str:
    if not completion.choices:
        return ""
    return (completion.choices[0].message.content or "").strip()


async def _judge(
    client: Client, name: str, judge: LLMEvaluator, row: Mapping[str, Any], answer: str
) -> EvaluationResult:
    messages = judge_messages(judge, row, answer, name)
    completion = await client.chat.completions.create(model=judge.model_id, messages=messages)
    return judge_verdict(name, judge, _answer_text(completion))


async def _evaluate(
    client: Client, evaluator: Evaluator, row: Mapping[str, Any], answer: str
) -> EvaluationResult:
    if evaluator.string is not None:
        return string_verdict(evaluator.name, evaluator.string, row, answer)
    judge = evaluator.llm if evaluator.llm is not None else BUILTIN_EVALUATORS[str(evaluator.uses)]
    return await _judge(client, evaluator.name, judge, row, answer)


async def run_eval(
    prompt: Prompt,
    client: Client,
    *,
    concurrency: int = 8,
    requests_per_minute: float | None = None,
    on_row: Callable[[int, TestResult], None] | None = None,
) -> tuple[EvalReport, list[GHModelsError]]:
    """The report, and the API errors that failed rows (first one first, by row)."""
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ValidationError(
            f"concurrency must be an integer >= 1, got {concurrency!r}", field="concurrency"
        )
    if requests_per_minute is not None and not requests_per_minute > 0:
        raise ValidationError(
            f"requests_per_minute must be > 0, got {requests_per_minute!r}",
            field="requests_per_minute",
        )
    file = prompt.file
    rows = file.test_data
    requests = [prompt.render_row(row) for row in rows]  # bad rows fail before any call
    errors: dict[int, GHModelsError] = {}

    async def run_row(index: int) -> TestResult:
        row = rows[index]
        answer = ""
        results: list[EvaluationResult] = []
        try:
            completion = await client.chat.completions.create(**request_options(requests[index]))
            answer = _answer_text(completion)
            for evaluator in file.evaluators:
                results.append(await _evaluate(client, evaluator, row, answer))
        except GHModelsError as exc:
            errors[index] = exc
            return TestResult(dict(row), answer, results, error=f"{type(exc).__name__}: {exc}")
        return TestResult(dict(row), answer, results)

    def done(outcome: Outcome[TestResult]) -> None:
        if on_row is not None and outcome.value is not None:
            on_row(outcome.index, outcome.value)

    outcomes = await fan_out(
        run_row, range(len(rows)), concurrency=concurrency,
        requests_per_minute=requests_per_minute, on_done=done,
    )  # fmt: skip
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error  # a bug, not an API failure: never hide it in a report
    results = [outcome.value for outcome in outcomes if outcome.value is not None]
    report = EvalReport.build(file.name, file.description, file.model or "", results)
    return report, [errors[i] for i in sorted(errors)]
