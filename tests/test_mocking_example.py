"""The docs' examples of testing with this client (docs/testing.md) really run: the
embedded fake server, and the one aioresponses example (how users mock this client in
their own tests; this suite's own request-shape tests use the pure core instead)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parent.parent / "docs" / "testing.md"
# the two stand-alone scripts of the page (the pytest-fixture example is a test module,
# run by the page's own invisible block in a strict-mode pytest subprocess)
BLOCKS = [
    block
    for block in re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    if "asyncio.run(main())" in block
]


def test_the_page_has_both_examples() -> None:
    assert len(BLOCKS) == 2
    assert "FakeServer" in BLOCKS[0]
    assert "aioresponses" in BLOCKS[1]


@pytest.mark.parametrize("block", BLOCKS, ids=["fake_server", "aioresponses"])
def test_docs_example_runs(block: str) -> None:
    # each block ends with asyncio.run(main()): run it as a script of its own
    exec(compile(block, str(PAGE), "exec"), {"__name__": "__main__"})
