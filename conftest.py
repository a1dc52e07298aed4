"""Run every ```python example in README.md and docs/**/*.md against the embedded fake server.

Collected by Sybil (``testpaths`` in pyproject.toml lists ``docs`` and ``README.md``), so
``python -m pytest -q`` executes them and a renamed API breaks the build:

- The blocks of one page share a namespace and run in order, so a page can build on its
  earlier blocks.
- Each page gets its own :class:`~ghmodels_async.testing.FakeServer` (in a background
  thread) and the environment a user would have: ``GHMODELS_BASE_URL`` points at it and
  ``GITHUB_TOKEN`` is set, so examples read ``async with Client() as client:``.
- A block may use top-level ``await`` (as in ``python -m asyncio`` or a notebook); such
  blocks run on one event loop per page. Blocks with ``asyncio.run(main())`` run as is.
- ``<!-- skip: next -->`` before a block skips it (for code that needs a real endpoint);
  ```sh and other languages are never executed.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sybil import Example, Sybil
from sybil.evaluators.python import pad
from sybil.parsers.markdown import CodeBlockParser, SkipParser

from ghmodels_async import Client
from ghmodels_async.testing import FakeServer

# The token a user would have, plus placeholders for the keys the endpoint examples read
# (those examples only construct clients; nothing is sent to a real service).
_ENV = {
    "GITHUB_TOKEN": "docs-example-token",
    "AZURE_AI_TOKEN": "placeholder",
    "AZURE_AI_API_KEY": "placeholder",
    "OPENAI_API_KEY": "placeholder",
}
_STATE = "__docs_example_state__"


class _ServerThread:
    """A FakeServer on its own event loop in a daemon thread, so examples can call
    ``asyncio.run`` freely in the test's thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.server = FakeServer()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> str:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)
        return self.server.url

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _track_clients(created: list[Client]) -> Any:
    """Record every Client a page creates (a later block may rebind its name), so the
    page's teardown can close them all; returns the original ``__init__``."""
    original = Client.__init__

    def tracking_init(self: Client, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        created.append(self)

    Client.__init__ = tracking_init  # type: ignore[method-assign]
    return original


def _setup(namespace: dict[str, Any]) -> None:
    server = _ServerThread()
    env = _environment({**_ENV, "GHMODELS_BASE_URL": server.start()})
    env.__enter__()
    created: list[Client] = []
    original_init = _track_clients(created)
    namespace[_STATE] = {
        "server": server, "env": env, "loop": None, "created": created, "init": original_init,
    }  # fmt: skip


def _teardown(namespace: dict[str, Any]) -> None:
    state = namespace.pop(_STATE)
    Client.__init__ = state["init"]  # type: ignore[method-assign]
    loop: asyncio.AbstractEventLoop | None = state["loop"]
    clients = [c for c in state["created"] if not c.closed]
    try:
        if clients:
            runner = loop if loop is not None else asyncio.new_event_loop()
            for client in clients:
                runner.run_until_complete(client.close())
            if loop is None:
                runner.close()
    finally:
        if loop is not None:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
        state["env"].__exit__(None, None, None)
        state["server"].stop()


def _evaluate(example: Example) -> None:
    """Exec a block; a block with top-level ``await`` runs on the page's event loop."""
    __tracebackhide__ = True
    namespace = example.namespace
    source = pad(example.parsed, example.line + example.parsed.line_offset)
    code = compile(
        source, example.path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
    )
    if code.co_flags & inspect.CO_COROUTINE:
        state = namespace[_STATE]
        if state["loop"] is None:
            state["loop"] = asyncio.new_event_loop()
        state["loop"].run_until_complete(eval(code, namespace))
    else:
        exec(code, namespace)
    namespace.pop("__builtins__", None)


pytest_collect_file = Sybil(
    parsers=[CodeBlockParser(language="python", evaluator=_evaluate), SkipParser()],
    patterns=["*.md"],
    path=str(Path(__file__).parent),
    setup=_setup,
    teardown=_teardown,
).pytest()
