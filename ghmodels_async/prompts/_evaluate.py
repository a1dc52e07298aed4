"""The evaluators' rules, exactly as the ``gh`` CLI applies them, plus the judge request.

String checks run on the trimmed answer: ``equals`` is exact, ``contains``/``startsWith``/
``endsWith`` ignore case; the expected value is filled from the row first; a pass scores
1, a miss 0. A judge (an ``llm`` evaluator or a built-in) gets the row's variables plus
``{{completion}}``; its reply is trimmed and lower-cased, and the first of the declared
choices (in declared order) contained in it wins, scoring that choice's score; a score
above 0 passes; no choice found scores 0 and fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from ..types import SystemMessage, UserMessage
from ._model import LLMEvaluator, StringEvaluator
from ._render import fill
from ._report import EvaluationResult

__all__ = ["CHOICES_LINE", "judge_messages", "judge_verdict", "string_verdict"]

#: The line appended to every judge prompt, followed by the choices as a JSON array. It
#: tells a real judge the only valid answers, and lets the fake server recognise a judge.
CHOICES_LINE: Final = "Answer with exactly one of these choices and nothing else: "


def string_verdict(
    name: str, check: StringEvaluator, row: Mapping[str, Any], answer: str
) -> EvaluationResult:
    """Apply a string evaluator to the (already trimmed) ``answer``."""
    kind, template = check.check()
    expected = fill(template, row, where=f"evaluator {name!r}")
    lowered, wanted = answer.lower(), expected.lower()
    if kind == "equals":
        passed, details = answer == expected, f"expected exactly {expected!r}"
    elif kind == "contains":
        passed, details = wanted in lowered, f"expected to contain {expected!r}"
    elif kind == "startsWith":
        passed, details = lowered.startswith(wanted), f"expected to start with {expected!r}"
    else:
        passed, details = lowered.endswith(wanted), f"expected to end with {expected!r}"
    return EvaluationResult(name, 1.0 if passed else 0.0, passed, details)


def judge_messages(
    judge: LLMEvaluator, row: Mapping[str, Any], answer: str, name: str
) -> list[SystemMessage | UserMessage]:
    """The judge's conversation: its system prompt, then its filled prompt with the
    choices line at the end."""
    values = {**row, "completion": answer}
    prompt = fill(judge.prompt, values, where=f"evaluator {name!r}")
    choices = msgspec.json.encode([c.text for c in judge.choices]).decode()
    messages: list[SystemMessage | UserMessage] = []
    if judge.system_prompt:
        messages.append(SystemMessage(content=judge.system_prompt))
    messages.append(UserMessage(content=f"{prompt}\n\n{CHOICES_LINE}{choices}"))
    return messages


def judge_verdict(name: str, judge: LLMEvaluator, reply: str) -> EvaluationResult:
    """Score the judge's ``reply`` against the declared choices."""
    text = reply.strip().lower()
    for choice in judge.choices:
        if choice.text.lower() in text:
            return EvaluationResult(
                name, choice.score, choice.score > 0, f"judge chose {choice.text!r}"
            )
    shown = text if len(text) <= 200 else text[:200] + "..."
    return EvaluationResult(name, 0.0, False, f"judge reply {shown!r} matched no choice")
