"""Batch files under hostile input: bytes that are not UTF-8, a byte-order mark,
duplicate ids, arguments the client refuses, an OUT that is IN under another name or
that belongs to another tool, and a server answering 200 with something else."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from rawserver import RawConnection, RawServer, json_answer

from ghmodels_async import Client, ValidationError
from ghmodels_async.batch import BadLine, BatchRequest, BatchRun, BatchStoppedError, parse_line
from ghmodels_async.cli import main
from ghmodels_async.testing import FakeServer

MODEL = "openai/gpt-4.1-mini"


def body(text: str) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}]}


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


@pytest.mark.parametrize(
    "raw",
    [
        b'{"model": "m", "messages": [{"role": "user", "content": "\xff\xfe"}]}',
        b'{"custom_id": "\xc3", "body": {"model": "m", "messages": []}}',
        b"\xff\xfe{}",
    ],
)
def test_bytes_that_are_not_utf8_are_a_bad_line_not_a_crash(raw: bytes) -> None:
    parsed = parse_line(3, raw)
    assert isinstance(parsed, BadLine)
    assert "line 3" in str(parsed.error) and "UTF-8" in str(parsed.error)


def test_a_byte_order_mark_on_the_first_line_is_ignored() -> None:
    parsed = parse_line(1, b"\xef\xbb\xbf" + json.dumps(body("hi")).encode() + b"\r\n")
    assert isinstance(parsed, BatchRequest)
    assert parsed.arguments["messages"][0]["content"] == "hi"


async def test_a_line_that_is_not_utf8_is_recorded_and_the_batch_goes_on(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    good = json.dumps(body("ok")).encode()
    source.write_bytes(good + b"\n" + good.replace(b"ok", b"\xff\xfe") + b"\n" + good + b"\n")
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        summary = await BatchRun(client, source, target, concurrency=2).run()
    rows = {row["line"]: row for row in read_output(target)}
    assert sorted(rows) == [1, 2, 3]
    assert rows[2]["error"]["type"] == "ValidationError"
    assert summary.answered == 2 and summary.failed == {"BadLine": 1}


async def test_a_duplicate_custom_id_is_refused_by_line(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    rows = [{"custom_id": "same", "body": body("first")},
            {"custom_id": "other", "body": body("x")},
            {"custom_id": "same", "body": body("second")}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        summary = await BatchRun(client, source, target, concurrency=1).run()
        sent = [r.json["messages"][0]["content"] for r in server.requests if r.json]
    assert sorted(sent) == ["first", "x"]
    out = read_output(target)
    answers = [row for row in out if row["error"] is None]
    assert sorted(row["custom_id"] for row in answers) == ["other", "same"]
    (refused,) = [row for row in out if row["error"] is not None]
    assert refused["line"] == 3 and refused["custom_id"] is None
    assert "duplicate custom_id 'same'" in refused["error"]["message"]
    assert summary.failed == {"BadLine": 1}
    # a rerun sends nothing again and records nothing twice
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        again = await BatchRun(client, source, target).run()
        assert server.requests == []
    assert len(read_output(target)) == 3
    assert again.skipped == 2 and again.still_failed == 1 and again.failed_count == 0


async def test_arguments_the_client_refuses_are_bad_lines_naming_the_line(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    rows = [{"model": MODEL, "messages": "hello"},
            {**body("x"), "temperature": "hot"}]
    source.write_text("".join(json.dumps(row) + "\n" for row in rows), "utf-8")
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        summary = await BatchRun(client, source, target).run()
        assert server.requests == []
    out = {row["line"]: row["error"] for row in read_output(target)}
    assert out[1]["message"].startswith("line 1: ") and out[1]["field"] == "messages"
    assert out[2]["message"].startswith("line 2: ") and "temperature" in out[2]["message"]
    assert summary.failed == {"BadLine": 2}
    assert [line for line, _ in summary.bad_lines] == [1, 2]


async def test_out_that_is_in_under_another_name_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(body("x")) + "\n", "utf-8")
    os.link(source, tmp_path / "hard.jsonl")
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        with pytest.raises(ValidationError, match="same file") as caught:
            await BatchRun(client, source, tmp_path / "hard.jsonl").run()
    assert caught.value.field == "output"
    assert source.read_text("utf-8").count("\n") == 1


def test_the_command_refuses_a_hard_link_of_in_as_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(body("x")) + "\n", "utf-8")
    os.link(source, tmp_path / "hard.jsonl")
    assert main(["--fake", "batch", str(source), str(tmp_path / "hard.jsonl")]) == 2
    assert "same file" in capsys.readouterr().err
    assert source.read_text("utf-8").count("\n") == 1


async def test_an_out_file_of_another_tool_is_refused_untouched(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(body("x")) + "\n", "utf-8")
    target = tmp_path / "notes.jsonl"
    foreign = b'{"event": "login", "user": 4}\nplain text\n'
    target.write_bytes(foreign)
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        with pytest.raises(ValidationError, match=r"line 1 of .*notes\.jsonl") as caught:
            await BatchRun(client, source, target).run()
        assert server.requests == []
    assert caught.value.field == "output"
    assert target.read_bytes() == foreign


async def test_a_200_that_is_not_a_completion_is_that_lines_typed_error(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(body(f"p{n}")) + "\n" for n in range(3)), "utf-8")
    target = tmp_path / "out.jsonl"

    async def not_a_completion(conn: RawConnection) -> None:
        while await conn.read_request() is not None:
            await conn.write(json_answer(200, {"hello": "world"}))

    async with RawServer(not_a_completion) as server, Client(
        "t", base_url=server.url, max_retries=0
    ) as client:
        summary = await BatchRun(client, source, target).run()
    rows = read_output(target)
    assert len(rows) == 3
    assert all(row["response"] is None and row["error"]["type"] for row in rows)
    assert summary.answered == 0 and summary.failed_count == 3


@pytest.mark.parametrize(
    ("option", "value"),
    [("max_consecutive_failures", -1), ("max_consecutive_failures", "10"),
     ("max_consecutive_failures", True), ("requests_per_minute", 0),
     ("requests_per_minute", float("nan")), ("model", 5), ("concurrency", 0)],
)
async def test_bad_batch_options_are_refused_by_name(
    tmp_path: Path, option: str, value: Any
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(body("x")) + "\n", "utf-8")
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        with pytest.raises(ValidationError) as caught:
            BatchRun(client, source, tmp_path / "out.jsonl", **{option: value})
    assert caught.value.field == option


async def test_an_input_that_is_not_a_regular_file_is_named_as_such(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        with pytest.raises(ValidationError, match="not a regular file") as caught:
            await BatchRun(client, fifo, tmp_path / "out.jsonl").run()
    assert caught.value.field == "input"


async def test_an_input_that_cannot_be_read_stops_the_batch_with_a_typed_error(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(body("x")) + "\n", "utf-8")
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        run = BatchRun(client, source, tmp_path / "out.jsonl")
        run.prepare()
        source.unlink()
        source.mkdir()  # swapped for a directory between the check and the reading
        summary = await run.run()
    assert isinstance(summary.stopped, BatchStoppedError)
    assert "cannot read" in str(summary.stopped) and str(source) in str(summary.stopped)
    assert not summary.complete


def test_a_batch_line_with_an_unknown_key_names_it() -> None:
    raw = json.dumps({"custom_id": "a", "method": "POST", "url": "/v1/chat/completions",
                      "body": body("x"), "metadata": {"k": 1}}).encode()
    parsed = parse_line(4, raw)
    assert isinstance(parsed, BadLine)
    assert "metadata" in str(parsed.error) and "line 4" in str(parsed.error)
    assert parsed.custom_id == "a"


@pytest.mark.parametrize(("signum", "code"), [(2, 130), (15, 143)])
async def test_a_signal_during_the_first_requests_retry_wait_stops_cleanly(
    tmp_path: Path, signum: int, code: int
) -> None:
    import asyncio
    import sys

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(body(f"p{n}")) + "\n" for n in range(3)), "utf-8")
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server:
        server.inject("rate_limit;wait=30", times=None)
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ghmodels_async", "batch", "--base-url", server.url,
            str(source), str(target), "-c", "1",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "GITHUB_TOKEN": "t"},
        )  # fmt: skip
        for _ in range(3000):  # until the first request got its 429: the 30 s wait begins
            if server.requests:
                break
            await asyncio.sleep(0.01)
        assert server.requests
        process.send_signal(signum)
        out, err = await asyncio.wait_for(process.communicate(), 20)
    assert process.returncode == code
    assert b"Traceback" not in err and b"interrupted" in out
    assert not target.exists() or target.read_bytes() == b""


def test_an_out_that_cannot_be_written_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(body("x")) + "\n", "utf-8")
    if os.geteuid() == 0:  # root writes anywhere: use a file no one may write to
        target = Path("/proc/version")
        if not target.is_file():
            pytest.skip("needs /proc (Linux) when run as root")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        target = locked / "out.jsonl"
    assert main(["--fake", "batch", str(source), str(target)]) == 2
    err = capsys.readouterr().err
    assert "cannot use" in err and str(target) in err and "Traceback" not in err


async def test_a_last_line_torn_inside_a_multibyte_character_is_repaired(
    tmp_path: Path,
) -> None:
    source = tmp_path / "in.jsonl"
    rows = [{"custom_id": f"é-{n}", "body": body(f"p{n}")} for n in range(4)]
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                      "utf-8")
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        await BatchRun(client, source, target).run()
        whole = target.read_bytes()
        cut = whole.rindex("é-".encode()) + 1  # between the two bytes of "é"
        target.write_bytes(whole[:cut])
        server.clear()
        summary = await BatchRun(client, source, target).run()
        assert len([r for r in server.requests if r.json]) == 1
    assert summary.repaired_bytes > 0 and summary.answered == 1 and summary.skipped == 3
    out = read_output(target)
    assert sorted(row["custom_id"] for row in out) == [f"é-{n}" for n in range(4)]
