"""Fanning out many prompts, and a million-line batch, against the canned local server.

    python -m benchmarks.fanout                       # 10k fan-out + 1M-line batch
    python -m benchmarks.fanout --lines 0             # the fan-out comparison only (~1 min)
    python -m benchmarks.fanout --prompts 0 --lines 200000   # a shorter batch only

1. **Fan-out** (``--prompts`` 10,000 at ``--concurrency`` 256): ghmodels_async's
   ``fan_out_stream`` over one ``Client`` against the ``openai`` package's
   ``AsyncOpenAI`` with an ``asyncio.Semaphore`` (one task per prompt, gathered: the
   usual recipe) on its default transport and on its aiohttp one, each in a fresh
   process, alternated for ``--rounds`` rounds. Figures: client CPU per call
   (``process_time``), wall time, and peak RSS (sampled every 5 ms over the warm-up and
   the run) above the RSS of the idle client, divided by the calls in flight.
2. **Batch** (``--lines`` 1,000,000): ``ghmodels batch IN OUT -c 256`` in a subprocess;
   its RSS is sampled from ``/proc`` and read at every ``--checkpoint`` lines; its CPU
   per line (``wait4`` rusage) is set against the fan-out's CPU per call.

Ratios are against a baseline measured in the same run; absolute figures move with the
load of the machine. The exit status is 1 only if a client errs or answers wrongly.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import payloads
from benchmarks.run import ROOT, canned_server

BASELINES = ("ghmodels_async", "openai", "openai_aiohttp")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


def rss_kb(pid: int | str = "self") -> int:
    """Resident memory of a process now, from /proc (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE_KB
    except (OSError, IndexError, ValueError):
        return 0


class PeakSampler:
    """A thread sampling a process's RSS every ``period`` seconds; keeps the peak."""

    def __init__(self, pid: int | str = "self", period: float = 0.005) -> None:
        self.pid, self.period, self.peak = pid, period, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb(self.pid))
            self._stop.wait(self.period)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the fan-out workers (each in its own process) --------------------------------------


async def _ours(origin: str, prompts: int, concurrency: int) -> tuple[int, list[int]]:
    from ghmodels_async import Client
    from ghmodels_async.fanout import fan_out_stream

    async with Client(payloads.TOKEN, base_url=origin, path_prefix="/inference",
                      max_connections=concurrency) as client:

        async def ask(_: int) -> int:
            completion = await client.chat.completions.create(
                model=payloads.MODEL, messages=payloads.MESSAGES,
                temperature=payloads.TEMPERATURE, max_tokens=payloads.MAX_TOKENS,
            )
            return len(completion.choices[0].message.content or "")

        async def run(count: int) -> list[int]:
            return [o.value if o.value is not None else -1
                    async for o in fan_out_stream(ask, range(count), concurrency=concurrency)]

        return await measured(run, prompts, concurrency)


async def _openai(
    origin: str, prompts: int, concurrency: int, aiohttp: bool = False
) -> tuple[int, list[int]]:
    import httpx2 as httpx  # openai >= 3; the same transport as benchmarks/clients/openai.py
    from openai import AsyncOpenAI, DefaultAioHttpClient, DefaultAsyncHttpxClient

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport = DefaultAioHttpClient if aiohttp else DefaultAsyncHttpxClient
    client = AsyncOpenAI(api_key=payloads.TOKEN, base_url=f"{origin}/v1",
                         http_client=transport(limits=limits))
    messages: Any = payloads.MESSAGES
    try:
        async def run(count: int) -> list[int]:
            gate = asyncio.Semaphore(concurrency)

            async def ask(_: int) -> int:
                async with gate:
                    completion = await client.chat.completions.create(
                        model=payloads.MODEL, messages=messages,
                        temperature=payloads.TEMPERATURE, max_tokens=payloads.MAX_TOKENS,
                    )
                    return len(completion.choices[0].message.content or "")

            results = await asyncio.gather(*(ask(n) for n in range(count)),
                                           return_exceptions=True)
            return [r if isinstance(r, int) else -1 for r in results]

        return await measured(run, prompts, concurrency)
    finally:
        await client.close()


_RESULT: dict[str, Any] = {}


