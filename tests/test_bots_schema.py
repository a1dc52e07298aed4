"""Strict-mode schemas from Python types, function_tool, and the fake's strict checker.

The generated schemas are checked two ways: by table (the exact rules strict mode
imposes), and by the fake server's own, independent strict checker
(``ghmodels_async.testing.strict``), which is also tested on hand-written bad schemas.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal, TypedDict

import msgspec
import pytest

from ghmodels_async import BadRequestError, Client, ValidationError
from ghmodels_async._schema import strict_schema
from ghmodels_async.testing import FakeServer
from ghmodels_async.testing.strict import strict_violation
from ghmodels_async.tools import FunctionTool, function_tool, response_format_for

MODEL = "openai/gpt-4.1"
USER = [{"role": "user", "content": "give me one"}]


class Step(msgspec.Struct):
    """One step of a recipe."""

    text: str
    minutes: int | None = None


class Recipe(msgspec.Struct):
    """A recipe with its steps."""

    title: Annotated[str, msgspec.Meta(description="The dish")]
    steps: list[Step]
    serves: int = 2
    diet: Literal["any", "vegan"] = "any"


@dataclasses.dataclass
class Point:
    x: float
    y: float = 0.0


class Movie(TypedDict):
    title: str
    year: int


class Tree(msgspec.Struct):
    name: str
    children: list[Tree] = []


def _objects(node: Any, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "object":
            found.append(node)
        for value in node.values():
            _objects(value, found)
    elif isinstance(node, list):
        for value in node:
            _objects(value, found)
    return found


def _has_key(node: Any, key: str) -> bool:
    if isinstance(node, dict):
        return key in node or any(_has_key(v, key) for v in node.values())
    if isinstance(node, list):
        return any(_has_key(v, key) for v in node)
    return False


@pytest.mark.parametrize("tp", [Recipe, Step, Point, Movie, Tree])
def test_every_object_is_closed_and_fully_required(tp: Any) -> None:
    schema = strict_schema(tp).schema
    assert schema["type"] == "object" and "$ref" not in schema
    objects = _objects(schema, [])
    assert objects
    for obj in objects:
        assert obj["additionalProperties"] is False
        assert obj["required"] == list(obj["properties"])
    assert not _has_key(schema, "default")
    assert strict_violation(schema, "schema") is None


def test_nested_struct_goes_to_defs_and_optional_becomes_nullable() -> None:
    schema = strict_schema(Recipe).schema
    assert schema["properties"]["steps"] == {"type": "array", "items": {"$ref": "#/$defs/Step"}}
    step = schema["$defs"]["Step"]
    assert {"type": "null"} in step["properties"]["minutes"]["anyOf"]
    assert "Recipe" not in schema["$defs"]  # the root is inlined, not kept
    assert schema["description"] == "A recipe with its steps."


def test_defaults_become_nullable_and_move_to_the_description() -> None:
    props = strict_schema(Recipe).schema["properties"]
    assert props["serves"]["anyOf"] == [{"type": "integer"}, {"type": "null"}]
    assert props["serves"]["description"] == "Default: 2."
    assert props["diet"]["anyOf"][0] == {"enum": ["any", "vegan"], "type": "string"}
    assert props["title"] == {"description": "The dish", "type": "string"}


def test_recursive_type_keeps_its_definition() -> None:
    schema = strict_schema(Tree).schema
    assert schema["properties"]["children"]["anyOf"][0]["items"] == {"$ref": "#/$defs/Tree"}
    assert schema["$defs"]["Tree"]["additionalProperties"] is False


def test_dataclass_and_typeddict() -> None:
    point = strict_schema(Point).schema
    assert point["required"] == ["x", "y"]
    assert {"type": "null"} in point["properties"]["y"]["anyOf"]
    movie = strict_schema(Movie).schema
    assert movie["properties"] == {"title": {"type": "string"}, "year": {"type": "integer"}}


def test_schema_is_cached_per_type() -> None:
    assert strict_schema(Recipe) is strict_schema(Recipe)
    assert response_format_for(Recipe) is response_format_for(Recipe)


class Loose(msgspec.Struct):
    name: str
    extra: dict[str, int]


class Anything(msgspec.Struct):
    name: str
    payload: Any


class Pair(msgspec.Struct):
    pair: tuple[int, str]


@pytest.mark.parametrize(
    ("tp", "field", "words"),
    [
        (Loose, "Loose.extra", "free-form mapping"),
        (Anything, "Anything.payload", "any value"),
        (Pair, "Pair.pair", "tuple"),
        (list[Step], "list", "not an object"),
    ],
)
def test_types_that_cannot_be_strict_raise_validation_error(
    tp: Any, field: str, words: str
) -> None:
    with pytest.raises(ValidationError) as info:
        strict_schema(tp)
    assert info.value.field == field
    assert words in str(info.value)


async def test_unstrictable_type_fails_before_any_io() -> None:
    async with FakeServer() as server, Client(token="t", base_url=server.url) as client:
        with pytest.raises(ValidationError) as info:
            await client.chat.completions.create(model=MODEL, messages=USER, response_format=Loose)
        assert info.value.field == "Loose.extra"
        assert server.requests == []


# -- function_tool -------------------------------------------------------------------


@function_tool
async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
    """Current weather for a city.

    Args:
        city: The city, e.g. Paris.
        unit: Celsius or Fahrenheit.
    """
    return f"{city}: 21 {unit}"


@function_tool(name="sum_two", timeout=3)
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def test_function_tool_param() -> None:
    param = get_weather.param()
    function = param["function"]
    assert param["type"] == "function"
    assert function["name"] == "get_weather"
    assert function["description"] == "Current weather for a city."
    assert function["strict"] is True
    props = function["parameters"]["properties"]
    assert props["city"] == {"description": "The city, e.g. Paris.", "type": "string"}
    assert props["unit"]["description"] == 'Celsius or Fahrenheit. Default: "c".'
    assert function["parameters"]["required"] == ["city", "unit"]
    assert strict_violation(function["parameters"], "p") is None
    assert add.param()["function"]["name"] == "sum_two" and add.timeout == 3.0


async def test_decorated_function_still_callable() -> None:
    assert await get_weather("Oslo") == "Oslo: 21 c"
    assert add(2, 3) == 5
    assert isinstance(get_weather, FunctionTool)


def test_arguments_decode_into_typed_params() -> None:
    args = get_weather.decode_arguments('{"city": "Rome", "unit": null}')
    assert (args.city, args.unit) == ("Rome", "c")  # strict mode's null means the default
    with pytest.raises(msgspec.ValidationError):
        get_weather.decode_arguments('{"city": "Rome", "unit": "kelvin"}')
    with pytest.raises(msgspec.ValidationError):
        get_weather.decode_arguments('{"unit": "c"}')


def test_bad_tool_definitions() -> None:
    def untyped(x):  # type: ignore[no-untyped-def]
        return x

    def star(*args: int) -> None:
        return None

    def loose(options: dict[str, str]) -> None:
        return None

    with pytest.raises(ValidationError, match="no type annotation") as info:
        function_tool(untyped)
    assert info.value.field == "untyped.x"
    with pytest.raises(ValidationError, match=r"\*args"):
        function_tool(star)
    with pytest.raises(ValidationError, match="free-form") as info:
        function_tool(loose)
    assert info.value.field == "loose.options"
    assert function_tool(loose, strict=False).param()["function"]["parameters"]["properties"]
    with pytest.raises(ValidationError, match="tool name"):
        function_tool(name="has space")(add.fn)


async def test_create_accepts_types_and_tools() -> None:
    async with FakeServer() as server, Client(token="t", base_url=server.url) as client:
        await client.chat.completions.create(
            model=MODEL, messages=USER, response_format=Recipe, tools=[get_weather, add]
        )
        sent = server.last_request.json
        assert sent is not None
        assert sent["response_format"] == {
            "type": "json_schema",
            "json_schema": {
                "name": "Recipe",
                "schema": strict_schema(Recipe).schema,
                "strict": True,
                "description": "A recipe with its steps.",
            },
        }
        assert [t["function"]["name"] for t in sent["tools"]] == ["get_weather", "sum_two"]


# -- the fake server's strict checker -------------------------------------------------

GOOD: dict[str, Any] = {
    "type": "object",
    "properties": {"a": {"type": "string"}},
    "required": ["a"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({**GOOD, "additionalProperties": True}, "s.additionalProperties"),
        ({k: v for k, v in GOOD.items() if k != "additionalProperties"}, "s.additionalProperties"),
        ({**GOOD, "required": []}, "s.required"),
        (
            {**GOOD, "properties": {"a": {"type": "string", "default": "x"}}},
            "s.properties.a.default",
        ),
        ({**GOOD, "properties": {"a": {"allOf": [{"type": "string"}]}}}, "s.properties.a.allOf"),
        ({**GOOD, "properties": {"a": {"$ref": "#/$defs/missing"}}}, "s.properties.a.$ref"),
        ({**GOOD, "properties": {"a": {"$ref": "http://x/y"}}}, "s.properties.a.$ref"),
        (
            {**GOOD, "properties": {"a": {"type": "object", "properties": {}}}},
            "s.properties.a.additionalProperties",
        ),
        ({"anyOf": [GOOD]}, "s.type"),
        ({"type": "array", "items": GOOD}, "s.type"),
    ],
)
def test_strict_checker_names_the_path(schema: dict[str, Any], path: str) -> None:
    violation = strict_violation(schema, "s")
    assert violation is not None
    assert violation[0] == path


def test_strict_checker_limits_nesting() -> None:
    node: dict[str, Any] = GOOD
    for _ in range(11):
        node = {**GOOD, "properties": {"a": node}}
    violation = strict_violation(node, "s")
    assert violation is not None and "nesting" in violation[1]


async def test_fake_rejects_non_strict_schemas_with_400_naming_the_path() -> None:
    bad = {**GOOD, "properties": {"a": {"type": "object", "properties": {}, "required": []}}}
    async with FakeServer() as server, Client(token="t", base_url=server.url) as client:
        with pytest.raises(BadRequestError) as info:
            await client.chat.completions.create(
                model=MODEL,
                messages=USER,
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "x", "schema": bad, "strict": True},
                },
            )
        assert info.value.code == "invalid_json_schema"
        assert (
            "response_format.json_schema.schema.properties.a.additionalProperties"
            in info.value.message
        )
        tool = {
            "type": "function",
            "function": {"name": "f", "parameters": {**GOOD, "required": []}, "strict": True},
        }
        with pytest.raises(BadRequestError) as info:
            await client.chat.completions.create(model=MODEL, messages=USER, tools=[tool])
        assert "tools[0].function.parameters.required" in info.value.message
        # the same schema without strict: accepted
        loose = {"type": "function", "function": {**tool["function"], "strict": False}}
        await client.chat.completions.create(model=MODEL, messages=USER, tools=[loose])
