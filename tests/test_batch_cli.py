"""``ghmodels batch`` as a user runs it: a subprocess against the fake server, stopped by
SIGINT, SIGTERM or SIGKILL mid-run, then resumed; exit codes, summary and progress."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ghmodels_async.cli import main
from ghmodels_async.testing import FakeServer

MODEL = "openai/gpt-4.1-mini"
LINES = 120


def write_input(path: Path, count: int = LINES) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for n in range(count):
            body = {"model": MODEL, "messages": [{"role": "user", "content": f"p{n}"}]}
            handle.write(json.dumps({"custom_id": f"id-{n}", "body": body}) + "\n")
    return path


def answered_ids(path: Path) -> list[str]:
    """custom_ids of the complete answer lines (a torn last line is not one)."""
    ids = []
    for raw in path.read_bytes().split(b"\n"):
        try:
            row = json.loads(raw)
        except ValueError:
            continue
        if row["error"] is None:
            ids.append(row["custom_id"])
    return ids


async def start_batch(
    server: FakeServer, *args: str, token: str = "t"
) -> asyncio.subprocess.Process:
    env = {**os.environ, "GITHUB_TOKEN": token}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ghmodels_async", "batch", "--base-url", server.url, *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )


async def run_batch(server: FakeServer, *args: str, token: str = "t") -> tuple[int, str, str]:
    process = await start_batch(server, *args, token=token)
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def wait_for_answers(path: Path, at_least: int, process: Any) -> None:
    """Wait (bounded) until ``path`` holds ``at_least`` lines: the kill lands mid-run."""
    for _ in range(3000):
        if path.exists() and path.read_bytes().count(b"\n") >= at_least:
            return
        assert process.returncode is None, "the batch ended before it could be stopped"
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never reached {at_least} lines")


def prompts(server: FakeServer) -> set[str]:
    return {r.json["messages"][-1]["content"] for r in server.requests if r.json}


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGKILL, -signal.SIGKILL)],
)
async def test_a_stopped_batch_loses_nothing_and_resumes(
    tmp_path: Path, signum: int, code: int
) -> None:
    source, target = write_input(tmp_path / "in.jsonl"), tmp_path / "out.jsonl"
    async with FakeServer() as server:
        slow = server.inject("delay_headers;delay=0.05", times=None)
        process = await start_batch(server, str(source), str(target), "-c", "4")
        await wait_for_answers(target, 12, process)
        process.send_signal(signum)
        stdout, _ = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == code
        first = answered_ids(target)
        assert 12 <= len(first) < LINES
        if signum != signal.SIGKILL:
            assert "interrupted" in stdout.decode() and "rerun" in stdout.decode()
            assert target.read_bytes().endswith(b"\n")  # a clean stop leaves whole lines
        server.faults.remove(slow)
        server.clear()
        returncode, stdout2, _ = await run_batch(server, str(source), str(target), "-c", "8")
        resent = prompts(server)
    assert returncode == 0, stdout2
    final = answered_ids(target)
    assert sorted(final) == sorted(f"id-{n}" for n in range(LINES))  # each exactly once
    assert not resent & {f"p{i.split('-')[1]}" for i in first}  # nothing answered was resent
    assert len(resent) == LINES - len(first)


async def test_exit_codes_and_summary(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl", 30)
    with source.open("a") as handle:
        handle.write("{oops\n")
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server:
        code, stdout, stderr = await run_batch(
            server, str(source), str(target), "--progress", "plain", "--progress-interval", "0.01"
        )
        assert code == 8
        assert "30 answered, 1 failed" in stdout and "1 x BadLine" in stdout
        assert "bad input line 31: not valid JSON" in stdout
        assert "batch: 31/31" in stderr  # the final plain progress line
        code, stdout, _ = await run_batch(server, str(source), str(target))
        assert code == 8 and "1 lines failed in an earlier run" in stdout
        code, stdout, stderr = await run_batch(server, "-q", str(source), str(target))
        assert code == 8 and stdout == "" and stderr == ""


async def test_a_rejected_token_exits_3_and_writes_nothing(tmp_path: Path) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 20), tmp_path / "out.jsonl"
    async with FakeServer(token="right") as server:
        code, _, stderr = await run_batch(server, str(source), str(target), token="wrong")
    assert code == 3 and "401" in stderr
    assert target.read_bytes() == b""


def test_complete_run_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 25), tmp_path / "out.jsonl"
    assert main(["--fake", "batch", str(source), str(target), "-c", "5"]) == 0
    assert "25 answered, 0 failed" in capsys.readouterr().out
    assert len(answered_ids(target)) == 25


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["batch", "{missing}", "{out}"], "input file not found"),
        (["batch", "{in}", "{in}"], "different files"),
        (["batch", "{in}", "{nodir}"], "No such file or directory"),
        (["batch", "{in}", "{dir}"], "not a regular file"),
    ],
)
def test_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    source = write_input(tmp_path / "in.jsonl", 1)
    names = {"{in}": str(source), "{out}": str(tmp_path / "o.jsonl"),
             "{missing}": str(tmp_path / "missing.jsonl"), "{dir}": str(tmp_path),
             "{nodir}": str(tmp_path / "no" / "out.jsonl")}
    assert main(["--fake", *(names.get(a, a) for a in argv)]) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "bad"),
    [("--concurrency", "0"), ("--concurrency", "-3"), ("--concurrency", "x"),
     ("--max-retries", "-1"), ("--max-consecutive-failures", "-2"), ("--rpm", "0"),
     ("--rpm", "inf"), ("--tier", "medium")],
)
def test_bad_options_are_usage_errors(option: str, bad: str) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["batch", "in", "out", option, bad])
    assert caught.value.code == 2


def test_rpm_paces_the_batch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 8), tmp_path / "out.jsonl"
    started = time.monotonic()
    assert main(["--fake", "batch", str(source), str(target), "-c", "8", "--rpm", "600"]) == 0
    assert time.monotonic() - started >= 7 * 0.1 * 0.95  # 8 starts at least 0.1 s apart
    assert len(answered_ids(target)) == 8


@pytest.mark.parametrize(
    "option", [["--tier", "high"], ["--tier", "auto"], ["--tpm", "600000"]], ids=" ".join
)
def test_tier_and_tpm_pace_through_the_clients_limiter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: list[str]
) -> None:
    source, target = write_input(tmp_path / "in.jsonl", 6), tmp_path / "out.jsonl"
    assert main(["--fake", "batch", str(source), str(target), "-c", "4", *option]) == 0
    assert len(answered_ids(target)) == 6
    assert "warning" not in capsys.readouterr().err  # --tier auto read the catalog


def test_tier_and_rpm_together_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write_input(tmp_path / "in.jsonl", 1)
    argv = ["--fake", "batch", str(source), str(tmp_path / "o"), "--tier", "low", "--rpm", "5"]
    assert main(argv) == 2
    assert "either --tier or --rpm" in capsys.readouterr().err
