"""``ghmodels batch IN.jsonl OUT.jsonl``: the command-line face of :mod:`ghmodels_async.batch`.

Parses the options, opens the client (``--fake`` or the configured endpoint, token
from ``GITHUB_TOKEN``), shows progress on stderr, turns Ctrl-C and SIGTERM into a clean
stop (every answer already written stays; rerun to resume), prints the summary and
returns the exit code: 0 when every line has an answer, ``EXIT_BATCH_INCOMPLETE`` when
some failed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._cli_args import bounded
from ._errors import ConfigurationError, ValidationError
from .progress import printable

if TYPE_CHECKING:
    from .batch import BatchSummary
    from .progress import Progress

__all__ = ["EXIT_BATCH_INCOMPLETE", "EXIT_TERMINATED", "add_batch_command", "cmd_batch"]

#: The batch ran to its end (or stopped) and some lines have no answer: their errors are
#: in OUT; rerun with ``--retry-failed`` to send them again.
EXIT_BATCH_INCOMPLETE = 8
#: Stopped by SIGTERM (Ctrl-C gives 130); every answer written so far is kept.
EXIT_TERMINATED = 143

TIERS = ("auto", "low", "high", "embeddings", "reasoning")


_positive_int = bounded(int, "an integer >= 1", lambda value: value >= 1)
_non_negative_int = bounded(int, "an integer >= 0", lambda value: value >= 0)
_positive_float = bounded(float, "a number > 0", lambda value: 0 < value < float("inf"))


def add_batch_command(commands: Any, common: argparse.ArgumentParser) -> None:
    """Register ``batch`` on the ``ghmodels`` sub-command parser."""
    batch = commands.add_parser(
        "batch", parents=[common],
        help="send every line of a JSONL file, write every answer to another (resumable)",
        description="Send every request line of IN (a request body, or an OpenAI batch line "
                    '{"custom_id", "method", "url", "body"}) and append one answer or typed '
                    "error line per input line to OUT. A rerun skips the ids already in OUT. "
                    f"Exit 0 when every line has an answer, {EXIT_BATCH_INCOMPLETE} when some "
                    "failed (see docs/fanout.md).",
    )  # fmt: skip
    batch.add_argument("input", metavar="IN.jsonl", help="request lines")
    batch.add_argument("output", metavar="OUT.jsonl", help="answer lines (appended; resumable)")
    batch.add_argument("-c", "--concurrency", type=_positive_int, default=16,
                       help="requests in flight (default 16)")
    batch.add_argument("-m", "--model", default=None, help="model for lines that name none")
    batch.add_argument("--retry-failed", action="store_true",
                       help="send again the lines whose earlier attempts all failed")
    batch.add_argument("--max-retries", type=_non_negative_int, default=None,
                       help="retries of one request (default 2)")
    batch.add_argument("--max-consecutive-failures", type=_non_negative_int, default=100,
                       metavar="N",
                       help="stop after N failures in a row (default 100; 0 = never)")
    limits = batch.add_argument_group("pacing")
    limits.add_argument("--rpm", type=_positive_float, default=None,
                        help="at most this many requests per minute")
    limits.add_argument("--tpm", type=_positive_float, default=None,
                        help="at most this many tokens per minute (needs the rate limiter)")
    limits.add_argument("--tier", choices=TIERS, default=None,
                        help="pace to a GitHub Models rate-limit tier; auto: each model's "
                             "tier from the catalog (needs the rate limiter)")
    shown = batch.add_argument_group("progress")
    shown.add_argument("-q", "--quiet", action="store_true", help="no progress, no summary")
    shown.add_argument("--progress", choices=("auto", "live", "plain"), default="auto",
                       help="live line on a terminal, plain lines otherwise (default auto)")
    shown.add_argument("--progress-interval", type=_positive_float, default=None,
                       metavar="SECONDS", help="seconds between plain progress lines (10)")


def _rate_limiter(args: argparse.Namespace, progress: Progress) -> Any:
    """The client's shared rate limiter for ``--rpm`` / ``--tpm`` / ``--tier`` (None when
    none is asked). Waits it imposes show as the progress line's current wait.

    Without the in-process limiter (``ghmodels_async.ratelimit.Limiter``), ``--rpm``
    still works through the fan-out's own pacing; ``--tpm`` and ``--tier`` need it.
    """
    if args.tpm is None and args.tier is None and args.rpm is None:
        return None
    if args.tier is not None and (args.tpm is not None or args.rpm is not None):
        raise ValidationError("pass either --tier or --rpm/--tpm, not both", field="tier")
    try:
        ratelimit: Any = importlib.import_module("ghmodels_async.ratelimit")
    except ImportError:
        ratelimit = None
    limiter_class = getattr(ratelimit, "Limiter", None)
    tier_class = getattr(ratelimit, "TierLimiter", None)
    if limiter_class is None or tier_class is None:
        if args.tpm is None and args.tier is None:
            return None  # --rpm alone: paced by fan_out_stream(requests_per_minute=...)
        raise ConfigurationError(
            "--tpm and --tier need the in-process rate limiter (ghmodels_async.ratelimit), "
            "which this build does not have; --rpm works without it"
        )

    def on_wait(model: str, seconds: float, reason: str) -> None:
        progress.on_wait(seconds, f"{model}: {reason}")

    if args.tier is not None:
        default = "high" if args.tier == "auto" else args.tier
        return tier_class(default_tier=default, on_wait=on_wait)
    return limiter_class(requests_per_minute=args.rpm, tokens_per_minute=args.tpm,
                         on_wait=on_wait)


async def _load_tiers(limiter: Any, client: Any) -> None:
    """``--tier auto``: each model's tier from the catalog (or ``high`` without one)."""
    from ._errors import GHModelsError

    try:
        await limiter.load_catalog(client)
    except GHModelsError as exc:
        print(f"ghmodels: warning: no catalog ({printable(str(exc))}); pacing every model "
              "as 'high'",
              file=sys.stderr)


