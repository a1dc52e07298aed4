"""``ghmodels run FILE.prompt.yml`` and ``ghmodels eval FILE.prompt.yml``.

``run`` fills the prompt's ``{{variables}}`` from ``--var name=value`` (and standard input
for the one still missing, as ``gh models run`` does) and prints the answer, streamed on
a terminal. ``eval`` runs every test row concurrently and prints a table, or the
``gh models eval --json`` document with ``--json``. Exit codes: 0 all rows pass, 1 some
fail, 2 a bad file or bad arguments; an API failure of a row gives that failure's code
(3 auth, 6 rate limited, ...) after the report.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from .._errors import ValidationError
from ..cli import EXIT_ERROR, EXIT_OK, describe_error, open_client, stream_answer
from ._errors import PromptVariableError
from ._eval import run_eval
from ._prompt import Prompt, request_options
from ._report import EvalReport

__all__ = ["add_parsers", "run_command"]


def add_parsers(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``run`` and ``eval`` subcommands to the ``ghmodels`` parser."""
    run = commands.add_parser(
        "run", parents=[common], help="run a .prompt.yml file and print the answer"
    )
    run.add_argument("file", help="the .prompt.yml file")
    run.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a {{variable}} value (repeatable); standard input fills the one still missing",
    )
    run.add_argument("-m", "--model", help="run on this model instead of the file's")
    run.add_argument(
        "--stream",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="stream the answer (default: when the output is a terminal)",
    )

    ev = commands.add_parser(
        "eval",
        parents=[common],
        help="evaluate a .prompt.yml file over its testData, rows run concurrently",
    )
    ev.add_argument("file", help="the .prompt.yml file")
    ev.add_argument("--json", action="store_true", help="print the gh models eval --json document")
    ev.add_argument("--concurrency", type=int, default=8, help="rows in flight (default 8)")
    ev.add_argument(
        "--rpm", type=float, default=None, help="at most this many row starts per minute"
    )
    ev.add_argument("-m", "--model", help="evaluate this model instead of the file's")


async def run_command(args: argparse.Namespace, out: TextIO) -> int:
    """Dispatch ``run`` or ``eval``; return the exit code."""
    prompt = Prompt.load(args.file)
    if args.model:
        prompt = prompt.with_model(args.model)
    if args.command == "run":
        return await _run(prompt, args, out)
    return await _eval(prompt, args, out)


def _variables(prompt: Prompt, pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValidationError(f"--var takes NAME=VALUE, got {pair!r}", field="--var")
        if name in values:
            raise ValidationError(f"--var {name} is given twice", field="--var")
        values[name] = value
    missing = [name for name in prompt.variables if name not in values]
    if not missing:
        return values
    # As gh models run: piped input fills {{input}}, or the single variable left.
    target = "input" if "input" in missing else missing[0] if len(missing) == 1 else None
    if target is None or sys.stdin is None or sys.stdin.isatty():
        names = ", ".join(missing)
        raise PromptVariableError(
            f"{prompt.path}: no value for {names}: pass --var NAME=VALUE"
            + (" (standard input fills one variable)" if len(missing) > 1 else ""),
            missing=missing,
        )
    text = sys.stdin.read().strip()
    if not text:
        raise PromptVariableError(
            f"{prompt.path}: no value for {target}: standard input was empty", missing=[target]
        )
    values[target] = text
    return values


async def _run(prompt: Prompt, args: argparse.Namespace, out: TextIO) -> int:
    request = prompt.render(**_variables(prompt, args.var))
    stream = args.stream if args.stream is not None else out.isatty()
    options = request_options(request)
    async with open_client(args) as client:
        if stream:
            model = options.pop("model")
            messages = options.pop("messages")
            await stream_answer(client, model, messages, out, **options)
        else:
            completion = await client.chat.completions.create(**options)
            text = completion.choices[0].message.content if completion.choices else None
            out.write((text or "") + "\n")
    return EXIT_OK


def _print_table(report: EvalReport, out: TextIO, concurrency: int) -> None:
    out.write(f"Evaluation: {report.name or '(unnamed)'}\n")
    if report.description:
        out.write(f"Description: {report.description}\n")
    out.write(
        f"Model: {report.model}   Test cases: {report.summary.total_tests}   "
        f"Concurrency: {concurrency}\n\n"
    )
    rows = [("ROW", "RESULT", "EVALUATOR", "SCORE", "DETAILS")]
    for number, result in enumerate(report.test_results, 1):
        verdict = "PASS" if result.passed else "FAIL"
        if result.error is not None:
            rows.append((str(number), verdict, "-", "-", result.error))
        for ev in result.evaluation_results:
            mark = "ok" if ev.passed else "x"
            rows.append(
                (str(number), verdict, f"{mark} {ev.evaluator_name}", f"{ev.score:.2f}", ev.details)
            )
        if not result.evaluation_results and result.error is None:
            rows.append((str(number), verdict, "-", "-", "no evaluators"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows if len(rows) > 1 else []:
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        out.write("  ".join([*cells, _one_line(row[4])]).rstrip() + "\n")
    failed = [
        f"row {number} answer: {_one_line(result.model_response)[:100]}\n"
        for number, result in enumerate(report.test_results, 1)
        if not result.passed and result.model_response
    ]
    if failed:
        out.write("\n" + "".join(failed))
    s = report.summary
    if not s.total_tests:
        out.write("No test rows: the file has no testData.\n")
    out.write(f"\nPassed: {s.passed_tests}/{s.total_tests} ({s.pass_rate:.2f}%)\n")


def _one_line(text: str) -> str:
    return " ".join(text.split())


async def _eval(prompt: Prompt, args: argparse.Namespace, out: TextIO) -> int:
    if args.concurrency < 1:
        raise ValidationError("--concurrency must be >= 1", field="--concurrency")
    if args.rpm is not None and not args.rpm > 0:
        raise ValidationError("--rpm must be > 0", field="--rpm")
    async with open_client(args) as client:
        report, errors = await run_eval(
            prompt, client, concurrency=args.concurrency, requests_per_minute=args.rpm
        )
    if args.json:
        out.write(report.to_json() + "\n")
    else:
        _print_table(report, out, args.concurrency)
    if errors:
        code, message = describe_error(errors[0])
        print(
            f"ghmodels: error: {len(errors)} row(s) failed to run; first: {message}",
            file=sys.stderr,
        )
        return code
    return EXIT_OK if report.passed else EXIT_ERROR
