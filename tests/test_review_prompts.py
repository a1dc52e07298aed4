"""Hostile prompt files: whatever the bytes, loading ends in a PromptFileError naming the
file (and the line where YAML knows it), never a raw exception from PyYAML or Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from ghmodels_async.prompts import Prompt, PromptFileError

BASE = (
    "name: x\nmodel: openai/gpt-4.1\nmessages:\n"
    "  - role: user\n    content: \"{{a}} and {{ b }}\"\n"
)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (BASE + "testData:\n  - a: " + "9" * 5000 + "\n", "5000 digits"),
        (BASE + "testData:\n  - a: 0x" + "f" * 5000 + "\n", "digits"),
        ("name: n\x00\nmodel: openai/gpt-4.1\n", "unacceptable character"),
        ("name: n\x1b[31m\nmodel: openai/gpt-4.1\n", "unacceptable character"),
        (BASE + "testData:\n  - a: !!python/object/apply:os.system ['echo hi']\n",
         "could not determine a constructor"),
        ("name: !!python/name:os.system\nmodel: openai/gpt-4.1\n", "constructor"),
        (BASE + "testData:\n  - a: !!binary aGVsbG8=\n", "bytes"),
        (BASE + "testData:\n  - a: !custom x\n", "constructor"),
    ],
    ids=["huge-int", "huge-hex", "nul", "escape", "python-object", "python-name", "binary",
         "custom-tag"],
)  # fmt: skip
def test_hostile_prompt_text_is_a_prompt_file_error(text: str, words: str) -> None:
    with pytest.raises(PromptFileError, match=words) as info:
        Prompt.from_text(text, "hostile.prompt.yml")
    assert "hostile.prompt.yml" in str(info.value)


def test_a_file_with_a_nul_byte_is_a_prompt_file_error(tmp_path: Path) -> None:
    path = tmp_path / "nul.prompt.yml"
    path.write_bytes(BASE.encode() + b"description: a\x00b\n")
    with pytest.raises(PromptFileError, match=r"nul\.prompt\.yml"):
        Prompt.load(path)


def test_values_holding_placeholders_are_not_expanded_again() -> None:
    prompt = Prompt.from_text(BASE + "testData:\n  - a: '{{a}}{{b}}'\n")
    rendered = prompt.render(a="{{b}}")
    assert rendered.messages[0].content == "{{b}} and {{ b }}"
