"""Loading prompt files: typed fields, YAML 1.2 scalars, and every kind of bad file
reported with its file, line and field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ghmodels_async import ValidationError
from ghmodels_async.prompts import MissingExtraError, Prompt, PromptFileError

HERE = Path(__file__).parent / "prompts"
INVALID = HERE / "invalid"


def test_a_valid_file_loads_into_typed_fields() -> None:
    prompt = Prompt.load(HERE / "strings.prompt.yml")
    file = prompt.file
    assert prompt.name == "String checks"
    assert prompt.model == "openai/gpt-4.1"
    assert (file.model_parameters.max_tokens, file.model_parameters.temperature) == (50, 0.2)
    assert file.model_parameters.top_p == 0.9
    assert [m.role for m in file.messages] == ["system", "user"]
    assert prompt.variables == ["greeting", "name"]
    assert file.test_data[1] == {"greeting": "Bye", "name": "Moon", "exact": "echo: bye, moon!"}
    kinds = [e.string.check()[0] for e in file.evaluators if e.string is not None]
    assert kinds == ["equals", "contains", "startsWith", "endsWith"]


def test_judges_and_builtins_load() -> None:
    file = Prompt.load(HERE / "judges.prompt.yml").file
    llm = file.evaluators[0].llm
    assert llm is not None
    assert llm.model_id == "openai/gpt-4.1-mini"
    assert llm.system_prompt == "You compare answers."
    # `no` and `yes` stay text (YAML 1.2), as the gh CLI reads them
    assert [(c.text, c.score) for c in llm.choices] == [("no", 0.0), ("partly", 0.5), ("yes", 1.0)]
    assert [e.uses for e in file.evaluators[2:]] == [
        "github/similarity", "github/relevance", "github/coherence", "github/fluency",
        "github/groundedness",
    ]  # fmt: skip


def test_yaml_12_scalars_and_role_case() -> None:
    file = Prompt.load(HERE / "scalars.prompt.yml").file
    assert file.test_data[0] == {
        "a": "yes", "b": "2024-01-31", "c": 12, "d": 2.0, "e": True, "f": 1.5,
    }  # fmt: skip
    assert file.messages[0].role == "user"  # `User` is accepted, as gh lower-cases roles


def test_json_schema_as_json_string_and_as_legacy_mapping() -> None:
    spec = Prompt.load(HERE / "json_schema.prompt.yml").file.json_schema_spec()
    assert spec is not None
    assert (spec.name, spec.strict) == ("person", True)
    assert spec.schema["required"] == ["name", "age"]
    legacy = Prompt.load(HERE / "json_schema_legacy.prompt.yml").file.json_schema_spec()
    assert legacy is not None
    assert legacy.name == "Legacy_schema"
    assert legacy.schema == {
        "type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"],
    }  # fmt: skip


# file → (line, field or None, words of the problem)
BAD_FILES = {
    "bad_yaml": (5, None, "invalid YAML"),
    "bad_role": (5, "messages[1].role", "role must be one of system, user, assistant"),
    "unknown_field": (4, "modelParameters", "unknown field `temprature`"),
    "temperature_range": (3, "modelParameters.temperature", "<= 1.0"),
    "missing_messages": (1, None, "missing required field `messages`"),
    "missing_variable": (7, "testData[1]", "test row 2 has no value for {{topic}}"),
    "judge_variable_missing": (14, "testData[0]", "no value for {{reference}}"),
    "unknown_builtin": (10, "evaluators[1].uses", "github/bleu"),
    "two_string_checks": (8, "evaluators[0].string", "found: contains, endsWith"),
    "evaluator_without_kind": (6, "evaluators[0]", "exactly one of string, llm, uses"),
    "json_schema_missing": (2, "responseFormat", "needs a jsonSchema"),
    "json_schema_bad_json": (3, "jsonSchema", "not valid JSON"),
    "test_value_list": (6, "testData[0].x", "must be text, a number or a boolean"),
    "duplicate_key": (5, None, "duplicate key 'model'"),
    "not_a_mapping": (1, None, "must be a mapping"),
    "empty": (1, None, "the file is empty"),
    "no_choices": (10, "evaluators[0].llm.choices", "length >= 1"),
    "bad_model_id": (1, "model", "not a model id"),
}


def test_every_invalid_example_is_covered() -> None:
    assert {p.name.removesuffix(".prompt.yml") for p in INVALID.glob("*.yml")} == set(BAD_FILES)


@pytest.mark.parametrize("stem", sorted(BAD_FILES))
def test_a_bad_file_names_file_line_and_field(stem: str) -> None:
    line, field, words = BAD_FILES[stem]
    path = INVALID / f"{stem}.prompt.yml"
    with pytest.raises(PromptFileError) as caught:
        Prompt.load(path)
    error = caught.value
    assert isinstance(error, ValidationError)
    assert (error.path, error.line, error.field) == (str(path), line, field)
    assert words in error.problem
    assert str(error).startswith(f"{path}:{line}: ")


def test_unreadable_and_non_utf8_files(tmp_path: Path) -> None:
    with pytest.raises(PromptFileError, match="cannot read the file"):
        Prompt.load(tmp_path / "absent.prompt.yml")
    binary = tmp_path / "binary.prompt.yml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(PromptFileError, match="not UTF-8"):
        Prompt.load(binary)


def test_from_text_names_the_source() -> None:
    with pytest.raises(PromptFileError, match=r"^inline:2: "):
        Prompt.from_text("messages:\n  - role: nobody\n    content: x\n", "inline")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )


def test_import_of_the_package_stays_light() -> None:
    run = _python(
        "import sys, ghmodels_async\n"
        "assert 'yaml' not in sys.modules, 'yaml imported'\n"
        "assert 'ghmodels_async.prompts' not in sys.modules, 'prompts imported'\n"
        "from ghmodels_async.prompts import Prompt\n"
        "assert 'yaml' not in sys.modules, 'yaml imported by the prompts package'\n"
    )
    assert run.returncode == 0, run.stderr


def test_missing_pyyaml_names_the_extra() -> None:
    path = HERE / "strings.prompt.yml"
    run = _python(
        "import sys\nsys.modules['yaml'] = None\n"
        "from ghmodels_async.prompts import Prompt, MissingExtraError\n"
        "try:\n"
        f"    Prompt.load({str(path)!r})\n"
        "except MissingExtraError as e:\n"
        "    print(e)\n"
    )
    assert run.returncode == 0, run.stderr
    assert "pip install 'ghmodels_async[prompts]'" in run.stdout
    assert issubclass(MissingExtraError, ImportError)


def _alias_bomb() -> str:
    text = 'l0: &l0 ["x","x","x","x","x","x","x","x","x","x"]\n'
    for level in range(1, 9):
        text += f"l{level}: &l{level} [" + ",".join([f"*l{level - 1}"] * 10) + "]\n"
    return text + "messages:\n  - role: user\n    content: hi\n"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (_alias_bomb(), "expands to more than"),
        ("messages: " + "[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ("messages: " + "{a: " * 5000, "nested deeper than 64 levels"),
        ("x: &a [*a]\n", "nested deeper than 64 levels"),
        ("messages:\n" + "".join("  " * i + "-\n" for i in range(1, 1200)), "nested"),
    ],
    ids=["alias-bomb", "deep-flow-list", "deep-flow-map", "self-alias", "deep-block"],
)
def test_hostile_yaml_is_refused_quickly(text: str, words: str) -> None:
    with pytest.raises(PromptFileError, match=words):
        Prompt.from_text(text, "hostile")


def test_aliases_within_limits_still_work() -> None:
    text = "model: openai/gpt-4.1\nmessages:\n  - &m {role: user, content: hi}\n  - *m\n"
    assert len(Prompt.from_text(text).file.messages) == 2
