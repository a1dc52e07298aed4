"""The built-in ``github/...`` evaluators as judge prompts of this project's own.

Each reads the variables the format gives it (``{{input}}``, ``{{expected}}``,
``{{completion}}``), marks every part with a tag (``<input>``, ``<expected>``,
``<context>``, ``<completion>``) so a judge cannot mistake data for instructions, and asks
for one digit from 1 (worst) to 5 (best); the digits score 0, 0.25, 0.5, 0.75 and 1.
The judge model is ``openai/gpt-4o``, as in the ``gh`` CLI.
"""

from __future__ import annotations

from typing import Final

from ._model import LLMEvaluator, PromptChoice

__all__ = ["BUILTIN_EVALUATORS", "JUDGE_MODEL"]

JUDGE_MODEL: Final = "openai/gpt-4o"

_SYSTEM: Final = (
    "You grade answers written by another AI system. Read the data between the tags, "
    "apply the rubric, and reply with a single digit from 1 to 5 and nothing else."
)

_SCALE: Final = [PromptChoice(choice=str(stars), score=(stars - 1) / 4) for stars in range(1, 6)]


def _judge(rubric: str, data: str) -> LLMEvaluator:
    return LLMEvaluator(
        model_id=JUDGE_MODEL,
        system_prompt=_SYSTEM,
        prompt=f"{rubric}\n\n{data}\n\nRate it from 1 to 5.",
        choices=list(_SCALE),
    )


#: ``uses:`` name → the judge it runs.
BUILTIN_EVALUATORS: Final[dict[str, LLMEvaluator]] = {
    "github/similarity": _judge(
        "Rubric (similarity): how closely does the answer say the same thing as the "
        "reference answer? 5 = same meaning and facts; 4 = same meaning, minor facts "
        "differ; 3 = partly the same; 2 = mostly different; 1 = unrelated or contradicting.",
        "<input>{{input}}</input>\n<expected>{{expected}}</expected>\n"
        "<completion>{{completion}}</completion>",
    ),
    "github/relevance": _judge(
        "Rubric (relevance): does the answer address the question it was given? "
        "5 = fully and directly, with useful detail; 4 = fully; 3 = partly, key points "
        "missing; 2 = on topic but wrong or evasive; 1 = off topic.",
        "<input>{{input}}</input>\n<completion>{{completion}}</completion>",
    ),
    "github/coherence": _judge(
        "Rubric (coherence): do the ideas of the answer follow one another logically and "
        "read as one connected reply to the question? 5 = clear, well ordered, smooth; "
        "4 = clear with small jumps; 3 = understandable but disordered; 2 = fragments; "
        "1 = incoherent.",
        "<input>{{input}}</input>\n<completion>{{completion}}</completion>",
    ),
    "github/fluency": _judge(
        "Rubric (fluency): judge the language of the answer alone: grammar, word choice, "
        "sentence flow. 5 = polished and natural; 4 = fluent with rare slips; 3 = clear but "
        "plain or with some errors; 2 = frequent errors; 1 = hard to read.",
        "<completion>{{completion}}</completion>",
    ),
    "github/groundedness": _judge(
        "Rubric (groundedness): is every claim of the answer supported by the context, and "
        "does it answer the question from it? 5 = fully supported and complete; "
        "4 = supported but incomplete; 3 = some claims unsupported; 2 = mostly unsupported; "
        "1 = unrelated to the context.",
        "<context>{{expected}}</context>\n<input>{{input}}</input>\n"
        "<completion>{{completion}}</completion>",
    ),
}
