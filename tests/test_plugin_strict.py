"""The pytest fixtures in a fresh project that keeps pytest-asyncio's default strict mode
(no ``asyncio_mode`` setting): run as a real pytest subprocess (issue 9, item 19)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_TEST = '''
import pytest

async def test_unmarked(fake_models_client):
    answer = await fake_models_client.chat.completions.create(
        model="openai/gpt-4.1", messages=[{"role": "user", "content": "hi"}]
    )
    assert answer.choices[0].message.content

@pytest.mark.asyncio
async def test_marked(fake_models_server, fake_models_client):
    await fake_models_client.models.list()
    assert fake_models_server.requests

@pytest.mark.fake_models(quirks=True)
async def test_with_options(fake_models_server):
    assert fake_models_server.quirks

def test_sync_untouched():
    assert True
'''


def test_fixtures_work_in_strict_mode(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nasyncio_default_fixture_loop_scope = function\n"
    )
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-W",
         "error::ResourceWarning", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "mode=Mode.STRICT" in run.stdout  # the project did not opt into auto mode
    assert "4 passed" in run.stdout
