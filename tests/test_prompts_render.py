"""Rendering: the exact request body, and missing or unknown variables named."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from ghmodels_async import ValidationError
from ghmodels_async.prompts import Prompt, PromptVariableError, request_options
from ghmodels_async.prompts._render import fill, value_text
from ghmodels_async.types import ChatCompletionRequest

HERE = Path(__file__).parent / "prompts"


def test_render_gives_the_typed_request_with_model_parameters() -> None:
    request = Prompt.load(HERE / "strings.prompt.yml").render(greeting="Hi", name="Ann")
    assert isinstance(request, ChatCompletionRequest)
    assert msgspec.json.decode(msgspec.json.encode(request)) == {
        "model": "openai/gpt-4.1",
        "messages": [
            {"role": "system", "content": "Repeat after me."},
            {"role": "user", "content": "Hi, Ann!"},
        ],
        "max_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
    }
    options = request_options(request)
    assert set(options) == {"model", "messages", "max_tokens", "temperature", "top_p"}


def test_render_json_schema_response_format() -> None:
    request = Prompt.load(HERE / "json_schema.prompt.yml").render(who="Bob")
    body = msgspec.json.decode(msgspec.json.encode(request))
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "person"
    assert body["response_format"]["json_schema"]["strict"] is True


def test_missing_and_unknown_variables_are_named() -> None:
    prompt = Prompt.load(HERE / "strings.prompt.yml")
    with pytest.raises(PromptVariableError) as missing:
        prompt.render(greeting="Hi")
    assert missing.value.missing == ["name"]
    assert "{{name}}" in str(missing.value)
    with pytest.raises(PromptVariableError) as unknown:
        prompt.render(greeting="Hi", name="Ann", nmae="typo")
    assert unknown.value.unknown == ["nmae"]
    assert "nmae" in str(unknown.value)
    assert isinstance(unknown.value, ValidationError)


def test_substitution_is_one_pass_and_exact() -> None:
    assert fill("{{a}}/{{b}}", {"a": "{{b}}", "b": "x"}) == "{{b}}/x"
    # only {{name}} without spaces is a placeholder, as in the gh CLI
    assert fill("{{ a }} {{a}} {{}}", {"a": 1}) == "{{ a }} 1 {{}}"
    # a key with a space is filled when it has a value, as gh fills any exact key
    assert fill("{{my var}} {{{a}}}", {"my var": "x", "a": 2}) == "x {2}"
    with pytest.raises(PromptVariableError):
        fill("{{a-b.c}}", {})


def test_a_spaced_key_can_be_set_but_is_never_required() -> None:
    prompt = Prompt.from_text(
        "model: openai/gpt-4.1\nmessages:\n  - role: user\n    content: '{{my var}}/{{a}}'\n"
    )
    assert prompt.variables == ["a"]
    assert prompt.render(a=1).messages[0].content == "{{my var}}/1"
    assert prompt.render(a=1, **{"my var": "v"}).messages[0].content == "v/1"


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (30, "30"), (30.0, "30"), (1.5, "1.5"), ("x", "x")],
)
def test_values_become_text_like_the_gh_cli(value: object, text: str) -> None:
    assert value_text(value) == text


def test_with_model_and_a_missing_model() -> None:
    prompt = Prompt.from_text("messages:\n  - role: user\n    content: hi\n", "inline")
    with pytest.raises(ValidationError, match="no model"):
        prompt.render()
    assert prompt.with_model("openai/gpt-4o").render().model == "openai/gpt-4o"
    with pytest.raises(ValidationError, match="invalid model"):
        prompt.with_model("not a model")
