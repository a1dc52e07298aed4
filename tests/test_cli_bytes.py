"""The command line given bytes that are not UTF-8 (standard input, arguments), bad
serve-fake options and a busy port: one line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import asyncio
import os
import shlex
import socket
import sys
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "ghmodels_async"]


async def run_cli(*args: str | bytes, stdin: bytes = b"") -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_TOKEN"}
    env["LC_ALL"] = "C.UTF-8"
    proc = await asyncio.create_subprocess_exec(
        *CLI, *args, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), 60)
    except asyncio.TimeoutError:  # a server that should have refused to start: leave none behind
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_standard_input_that_is_not_utf8_is_a_usage_error() -> None:
    code, out, err = await run_cli("--fake", "chat", stdin=b"hello \xff\xfe world\n")
    assert code == 2, err
    assert "Traceback" not in err and "UTF-8" in err and out == ""


@pytest.mark.parametrize("argv", [["chat", b"\xff"], ["chat", "-s", b"\xc3", "hi"]])
async def test_an_argument_that_is_not_utf8_is_a_usage_error(argv: list[str | bytes]) -> None:
    code, _, err = await run_cli("--fake", *argv)
    assert code == 2, err
    assert "Traceback" not in err and "UTF-8" in err


@pytest.mark.parametrize(
    "fault",
    ["", "429:abc", "429:2", "700", "no_such_fault", "rate_limit;wait=x", "429:0.1:0.2",
     ":0.5", "rate_limit;=3"],
)
async def test_a_malformed_fault_exits_2_with_a_message(fault: str) -> None:
    code, out, err = await run_cli("serve-fake", "--fault", fault)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "--fault" in err


async def test_a_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = await run_cli("serve-fake", "--port", str(port))
    assert code != 0 and "Traceback" not in err
    assert str(port) in err and "in use" in err


@pytest.mark.parametrize(
    "argv",
    [["--port", "99999"], ["--port", "-1"], ["--chunk-delay", "-1"], ["--chunk-delay", "nan"],
     ["--rate-limits", "--rate-window", "inf"], ["--rate-limits", "--rate-window", "0"]],
)
async def test_bad_serve_fake_numbers_exit_2(argv: list[str]) -> None:
    code, _, err = await run_cli("serve-fake", *argv)
    assert code == 2 and "Traceback" not in err
    assert argv[-2] in err or "rate-window" in err


@pytest.mark.parametrize("closed", [">&-", "2>&-", "<&- >&- 2>&-"])
async def test_a_batch_run_with_standard_streams_closed_still_completes(
    tmp_path: Path, closed: str
) -> None:
    source = tmp_path / "in.jsonl"
    line = '{"model": "openai/gpt-4.1-mini", "messages": [{"role": "user", "content": "x"}]}\n'
    source.write_text(line * 5, "utf-8")
    target = tmp_path / "out.jsonl"
    command = " ".join(shlex.quote(part) for part in [*CLI, "--fake", "batch", str(source),
                                                        str(target)])
    proc = await asyncio.create_subprocess_shell(f"exec {command} {closed}")
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    rows = target.read_bytes().splitlines()
    assert len(rows) == 5 and all(row.startswith(b'{"custom_id"') for row in rows)


HOSTILE = "\x1b]0;pwned\x07\x1b[2J\r\nghmodels: all good\x9b31m"


async def test_a_servers_message_cannot_write_control_sequences_to_the_terminal(
    tmp_path: Path,
) -> None:
    from rawserver import RawConnection, RawServer, json_answer

    async def hostile(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            payload = {"error": {"code": "RateLimitReached", "message": HOSTILE}}
            await conn.write(json_answer(429, payload, {"retry-after": "0.2"}))

    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"model": "openai/gpt-4.1-mini", "messages": [{"role": "user", "content": "x"}]}\n',
        "utf-8",
    )
    async with RawServer(hostile) as server:
        for argv in (["chat", "hi"], ["batch", str(source), str(tmp_path / "out.jsonl"),
                                      "--progress", "plain", "--progress-interval", "0.05"]):
            env = {**os.environ, "GITHUB_TOKEN": "t"}
            proc = await asyncio.create_subprocess_exec(
                *CLI, "--base-url", server.url, *argv, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            text = (out + err).decode("utf-8", "replace")
            assert proc.returncode != 0
            assert "RateLimitReached" in text or "rate limited" in text, text
            assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text, text
            assert "\nghmodels: all good" not in text, text


def test_printable_escapes_control_characters_and_bounds_the_length() -> None:
    from ghmodels_async.progress import printable

    assert printable("a\x1b[2Jb\r\nc\x07\x9bd") == "a\\x1b[2Jb\\x0d\\x0ac\\x07\\x9bd"
    assert printable("é ok ✓") == "é ok ✓"
    assert len(printable("x" * 10_000)) == 500


def test_the_batch_summary_escapes_what_it_quotes(tmp_path: Path) -> None:
    import io

    from ghmodels_async._cli_batch import write_summary
    from ghmodels_async.batch import BatchSummary

    summary = BatchSummary(bad_lines=[(3, "line 3: \x1b]0;x\x07 bad")], bad_line_count=1)
    summary.failed["BadLine"] = 1
    out = io.StringIO()
    write_summary(summary, out, tmp_path / "out.jsonl")
    assert "\x1b" not in out.getvalue() and "\\x1b]0;x\\x07 bad" in out.getvalue()
