"""One measurement of one client, in a fresh process started by ``benchmarks.run``.

``python -m benchmarks._worker --client NAME --origin http://127.0.0.1:PORT --mode cpu``
prints one JSON object as its last stdout line: the figures, ``{"skipped": why}`` when
the client's library cannot be imported, or ``{"error": what}`` (exit status 1) when a
call raised or an answer was wrong.

* ``cpu``: warm up, then ``--calls`` non-streaming calls and ``--stream-calls`` streamed
  calls at ``--concurrency``, each split in ``--batches`` measured batches; CPU is
  ``time.process_time()`` of this process (all of its threads), wall is
  ``time.perf_counter()``. The headline figure is the best batch (interference from a
  shared machine only ever adds time); the mean over all batches is reported too.
* ``rss``: ``--inflight`` calls at once against the server's barrier flag, so that all of
  them are in flight together before any is answered; reports ``ru_maxrss``. Meanwhile
  a thread prints ``{"progress": true, "peak_rss_kb": ...}`` lines every second, so a
  worker killed on timeout still leaves a lower bound.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

from benchmarks import payloads
from benchmarks.clients import CLIENTS
from benchmarks.clients._base import Adapter

T = TypeVar("T")


class WrongAnswer(Exception):
    pass


class Timing(NamedTuple):
    cpu: float  # process_time() delta, seconds
    wall: float
    user: float  # getrusage split of the same interval
    sys: float


def _expected(adapter: Adapter, chunks: int) -> tuple[int, tuple[int, int]]:
    if adapter.floor:
        events = payloads.stream_payloads(chunks)
        size = sum(len(b"data: " + e + b"\n\n") for e in events)
        return len(payloads.completion_body()), (len(events), size)
    return payloads.EXPECTED_CHAT_CHARS, (payloads.expected_stream_chars(chunks), chunks)


async def _drive(
    n: int, concurrency: int, call: Callable[[], Awaitable[T]], expected: T, what: str
) -> Timing:
    """Make ``n`` calls, ``concurrency`` at a time, checking every answer."""
    remaining = n
    wrong: list[T] = []

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            got = await call()
            if got != expected:
                wrong.append(got)

    gc.collect()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(max(1, min(concurrency, n)))))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    if wrong:
        raise WrongAnswer(f"{what}: {len(wrong)}/{n} wrong, e.g. {wrong[0]!r} != {expected!r}")
    return Timing(cpu, wall, ru1.ru_utime - ru0.ru_utime, ru1.ru_stime - ru0.ru_stime)


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _raise_nofile(need: int) -> str | None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = max(soft, need)
    try:
        if want > hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        elif want > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError) as exc:
        return f"could not raise RLIMIT_NOFILE to {want} (soft={soft}, hard={hard}): {exc}"
    return None


def _split(total: int, parts: int) -> list[int]:
    parts = max(1, min(parts, total))
    return [total // parts + (i < total % parts) for i in range(parts)]


async def _batched(
    n: int, batches: int, concurrency: int, call: Callable[[], Awaitable[T]], expected: T, what: str
) -> tuple[list[Timing], list[int]]:
    sizes = _split(n, batches)
    return [await _drive(k, concurrency, call, expected, what) for k in sizes], sizes


def _summary(prefix: str, unit: str, timings: list[Timing], units: list[int]) -> dict[str, Any]:
    """Best batch (noise only ever adds CPU time) plus the plain totals."""
    per_unit = [t.cpu / u * 1e6 for t, u in zip(timings, units, strict=True)]
    total_units = sum(units)
    return {
        f"cpu_per_{unit}_us": min(per_unit),
        f"cpu_per_{unit}_mean_us": sum(t.cpu for t in timings) / total_units * 1e6,
        f"{unit}s_per_s": max(u / t.wall for t, u in zip(timings, units, strict=True)),
        f"{prefix}_batches_us": [round(x, 2) for x in per_unit],
        f"{prefix}_cpu_s": sum(t.cpu for t in timings),
        f"{prefix}_user_s": sum(t.user for t in timings),
        f"{prefix}_sys_s": sum(t.sys for t in timings),
        f"{prefix}_wall_s": sum(t.wall for t in timings),
    }


async def measure_cpu(adapter: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    chat_expected, stream_expected = _expected(adapter, args.chunks)
    flags = f"/_gap{args.gap_ms}" if args.gap_ms else ""
    await adapter.open(args.origin, flags, max(2 * args.concurrency, 100))
    try:
        await _drive(args.warmup, args.concurrency, adapter.chat, chat_expected, "warm-up")
        warm_streams = max(1, args.warmup // 20)
        await _drive(warm_streams, args.concurrency, adapter.stream, stream_expected, "warm-up")
        out: dict[str, Any] = {}
        if args.calls:
            timings, sizes = await _batched(
                args.calls, args.batches, args.concurrency, adapter.chat, chat_expected, "chat"
            )
            out.update(_summary("chat", "call", timings, sizes))
        if args.stream_calls:
            timings, sizes = await _batched(
                args.stream_calls,
                args.batches,
                args.concurrency,
                adapter.stream,
                stream_expected,
                "stream",
            )
            per_stream = payloads.stream_event_count(args.chunks)
            out.update(_summary("stream", "chunk", timings, [k * per_stream for k in sizes]))
        return out
    finally:
        await adapter.close()


def _report_progress(before_kb: int, stop: threading.Event) -> None:
    """Print the peak RSS every second (a thread, so a starved event loop still reports),
    so that a run killed on timeout still tells how much memory it had reached."""
    t0 = time.perf_counter()
    while not stop.wait(1.0):
        line: dict[str, object] = {"progress": True, "rss_before_kb": before_kb}
        line["peak_rss_kb"] = _maxrss_kb()
        line["elapsed_s"] = round(time.perf_counter() - t0, 1)
        sys.stdout.write(json.dumps(line) + "\n")
        sys.stdout.flush()


async def measure_rss(adapter: Adapter, args: argparse.Namespace) -> dict[str, Any]:
    n = args.inflight
    note = _raise_nofile(n + 256)
    if note:
        adapter.notes.append(note)
    chat_expected, _ = _expected(adapter, args.chunks)
    flags = f"/_barrier{n}-{args.barrier_key or os.urandom(4).hex()}"
    if args.hold_ms:
        flags += f"/_delay{args.hold_ms}"
    await adapter.open(args.origin, flags, n + 100, patient=True)
    stop = threading.Event()
    try:
        gc.collect()
        before = _maxrss_kb()
        threading.Thread(target=_report_progress, args=(before, stop), daemon=True).start()
        t = await _drive(n, n, adapter.chat, chat_expected, "in-flight")
        return {
            "inflight": n,
            "rss_before_kb": before,
            "peak_rss_kb": _maxrss_kb(),
            "inflight_cpu_s": t.cpu,
            "inflight_wall_s": t.wall,
        }
    finally:
        stop.set()
        await adapter.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--client", required=True, choices=sorted(CLIENTS))
    ap.add_argument("--origin", required=True)
    ap.add_argument("--mode", choices=("cpu", "rss"), default="cpu")
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--stream-calls", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--chunks", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--batches", type=int, default=5, help="measured batches; best is kept")
    ap.add_argument("--gap-ms", type=int, default=0, help="server writes stream events apart")
    ap.add_argument("--inflight", type=int, default=10000)
    ap.add_argument("--hold-ms", type=int, default=1000)
    ap.add_argument("--barrier-key", default="", help="letters/digits naming the barrier")
    args = ap.parse_args(argv)
    spec = CLIENTS[args.client]

    def emit(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps({"client": spec.name, "mode": args.mode, **obj}) + "\n")
        sys.stdout.flush()

    try:
        module = importlib.import_module(spec.module)
    except ImportError as exc:
        emit({"skipped": f"{type(exc).__name__}: {exc}"})
        return 0
    adapter: Adapter = module.Client()
    measure = measure_cpu if args.mode == "cpu" else measure_rss
    try:
        result = asyncio.run(measure(adapter, args))
    except WrongAnswer as exc:
        emit({"error": f"wrong answer: {exc}", "notes": adapter.notes})
        return 1
    except Exception as exc:
        tb = traceback.format_exc(limit=-3)
        emit({"error": f"{type(exc).__name__}: {exc}", "traceback": tb, "notes": adapter.notes})
        return 1
    emit({**result, "max_rss_kb": _maxrss_kb(), "notes": adapter.notes})
    return 0


if __name__ == "__main__":
    sys.exit(main())
