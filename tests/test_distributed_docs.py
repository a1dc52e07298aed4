"""The Python examples of docs/distributed.md run, against a real redis-server."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("redis")

PAGE = Path(__file__).resolve().parent.parent / "docs" / "distributed.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("code", BLOCKS)
def test_example_runs(code: str, redis_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", code], env={"REDIS_URL": redis_url, "PATH": ""},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "20 Echo: question 0" in done.stdout
