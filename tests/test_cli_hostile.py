"""The command line's answers to user mistakes and unfriendly servers (issue 9, item 18).

Each test runs the real ``ghmodels`` in a subprocess against a loopback server.
"""

from __future__ import annotations

import asyncio
import os
import shlex

from rawserver import RawConnection, RawServer, chunk, json_answer, sse_answer
from test_cli import CLI, assert_one_line_error, run_cli

from ghmodels_async.testing import FakeServer

BAD_REQUEST = json_answer(400, {"error": {"code": "invalid_request", "message": "nope"}})


async def _answer(answers: list[bytes], conn: RawConnection) -> None:
    index = 0
    while await conn.read_request() is not None:
        await conn.write(answers[min(index, len(answers) - 1)])
        index += 1


async def test_a_400_from_the_server_is_a_bad_request_exit_2() -> None:
    async def handle(conn: RawConnection) -> None:
        await _answer([BAD_REQUEST], conn)

    async with RawServer(handle) as server:
        run = await run_cli("chat", "hi", "--base-url", server.url, token="tok")
    assert_one_line_error(run, 2, "bad request (400)", "nope")
    assert "server error" not in run.err


async def test_a_closed_stdout_pipe_ends_quietly_without_a_traceback() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    command = " ".join(shlex.quote(part) for part in CLI) + " --fake demo --prompts 5"
    proc = await asyncio.create_subprocess_shell(
        f"{command} | head -c 20",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert len(out) == 20
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()


async def test_a_missing_token_names_the_variable_and_fake_not_python() -> None:
    run = await run_cli("chat", "hi")
    assert_one_line_error(run, 3, "GITHUB_TOKEN", "--fake")
    assert "Client(" not in run.err


async def test_an_unknown_model_without_publisher_suggests_the_prefix() -> None:
    run = await run_cli("--fake", "chat", "hi", "-m", "gpt-4.1")
    assert_one_line_error(run, 4, "openai/gpt-4.1")


async def test_a_negative_timeout_is_a_usage_error_in_cli_terms() -> None:
    run = await run_cli("--fake", "--timeout", "-1", "chat", "hi")
    assert run.code == 2
    assert "--timeout" in run.err and "seconds > 0" in run.err
    assert "Traceback" not in run.err and "Timeout(" not in run.err


async def test_fake_and_base_url_together_are_refused() -> None:
    run = await run_cli("--fake", "--base-url", "http://127.0.0.1:9", "chat", "hi")
    assert_one_line_error(run, 2, "--fake", "--base-url")


async def test_the_trailing_newline_of_standard_input_is_not_sent() -> None:
    async with FakeServer() as server:
        run = await run_cli("chat", "--base-url", server.url, token="tok", stdin="hello\n")
    assert run.code == 0, run.err
    assert server.requests[-1].json["messages"][-1]["content"] == "hello"


async def test_model_option_has_help_text() -> None:
    run = await run_cli("chat", "--help")
    assert run.code == 0
    line = next(line for line in run.out.splitlines() if "--model" in line)
    assert "publisher/name" in run.out[run.out.index(line):]


async def test_a_rate_limit_wait_is_announced() -> None:
    limited = json_answer(
        429, {"error": {"code": "RateLimitReached", "message": "slow down"}},
        {"Retry-After": "0.2"},
    )
    answer = sse_answer(chunk("fine") + b"data: [DONE]\n\n")

    async def handle(conn: RawConnection) -> None:
        await _answer([limited, answer], conn)

    async with RawServer(handle) as server:
        run = await run_cli("chat", "hi", "--base-url", server.url, token="tok")
    assert run.code == 0, run.err
    assert "fine" in run.out
    assert "rate limited; waiting 0.2 s before retry 1" in run.err



async def test_models_follows_the_path_prefix_to_the_openai_list() -> None:
    async with FakeServer() as server:
        run = await run_cli("models", "--base-url", server.url, "--path-prefix", "/v1", token="t")
    assert run.code == 0, run.err
    assert "openai/gpt-4.1" in run.out
    assert server.requests[-1].path == "/v1/models"
