"""Compare the client-side CPU cost of chat-completion clients against one canned server.

    python -m benchmarks.run                      # full run (a few minutes)
    python -m benchmarks.run --smoke              # < 60 s, exits 1 if a client errs
    python -m benchmarks.run --clients raw_aiohttp,ghmodels_async --calls 5000

The canned server (``benchmarks.canned_server``) runs in its own process; every client
is measured in a fresh worker process (``benchmarks._worker``) so imports and RSS are
its own. Figures are meant to be read as ratios between clients of the same run: the
machine is shared and absolute microseconds move from run to run. The report ends with
ghmodels_async's ratios to every other client (a plain report: no targets, no verdicts);
the exit status is 1 only when a client raises or returns a wrong answer (or a
``--require``d client is skipped).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as _dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.clients import CLIENTS, FLOOR, ClientSpec

ROOT = Path(__file__).resolve().parent.parent
TIMES = "\u00d7"  # the multiplication sign, spelled so that linters keep quiet

FULL = {
    "calls": 2000,
    "stream_calls": 50,
    "concurrency": 10,
    "chunks": 200,
    "warmup": 100,
    "rounds": 3,
    "batches": 5,
    "rss_inflight": 10000,
    "import_runs": 15,
}
SMOKE = {
    "calls": 300,
    "stream_calls": 5,
    "concurrency": 10,
    "chunks": 50,
    "warmup": 20,
    "rounds": 1,
    "batches": 1,
    "rss_inflight": 0,
    "import_runs": 3,
}


DISTRIBUTIONS = (
    "aiohttp",
    "msgspec",
    "openai",
    "httpx2",
    "httpx",
    "azure-ai-inference",
    "azure-core",
    "uvloop",
)


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- the canned server -----------------------------------------------------------------


@dataclass
class CannedServer:
    proc: subprocess.Popen[bytes]
    origin: str

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.origin + "/_stats", timeout=30) as resp:
            stats: dict[str, Any] = json.loads(resp.read())
            return stats


@contextmanager
def canned_server(chunks: int, barrier_timeout: float) -> Iterator[CannedServer]:
    cmd = [sys.executable, "-m", "benchmarks.canned_server", "--chunks", str(chunks)]
    cmd += ["--barrier-timeout", str(barrier_timeout)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        if not line.startswith("PORT "):
            raise RuntimeError(f"canned server did not start (said {line!r})")
        yield CannedServer(proc, f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- workers ---------------------------------------------------------------------------


def run_worker(
    spec: ClientSpec, mode: str, origin: str, args: argparse.Namespace, barrier_key: str = ""
) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks._worker", "--client", spec.name]
    cmd += ["--origin", origin, "--mode", mode, "--chunks", str(args.chunks)]
    if mode == "cpu":
        cmd += ["--calls", str(args.calls), "--stream-calls", str(args.stream_calls)]
        cmd += ["--concurrency", str(args.concurrency), "--warmup", str(args.warmup)]
        cmd += ["--batches", str(args.batches), "--gap-ms", str(args.stream_gap_ms)]
    else:
        cmd += ["--inflight", str(args.rss_inflight), "--hold-ms", str(args.rss_hold_ms)]
        cmd += ["--barrier-key", barrier_key]
    timeout = args.timeout if mode == "cpu" else args.rss_timeout
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        return _timed_out(mode, timeout, exc.stdout or b"")
    lines = [
        line
        for line in proc.stdout.decode(errors="replace").splitlines()
        if line.startswith("{") and not line.startswith('{"progress"')
    ]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = proc.stderr.decode(errors="replace").strip()[-1500:]
        return {"error": f"{mode} worker exited {proc.returncode} without a result: {tail}"}
    if proc.returncode and "error" not in result:
        result["error"] = f"{mode} worker exited {proc.returncode}"
    return result


def _timed_out(mode: str, timeout: float, stdout: bytes | str) -> dict[str, Any]:
    """A worker killed on timeout: keep the last RSS it reported as a lower bound."""
    text = stdout.decode(errors="replace") if isinstance(stdout, bytes) else stdout
    progress = [line for line in text.splitlines() if line.startswith('{"progress"')]
    if mode == "rss" and progress:
        last = json.loads(progress[-1])
        return {
            "timeout": True,
            "rss_before_kb": last["rss_before_kb"],
            "peak_rss_kb": last["peak_rss_kb"],
            "inflight_wall_s": timeout,
            "note": f"not done after {timeout:.0f} s; peak RSS so far is a lower bound",
        }
    return {"error": f"{mode} worker timed out after {timeout:.0f} s"}


# --- import time -----------------------------------------------------------------------


def _time_python(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
    return time.perf_counter() - t0


def import_times(stmts: dict[str, str], runs: int) -> dict[str, dict[str, Any]]:
    """Median wall time of ``python -c STMT`` minus median of ``python -c pass``, in ms.

    Runs are interleaved (pass, A, B, ..., pass, A, B, ...) so drift hits all alike.
    """
    # Installed packages come byte-compiled (pip does it); a source checkout may not be,
    # and with PYTHONDONTWRITEBYTECODE set it never would be: compile ours like pip does.
    compileall.compile_dir(str(ROOT / "ghmodels_async"), quiet=1)
    samples: dict[str, list[float]] = {name: [] for name in stmts}
    base: list[float] = []
    for code in ["pass", *stmts.values()]:  # one unmeasured round to warm the disk cache
        _time_python(code)
    for _ in range(runs):
        base.append(_time_python("pass"))
        for name, code in stmts.items():
            samples[name].append(_time_python(code))
    base_ms = statistics.median(base) * 1e3
    return {
        name: {
            "stmt": stmts[name],
            "import_ms": statistics.median(s) * 1e3 - base_ms,
            # the minima are steadier on a noisy machine; reported beside the medians
            "import_min_ms": (min(s) - min(base)) * 1e3,
            "python_pass_ms": base_ms,
            "samples_ms": [round(x * 1e3, 2) for x in s],
        }
        for name, s in samples.items()
    }


# --- results ---------------------------------------------------------------------------


@dataclass
class Row:
    name: str
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)
    rounds: list[dict[str, Any]] = field(default_factory=list)
    rss: dict[str, Any] | None = None
    imp: dict[str, Any] | None = None

    def best(self, key: str, higher: bool = False) -> float | None:
        vals = [float(r[key]) for r in self.rounds if key in r]
        if not vals:
            return None
        return max(vals) if higher else min(vals)

    @property
    def cpu_call(self) -> float | None:
        return self.best("cpu_per_call_us")

    @property
    def cpu_chunk(self) -> float | None:
        return self.best("cpu_per_chunk_us")

    @property
    def peak_rss_mb(self) -> float | None:
        """Peak RSS of the in-flight test (a lower bound if ``rss["timeout"]``)."""
        if not self.rss or "peak_rss_kb" not in self.rss or self.rss.get("error"):
            return None
        return float(self.rss["peak_rss_kb"]) / 1024

    @property
    def import_ms(self) -> float | None:
        return None if self.imp is None else float(self.imp["import_ms"])


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b <= 0:
        return "-"
    r = a / b
    return f"{r:.2f}" if r < 10 else f"{r:.1f}"


def _num(x: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if x is None else fmt.format(x)


def render_table(rows: dict[str, Row]) -> str:
    def get(name: str) -> Row:
        return rows.get(name) or Row(name)

    floor, ms, oa, o = get(FLOOR), get("raw_msgspec"), get("openai_aiohttp"), get("openai")
    head = [
        "client",
        "CPU µs/call",
        TIMES + "raw_aiohttp",
        TIMES + "raw_msgspec",
        TIMES + "openai_aiohttp",
        "CPU µs/chunk",
        TIMES + "raw_aiohttp",
        TIMES + "raw_msgspec",
        TIMES + "openai",
        "calls/s",
        "peak RSS MB (Δ)",
        "import ms",
    ]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows.values():
        if r.skipped or (r.errors and not r.rounds):
            why = f"skipped: {r.skipped}" if r.skipped else f"ERROR: {r.errors[0][:120]}"
            out.append(f"| {r.name} | {why} |" + " |" * (len(head) - 2))
            continue
        rss = "-"
        if r.peak_rss_mb is not None and r.rss is not None:
            delta = (r.rss["peak_rss_kb"] - r.rss["rss_before_kb"]) / 1024
            rss = f"{r.peak_rss_mb:.0f} (+{delta:.0f})"
            if r.rss.get("timeout"):
                rss = f">= {rss}, timed out"
        elif r.rss and r.rss.get("error"):
            rss = "error"
        cells = [
            r.name + (" (ERROR)" if r.errors else ""),
            _num(r.cpu_call),
            _ratio(r.cpu_call, floor.cpu_call),
            _ratio(r.cpu_call, ms.cpu_call),
            _ratio(r.cpu_call, oa.cpu_call),
            _num(r.cpu_chunk, "{:.2f}"),
            _ratio(r.cpu_chunk, floor.cpu_chunk),
            _ratio(r.cpu_chunk, ms.cpu_chunk),
            _ratio(r.cpu_chunk, o.cpu_chunk),
            _num(r.best("calls_per_s", higher=True), "{:.0f}"),
            rss,
            _num(r.import_ms),
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


_RATIOS = (
    ("CPU/call", "cpu_call"),
    ("CPU/chunk", "cpu_chunk"),
    ("import", "import_ms"),
    ("peak RSS in flight", "peak_rss_mb"),
)


def ratios(rows: dict[str, Row]) -> list[dict[str, Any]]:
    """ghmodels_async's figures divided by each other client's, in this same run."""
    mine = rows.get("ghmodels_async")
    out: list[dict[str, Any]] = []
    if mine is None:
        return out
    for ref in rows.values():
        if ref is mine:
            continue
        entry: dict[str, Any] = {"against": ref.name}
        for label, attr in _RATIOS:
            ours, theirs = getattr(mine, attr), getattr(ref, attr)
            entry[label] = ours / theirs if ours is not None and theirs else None
            entry[f"{label} paired"] = _paired_ratio(mine, ref, attr)
        out.append(entry)
    return out


_ROUND_KEYS = {"cpu_call": "cpu_per_call_us", "cpu_chunk": "cpu_per_chunk_us"}


def _paired_ratio(mine: Row | None, ref: Row | None, attr: str) -> float | None:
    """Median over rounds of (ours / reference) within the same round.

    The two workers of a round run minutes apart at most, so drift of the shared
    machine mostly cancels; best-against-best can pair a lucky batch of one client with
    an unlucky one of the other. Reported beside the best-against-best ratio.
    """
    key = _ROUND_KEYS.get(attr)
    if key is None or mine is None or ref is None or len(mine.rounds) != len(ref.rounds):
        return None
    ratios = [
        float(a[key]) / float(b[key])
        for a, b in zip(mine.rounds, ref.rounds, strict=True)
        if a.get(key) and b.get(key)
    ]
    return statistics.median(ratios) if ratios else None


def render_ratios(entries: list[dict[str, Any]]) -> str:
    """The ratios as a Markdown table (paired per-round medians in parentheses)."""
    head = " | ".join(label for label, _ in _RATIOS)
    out = [f"| ghmodels_async {TIMES} | {head} |", "|---" * (len(_RATIOS) + 1) + "|"]
    for entry in entries:
        cells = []
        for label, _ in _RATIOS:
            ratio, paired = entry[label], entry[f"{label} paired"]
            cell = "-" if ratio is None else f"{ratio:.3f}"
            if paired is not None:
                cell += f" ({paired:.3f})"
            cells.append(cell)
        out.append(f"| {entry['against']} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def machine_info() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions: dict[str, str] = {}
    for dist in DISTRIBUTIONS:
        with suppress(metadata.PackageNotFoundError):
            versions[dist] = metadata.version(dist)
    version_file = ROOT / "ghmodels_async" / "_version.py"
    if version_file.exists():
        ns: dict[str, Any] = {}
        exec(version_file.read_text(), ns)
        versions["ghmodels_async"] = str(ns.get("__version__", "?"))
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "versions": versions,
    }


# --- main ------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__.split("\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--smoke", action="store_true", help="quick check (< 60 s), no RSS test")
    ap.add_argument("--calls", type=int, help="non-streaming calls measured (2000)")
    ap.add_argument("--stream-calls", type=int, help="streamed calls measured (50)")
    ap.add_argument("--concurrency", type=int, help="calls in flight during CPU tests (10)")
    ap.add_argument("--chunks", type=int, help="content chunks per stream (200)")
    ap.add_argument("--warmup", type=int, help="unmeasured calls first (100)")
    ap.add_argument("--rounds", type=int, help="fresh workers per client; best kept (3)")
    ap.add_argument("--batches", type=int, help="measured batches per worker; best kept (5)")
    ap.add_argument(
        "--stream-gap-ms",
        type=int,
        default=0,
        help="server writes stream events one by one, this far apart (0: one write)",
    )
    ap.add_argument("--rss-inflight", type=int, help="calls in flight for RSS; 0 = skip (10000)")
    ap.add_argument("--rss-hold-ms", type=int, default=1000, help="hold after all arrived")
    ap.add_argument("--import-runs", type=int, help="python -c runs per import figure (15)")
    ap.add_argument("--clients", help="comma-separated subset of: " + ",".join(CLIENTS))
    ap.add_argument("--require", default="", help="clients whose skip counts as an error")
    ap.add_argument("--json", type=Path, help="write every figure to this file")
    ap.add_argument("--timeout", type=float, default=900, help="per CPU worker, seconds")
    ap.add_argument(
        "--rss-timeout",
        type=float,
        default=900,
        help="per in-flight worker, seconds; a client still busy then is reported as a "
        "lower bound (the peak RSS it had reached)",
    )
    args = ap.parse_args(argv)
    preset = SMOKE if args.smoke else FULL
    for key, value in preset.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    names = [c.strip() for c in (args.clients or ",".join(CLIENTS)).split(",") if c.strip()]
    unknown = [n for n in names if n not in CLIENTS]
    if unknown:
        ap.error(f"unknown client(s) {unknown}; known: {', '.join(CLIENTS)}")
    args.client_names = names
    args.required = {c.strip() for c in args.require.split(",") if c.strip()}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like an exception, so the server and any worker are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t_start = time.perf_counter()
    info = machine_info()
    rows: dict[str, Row] = {name: Row(name) for name in args.client_names}
    for row in rows.values():
        row.skipped = CLIENTS[row.name].missing()
    active = [r for r in rows.values() if not r.skipped]
    server_rounds: list[dict[str, Any]] = []
    barrier_timeout = args.rss_timeout + 60  # a killed worker's group must not break others

    with canned_server(args.chunks, barrier_timeout) as server:
        _log(f"canned server at {server.origin}")
        for rnd in range(args.rounds):
            shift = rnd % max(1, len(active))
            for row in active[shift:] + active[:shift]:
                if row.skipped:
                    continue
                before = server.stats()
                res = run_worker(CLIENTS[row.name], "cpu", server.origin, args)
                after = server.stats()
                if "skipped" in res:
                    row.skipped = res["skipped"]
                    _log(f"  {row.name}: skipped ({row.skipped})")
                    continue
                requests = after["requests"] - before["requests"]
                srv_us = (after["cpu_s"] - before["cpu_s"]) / max(1, requests) * 1e6
                server_rounds.append({"client": row.name, "server_cpu_per_request_us": srv_us})
                if "error" in res:
                    row.errors.append(res["error"])
                    _log(f"  {row.name}: ERROR {res['error']}")
                    continue
                res["server_cpu_per_request_us"] = srv_us
                row.rounds.append(res)
                _log(
                    f"  round {rnd + 1} {row.name}: {res.get('cpu_per_call_us', 0):.1f} µs/call, "
                    f"{res.get('cpu_per_chunk_us', 0):.2f} µs/chunk, best of "
                    f"{args.batches} batches "
                    f"(server {srv_us:.1f} µs/request)"
                )
        if args.rss_inflight:
            for row in active:
                if row.skipped or not row.rounds:
                    continue
                _log(f"  RSS {row.name}: {args.rss_inflight} in flight ...")
                key = os.urandom(4).hex()
                res = run_worker(CLIENTS[row.name], "rss", server.origin, args, key)
                after = server.stats()
                res["server_max_open_connections"] = after["max_open_connections"]
                if any(b.endswith(f"-{key}") for b in after["broken_barriers"]):
                    res["error"] = (
                        f"not all {args.rss_inflight} calls were in flight together "
                        f"(barrier timed out after {barrier_timeout:.0f} s)"
                    )
                if res.get("error"):
                    row.errors.append(f"RSS: {res['error']}")
                    _log(f"  RSS {row.name}: ERROR {res['error']}")
                else:
                    bound = ">= " if res.get("timeout") else ""
                    _log(
                        f"  RSS {row.name}: peak {bound}{res['peak_rss_kb'] / 1024:.0f} MB "
                        f"in {res['inflight_wall_s']:.1f} s"
                    )
                row.rss = res

    stmts = {r.name: CLIENTS[r.name].import_stmt for r in active if not r.skipped}
    if "ghmodels_async" in stmts and "raw_msgspec" not in stmts:
        stmts["raw_msgspec"] = CLIENTS["raw_msgspec"].import_stmt
    if args.import_runs and stmts:
        _log(f"import times ({args.import_runs} runs each) ...")
        for name, imp in import_times(stmts, args.import_runs).items():
            rows.setdefault(name, Row(name)).imp = imp

    report = ratios(rows)
    srv = [s["server_cpu_per_request_us"] for s in server_rounds]
    print()
    print(
        f"{info['date']} · {info['cpu']} · nproc {info['nproc']} · Python {info['python']} · "
        f"calls {args.calls} · stream calls {args.stream_calls} {TIMES} {args.chunks} chunks · "
        f"concurrency {args.concurrency} · best of {args.rounds} round(s)"
    )
    print()
    print(render_table(rows))
    print()
    print(render_ratios(report))
    if srv:
        print(f"\ncanned server CPU: median {statistics.median(srv):.1f} µs per request")
    failures: list[str] = []
    for row in rows.values():
        failures += [f"{row.name}: {e}" for e in row.errors]
        if row.skipped:
            print(f"note: {row.name} skipped: {row.skipped}")
            if row.name in args.required:
                failures.append(f"{row.name}: required but skipped ({row.skipped})")
        for note in {n for r in row.rounds for n in r.get("notes", [])}:
            print(f"note: {row.name}: {note}")
    for f in failures:
        print(f"ERROR {f}")
    print(f"\ntotal {time.perf_counter() - t_start:.1f} s")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "machine": info,
            "settings": {k: v for k, v in vars(args).items() if k not in ("json", "required")},
            "clients": {
                r.name: {
                    "skipped": r.skipped,
                    "cpu_per_call_mean_us": r.best("cpu_per_call_mean_us"),
                    "cpu_per_chunk_mean_us": r.best("cpu_per_chunk_mean_us"),
                    "errors": r.errors,
                    "cpu_per_call_us": r.cpu_call,
                    "cpu_per_chunk_us": r.cpu_chunk,
                    "calls_per_s": r.best("calls_per_s", higher=True),
                    "peak_rss_mb": r.peak_rss_mb,
                    "import_ms": r.import_ms,
                    "rounds": r.rounds,
                    "rss": r.rss,
                    "import": r.imp,
                }
                for r in rows.values()
            },
            "ratios": report,
            "server": server_rounds,
        }
        args.json.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
