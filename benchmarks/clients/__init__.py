"""The clients under test: a registry that imports none of them.

Each adapter lives in its own module (``benchmarks.clients.<name>``) and is imported
only inside the fresh worker process that measures it, so the parent process, the
import-time measurement and the other clients never pay for its imports.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path


def _installed(module: str) -> bool:
    """Is ``module`` findable, without importing it or its parent packages?"""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None:
        return False
    dirs = [Path(p) for p in spec.submodule_search_locations or ()]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        if last and any((d / f"{part}.py").is_file() or any(d.glob(f"{part}.*.so")) for d in dirs):
            return True
        dirs = [d / part for d in dirs if (d / part).is_dir()]
        if not dirs:
            return False
    return True


@dataclass(frozen=True)
class ClientSpec:
    name: str
    #: what ``python -c`` imports for the import-time column
    import_stmt: str
    #: top-level modules that must be installed; a missing one means "skip"
    requires: tuple[str, ...]
    #: a module whose absence also means "skip" (a client still being written)
    pending_module: str | None = None

    @property
    def module(self) -> str:
        return f"{__name__}.{self.name}"

    def missing(self) -> str | None:
        """Why the client cannot run here, or None. Imports nothing."""
        for mod in (*self.requires, self.pending_module):
            if mod is not None and not _installed(mod):
                return f"{mod} not installed"
        return None


CLIENTS: dict[str, ClientSpec] = {
    c.name: c
    for c in (
        ClientSpec("raw_aiohttp", "import aiohttp", ("aiohttp",)),
        ClientSpec("raw_msgspec", "import aiohttp, msgspec", ("aiohttp", "msgspec")),
        ClientSpec(
            "ghmodels_async",
            # the package namespace is lazy: import what a user's first line really loads
            "from ghmodels_async import Client",
            ("ghmodels_async", "aiohttp", "msgspec"),
            pending_module="ghmodels_async.client",
        ),
        ClientSpec("openai", "import openai", ("openai",)),
        ClientSpec("openai_aiohttp", "import openai, aiohttp", ("openai", "aiohttp")),
        ClientSpec(
            "azure_ai_inference",
            "import azure.ai.inference.aio, azure.core.pipeline.transport, aiohttp",
            ("azure.ai.inference", "azure.core", "aiohttp"),
        ),
    )
}

FLOOR = "raw_aiohttp"
