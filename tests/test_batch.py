"""Batch files: parsing, output lines, resume, torn-line repair, retry of failed lines,
fatal errors and the stop after failures in a row, against the real fake server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ghmodels_async import Client, ValidationError
from ghmodels_async._batch_files import IdSet, count_lines, id_hash, repair_torn_tail, scan_output
from ghmodels_async.batch import BadLine, BatchRequest, BatchRun, parse_line
from ghmodels_async.testing import FakeServer

MODEL = "openai/gpt-4.1-mini"


def chat_line(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": MODEL, "messages": [{"role": "user", "content": text}], **extra}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def read_output(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def prompts_sent(server: FakeServer) -> list[str]:
    return [r.json["messages"][-1]["content"] for r in server.requests if r.json]


# -- parsing -------------------------------------------------------------------


def test_a_plain_body_is_a_chat_request_keyed_by_its_line() -> None:
    parsed = parse_line(7, json.dumps(chat_line("hi", temperature=0.5)).encode())
    assert isinstance(parsed, BatchRequest)
    assert (parsed.line, parsed.custom_id, parsed.operation) == (7, None, "chat")
    assert parsed.arguments["temperature"] == 0.5


def test_an_openai_batch_line_keeps_its_custom_id_and_unknown_fields_go_in_extra_body() -> None:
    row = {"custom_id": "r-1", "method": "POST", "url": "/v1/chat/completions",
           "body": chat_line("hi", logprobs=True)}
    parsed = parse_line(1, json.dumps(row).encode())
    assert isinstance(parsed, BatchRequest)
    assert parsed.custom_id == "r-1"
    assert parsed.arguments["extra_body"] == {"logprobs": True}


def test_embeddings_by_url_and_by_body() -> None:
    by_url = parse_line(1, json.dumps(
        {"custom_id": "e", "url": "/v1/embeddings", "body": {"model": "m", "input": "x"}}
    ).encode())
    by_body = parse_line(2, b'{"model": "m", "input": ["a", "b"]}')
    assert isinstance(by_url, BatchRequest) and by_url.operation == "embeddings"
    assert isinstance(by_body, BatchRequest) and by_body.operation == "embeddings"


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"\xff\xfe", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"model": "m"}', "messages", "messages"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "model"),
        (b'{"model": "m", "messages": [], "stream": true}', "stream", "stream"),
        (b'{"custom_id": 5, "body": {"model": "m", "messages": []}}', "custom_id", "string"),
        (b'{"method": "GET", "body": {"model": "m", "messages": []}}', "method", "POST"),
        (b'{"url": "/v1/images", "body": {"model": "m", "prompt": "x"}}', "url", "images"),
        (b'{"custom_id": "a", "body": [1]}', "body", "JSON object"),
    ],
)
def test_bad_lines_name_the_line_and_the_field(raw: bytes, field: str | None, words: str) -> None:
    parsed = parse_line(12, raw)
    assert isinstance(parsed, BadLine)
    assert parsed.line == 12
    assert isinstance(parsed.error, ValidationError)
    assert str(parsed.error).startswith("line 12: ")
    assert words in str(parsed.error)
    assert parsed.error.field == field


def test_model_option_fills_lines_without_one() -> None:
    parsed = parse_line(1, b'{"messages": [{"role": "user", "content": "x"}]}', model="m/x")
    assert isinstance(parsed, BatchRequest) and parsed.arguments["model"] == "m/x"


# -- files ---------------------------------------------------------------------


def test_id_set_membership() -> None:
    ids = IdSet([id_hash("b", 1), id_hash(None, 4), id_hash("a", 9)])
    assert len(ids) == 3
    assert id_hash("a", 100) in ids  # a custom_id is the key, whatever its line
    assert id_hash(None, 4) in ids
    assert id_hash(None, 5) not in ids
    assert id_hash("c", 1) not in ids
    assert "a" not in ids
    assert id_hash(None, 1) not in IdSet()


def test_id_set_grows_and_keeps_every_value() -> None:
    values = [id_hash(None, n) for n in range(5000)] + [0, 1, 2**64 - 1, 16, 32]
    ids = IdSet(values)
    ids.add(values[7])  # a value already in: no change
    assert len(ids) == len(set(v or 1 for v in values))
    assert all(v in ids for v in values)
    assert not any(id_hash("x", n) in ids for n in range(5000))
    assert sorted(ids) == sorted(set(v or 1 for v in values))


@pytest.mark.parametrize(
    ("content", "kept"),
    [
        (b"", b""),
        (b'{"a": 1}\n', b'{"a": 1}\n'),
        (b'{"a": 1}\n{"b": 2}\n{"c": ', b'{"a": 1}\n{"b": 2}\n'),
        (b'{"torn', b""),
        (b"x" * (3 << 20) + b"\n" + b"y" * (2 << 20), b"x" * (3 << 20) + b"\n"),
    ],
)
def test_repair_torn_tail(tmp_path: Path, content: bytes, kept: bytes) -> None:
    path = tmp_path / "out.jsonl"
    path.write_bytes(content)
    assert repair_torn_tail(path) == len(content) - len(kept)
    assert path.read_bytes() == kept


def test_repair_of_a_missing_file_does_nothing(tmp_path: Path) -> None:
    assert repair_torn_tail(tmp_path / "none.jsonl") == 0
    assert not (tmp_path / "none.jsonl").exists()


def test_scan_output_tells_answered_from_only_failed(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "out.jsonl", [
        {"custom_id": "a", "line": 1, "response": {}, "error": None},
        {"custom_id": None, "line": 2, "response": None, "error": {"type": "X"}},
        {"custom_id": "c", "line": 3, "response": None, "error": {"type": "X"}},
        {"custom_id": "c", "line": 3, "response": {}, "error": None},  # retried: answered
        "garbage",
    ])
    answered, only_failed, unreadable = scan_output(path)
    assert id_hash("a", 1) in answered and id_hash("c", 3) in answered
    assert id_hash(None, 2) in only_failed and id_hash("c", 3) not in only_failed
    assert unreadable == 1


def test_count_lines(tmp_path: Path) -> None:
    path = tmp_path / "x"
    for content, lines in ((b"", 0), (b"a\n", 1), (b"a\nb", 2), (b"\n\n", 2)):
        path.write_bytes(content)
        assert count_lines(path) == lines


# -- runs against the fake server ------------------------------------------------


async def test_every_line_gets_one_output_line_keyed_by_its_id(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [
        chat_line("p1"),
        {"custom_id": "two", "method": "POST", "url": "/v1/chat/completions",
         "body": chat_line("p2", user_tag="x")},
        "",
        "{broken",
        {"custom_id": "emb", "url": "/v1/embeddings",
         "body": {"model": "openai/text-embedding-3-small", "input": "hello"}},
    ])
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        summary = await BatchRun(client, source, target, concurrency=3).run()
        sent = {r.json["messages"][-1]["content"]: r.json for r in server.requests
                if r.json and "messages" in r.json}
    assert sent["p2"]["user_tag"] == "x"  # unknown fields travel in the body...
    rows = {(row["custom_id"], row["line"]): row for row in read_output(target)}
    assert set(rows) == {(None, 1), ("two", 2), (None, 4), ("emb", 5)}
    answer = rows[(None, 1)]["response"]
    assert answer["status_code"] == 200 and answer["request_id"]
    assert answer["body"]["choices"][0]["message"]["content"] == "Echo: p1"
    assert rows[(None, 1)]["error"] is None
    assert rows[("emb", 5)]["response"]["body"]["data"][0]["embedding"]
    bad = rows[(None, 4)]
    assert bad["response"] is None
    assert bad["error"]["type"] == "ValidationError" and "line 4" in bad["error"]["message"]
    refused = rows[("two", 2)]  # ...and this strict server refuses them: a typed error line
    assert refused["response"] is None
    assert refused["error"]["type"] == "BadRequestError"
    assert refused["error"]["status_code"] == 400 and "user_tag" in refused["error"]["message"]
    assert summary.answered == 2 and summary.failed == {"BadLine": 1, "BadRequestError": 1}
    assert summary.bad_lines[0][0] == 4
    assert summary.tokens > 0
    assert not summary.complete


async def test_a_rerun_sends_only_what_is_missing(tmp_path: Path) -> None:
    rows = [chat_line(f"p{n}") for n in range(40)]
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    target = tmp_path / "out.jsonl"
    # an earlier run answered lines 1..25, then crashed mid-line 26
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        write_jsonl(tmp_path / "first.jsonl", rows[:25])
        await BatchRun(client, tmp_path / "first.jsonl", target).run()
        with target.open("ab") as handle:
            handle.write(b'{"custom_id":null,"line":26,"response":{"status_co')
        server.clear()
        summary = await BatchRun(client, source, target, concurrency=5).run()
        assert sorted(prompts_sent(server), key=lambda p: int(p[1:])) == [
            f"p{n}" for n in range(25, 40)
        ]
        server.clear()
        again = await BatchRun(client, source, target).run()
        assert server.requests == []
    assert summary.repaired_bytes > 0 and summary.skipped == 25 and summary.answered == 15
    assert summary.complete
    assert again.skipped == 40 and again.answered == 0 and again.complete
    lines = [row["line"] for row in read_output(target)]
    assert sorted(lines) == list(range(1, 41))  # each exactly once, none torn


async def test_failed_lines_stay_failed_until_retry_failed(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [chat_line(f"p{n}") for n in range(30)])
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url, max_retries=0) as client:
        server.inject("internal_error", times=None, rate=0.3)
        first = await BatchRun(client, source, target, concurrency=4).run()
        failed = first.failed_count
        assert failed > 0 and first.failed == {"ServerError": failed}
        assert first.answered + failed == 30
        server.faults.clear()
        kept = await BatchRun(client, source, target).run()
        assert kept.still_failed == failed and kept.answered == 0 and not kept.complete
        retried = await BatchRun(client, source, target, retry_failed=True).run()
    assert retried.answered == failed and retried.complete
    errors = [row for row in read_output(target) if row["error"]]
    assert all(row["error"]["status_code"] == 500 and row["error"]["type"] == "ServerError"
               for row in errors)
    assert (await BatchRun(client, source, target).run()).complete is True


async def test_a_rejected_token_stops_the_batch_without_recording_lines(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [chat_line(f"p{n}") for n in range(50)])
    target = tmp_path / "out.jsonl"
    async with FakeServer(token="right") as server, Client("wrong", base_url=server.url) as c:
        summary = await BatchRun(c, source, target, concurrency=4).run()
        assert len(server.requests) <= 8
    assert type(summary.stopped).__name__ == "AuthenticationError"
    assert target.read_bytes() == b""


async def test_failures_in_a_row_stop_the_batch(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", [chat_line(f"p{n}") for n in range(200)])
    target = tmp_path / "out.jsonl"
    async with FakeServer() as server, Client("t", base_url=server.url, max_retries=0) as c:
        server.inject("bad_gateway", times=None)
        summary = await BatchRun(
            c, source, target, concurrency=2, max_consecutive_failures=6
        ).run()
    assert summary.stopped is not None and "6 failures in a row" in str(summary.stopped)
    assert summary.failed == {"ServerError": 6}
    assert len(read_output(target)) == 6


async def test_a_missing_input_file_is_a_validation_error(tmp_path: Path) -> None:
    async with FakeServer() as server, Client("t", base_url=server.url) as client:
        with pytest.raises(ValidationError, match="not found"):
            await BatchRun(client, tmp_path / "nope.jsonl", tmp_path / "out.jsonl").run()
