"""Instructions per call and per streamed chunk, counted by valgrind (callgrind).

CPU time on a shared 2-core machine moves by tens of percent from run to run; an
instruction count does not (the same program and input give the same count whatever
else the machine does). This counts, for each client adapter, the instructions of its
process with ``N`` calls and with none, against the same canned server, and reports the
difference per call (and per chunk for streams) as ratios to raw aiohttp + msgspec.

    python -m benchmarks.instructions          # raw_aiohttp, raw_msgspec, ghmodels_async
    python -m benchmarks.instructions --clients raw_msgspec,ghmodels_async,openai_aiohttp
    python -m benchmarks.instructions --worker CLIENT MODE N PORT   # (internal)

Calls run one at a time (concurrency 1) so the count does not depend on how the
event loop interleaves them. Needs ``valgrind`` on PATH; without it the command says
so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CLIENTS = ("raw_aiohttp", "raw_msgspec", "ghmodels_async")
BASELINE = "raw_msgspec"
WARMUP = 30


async def _work(client: str, mode: str, count: int, port: int) -> None:
    adapter = importlib.import_module(f"benchmarks.clients.{client}").Client()
    await adapter.open(f"http://127.0.0.1:{port}", "", 10)
    operation = adapter.chat if mode == "chat" else adapter.stream
    for _ in range(WARMUP + count):
        await operation()
    await adapter.close()


def _count(client: str, mode: str, count: int, port: int) -> int:
    """Instructions executed by a worker process making ``count`` measured calls."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions",
        "--worker", client, mode, str(count), str(port),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default=",".join(DEFAULT_CLIENTS))
    parser.add_argument("--calls", type=int, default=300, help="measured non-streaming calls")
    parser.add_argument("--streams", type=int, default=30, help="measured streams")
    parser.add_argument("--chunks", type=int, default=200, help="content chunks per stream")
    parser.add_argument("--worker", nargs=4, metavar=("CLIENT", "MODE", "N", "PORT"))
    args = parser.parse_args(argv)
    if args.worker:
        client, mode, count, port = args.worker
        asyncio.run(_work(client, mode, int(count), int(port)))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install valgrind): nothing counted")
        return 0
    clients = args.clients.split(",")
    server = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.canned_server", "--port", "0",
         "--chunks", str(args.chunks)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline().split()[1])
        events = args.chunks + 2  # content chunks, the finish chunk, the usage chunk
        rows: dict[str, tuple[float, float]] = {}
        for client in clients:
            idle_chat = _count(client, "chat", 0, port)
            per_call = (_count(client, "chat", args.calls, port) - idle_chat) / args.calls
            idle_stream = _count(client, "stream", 0, port)
            per_stream = (_count(client, "stream", args.streams, port) - idle_stream)
            rows[client] = (per_call, per_stream / args.streams / events)
            print(f"  counted {client}", file=sys.stderr)
    finally:
        server.terminate()
        server.wait()
    base_call, base_chunk = rows.get(BASELINE, (0.0, 0.0))
    print(f"instructions (valgrind callgrind), concurrency 1, {args.calls} calls, "
          f"{args.streams} streams of {args.chunks} chunks")
    print(f"{'client':<20} {'per call':>12} {'x ' + BASELINE:>15} "
          f"{'per chunk':>12} {'x ' + BASELINE:>15}")
    for client, (call, chunk) in rows.items():
        call_ratio = f"{call / base_call:.3f}" if base_call else "-"
        chunk_ratio = f"{chunk / base_chunk:.3f}" if base_chunk else "-"
        print(f"{client:<20} {call:>12,.0f} {call_ratio:>15} {chunk:>12,.0f} {chunk_ratio:>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
