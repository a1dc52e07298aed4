"""Read a ``.prompt.yml`` file into a :class:`PromptFile`, or fail naming file, line, field.

PyYAML (the ``[prompts]`` extra) is imported here, lazily. The text is composed into a
node tree (which keeps line numbers) and constructed with YAML 1.2 scalar rules, as the
``gh`` CLI reads it: ``yes``/``no``/``on``/``off`` stay text (judge choices are often
``yes``/``no``), dates stay text, ``012`` is twelve. ``msgspec.convert`` then checks the
structure; its error path (``$.messages[1].role``) is walked down the node tree to find
the line. Cross-field checks (every ``{{variable}}`` has a value in every test row)
follow, with the row's line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import msgspec

from ._builtins import BUILTIN_EVALUATORS
from ._errors import MissingExtraError, PromptFileError
from ._model import PromptFile
from ._render import placeholders

__all__ = ["load_prompt_file", "parse_prompt_text"]

_AT: Final = re.compile(r"^(.*) - at `\$(.*)`$", re.DOTALL)
_SEGMENT: Final = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\.\.\.\]")
_QUOTED: Final = re.compile(r"`([^`]+)`")
_MAX_BYTES: Final = 16 * 1024 * 1024
_MAX_DEPTH: Final = 64
_MAX_NODES: Final = 1_000_000


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise MissingExtraError(
            "reading prompt files needs PyYAML: pip install 'ghmodels_async[prompts]'"
        ) from None
    return yaml


_loader_class: Any = None


def _loader() -> Any:
    """A SafeLoader with YAML 1.2 core-schema scalars (built once, on first use)."""
    global _loader_class
    if _loader_class is not None:
        return _loader_class
    yaml = _yaml()

    class Loader(yaml.SafeLoader):  # type: ignore[misc,name-defined]
        # PyYAML's scanner is quadratic in the depth of flow collections ([[[...): stop
        # at _MAX_DEPTH instead of spending minutes on a hostile file.
        def fetch_flow_sequence_start(self) -> None:
            self._check_flow_depth()
            super().fetch_flow_sequence_start()

        def fetch_flow_mapping_start(self) -> None:
            self._check_flow_depth()
            super().fetch_flow_mapping_start()

        def _check_flow_depth(self) -> None:
            if self.flow_level >= _MAX_DEPTH:
                raise yaml.scanner.ScannerError(
                    None, None, f"nested deeper than {_MAX_DEPTH} levels", self.get_mark()
                )

    Loader.yaml_implicit_resolvers = {}
    rules = [
        ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
        ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", "~nN"),
        ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$",
         "-+0123456789"),
        ("tag:yaml.org,2002:float",
         r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
    ]  # fmt: skip
    for tag, pattern, first in rules:
        Loader.add_implicit_resolver(tag, re.compile(pattern), list(first))
    Loader.add_implicit_resolver("tag:yaml.org,2002:null", re.compile(r"^$"), [""])

    def construct_int(loader: Any, node: Any) -> int:
        text = loader.construct_scalar(node)
        try:
            if text.startswith(("0o", "0x")):
                value = int(text[2:], 8 if text[1] == "o" else 16)
                str(value)  # it must print as text too (rendered into a prompt)
                return value
            return int(text, 10)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(text)} digits is too long", node.start_mark
            ) from None

    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", Loader.construct_yaml_str)
    _loader_class = Loader
    return Loader


def load_prompt_file(path: str | Path) -> PromptFile:
    """Read and validate the prompt file at ``path``."""
    name = str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_BYTES + 1)
    except OSError as exc:
        raise PromptFileError(name, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > _MAX_BYTES:
        raise PromptFileError(name, f"the file is larger than {_MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PromptFileError(name, f"the file is not UTF-8 text ({exc.reason})") from None
    return parse_prompt_text(text, name)


def parse_prompt_text(text: str, name: str = "<prompt>") -> PromptFile:
    """Validate prompt-file ``text``; ``name`` is used in error messages."""
    yaml = _yaml()
    loader: Any = None
    try:
        loader = _loader()(text)  # its reader refuses NUL and other non-printable characters
        root = loader.get_single_node()
        if root is None:
            raise PromptFileError(name, "the file is empty", line=1)
        _check_nodes(root, name)
        data = loader.construct_document(root)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise PromptFileError(name, f"invalid YAML: {problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise PromptFileError(name, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise PromptFileError(name, "invalid YAML: nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    if not isinstance(data, dict):
        raise PromptFileError(
            name,
            "the file must be a mapping of keys (name, model, ...)",
            line=root.start_mark.line + 1,
        )
    _check_test_values(data, root, name)
    try:
        prompt = msgspec.convert(data, PromptFile)
    except msgspec.ValidationError as exc:
        raise _located(str(exc), root, name) from None
    _check_variables(prompt, root, name)
    return prompt


def _located(message: str, root: Any, name: str) -> PromptFileError:
    """A PromptFileError for a msgspec message, with the line its path leads to."""
    match = _AT.match(message)
    problem, path = (match.group(1), match.group(2)) if match else (message, "")
    node = root
    for segment in _SEGMENT.finditer(path):
        key, index = segment.group(1), segment.group(2)
        child = _child(node, key if key is not None else int(index) if index else None)
        if child is None:
            break
        node = child
    # Point at the key the problem is about: an unknown field, or a check on one field.
    field = path.lstrip(".") or None
    quoted = _QUOTED.search(problem)
    target = quoted.group(1) if quoted and "unknown field" in problem else problem.split(" ")[0]
    key_node = _key_node(node, target)
    if key_node is not None:
        node = key_node
        if "unknown field" not in problem:
            field = f"{field}.{target}" if field else target
    if "matching regex" in problem and field is not None and field.endswith(("model", "modelId")):
        shown = node.value if node.id == "scalar" else "?"
        problem = f"not a model id ({{publisher}}/{{model_name}}, no spaces): {shown!r}"
    return PromptFileError(name, problem, line=node.start_mark.line + 1, field=field)


def _child(node: Any, step: str | int | None) -> Any:
    if isinstance(step, int) and node.id == "sequence":
        return node.value[step] if step < len(node.value) else None
    if isinstance(step, str) and node.id == "mapping":
        return next((value for key, value in node.value if key.value == step), None)
    return None


def _key_node(node: Any, key: str) -> Any:
    if node.id != "mapping":
        return None
    return next((k for k, _ in node.value if k.value == key), None)


def _check_nodes(root: Any, name: str) -> None:
    """No duplicate keys (as ``gh`` refuses them), no nesting deeper than ``_MAX_DEPTH``,
    and at most ``_MAX_NODES`` values once aliases are expanded (a "billion laughs" file
    would otherwise take exponential time and memory). Aliased nodes are sized once."""
    sizes: dict[int, int] = {}

    def size(node: Any, depth: int) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        line = node.start_mark.line + 1
        if depth > _MAX_DEPTH:
            raise PromptFileError(name, f"nested deeper than {_MAX_DEPTH} levels", line=line)
        total = 1
        if node.id == "mapping":
            seen: set[Any] = set()
            for key, value in node.value:
                if key.id == "scalar":
                    if key.value in seen:
                        raise PromptFileError(
                            name, f"duplicate key {key.value!r}", line=key.start_mark.line + 1
                        )
                    seen.add(key.value)
                total += size(key, depth + 1) + size(value, depth + 1)
        elif node.id == "sequence":
            total += sum(size(item, depth + 1) for item in node.value)
        if total > _MAX_NODES:
            raise PromptFileError(
                name, f"the file expands to more than {_MAX_NODES} values (YAML aliases?)",
                line=line,
            )  # fmt: skip
        sizes[id(node)] = total
        return total

    size(root, 0)


def _check_test_values(data: dict[str, Any], root: Any, name: str) -> None:
    """testData rows map names to text, numbers or booleans (say which key is wrong)."""
    rows = data.get("testData")
    if not isinstance(rows, list):
        return
    rows_node = _child(root, "testData")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            continue  # msgspec reports the shape
        for key, value in row.items():
            if value is None or isinstance(value, (list, dict)):
                kind = "empty" if value is None else type(value).__name__
                node = _key_node(_child(rows_node, i), str(key)) if rows_node else None
                line = node.start_mark.line + 1 if node is not None else None
                raise PromptFileError(
                    name,
                    f"testData value of {key!r} must be text, a number or a boolean, not {kind}",
                    line=line,
                    field=f"testData[{i}].{key}",
                )


def _check_variables(prompt: PromptFile, root: Any, name: str) -> None:
    """Every placeholder of the messages and evaluators has a value in every test row."""
    needs: list[tuple[str, list[str]]] = []
    for i, message in enumerate(prompt.messages):
        needs.append((f"messages[{i}].content", placeholders(message.content)))
    for i, evaluator in enumerate(prompt.evaluators):
        where = f"evaluators[{i}] ({evaluator.name})"
        if evaluator.string is not None:
            needs.append((where, placeholders(evaluator.string.check()[1])))
        elif evaluator.llm is not None:
            used = placeholders(evaluator.llm.prompt)
            needs.append((where, [v for v in used if v != "completion"]))
        elif evaluator.uses is not None:
            judge = BUILTIN_EVALUATORS[evaluator.uses]
            needs.append((where, [v for v in placeholders(judge.prompt) if v != "completion"]))
    rows_node = _child(root, "testData")
    for r, row in enumerate(prompt.test_data):
        for where, names in needs:
            missing = [v for v in names if v not in row]
            if missing:
                node = _child(rows_node, r) if rows_node is not None else None
                line = node.start_mark.line + 1 if node is not None else None
                listed = ", ".join(f"{{{{{v}}}}}" for v in missing)
                raise PromptFileError(
                    name,
                    f"test row {r + 1} has no value for {listed} used by {where}",
                    line=line,
                    field=f"testData[{r}]",
                )
