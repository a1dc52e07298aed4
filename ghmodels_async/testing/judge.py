"""The fake server as a judge: deterministic verdicts for eval judge prompts.

A chat request is a judge prompt when the last line of its last user message is
``Answer with exactly one of these choices and nothing else: [...]`` (a JSON array of
strings), the line ``ghmodels eval`` appends to every judge prompt. The verdict is one
of the listed choices, listed worst to best:

- with ``<completion>...</completion>`` and a reference in ``<expected>``, else
  ``<context>``, else ``<input>``: the share of the reference's words (lower-cased
  letters and digits) found in the completion, ``s``, picks choice
  ``round(s * (n - 1))`` (half up);
- with a completion but no reference: the best choice if the completion has a word,
  else the worst;
- without a ``<completion>`` tag: the first listed choice.

Anything else is not a judge prompt and gets the ordinary answers (the echo).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import msgspec

__all__ = ["JUDGE_LINE", "judge_verdict"]

JUDGE_LINE: Final = "Answer with exactly one of these choices and nothing else: "
_WORDS: Final = re.compile(r"[^\W_]+")


def _tag(text: str, name: str) -> str | None:
    match = re.search(rf"<{name}>(.*?)</{name}>", text, re.DOTALL)
    return match.group(1) if match else None


def _choices(line: str) -> list[str] | None:
    if not line.startswith(JUDGE_LINE):
        return None
    try:
        value = msgspec.json.decode(line[len(JUDGE_LINE) :].strip())
    except msgspec.DecodeError:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        return None
    return value


def judge_verdict(messages: Sequence[Mapping[str, Any]]) -> str | None:
    """The judge's answer for these messages, or None when they are no judge prompt."""
    last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
    content = last.get("content") if last is not None else None
    if not isinstance(content, str):
        return None
    body, _, line = content.rstrip().rpartition("\n")
    choices = _choices(line.strip())
    if choices is None:
        return None
    completion = _tag(body, "completion")
    if completion is None:
        return choices[0]
    answer_words = set(_WORDS.findall(completion.lower()))
    reference = next(
        (text for name in ("expected", "context", "input") if (text := _tag(body, name))),
        None,
    )
    if reference is None:
        return choices[-1] if answer_words else choices[0]
    wanted = set(_WORDS.findall(reference.lower()))
    share = len(wanted & answer_words) / len(wanted) if wanted else 1.0
    return choices[int(share * (len(choices) - 1) + 0.5)]
