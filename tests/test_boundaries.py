"""The layers keep to their imports (docs/design.md): the pure core imports neither
aiohttp nor asyncio, only the edge (and the fake server, and the pytest plugin if it
must) imports aiohttp, and importing the fake server loads none of the client.

Checked twice: by reading every module's imports with ``ast`` (what the source says,
``if TYPE_CHECKING:`` blocks excepted), and by importing in a fresh interpreter and
looking at ``sys.modules`` (what really gets loaded, transitively).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "ghmodels_async"
CORE = ["types", "_errors", "_sansio", "_sse", "_retry", "_timeout", "_info", "_accumulator",
        "_stream", "_config", "_version", "_redact", "contract"]  # fmt: skip
EDGE = "_transport"
MAY_IMPORT_AIOHTTP = {EDGE, "testing", "pytest_plugin"}
CLIENT_SIDE = {"client", "_transport", "_stream", "_sansio", "_sse", "_retry", "_timeout",
               "_info", "_errors", "_accumulator", "_config", "types", "fanout", "cli"}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def runtime_imports(path: Path) -> set[str]:
    """Top-level names of what a module imports at run time (absolute imports, and
    relative ones as ``.name``), skipping ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = node.module.split(".")[0] if node.module else ""
                found.update(f".{base or alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


ALL_MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def loaded_after(statement: str) -> list[str]:
    """``sys.modules`` of a fresh interpreter after running ``statement``."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    return list(json.loads(done.stdout))


def test_every_module_is_read() -> None:
    assert {*CORE, EDGE, "client", "testing.server"} <= set(ALL_MODULES)


@pytest.mark.parametrize("name", CORE)
def test_core_source_imports_neither_aiohttp_nor_asyncio(name: str) -> None:
    imports = runtime_imports(ALL_MODULES[name])
    assert not imports & {"aiohttp", "asyncio", "yarl", "multidict"}, imports
    # and it leans only on other core modules
    local = {i[1:] for i in imports if i.startswith(".")}
    assert local <= set(CORE), local - set(CORE)


def test_only_the_edge_the_fake_and_the_plugin_import_aiohttp() -> None:
    importers = {
        name for name, path in ALL_MODULES.items() if "aiohttp" in runtime_imports(path)
    }
    assert EDGE in importers
    assert {name.split(".")[0] for name in importers} <= MAY_IMPORT_AIOHTTP, importers


def test_the_fake_source_imports_nothing_of_the_client() -> None:
    # (it may share ``contract``: the API's limits, pure data both sides are built from)
    for name, path in ALL_MODULES.items():
        if name.startswith("testing"):
            local = {i[1:] for i in runtime_imports(path) if i.startswith(".")}
            assert not local & CLIENT_SIDE, (name, local)
            assert "ghmodels_async" not in runtime_imports(path), name


def test_importing_the_core_loads_neither_aiohttp_nor_asyncio() -> None:
    imports = "\n".join(f"import ghmodels_async.{name}" for name in CORE)
    loaded = loaded_after(imports)
    assert "aiohttp" not in loaded
    assert "asyncio" not in loaded
    assert "ghmodels_async.client" not in loaded
    assert "ghmodels_async._transport" not in loaded


def test_importing_the_fake_loads_none_of_the_client() -> None:
    loaded = loaded_after("import ghmodels_async.testing")
    ours = {m.removeprefix("ghmodels_async.") for m in loaded if m.startswith("ghmodels_async.")}
    assert "testing.server" in ours
    assert not ours & CLIENT_SIDE, ours & CLIENT_SIDE


def test_importing_the_package_is_light() -> None:
    loaded = loaded_after("import ghmodels_async")
    assert "aiohttp" not in loaded
    assert "ghmodels_async.client" not in loaded
    loaded = loaded_after("from ghmodels_async import Client")
    assert "ghmodels_async.client" in loaded and "aiohttp" in loaded