async def measured(run: Any, prompts: int, concurrency: int) -> tuple[int, list[int]]:
    """Warm up, then time ``run(prompts)``: CPU and wall of the run; RSS peak over the
    warm-up and the run above the RSS of the idle client (connections, buffers, tasks
    and answers held: everything the calls in flight cost)."""
    before = rss_kb()
    with PeakSampler() as sampler:
        await run(min(prompts, 2 * concurrency))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        answers = await run(prompts)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    _RESULT.update(cpu_per_call_us=cpu / prompts * 1e6, wall_s=wall, rss_before_kb=before,
                   rss_peak_kb=sampler.peak,
                   rss_per_inflight_kb=max(0, sampler.peak - before) / concurrency)
    return prompts, answers


def worker(kind: str, origin: str, prompts: int, concurrency: int) -> int:
    """Run one fan-out and print its figures as one JSON line."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 4 * concurrency)), hard))
    if kind == "ghmodels_async":
        _, answers = asyncio.run(_ours(origin, prompts, concurrency))
    else:
        _, answers = asyncio.run(_openai(origin, prompts, concurrency, kind == "openai_aiohttp"))
    wrong = sum(1 for a in answers if a != payloads.EXPECTED_CHAT_CHARS)
    print(json.dumps({"client": kind, "wrong": wrong, **_RESULT}), flush=True)
    return 1 if wrong else 0


def run_worker(kind: str, origin: str, prompts: int, concurrency: int) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.fanout", "--worker", kind, "--origin", origin,
           "--prompts", str(prompts), "--concurrency", str(concurrency)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=1800)
    lines = [x for x in proc.stdout.decode().splitlines() if x.startswith("{")]
    if proc.returncode or not lines:
        return {"client": kind, "error": proc.stderr.decode()[-1500:] or "no result"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def fan_out_comparison(origin: str, args: argparse.Namespace) -> dict[str, Any]:
    kinds = ["ghmodels_async", *args.baselines]
    runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in kinds}
    for round_number in range(args.rounds):
        for kind in kinds if round_number % 2 == 0 else kinds[::-1]:
            result = run_worker(kind, origin, args.prompts, args.concurrency)
            print(f"  round {round_number + 1} {kind}: {result}", file=sys.stderr, flush=True)
            runs[kind].append(result)
    best: dict[str, dict[str, Any]] = {}
    for kind, results in runs.items():
        good = [r for r in results if "error" not in r and not r.get("wrong")]
        if not good:
            best[kind] = {"error": results[-1].get("error", "wrong answers")}
            continue
        best[kind] = {key: min(r[key] for r in good)
                      for key in ("cpu_per_call_us", "wall_s", "rss_per_inflight_kb")}
    return {"runs": runs, "best": best}


# --- the batch ---------------------------------------------------------------------------


def write_input(path: Path, lines: int) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for n in range(lines):
            body = {"model": payloads.MODEL, "max_tokens": 256,
                    "messages": [{"role": "user", "content": f"prompt {n}"}]}
            handle.write(json.dumps({"custom_id": f"r{n}", "method": "POST",
                                     "url": "/v1/chat/completions", "body": body}) + "\n")


_PROGRESS = re.compile(r"batch: (\d+)/")


def batch_run(origin: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="ghmodels-batch-") as tmp:
        source, target = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        write_input(source, args.lines)
        env = {**os.environ, "GITHUB_TOKEN": payloads.TOKEN}
        cmd = [sys.executable, "-m", "ghmodels_async", "batch", "--base-url", origin,
               str(source), str(target), "-c", str(args.concurrency),
               "--progress", "plain", "--progress-interval", "2"]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        checkpoints: dict[int, int] = {}
        next_mark = args.checkpoint
        assert proc.stderr is not None
        other: list[str] = []
        with PeakSampler(proc.pid, period=0.05) as sampler:
            for line in proc.stderr:
                match = _PROGRESS.search(line)
                if match is None:
                    other.append(line)
                    continue
                done = int(match.group(1))
                while done >= next_mark:
                    checkpoints[next_mark] = sampler.peak
                    print(f"  batch: {done} lines, peak RSS {sampler.peak / 1024:.1f} MB",
                          file=sys.stderr, flush=True)
                    next_mark += args.checkpoint
            _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        assert proc.stdout is not None
        summary = proc.stdout.read()
        code = os.waitstatus_to_exitcode(status)
        out_lines = sum(1 for _ in target.open("rb")) if target.exists() else 0
        if code != 0:
            print("".join(other[-20:]), file=sys.stderr)
        cpu = usage.ru_utime + usage.ru_stime
        resume = resume_run(cmd, env) if args.resume_check else None
    return {
        "resume": resume,
        "lines": args.lines, "exit_code": code, "output_lines": out_lines, "wall_s": wall,
        "lines_per_s": args.lines / wall, "cpu_per_line_us": cpu / args.lines * 1e6,
        "peak_rss_mb": sampler.peak / 1024, "maxrss_mb": usage.ru_maxrss / 1024,
        "peak_rss_mb_at": {str(k): round(v / 1024, 1) for k, v in checkpoints.items()},
        "summary": summary.strip(),
    }


def _num(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def resume_run(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """The same command again: every id is in OUT, so it reads OUT and IN and sends
    nothing; its peak RSS is what resuming a batch of this size costs."""
    started = time.perf_counter()
    proc = subprocess.Popen([*cmd, "-q"], cwd=ROOT, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    return {"exit_code": os.waitstatus_to_exitcode(status), "wall_s": time.perf_counter() - started,
            "maxrss_mb": usage.ru_maxrss / 1024}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--prompts", type=int, default=10_000, help="fan-out size (0: skip)")
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="fan-out rounds per client")
    parser.add_argument("--lines", type=int, default=1_000_000, help="batch size (0: skip)")
    parser.add_argument("--checkpoint", type=int, default=100_000,
                        help="report the batch's RSS every N lines")
    parser.add_argument("--no-resume-check", dest="resume_check", action="store_false",
                        help="skip the rerun that measures resuming the finished batch")
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument("--baselines", type=lambda text: text.split(","),
                        default=["openai", "openai_aiohttp"],
                        help="openai (AsyncOpenAI, default transport) and/or openai_aiohttp")
    parser.add_argument("--worker", choices=BASELINES, help=argparse.SUPPRESS)
    parser.add_argument("--origin", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args.worker, args.origin, args.prompts, args.concurrency)

    report: dict[str, Any] = {"prompts": args.prompts, "concurrency": args.concurrency}
    failed = False
    with canned_server(chunks=10, barrier_timeout=60) as server:
        if args.prompts:
            fan = fan_out_comparison(server.origin, args)
            report["fan_out"] = fan
            best = fan["best"]
            failed = any("error" in figures for figures in best.values())
            print(f"\nfan-out: {args.prompts} prompts at concurrency {args.concurrency} "
                  f"(best of {args.rounds}); ratio = ghmodels_async / baseline")
            header = "".join(f"{kind:>16}" for kind in best)
            ratios = "".join(f"{'/ ' + kind:>18}" for kind in args.baselines)
            print(f"{'':24}{header}{ratios}  target")
            for key, label, target in (
                ("cpu_per_call_us", "client CPU per call us", "<= 0.20"),
                ("rss_per_inflight_kb", "RSS per in-flight KB", "<= 0.50"),
                ("wall_s", "wall time s", ""),
            ):
                ours = best["ghmodels_async"].get(key)
                cells = "".join(f"{_num(best[kind].get(key)):>16}" for kind in best)
                shares = "".join(
                    f"{_num(ours / theirs if ours is not None and theirs else None, 3):>18}"
                    for theirs in (best[kind].get(key) for kind in args.baselines)
                )
                print(f"{label:24}{cells}{shares}  {target}")
        if args.lines:
            batch = batch_run(server.origin, args)
            report["batch"] = batch
            failed = failed or batch["exit_code"] != 0 or batch["output_lines"] != args.lines
            print(f"\nbatch: {args.lines} lines at concurrency {args.concurrency}: exit "
                  f"{batch['exit_code']}, {batch['output_lines']} output lines, "
                  f"{batch['wall_s']:.0f} s ({batch['lines_per_s']:.0f} lines/s)")
            print(f"  peak RSS by lines done (MB): {batch['peak_rss_mb_at']}; "
                  f"overall {batch['peak_rss_mb']:.1f} MB (target < 150, flat)")
            if batch["resume"] is not None:
                resume = batch["resume"]
                print(f"  rerun (all {args.lines} ids already in OUT): exit {resume['exit_code']}, "
                      f"{resume['wall_s']:.1f} s, peak RSS {resume['maxrss_mb']:.1f} MB")
            per_call = report.get("fan_out", {}).get("best", {}).get(
                "ghmodels_async", {}).get("cpu_per_call_us")
            line = f"  CPU per line {batch['cpu_per_line_us']:.0f} us"
            if per_call:
                line += (f" = {batch['cpu_per_line_us'] / per_call:.2f} x the fan-out's CPU per "
                         "call (target <= 1.30)")
            print(line)
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
