"""JSON Schemas for OpenAI strict mode, from Python types (pure; no I/O).

``strict_schema(tp)`` asks msgspec for the type's schema and rewrites it the way strict
mode demands: the root ``$ref`` inlined, ``additionalProperties: false`` on every
object, every property ``required`` (a property that had a default becomes nullable and
its default moves into the description), no ``default``/``title``/``discriminator``.
A type strict mode cannot express (a free-form ``dict``, ``Any``, a tuple...) raises
``ValidationError`` naming the field. Results are cached per type.

Decoding the model's JSON back into the type goes through :class:`TypeCodec`: msgspec
decodes straight from the text; only if that fails are the ``null`` values that strict
mode added (for fields with defaults) removed and the decode retried.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import typing
from typing import Any, Generic, TypeVar

import msgspec

from ._errors import ValidationError

__all__ = ["StrictSchema", "TypeCodec", "schema_name", "strict_schema"]

T = TypeVar("T")

_DROP = ("default", "title", "discriminator", "$schema")
_UNSUPPORTED = (
    "allOf", "oneOf", "not", "if", "then", "else", "patternProperties", "prefixItems",
    "dependentRequired", "dependentSchemas", "unevaluatedProperties", "propertyNames",
)  # fmt: skip
_REF_PREFIX = "#/$defs/"


class StrictSchema(msgspec.Struct, frozen=True):
    """A strict-mode schema and the property pointers whose ``null`` strict mode added."""

    name: str
    schema: dict[str, Any]
    description: str | None
    injected_nulls: frozenset[str]


class _Rewriter:
    """One rewrite of a msgspec schema; keeps track of the path for error messages."""

    def __init__(self, defs: dict[str, Any], what: str) -> None:
        self.defs = defs
        self.what = what
        self.injected: set[str] = set()

    def fail(self, where: str, problem: str) -> ValidationError:
        field = f"{self.what}.{where}" if where else self.what
        return ValidationError(
            f"{self.what} cannot be made a strict-mode JSON Schema: {field} {problem}",
            field=field,
        )

    def node(self, node: Any, pointer: str, where: str) -> dict[str, Any]:
        if not isinstance(node, dict) or not node:
            raise self.fail(where, "accepts any value (Any); give it a concrete type")
        for key in _UNSUPPORTED:
            if key in node:
                hint = " (a tuple: use a list or a Struct)" if key == "prefixItems" else ""
                raise self.fail(where, f"uses {key!r}, which strict mode does not support{hint}")
        out = {k: v for k, v in node.items() if k not in _DROP}
        ref = out.get("$ref")
        if ref is not None:
            if not isinstance(ref, str) or not ref.startswith(_REF_PREFIX):
                raise self.fail(where, f"has a non-local $ref {ref!r}")
            return out
        if "anyOf" in out:
            out["anyOf"] = [
                self.node(branch, f"{pointer}/anyOf/{i}", where)
                for i, branch in enumerate(out["anyOf"])
            ]
        enum = out.get("enum")
        if isinstance(enum, list) and "type" not in out:
            kinds = {_json_type(v) for v in enum}
            if len(kinds) == 1 and None not in kinds:
                out["type"] = kinds.pop()
        kind = out.get("type")
        if kind == "object" or "properties" in out:
            self.object(out, pointer, where)
        elif kind == "array" or "items" in out:
            if "items" not in out:
                raise self.fail(where, "is a list without an item type")
            out["items"] = self.node(out["items"], pointer + "/items", where + "[]")
        return out

    def object(self, out: dict[str, Any], pointer: str, where: str) -> None:
        extra = out.get("additionalProperties", False)
        if extra is not False or "properties" not in out:
            raise self.fail(
                where,
                "is a free-form mapping (dict); strict mode needs fixed keys: use a Struct, "
                "a dataclass or a TypedDict",
            )
        required = set(out.get("required") or ())
        properties: dict[str, Any] = {}
        for name, prop in out["properties"].items():
            sub_where = f"{where}.{name}" if where else name
            sub_pointer = f"{pointer}/properties/{name}"
            original = prop if isinstance(prop, dict) else {}
            rewritten = self.node(prop, sub_pointer, sub_where)
            if name not in required:
                if "default" in original and original["default"] is not None:
                    default = msgspec.json.encode(original["default"]).decode()
                    note = f"Default: {default}."
                    text = rewritten.get("description")
                    rewritten["description"] = f"{text} {note}" if text else note
                if not _nullable(rewritten, self.defs):
                    self.injected.add(sub_pointer)
                    rewritten = _make_nullable(rewritten)
            properties[name] = rewritten
        out["properties"] = properties
        out["required"] = list(properties)
        out["additionalProperties"] = False


def _json_type(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    return None


def _nullable(node: dict[str, Any], defs: dict[str, Any]) -> bool:
    kind = node.get("type")
    if kind == "null" or (isinstance(kind, list) and "null" in kind):
        return True
    if isinstance(node.get("enum"), list) and None in node["enum"]:
        return True
    return any(isinstance(b, dict) and _nullable(b, defs) for b in node.get("anyOf") or ())


def _make_nullable(node: dict[str, Any]) -> dict[str, Any]:
    if "anyOf" in node:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    description = node.get("description")
    inner = {k: v for k, v in node.items() if k != "description"}
    out: dict[str, Any] = {"anyOf": [inner, {"type": "null"}]}
    if description is not None:
        out["description"] = description
    return out


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX) :])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def schema_name(tp: Any) -> str:
    """A json_schema ``name`` for a type: its name with anything outside
    ``[A-Za-z0-9_-]`` replaced, at most 64 characters."""
    raw = getattr(tp, "__name__", None) or type(tp).__name__
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(raw))[:64] or "schema"


def _fields(tp: Any) -> list[tuple[str, Any, Any]]:
    """(name, annotation, default) of a Struct's, dataclass's or TypedDict's fields;
    empty for any other type."""
    try:
        if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
            return [(f.name, f.type, f.default) for f in msgspec.structs.fields(tp)]
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            hints = typing.get_type_hints(tp, include_extras=True)
            return [(f.name, hints.get(f.name, Any), f.default) for f in dataclasses.fields(tp)]
        if typing.is_typeddict(tp):
            hints = typing.get_type_hints(tp, include_extras=True)
            return [(name, hint, msgspec.NODEFAULT) for name, hint in hints.items()]
    except Exception:  # an unresolvable annotation: no field to point at
        return []
    return []


def _inner_types(tp: Any) -> list[Any]:
    """The types inside an annotation (union members, item types, Annotated's base)."""
    return [arg for arg in typing.get_args(tp) if isinstance(arg, type) or typing.get_args(arg)]


def _culprit(tp: Any, depth: int = 0) -> str | None:
    """The dotted path of the field whose type (or default) msgspec cannot describe."""
    if depth > 16:
        return None
    for name, hint, default in _fields(tp):
        try:
            msgspec.json.schema(hint)
        except (TypeError, ValueError):
            pending = [hint]
            while pending:  # look inside unions, lists and nested Structs for a deeper field
                inner = pending.pop(0)
                deeper = _culprit(inner, depth + 1)
                if deeper is not None:
                    return f"{name}.{deeper}"
                pending.extend(_inner_types(inner))
            return name
        if default is not msgspec.NODEFAULT and default is not dataclasses.MISSING:
            try:
                msgspec.json.encode(default)
            except (TypeError, ValueError, OverflowError):
                return name
    return None


def _build(tp: Any, what: str) -> StrictSchema:
    try:
        raw = msgspec.json.schema(tp)
    except (TypeError, ValueError) as exc:
        culprit = _culprit(tp)
        if culprit is None:
            raise ValidationError(f"{what} has no JSON Schema: {exc}", field=what) from None
        field = f"{what}.{culprit}"
        raise ValidationError(
            f"{what} has no JSON Schema: field {field} (its type or default): {exc}",
            field=field,
        ) from None
    defs: dict[str, Any] = dict(raw.get("$defs") or {})
    root: Any = raw
    root_name: str | None = None
    ref = raw.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        root_name = ref[len(_REF_PREFIX) :]
        root = defs[root_name]
    description = root.get("description") if isinstance(root, dict) else None
    rewriter = _Rewriter(defs, what)
    if not isinstance(root, dict) or (root.get("type") != "object" and "properties" not in root):
        raise rewriter.fail("", "is not an object type; the top level must be a Struct, "
                                "a dataclass or a TypedDict")  # fmt: skip
    schema = rewriter.node({k: v for k, v in root.items() if k != "$defs"}, "#", "")
    new_defs = {
        name: rewriter.node(body, f"#/$defs/{name}", name)
        for name, body in defs.items()
        if name != root_name
    }
    used: set[str] = set()
    _refs(schema, used)
    _refs(new_defs, used)
    if root_name is not None and root_name in used:
        # a recursive root: it stays reachable under its old name
        new_defs[root_name] = rewriter.node(defs[root_name], f"#/$defs/{root_name}", root_name)
    kept = {name: body for name, body in new_defs.items() if name in used}
    if kept:
        schema["$defs"] = kept
    return StrictSchema(
        name=schema_name(tp),
        schema=schema,
        description=description if isinstance(description, str) else None,
        injected_nulls=frozenset(rewriter.injected),
    )


_cache: dict[Any, StrictSchema] = {}
_lock = threading.Lock()


def strict_schema(tp: Any, what: str | None = None) -> StrictSchema:
    """The strict-mode schema of ``tp`` (cached per type); ``ValidationError`` when ``tp``
    cannot be expressed. ``what`` names the type in errors (default: its name)."""
    try:
        cached = _cache.get(tp)
    except TypeError:  # an unhashable annotation: build every time
        return _build(tp, what or schema_name(tp))
    if cached is None:
        cached = _build(tp, what or schema_name(tp))
        with _lock:
            _cache[tp] = cached
    return cached


def _strip_nulls(value: Any, node: Any, pointer: str, spec: StrictSchema, depth: int) -> Any:
    """Remove ``null`` values strict mode added, walking data and schema together."""
    if depth > 64 or not isinstance(node, dict):
        return value
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
        name = ref[len(_REF_PREFIX) :]
        target = spec.schema.get("$defs", {}).get(name)
        return _strip_nulls(value, target, f"#/$defs/{name}", spec, depth + 1)
    if isinstance(value, dict) and isinstance(node.get("properties"), dict):
        out = {}
        for key, item in value.items():
            sub = f"{pointer}/properties/{key}"
            if item is None and sub in spec.injected_nulls:
                continue
            out[key] = _strip_nulls(item, node["properties"].get(key), sub, spec, depth + 1)
        return out
    if isinstance(value, list) and "items" in node:
        return [_strip_nulls(v, node["items"], pointer + "/items", spec, depth + 1) for v in value]
    if "anyOf" in node and value is not None:
        for i, branch in enumerate(node["anyOf"]):
            value = _strip_nulls(value, branch, f"{pointer}/anyOf/{i}", spec, depth + 1)
    return value


class TypeCodec(Generic[T]):
    """Decodes JSON text into ``T``, tolerating the nulls strict mode adds for defaults."""

    __slots__ = ("_decoder", "spec", "type")

    def __init__(self, tp: type[T] | Any, spec: StrictSchema) -> None:
        self.type = tp
        self.spec = spec
        self._decoder: msgspec.json.Decoder[T] = msgspec.json.Decoder(tp)

    def decode(self, text: str | bytes) -> T:
        """Decode or raise ``msgspec.ValidationError``/``msgspec.DecodeError``."""
        try:
            return self._decoder.decode(text)
        except msgspec.ValidationError:
            if not self.spec.injected_nulls:
                raise
            data = msgspec.json.decode(text)
            cleaned = _strip_nulls(data, self.spec.schema, "#", self.spec, 0)
            if cleaned == data:
                raise
            return self._decoder.decode(msgspec.json.encode(cleaned))


_codecs: dict[Any, TypeCodec[Any]] = {}


def codec_for(tp: Any, what: str | None = None) -> TypeCodec[Any]:
    """The cached :class:`TypeCodec` of ``tp``."""
    try:
        codec = _codecs.get(tp)
    except TypeError:
        return TypeCodec(tp, strict_schema(tp, what))
    if codec is None:
        codec = TypeCodec(tp, strict_schema(tp, what))
        with _lock:
            _codecs[tp] = codec
    return codec
