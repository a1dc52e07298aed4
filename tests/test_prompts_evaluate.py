"""The evaluators' rules on known answers (string checks and judge-reply matching)."""

from __future__ import annotations

import pytest

from ghmodels_async.prompts import CHOICES_LINE, LLMEvaluator, PromptChoice, StringEvaluator
from ghmodels_async.prompts._evaluate import judge_messages, judge_verdict, string_verdict


def check(**kwargs: str) -> StringEvaluator:
    return StringEvaluator(**kwargs)


@pytest.mark.parametrize(
    ("evaluator", "answer", "passed"),
    [
        (check(equals="Hello"), "Hello", True),
        (check(equals="Hello"), "hello", False),  # equals is exact
        (check(contains="WORLD"), "hello world", True),  # the others ignore case
        (check(contains="moon"), "hello world", False),
        (check(starts_with="HEL"), "hello", True),
        (check(starts_with="ello"), "hello", False),
        (check(ends_with="LO"), "hello", True),
        (check(ends_with="hell"), "hello", False),
    ],
)
def test_string_checks(evaluator: StringEvaluator, answer: str, passed: bool) -> None:
    result = string_verdict("e", evaluator, {}, answer)
    assert (result.passed, result.score) == (passed, 1.0 if passed else 0.0)
    assert result.evaluator_name == "e"


def test_string_check_values_are_filled_from_the_row() -> None:
    result = string_verdict("e", check(equals="Hi {{who}}"), {"who": 7}, "Hi 7")
    assert result.passed
    assert "Hi 7" in result.details


def judge(*choices: tuple[str, float]) -> LLMEvaluator:
    return LLMEvaluator(
        model_id="openai/gpt-4o",
        prompt="Rate {{completion}} for {{input}}",
        choices=[PromptChoice(choice=c, score=s) for c, s in choices],
        system_prompt="Be fair.",
    )


def test_the_first_declared_choice_found_wins_and_a_positive_score_passes() -> None:
    j = judge(("bad", 0.0), ("good", 1.0))
    # "good" is declared after "bad": with both in the reply, the first declared wins
    assert judge_verdict("j", j, "  GOOD, not bad ").score == 0.0
    found = judge_verdict("j", j, "Good.")
    assert (found.score, found.passed) == (1.0, True)
    zero = judge_verdict("j", j, "bad")
    assert (zero.score, zero.passed) == (0.0, False)


def test_a_reply_matching_no_choice_fails_with_zero() -> None:
    result = judge_verdict("j", judge(("yes", 1.0)), "I cannot say")
    assert (result.score, result.passed) == (0.0, False)
    assert "i cannot say" in result.details


def test_judge_messages_fill_completion_and_list_the_choices() -> None:
    messages = judge_messages(judge(("1", 0.0), ("2", 1.0)), {"input": "Q"}, "A", "j")
    assert [m.content for m in messages] == [
        "Be fair.",
        f'Rate A for Q\n\n{CHOICES_LINE}["1","2"]',
    ]
