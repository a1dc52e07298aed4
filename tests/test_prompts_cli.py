"""``ghmodels run`` and ``ghmodels eval`` as real subprocesses (exit codes, --json, flags)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ghmodels_async.testing import FakeServer

HERE = Path(__file__).parent / "prompts"
STRINGS = str(HERE / "strings.prompt.yml")
JUDGES = str(HERE / "judges.prompt.yml")
DOCS_EXAMPLE = str(Path(__file__).parent.parent / "docs" / "examples" / "capitals.prompt.yml")


@dataclass
class Run:
    code: int
    out: str
    err: str


async def run_cli(*args: str, token: str | None = None, stdin: str | None = None) -> Run:
    """``python -m ghmodels_async ARGS`` with no GITHUB_TOKEN unless ``token`` is given."""
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    if token is not None:
        env["GITHUB_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ghmodels_async", *args, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    data = stdin.encode() if stdin is not None else b""
    out, err = await asyncio.wait_for(proc.communicate(data), 60)
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


def assert_one_line_error(run: Run, code: int, *needles: str) -> None:
    assert run.code == code, (run.code, run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err  # one line, never a traceback
    assert lines[0].startswith("ghmodels: error: ")
    for needle in needles:
        assert needle in lines[0], lines[0]


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer() as fake:
        yield fake


async def test_eval_all_pass_exits_0() -> None:
    run = await run_cli("eval", "--fake", DOCS_EXAMPLE)
    assert run.code == 0, run.err
    assert "Passed: 3/3 (100.00%)" in run.out
    assert "relevance" in run.out


async def test_eval_some_fail_exits_1_with_a_table() -> None:
    run = await run_cli("--fake", "eval", STRINGS)
    assert run.code == 1, run.err
    assert "Passed: 1/2 (50.00%)" in run.out
    assert "x equals-exact" in run.out
    assert "row 2 answer: Echo: Bye, Moon!" in run.out
    assert run.err == ""


async def test_eval_json_keeps_the_gh_shape() -> None:
    run = await run_cli("eval", "--fake", "--json", "--concurrency", "2", JUDGES)
    assert run.code == 1, run.err
    document = json.loads(run.out)
    assert document["name"] == "Judges"
    assert document["summary"] == {
        "totalTests": 3, "passedTests": 2, "failedTests": 1, "passRate": 2 / 3 * 100,
    }  # fmt: skip
    results = document["testResults"][2]["evaluationResults"]
    assert {r["evaluatorName"]: r["passed"] for r in results}["similarity"] is False
    assert all(set(r) == {"evaluatorName", "score", "passed", "details"} for r in results)


@pytest.mark.parametrize("bad", ["bad_role", "bad_yaml", "missing_variable"])
async def test_eval_of_a_bad_file_exits_2_naming_the_line(bad: str) -> None:
    path = str(HERE / "invalid" / f"{bad}.prompt.yml")
    run = await run_cli("eval", "--fake", path)
    assert_one_line_error(run, 2, f"{path}:")
    assert run.out == ""


async def test_eval_with_bad_options_exits_2() -> None:
    assert_one_line_error(await run_cli("eval", "--fake", "--concurrency", "0", STRINGS), 2)
    missing = await run_cli("eval", "--fake", str(HERE / "absent.prompt.yml"))
    assert_one_line_error(missing, 2, "cannot read the file")


async def test_run_prints_the_answer_with_vars() -> None:
    run = await run_cli("run", "--fake", STRINGS, "--var", "greeting=Hi", "--var", "name=Ann")
    assert (run.code, run.out, run.err) == (0, "Echo: Hi, Ann!\n", "")


async def test_run_streamed_prints_the_same_answer() -> None:
    run = await run_cli("run", "--fake", "--stream", STRINGS, "--var", "greeting=Hi",
                        "--var", "name=Ann")  # fmt: skip
    assert (run.code, run.out) == (0, "Echo: Hi, Ann!\n")


async def test_standard_input_fills_the_single_missing_variable() -> None:
    run = await run_cli("run", "--fake", STRINGS, "--var", "greeting=Hey", stdin="Zoe\n")
    assert (run.code, run.out) == (0, "Echo: Hey, Zoe!\n"), run.err


async def test_run_with_missing_or_unknown_variables_exits_2() -> None:
    both = await run_cli("run", "--fake", STRINGS, stdin="")
    assert_one_line_error(both, 2, "greeting", "name")
    empty = await run_cli("run", "--fake", STRINGS, "--var", "greeting=Hi", stdin="")
    assert_one_line_error(empty, 2, "name", "standard input was empty")
    typo = await run_cli("run", "--fake", STRINGS, "--var", "greeting=Hi", "--var", "name=A",
                         "--var", "nmae=B")  # fmt: skip
    assert_one_line_error(typo, 2, "unknown variable", "nmae")
    malformed = await run_cli("run", "--fake", STRINGS, "--var", "greeting")
    assert_one_line_error(malformed, 2, "NAME=VALUE")


async def test_run_with_another_model(server: FakeServer) -> None:
    run = await run_cli("--base-url", server.url, "run", "-m", "openai/gpt-4o", STRINGS,
                        "--var", "greeting=Hi", "--var", "name=Ann", token="t")  # fmt: skip
    assert run.code == 0, run.err
    assert server.last_request.json["model"] == "openai/gpt-4o"


async def test_eval_honours_every_endpoint_flag(server: FakeServer) -> None:
    run = await run_cli(
        "eval", DOCS_EXAMPLE, "--base-url", server.url, "--path-prefix", "/v1",
        "--api-version", "2025-03-01-preview", token="t",
    )  # fmt: skip
    assert run.code == 0, run.err
    paths = {r.path for r in server.requests}
    assert paths == {"/v1/chat/completions"}
    assert {r.query.get("api-version") for r in server.requests} == {"2025-03-01-preview"}
    server.clear()
    org = await run_cli("eval", DOCS_EXAMPLE, "--base-url", server.url, "--org", "my-org",
                        token="t")  # fmt: skip
    assert org.code == 0, org.err
    assert {r.path for r in server.requests} == {"/orgs/my-org/inference/chat/completions"}


async def test_an_api_failure_of_a_row_gives_its_exit_code(server: FakeServer) -> None:
    server.inject("gone", times=1)
    run = await run_cli("eval", "--json", STRINGS, "--base-url", server.url, token="t")
    assert run.code == 5, (run.out, run.err)  # 410: the endpoint is retired
    document = json.loads(run.out)  # the report is still printed whole
    assert sum("error" in row for row in document["testResults"]) == 1
    assert "1 row(s) failed to run" in run.err
