"""The Ray Data recipe (docs/examples/ray_batch.py) runs end to end: a real local Ray
instance, the embedded fake server and a real redis-server; failures are kept as rows
and a rerun resumes. Skipped without the ``ray`` extra (its own CI step)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from ghmodels_async.testing import FakeServer

pytest.importorskip("ray")
pytest.importorskip("redis")

RECIPE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "ray_batch.py"


def _write_input(path: Path, ids: range) -> None:
    with path.open("w") as out:
        for i in ids:
            row: dict[str, object] = {"id": f"q{i}", "prompt": f"question {i}"}
            if i == 7:
                row["model"] = "no/such-model"  # the server refuses it: a failed row
            out.write(json.dumps(row) + "\n")


def _rows(out_dir: Path) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for path in sorted(out_dir.glob("*.json"))
        for line in path.read_text().splitlines()
        if line
    ]


async def _run_recipe(inp: Path, out: Path, base_url: str, redis_url: str) -> None:
    env = dict(os.environ, GITHUB_TOKEN="fake-token")
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(RECIPE), str(inp), str(out),
        "--base-url", base_url, "--redis-url", redis_url, "--rpm", "1200",
        "--max-concurrency", "4", "--actors", "2", "--batch-size", "8",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 600)
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]


async def test_ray_recipe_keeps_failures_as_rows_and_resumes(
    tmp_path: Path, redis_url: str
) -> None:
    import redis.asyncio as aioredis

    inp, out = tmp_path / "prompts.jsonl", tmp_path / "answers"
    _write_input(inp, range(20))
    async with FakeServer() as fake, aioredis.Redis.from_url(redis_url) as store:
        await store.config_resetstat()
        await _run_recipe(inp, out, fake.url, redis_url)
        rows = {str(row["id"]): row for row in _rows(out)}
        assert sorted(rows) == sorted(f"q{i}" for i in range(20))
        assert len(_rows(out)) == 20
        assert rows["q7"]["status"] == "BadRequestError"
        assert "no/such-model" in str(rows["q7"]["error"])
        for i in set(range(20)) - {7}:
            assert rows[f"q{i}"]["status"] == "ok"
            assert rows[f"q{i}"]["answer"] == f"Echo: question {i}"
        assert len(fake.requests) == 20
        stats = await store.info("commandstats")
        # Every request was reserved through the shared Redis limiter.
        scripts = sum(stats.get(name, {}).get("calls", 0)
                      for name in ("cmdstat_evalsha", "cmdstat_eval"))
        assert scripts >= 20

        # Resume: five more lines; only those reach the server.
        _write_input(inp, range(25))
        fake.clear()
        await _run_recipe(inp, out, fake.url, redis_url)
        assert len(fake.requests) == 5
        ids = [str(row["id"]) for row in _rows(out)]
        assert sorted(ids) == sorted(f"q{i}" for i in range(25))  # each id exactly once
