"""Eval of a 100-row prompt file, rows concurrent vs one at a time (as ``gh models eval``).

Both runs use the same in-process fake server with a fixed latency per request
(``delay_headers``), so concurrency matters as it does against a real model; each row
makes two calls (its answer, then one judge). The ratio is measured in the same run.

    python -m benchmarks.prompts_eval [--rows 100] [--latency 0.02] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import time

from ghmodels_async import Client
from ghmodels_async.prompts import Prompt
from ghmodels_async.testing import FakeServer


def prompt_text(rows: int) -> str:
    """A prompt file with ``rows`` test rows, a string check and an llm judge."""
    data = "".join(f"  - topic: topic {i}\n" for i in range(rows))
    return (
        "name: bench\nmodel: openai/gpt-4.1\n"
        "messages:\n  - role: user\n    content: 'Say something about {{topic}}'\n"
        f"testData:\n{data}"
        "evaluators:\n"
        "  - name: mentions-topic\n    string:\n      contains: '{{topic}}'\n"
        "  - name: judge\n    llm:\n      modelId: openai/gpt-4o\n"
        "      prompt: 'Good? <input>{{topic}}</input> <completion>{{completion}}</completion>'\n"
        "      choices:\n        - {choice: 'no', score: 0}\n        - {choice: 'yes', score: 1}\n"
    )


async def timed_eval(prompt: Prompt, client: Client, concurrency: int) -> float:
    """Seconds for one full eval; fails loudly if a row did not pass."""
    started = time.perf_counter()
    report = await prompt.evaluate(client, concurrency=concurrency)
    seconds = time.perf_counter() - started
    if not report.passed:
        raise SystemExit(f"unexpected failures at concurrency {concurrency}")
    return seconds


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    prompt = Prompt.from_text(prompt_text(args.rows), "bench")
    async with FakeServer() as server:
        server.inject(f"delay_headers;delay={args.latency}", times=None)
        async with Client("fake-token", base_url=server.url) as client:
            await timed_eval(prompt, client, args.concurrency)  # warm-up: connections
            sequential, concurrent = [], []
            for _ in range(args.rounds):
                sequential.append(await timed_eval(prompt, client, 1))
                concurrent.append(await timed_eval(prompt, client, args.concurrency))
    calls = 2 * args.rows
    best_seq, best_con = min(sequential), min(concurrent)
    print(f"{args.rows} rows x 2 calls, {args.latency * 1000:.0f} ms latency per call, "
          f"best of {args.rounds}")  # fmt: skip
    print(f"  one row at a time : {best_seq:6.2f} s  ({calls / best_seq:6.0f} calls/s)")
    print(f"  concurrency {args.concurrency:<5} : {best_con:6.2f} s  "
          f"({calls / best_con:6.0f} calls/s)")  # fmt: skip
    print(f"  speed-up          : {best_seq / best_con:6.1f}x")


if __name__ == "__main__":
    asyncio.run(main())
