"""``ghmodels serve-fake`` with faults and tier emulation, as another process uses it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ghmodels_async import APIStatusError, Client, ValidationError
from ghmodels_async._cli_fake import parse_fault_option


@pytest.mark.parametrize(
    ("text", "spec", "rate"),
    [
        ("429:0.05", "rate_limit", 0.05),
        ("500:0.02", "internal_error", 0.02),
        ("503", "service_unavailable", None),
        ("504:1", "error;status=504", 1.0),
        ("rate_limit;wait=2:0.5", "rate_limit;wait=2", 0.5),
        ("delay_headers;delay=0.1", "delay_headers;delay=0.1", None),
    ],
)
def test_fault_options_map_onto_the_fake_server(text: str, spec: str, rate: float | None) -> None:
    option = parse_fault_option(text)
    assert (option.spec, option.rate) == (spec, rate)


@pytest.mark.parametrize("text", ["429:1.5", "429:x", "700", "no_such_fault", "429;bogus=1"])
def test_bad_fault_options_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="--fault"):
        parse_fault_option(text)


async def start_fake(*options: str) -> tuple[asyncio.subprocess.Process, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ghmodels_async", "serve-fake", *options,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    first = (await asyncio.wait_for(process.stdout.readline(), 30)).decode()
    assert "listening on" in first, first
    return process, first.rsplit(" ", 1)[1].strip()


@pytest.fixture
async def faulty() -> AsyncIterator[str]:
    process, url = await start_fake("--fault", "429;wait=0:0.3", "--fault", "500:0.2")
    try:
        yield url
    finally:
        process.terminate()
        await process.wait()


async def test_faults_hit_their_share_of_requests(faulty: str) -> None:
    statuses: Counter[int] = Counter()
    async with Client("any", base_url=faulty, max_retries=0) as client:
        for n in range(200):
            try:
                await client.chat.completions.create(
                    model="openai/gpt-4.1-mini", messages=[{"role": "user", "content": f"{n}"}]
                )
                statuses[200] += 1
            except APIStatusError as exc:
                statuses[exc.status_code] += 1
    assert set(statuses) == {200, 429, 500}
    assert 30 <= statuses[429] <= 90  # ~30% of 200
    assert statuses[500] >= 10


async def test_rate_limits_with_a_short_window() -> None:
    process, url = await start_fake("--rate-limits", "--rate-window", "30")
    try:
        codes = []
        async with Client("any", base_url=url, max_retries=0) as client:
            for n in range(12):  # the "high" tier allows 10 per window
                try:
                    await client.chat.completions.create(
                        model="openai/gpt-4.1", messages=[{"role": "user", "content": f"{n}"}]
                    )
                    codes.append(200)
                except APIStatusError as exc:
                    codes.append(exc.status_code)
                    assert exc.rate_limit.limit_type == "UserByModelByMinute"
    finally:
        process.terminate()
        await process.wait()
    assert codes == [200] * 10 + [429, 429]


async def test_a_bad_fault_option_exits_2() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ghmodels_async", "serve-fake", "--fault", "429:7",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2 and b"rate must be in [0, 1]" in stderr


async def test_a_batch_against_a_faulty_serve_fake_records_typed_errors(tmp_path: Path) -> None:
    source, target = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(
        json.dumps({"custom_id": f"c{n}", "body": {
            "model": "openai/gpt-4.1-mini", "messages": [{"role": "user", "content": f"{n}"}]
        }}) + "\n"
        for n in range(60)
    ))
    process, url = await start_fake("--fault", "429;wait=0:0.2", "--fault", "500:0.1")
    try:
        batch = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ghmodels_async", "batch", "--base-url", url, "-q",
            "--max-retries", "0", str(source), str(target),
            env={**os.environ, "GITHUB_TOKEN": "any"},
        )
        assert await asyncio.wait_for(batch.wait(), 120) == 8
        rows = [json.loads(line) for line in target.read_text().splitlines()]
        kinds = Counter(row["error"]["type"] if row["error"] else "answer" for row in rows)
        assert len(rows) == 60 and kinds["answer"] < 60
        assert set(kinds) <= {"answer", "RateLimitError", "ServerError"}
        assert kinds["RateLimitError"] > 0
        assert all(row["error"]["status_code"] in (429, 500) for row in rows if row["error"])
    finally:
        process.terminate()
        await process.wait()
