"""The command line end to end: a real subprocess against the fake server on loopback."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import pytest

from ghmodels_async.testing import FakeServer

CLI = [sys.executable, "-m", "ghmodels_async"]


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err


async def run_cli(*args: str, token: str | None = None, stdin: str | None = None) -> Run:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    if token is not None:
        env["GITHUB_TOKEN"] = token
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        env=env,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(
        proc.communicate(stdin.encode() if stdin is not None else b""), 60
    )
    assert proc.returncode is not None
    return Run(proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def server() -> AsyncIterator[FakeServer]:
    async with FakeServer() as fake:
        yield fake


def assert_one_line_error(run: Run, code: int, *needles: str) -> None:
    assert run.code == code, (run.code, run.out, run.err)
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err  # one line, never a traceback
    assert lines[0].startswith("ghmodels: error: ")
    assert "Traceback" not in run.err
    for needle in needles:
        assert needle in lines[0], lines[0]


async def test_demo_runs_on_the_embedded_fake_without_a_token() -> None:
    run = await run_cli("demo", "--prompts", "40", "--concurrency", "8")
    assert run.code == 0, run.err
    assert "embedded fake server at http://127.0.0.1:" in run.out
    assert "Hello from ghmodels_async!" in run.out  # the streamed answer
    assert "usage:" in run.out
    assert "done: 40  failed: 0" in run.out
    assert "tokens: " in run.out and "tokens: 0" not in run.out


async def test_demo_uses_the_configured_endpoint(server: FakeServer) -> None:
    run = await run_cli("demo", "--prompts", "5", "--base-url", server.url, token="ghp_x")
    assert run.code == 0, run.err
    assert f"talking to {server.url}" in run.out
    chats = [r for r in server.requests if r.path == "/inference/chat/completions"]
    assert len(chats) == 6  # one streamed answer + five fanned out
    assert chats[0].json is not None and chats[0].json["stream"] is True
    assert chats[0].headers["Authorization"] == "Bearer ghp_x"


async def test_chat_streams_an_answer_with_every_option(server: FakeServer) -> None:
    run = await run_cli(
        "chat", "Why is the sky blue?", "-m", "openai/gpt-4.1-mini", "-s", "Be brief",
        "-t", "0.2", "--max-tokens", "50", "--base-url", server.url, "--org", "my-org",
        "--api-version", "2024-05-01-preview", token="tok",
    )  # fmt: skip
    assert run.code == 0, run.err
    assert run.out.strip() == "Echo: Why is the sky blue?"
    request = server.last_request
    assert request.path == "/orgs/my-org/inference/chat/completions"
    assert request.query["api-version"] == "2024-05-01-preview"
    assert request.json == {
        "model": "openai/gpt-4.1-mini",
        "messages": [
            {"role": "system", "content": "Be brief"},
            {"role": "user", "content": "Why is the sky blue?"},
        ],
        "max_tokens": 50,
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.2,
    }


async def test_chat_reads_standard_input_and_options_go_after_the_command() -> None:
    run = await run_cli("chat", "--fake", stdin="from stdin\n")
    assert run.code == 0, run.err
    assert run.out.strip() == "Echo: from stdin"


async def test_models_prints_the_catalog_table() -> None:
    run = await run_cli("--fake", "models")
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    assert lines[0].split() == ["ID", "TIER", "IN/OUT", "TOKENS", "CAPABILITIES"]
    ids = [line.split()[0] for line in lines[1:]]
    assert "openai/gpt-4.1" in ids and "openai/text-embedding-3-small" in ids


async def test_missing_token_is_a_one_line_error() -> None:
    run = await run_cli("chat", "hi")
    assert_one_line_error(run, 3, "no token", "GITHUB_TOKEN", "--fake")


async def test_wrong_token_exits_3() -> None:
    async with FakeServer(token="the-right-one") as fake:
        run = await run_cli("chat", "hi", "--base-url", fake.url, token="wrong")
    assert_one_line_error(run, 3, "401")


async def test_org_without_models_exits_3(server: FakeServer) -> None:
    run = await run_cli("chat", "hi", "--base-url", server.url, "--org", "no-models-org", token="t")
    assert_one_line_error(run, 3, "403", "Models is not enabled")


async def test_unknown_model_exits_4(server: FakeServer) -> None:
    run = await run_cli("chat", "hi", "-m", "nobody/nothing", "--base-url", server.url, token="t")
    assert_one_line_error(run, 4, "unknown model")


async def test_unknown_org_exits_4(server: FakeServer) -> None:
    run = await run_cli("models", "--base-url", server.url, token="t")
    assert run.code == 0
    run = await run_cli("chat", "hi", "--base-url", server.url, "--org", "ghost-org", token="t")
    assert_one_line_error(run, 4, "404")


async def test_gone_exits_5_and_says_where_to_go(server: FakeServer) -> None:
    server.inject("gone", times=None)
    run = await run_cli("chat", "hi", "--base-url", server.url, token="t")
    assert_one_line_error(run, 5, "410", "2026-07-30", "base_url")
    assert len(server.requests) == 1  # never retried


async def test_rate_limit_exits_6_with_the_wait(server: FakeServer) -> None:
    server.inject("rate_limit;wait=3600", times=None)
    run = await run_cli("chat", "hi", "--base-url", server.url, token="t")
    assert_one_line_error(run, 6, "rate limited", "3600")
    assert len(server.requests) == 1  # an hour's wait is not slept through


async def test_network_error_exits_7() -> None:
    run = await run_cli(
        "chat", "hi", "--base-url", "http://127.0.0.1:9", "--timeout", "2", token="t"
    )
    assert_one_line_error(run, 7, "network")


async def test_invalid_arguments_exit_2() -> None:
    run = await run_cli("chat", "hi", "--fake", "-t", "1.5")
    assert_one_line_error(run, 2, "temperature", "[0, 1]")
    run = await run_cli("chat", "hi", "--fake", "--org", "../etc")
    assert_one_line_error(run, 2, "org")


async def test_serve_fake_prints_its_url_and_serves() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    proc = await asyncio.create_subprocess_exec(
        *CLI, "serve-fake", env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert line.startswith("fake GitHub Models server listening on http://127.0.0.1:")
        url = line.split()[-1]
        run = await run_cli("chat", "ping", "--base-url", url, token="any")
        assert run.code == 0, run.err
        assert run.out.strip() == "Echo: ping"
    finally:
        proc.terminate()
        await proc.wait()
