"""Running and evaluating prompt files end to end against servers on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import web

from ghmodels_async import Client, GoneError, StreamAccumulator, ValidationError
from ghmodels_async.prompts import CHOICES_LINE, JUDGE_MODEL, Prompt
from ghmodels_async.prompts._eval import run_eval
from ghmodels_async.testing import FakeServer

HERE = Path(__file__).parent / "prompts"
DOCS_EXAMPLE = Path(__file__).parent.parent / "docs" / "examples" / "capitals.prompt.yml"


async def test_run_sends_the_rendered_request(
    fake_models_server: FakeServer, fake_models_client: Client
) -> None:
    prompt = Prompt.load(HERE / "strings.prompt.yml")
    completion = await prompt.run(fake_models_client, greeting="Hi", name="Ann")
    assert completion.choices[0].message.content == "Echo: Hi, Ann!"
    sent = fake_models_server.last_request.json
    rendered = msgspec.to_builtins(prompt.render(greeting="Hi", name="Ann"))
    assert sent == rendered
    assert sent["messages"][1] == {"role": "user", "content": "Hi, Ann!"}
    assert (sent["max_tokens"], sent["temperature"], sent["top_p"]) == (50, 0.2, 0.9)


async def test_stream_gives_the_same_answer(fake_models_client: Client) -> None:
    prompt = Prompt.load(HERE / "strings.prompt.yml")
    accumulator = StreamAccumulator()
    async with await prompt.stream(fake_models_client, greeting="Yo", name="Bo") as stream:
        async for chunk in stream:
            accumulator.add(chunk)
    assert accumulator.completion().choices[0].message.content == "Echo: Yo, Bo!"


async def test_string_evaluators_give_the_known_verdicts(fake_models_client: Client) -> None:
    report = await Prompt.load(HERE / "strings.prompt.yml").evaluate(fake_models_client)
    first, second = report.test_results
    assert first.model_response == "Echo: Hello, World!"
    assert [(r.evaluator_name, r.passed) for r in first.evaluation_results] == [
        ("equals-exact", True), ("contains-name", True), ("starts-with-echo", True),
        ("ends-with-world", True),
    ]  # fmt: skip
    # row 2: equals is exact (case differs), endsWith looks for WORLD!
    assert [r.passed for r in second.evaluation_results] == [False, True, True, False]
    assert (report.summary.total_tests, report.summary.passed_tests) == (2, 1)
    assert report.summary.pass_rate == 50.0
    assert not report.passed


async def test_judges_and_builtins_through_the_fake(
    fake_models_server: FakeServer, fake_models_client: Client
) -> None:
    report = await Prompt.load(HERE / "judges.prompt.yml").evaluate(fake_models_client)
    scores = [{r.evaluator_name: r.score for r in row.evaluation_results}
              for row in report.test_results]  # fmt: skip
    # overlap of the reference's words with the echoed question picks the choice
    assert scores[0] == {
        "overlap-judge": 1.0, "first-choice-judge": 1.0, "similarity": 0.75,
        "relevance": 1.0, "coherence": 1.0, "fluency": 1.0, "groundedness": 0.75,
    }  # fmt: skip
    assert scores[1]["overlap-judge"] == 0.5
    assert scores[1]["similarity"] == 0.25
    assert scores[2]["similarity"] == 0.0
    assert [row.passed for row in report.test_results] == [True, True, False]
    judges = [r.json for r in fake_models_server.requests if r.json["model"] != "openai/gpt-4.1"]
    assert len(judges) == 3 * 7
    assert {j["model"] for j in judges} == {"openai/gpt-4.1-mini", "openai/gpt-4o", JUDGE_MODEL}
    for body in judges:
        assert body["messages"][-1]["content"].splitlines()[-1].startswith(CHOICES_LINE)
    custom = [j for j in judges if j["model"] == "openai/gpt-4.1-mini"]
    assert len(custom) == 3
    assert custom[0]["messages"][0] == {"role": "system", "content": "You compare answers."}
    assert "<expected>The capital of France is Paris.</expected>" in str(custom)


async def test_a_line_like_the_judge_line_in_the_middle_is_still_echoed(
    fake_models_client: Client,
) -> None:
    text = f'{CHOICES_LINE}["a"]\nthen more'
    completion = await fake_models_client.chat.completions.create(
        model="openai/gpt-4.1", messages=[{"role": "user", "content": text}]
    )
    assert completion.choices[0].message.content == f"Echo: {text}"


async def test_a_row_whose_call_fails_is_reported_and_the_others_finish(
    fake_models_server: FakeServer, fake_models_client: Client
) -> None:
    fake_models_server.inject("gone", times=1)
    prompt = Prompt.load(HERE / "strings.prompt.yml")
    report, errors = await run_eval(prompt, fake_models_client, concurrency=1)
    assert len(errors) == 1 and isinstance(errors[0], GoneError)
    failed = [row for row in report.test_results if row.error is not None]
    assert len(failed) == 1 and "GoneError" in (failed[0].error or "")
    assert report.summary.failed_tests == 2  # the other row fails two checks on its own
    assert "error" in json.loads(report.to_json())["testResults"][0]


async def test_the_json_report_has_the_gh_shape(fake_models_client: Client) -> None:
    report = await Prompt.load(HERE / "strings.prompt.yml").evaluate(fake_models_client)
    document = json.loads(report.to_json())
    assert set(document) == {"name", "description", "model", "testResults", "summary"}
    assert document["summary"] == {
        "totalTests": 2, "passedTests": 1, "failedTests": 1, "passRate": 50.0,
    }  # fmt: skip
    row = document["testResults"][0]
    assert set(row) == {"testCase", "modelResponse", "evaluationResults"}
    assert row["testCase"] == {"greeting": "Hello", "name": "World", "exact": "Echo: Hello, World!"}
    assert set(row["evaluationResults"][0]) == {"evaluatorName", "score", "passed", "details"}


async def test_the_docs_example_passes_on_the_fake(fake_models_client: Client) -> None:
    report = await Prompt.load(DOCS_EXAMPLE).evaluate(fake_models_client)
    assert report.passed and report.summary.total_tests == 3


def _completion(content: str) -> dict[str, Any]:
    return {
        "id": "x", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
    }  # fmt: skip


async def test_rows_run_concurrently() -> None:
    """A server that answers nobody until four requests are open at once: a sequential
    eval would never finish."""
    rows = 4
    arrived = 0
    all_here = asyncio.Event()

    async def chat(request: web.Request) -> web.Response:
        nonlocal arrived
        body = await request.json()
        arrived += 1
        if arrived == rows:
            all_here.set()
        await all_here.wait()
        return web.json_response(_completion(body["messages"][-1]["content"]))

    app = web.Application()
    app.router.add_post("/inference/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    text = (
        "model: openai/gpt-4.1\nmessages:\n  - role: user\n    content: '{{n}}'\n"
        "testData:\n"
        + "".join(f"  - n: row{i}\n" for i in range(rows))
        + "evaluators:\n  - name: echo\n    string:\n      startsWith: row\n"
    )
    try:
        async with Client("t", base_url=f"http://127.0.0.1:{port}") as client:
            report = await asyncio.wait_for(
                Prompt.from_text(text).evaluate(client, concurrency=rows), 20
            )
    finally:
        await runner.cleanup()
    assert [row.model_response for row in report.test_results] == [f"row{i}" for i in range(rows)]
    assert report.passed


async def _ask(client: Client, content: str) -> str | None:
    completion = await client.chat.completions.create(
        model="openai/gpt-4o", messages=[{"role": "user", "content": content}]
    )
    return completion.choices[0].message.content


async def test_the_fake_judge_rules(fake_models_client: Client) -> None:
    line = f'\n\n{CHOICES_LINE}["low", "mid", "high"]'
    ask = fake_models_client
    # reference words found in the completion: 0 of 2, 1 of 2, 2 of 2
    assert (
        await _ask(ask, "<expected>red fox</expected><completion>blue</completion>" + line) == "low"
    )
    assert (
        await _ask(ask, "<expected>red fox</expected><completion>a Fox</completion>" + line)
        == "mid"
    )
    assert (
        await _ask(ask, "<context>red fox</context><completion>fox, red</completion>" + line)
        == "high"
    )
    # a completion without a reference: best if it has a word, worst if empty
    assert await _ask(ask, "<completion>words</completion>" + line) == "high"
    assert await _ask(ask, "<completion> </completion>" + line) == "low"
    # no completion tag: the first choice
    assert await _ask(ask, "Is it good?" + line) == "low"
    # not a judge line (bad JSON, not strings): the ordinary echo
    bad = f"Is it good?\n{CHOICES_LINE}[1, 2]"
    assert await _ask(ask, bad) == f"Echo: {bad}"


async def test_on_row_sees_every_row_and_bad_options_are_refused(
    fake_models_client: Client,
) -> None:
    prompt = Prompt.load(HERE / "strings.prompt.yml")
    seen: list[int] = []
    await prompt.evaluate(fake_models_client, on_row=lambda index, row: seen.append(index))
    assert sorted(seen) == [0, 1]
    for options in ({"concurrency": 0}, {"requests_per_minute": 0}):
        with pytest.raises(ValidationError):
            await prompt.evaluate(fake_models_client, **options)  # type: ignore[arg-type]