def write_summary(summary: BatchSummary, out: TextIO, output: Path) -> None:
    """The end-of-run summary: counts, failures by type, tokens, wall time, next step."""
    rate = (summary.answered + summary.failed_count) / summary.seconds if summary.seconds else 0
    out.write(
        f"batch: {summary.answered} answered, {summary.failed_count} failed, "
        f"{summary.skipped} already in {output.name}, {summary.tokens} tokens, "
        f"{summary.seconds:.1f} s ({rate:.1f} lines/s)\n"
    )
    if summary.failed:
        kinds = ", ".join(f"{count} x {name}" for name, count in summary.failed.most_common())
        out.write(f"  failed: {kinds}\n")
    for line, text in summary.bad_lines:
        message = printable(text)
        out.write(f"  bad input {message}\n" if message.startswith("line ") else
                  f"  bad input line {line}: {message}\n")
    if summary.bad_line_count > len(summary.bad_lines):
        out.write(f"  ... and {summary.bad_line_count - len(summary.bad_lines)} more bad lines "
                  f"(their errors are in {output.name})\n")
    if summary.still_failed:
        out.write(f"  {summary.still_failed} lines failed in an earlier run "
                  "(rerun with --retry-failed to send them again)\n")
    if summary.repaired_bytes:
        out.write(f"  repaired {output.name}: cut a torn last line ({summary.repaired_bytes} "
                  "bytes) left by a crash; its request was sent again\n")
    if summary.unreadable_output_lines:
        out.write(f"  {summary.unreadable_output_lines} unreadable lines in {output.name} "
                  "were ignored\n")
    if summary.interrupted:
        out.write("  interrupted: every answer so far is in "
                  f"{output.name}; rerun the same command to resume\n")
    out.flush()


async def cmd_batch(args: argparse.Namespace, out: TextIO) -> int:
    """Run ``ghmodels batch``; return its exit code."""
    from .batch import BatchRun, BatchStoppedError
    from .cli import EXIT_INTERRUPTED, EXIT_OK, describe_error, open_client
    from .progress import Progress

    source, target = Path(args.input), Path(args.output)
    if not source.exists():
        raise ValidationError(f"input file not found: {source}", field="input")
    if source.resolve() == target.resolve():
        raise ValidationError("IN and OUT must be different files", field="output")
    progress = Progress(
        stream=sys.stderr, mode="quiet" if args.quiet else args.progress,
        interval=args.progress_interval, label="batch",
    )  # fmt: skip
    limiter = _rate_limiter(args, progress)
    options: dict[str, Any] = {
        "max_connections": max(args.concurrency, 1),
        "on_retry": lambda event: progress.on_wait(event.delay, event.reason),
    }
    if args.max_retries is not None:
        options["max_retries"] = args.max_retries
    if limiter is not None:
        options["rate_limiter"] = limiter

    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    received: list[int] = []

    def stop(signum: int) -> None:
        received.append(signum)
        if task is not None:
            task.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop, signum)
            handled.append(signum)
        except (NotImplementedError, RuntimeError):  # not the main thread, or Windows
            pass
    run = None
    try:
        async with open_client(args, **options) as client:
            if args.tier == "auto" and limiter is not None:
                await _load_tiers(limiter, client)
            run = BatchRun(
                client, source, target, concurrency=args.concurrency,
                retry_failed=args.retry_failed, model=args.model,
                requests_per_minute=args.rpm if limiter is None else None,
                max_consecutive_failures=args.max_consecutive_failures, progress=progress,
            )  # fmt: skip
            run.prepare()
            async with progress.running():
                summary = await run.run()
    except asyncio.CancelledError:
        if not received:
            raise
        if task is not None and hasattr(task, "uncancel"):  # Python >= 3.11
            task.uncancel()
        if run is not None and not args.quiet:
            write_summary(run.summary, out, target)
        return EXIT_TERMINATED if received[0] == signal.SIGTERM else EXIT_INTERRUPTED
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)
    if not args.quiet:
        write_summary(summary, out, target)
    if summary.stopped is not None:
        if isinstance(summary.stopped, BatchStoppedError):
            print(f"ghmodels: error: {printable(str(summary.stopped))}", file=sys.stderr)
            return EXIT_BATCH_INCOMPLETE
        code, message = describe_error(summary.stopped)
        print(f"ghmodels: error: {printable(message)}", file=sys.stderr)
        return code
    return EXIT_OK if summary.complete else EXIT_BATCH_INCOMPLETE
