"""The fake server's own check of OpenAI strict-mode schema rules (independent of the client).

A ``strict: true`` json_schema response format or tool must use the subset of JSON
Schema strict mode supports: an object at the top, ``additionalProperties: false`` and
every property ``required`` on every object, no ``default``, only local ``$ref``s, no
``allOf``/``oneOf``/``not``/conditionals/``patternProperties``/tuples, at most 10
levels of nesting, 5000 properties and 1000 enum values. ``strict_violation`` returns
the path and the broken rule of the first violation, or ``None``.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["strict_violation"]

_FORBIDDEN: Final = (
    "allOf", "oneOf", "not", "if", "then", "else", "dependentRequired", "dependentSchemas",
    "patternProperties", "unevaluatedProperties", "propertyNames", "prefixItems", "default",
)  # fmt: skip
MAX_DEPTH: Final = 10
MAX_PROPERTIES: Final = 5000
MAX_ENUM_VALUES: Final = 1000


class _Violation(Exception):
    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class _Checker:
    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root
        self.properties = 0

    def resolve(self, ref: Any, path: str) -> None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise _Violation(path + ".$ref", f"only local references are allowed, got {ref!r}")
        target: Any = self.root
        for part in [p for p in ref[1:].split("/") if p]:
            if not isinstance(target, dict) or part not in target:
                raise _Violation(path + ".$ref", f"reference {ref!r} does not resolve")
            target = target[part]
        if not isinstance(target, dict):
            raise _Violation(path + ".$ref", f"reference {ref!r} is not a schema")

    def node(self, node: Any, path: str, depth: int) -> None:
        if not isinstance(node, dict):
            raise _Violation(path, "expected a schema object")
        if depth > MAX_DEPTH:
            raise _Violation(path, f"nesting deeper than {MAX_DEPTH} levels")
        for key in _FORBIDDEN:
            if key in node:
                raise _Violation(f"{path}.{key}", f"'{key}' is not supported in strict mode")
        if "$ref" in node:
            self.resolve(node["$ref"], path)
        enum = node.get("enum")
        if isinstance(enum, list) and len(enum) > MAX_ENUM_VALUES:
            raise _Violation(path + ".enum", f"more than {MAX_ENUM_VALUES} enum values")
        for key in ("$defs", "definitions"):
            defs = node.get(key)
            if isinstance(defs, dict):
                for name, sub in defs.items():
                    self.node(sub, f"{path}.{key}.{name}", depth)
        branches = node.get("anyOf")
        if branches is not None:
            if not isinstance(branches, list) or not branches:
                raise _Violation(path + ".anyOf", "expected a non-empty list of schemas")
            for i, branch in enumerate(branches):
                self.node(branch, f"{path}.anyOf[{i}]", depth)
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if "object" in kinds or "properties" in node:
            self.object(node, path, depth)
        if "array" in kinds or "items" in node:
            items = node.get("items")
            if items is None:
                raise _Violation(path + ".items", "an array needs 'items'")
            self.node(items, path + ".items", depth + 1)

    def object(self, node: dict[str, Any], path: str, depth: int) -> None:
        if node.get("additionalProperties", True) is not False:
            raise _Violation(
                path + ".additionalProperties", "'additionalProperties' must be present and false"
            )
        props = node.get("properties", {})
        if not isinstance(props, dict):
            raise _Violation(path + ".properties", "expected an object")
        required = node.get("required", [])
        if not isinstance(required, list):
            raise _Violation(path + ".required", "expected a list")
        for name in props:
            if name not in required:
                raise _Violation(
                    path + ".required", f"every property must be required; {name!r} is missing"
                )
        for name in required:
            if name not in props:
                raise _Violation(path + ".required", f"{name!r} is not a property")
        self.properties += len(props)
        if self.properties > MAX_PROPERTIES:
            raise _Violation(path, f"more than {MAX_PROPERTIES} properties in the schema")
        for name, sub in props.items():
            self.node(sub, f"{path}.properties.{name}", depth + 1)


def strict_violation(schema: Any, path: str) -> tuple[str, str] | None:
    """``(path, problem)`` of the first strict-mode rule ``schema`` breaks, else ``None``.

    ``path`` is where the schema sits in the request body, e.g.
    ``response_format.json_schema.schema``; the returned path extends it.
    """
    if not isinstance(schema, dict):
        return path, "expected a schema object"
    if schema.get("type") != "object" or "anyOf" in schema:
        return path + ".type", "the top level of a strict schema must be an object, not anyOf"
    try:
        _Checker(schema).node(schema, path, 1)
    except _Violation as violation:
        return violation.path, violation.problem
    return None
