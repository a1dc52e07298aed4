"""The ``ghmodels`` command line (also ``python -m ghmodels_async``), on the public API only.

Commands: ``demo`` (the README's main job: a streamed answer and a concurrent
fan-out with a summary), ``chat``, ``models`` and ``serve-fake``. ``--fake`` runs any
of them against an in-process fake server with no token and no network. Failures are
one line on stderr and an exit code scripts can test (see ``EXIT_CODES``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from typing import Any, TextIO

from . import (
    APIConnectionError,
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    Client,
    ConfigurationError,
    GHModelsError,
    GoneError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RetryEvent,
    StreamAccumulator,
    UnprocessableEntityError,
    ValidationError,
    __version__,
)
from ._cli_args import bounded
from ._cli_batch import EXIT_BATCH_INCOMPLETE, EXIT_TERMINATED, add_batch_command, cmd_batch
from ._cli_fake import add_fault_options, serve_fake
from .fanout import Outcome, fan_out
from .progress import printable

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_GONE = 5
EXIT_RATE_LIMITED = 6
EXIT_NETWORK = 7
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_ERROR: "other API or stream error",
    EXIT_USAGE: "bad arguments or invalid request",
    EXIT_AUTH: "missing token, 401 or 403",
    EXIT_NOT_FOUND: "404: unknown model or organization",
    EXIT_GONE: "410: the endpoint is retired",
    EXIT_RATE_LIMITED: "429: rate limited",
    EXIT_NETWORK: "network error or timeout",
    EXIT_INTERRUPTED: "interrupted",
    EXIT_BROKEN_PIPE: "the reader of standard output went away (e.g. | head)",
    EXIT_BATCH_INCOMPLETE: "batch: some lines have no answer (errors in OUT)",
    EXIT_TERMINATED: "batch stopped by SIGTERM (rerun to resume)",
}

DEFAULT_MODEL = "openai/gpt-4.1"
FAKE_TOKEN = "fake-token"
DEMO_STORY = (
    "Hello from ghmodels_async! This answer is streamed chunk by chunk from an embedded "
    "fake GitHub Models server on 127.0.0.1, so the demo runs with no token and no "
    "network. Point the client at a real endpoint with GITHUB_TOKEN or --base-url."
)


_INF = float("inf")
#: ``--timeout``: seconds > 0; ``--port``: 0 (any free port) to 65535; ``--chunk-delay``:
#: finite seconds >= 0.
_seconds = bounded(float, "a number of seconds > 0", lambda value: 0 < value < _INF)
_port = bounded(int, "a port 0-65535", lambda value: 0 <= value <= 65535)
_delay = bounded(float, "a number of seconds >= 0", lambda value: 0 <= value < _INF)


MODEL_HELP = f"model id as publisher/name (default {DEFAULT_MODEL})"


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group(
        "connection (accepted before or after the command; GITHUB_TOKEN gives the token)"
    )
    default = argparse.SUPPRESS
    group.add_argument("--fake", action="store_true", default=default,
                       help="use an in-process fake server (no token, no network)")
    group.add_argument("--base-url", default=default,
                       help="endpoint base URL (default https://models.github.ai)")
    group.add_argument("--path-prefix", default=default,
                       help="path prefix of the inference routes (default /inference; "
                            "/v1 for OpenAI-compatible servers)")
    group.add_argument("--org", default=default, help="organization to attribute usage to")
    group.add_argument("--api-version", default=default, help="api-version query parameter")
    group.add_argument("--timeout", type=_seconds, default=default,
                       help="seconds for a whole call / idle stream (default 600 / 120)")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``ghmodels`` command."""
    common = _common_options()
    parser = argparse.ArgumentParser(
        prog="ghmodels",
        description="Chat with GitHub Models (or any OpenAI-compatible server) from asyncio.",
        epilog="Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()),
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"ghmodels_async {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = commands.add_parser("demo", parents=[common],
                               help="stream one answer, then fan out many prompts (main job)")
    demo.add_argument("-m", "--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    demo.add_argument("--prompts", type=int, default=None,
                      help="prompts to fan out (default 300 on the fake server, 10 otherwise)")
    demo.add_argument("--concurrency", type=int, default=32)

    chat = commands.add_parser("chat", parents=[common], help="stream one answer to the terminal")
    chat.add_argument("prompt", nargs="?", help="the prompt (default: read standard input)")
    chat.add_argument("-m", "--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    chat.add_argument("-s", "--system", help="system prompt")
    chat.add_argument("-t", "--temperature", type=float)
    chat.add_argument("--max-tokens", type=int)

    commands.add_parser("models", parents=[common], help="print the model catalog as a table")

    fake = commands.add_parser("serve-fake", parents=[common],
                               help="run the fake server in the foreground and print its URL")
    fake.add_argument("--host", default="127.0.0.1")
    fake.add_argument("--port", type=_port, default=0, help="0 (default): any free port")
    fake.add_argument("--quirks", action="store_true", help="stream with the service's quirks")
    fake.add_argument("--rate-limits", action="store_true", help="emulate the tier rate limits")
    fake.add_argument("--chunk-delay", type=_delay, default=0.0,
                      help="seconds between streamed chunks (default 0)")
    add_fault_options(fake)
    add_batch_command(commands, common)

    from .prompts.cli import add_parsers as add_prompt_parsers  # run, eval (prompt files)

    add_prompt_parsers(commands, common)
    return parser


def _option(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    return getattr(args, name, default)


@contextlib.asynccontextmanager
async def open_client(
    args: argparse.Namespace, *, chunk_delay: float = 0.0, fake_by_default: bool = False,
    **client_options: Any,
) -> AsyncIterator[Client]:
    """A Client for the options: the in-process fake server with ``--fake`` (or, with
    ``fake_by_default``, when there is neither a token nor a base URL); the configured
    endpoint otherwise. ``client_options`` go to ``Client`` as they are."""
    base_url = _option(args, "base_url")
    if _option(args, "fake", False) and base_url:
        raise ValidationError("--fake and --base-url exclude each other: pick one endpoint")
    no_endpoint = not os.environ.get("GITHUB_TOKEN") and not base_url
    use_fake = _option(args, "fake", False) or (fake_by_default and no_endpoint)
    settings: dict[str, Any] = {
        "org": _option(args, "org"),
        "api_version": _option(args, "api_version"),
        "on_retry": _say_retry,
        **client_options,
    }
    if _option(args, "timeout") is not None:
        settings["timeout"] = args.timeout
    if use_fake:
        from .testing import FakeServer  # imported only when used: it is the heavier half

        async with FakeServer(chunk_delay=chunk_delay) as server:
            server.script(DEMO_STORY, prompt_contains="Introduce yourself")
            args.fake_url = server.url
            async with Client(FAKE_TOKEN, base_url=server.url, **settings) as client:
                yield client
        return
    if base_url:
        settings["base_url"] = base_url
    if _option(args, "path_prefix") is not None:
        settings["path_prefix"] = args.path_prefix
    token = os.environ.get("GITHUB_TOKEN") or ("no-token" if base_url else None)
    async with Client(token, **settings) as client:
        yield client


def _say_retry(event: RetryEvent) -> None:
    """Tell the user why the command is waiting: always for a 429 (which may ask for up
    to a minute), otherwise only for waits long enough to look like a hang."""
    if event.status_code != 429 and event.delay < 2:
        return
    status = f"{event.status_code}" if event.status_code is not None else "connection"
    label = "rate limited" if event.status_code == 429 else f"failed ({status})"
    print(f"ghmodels: {label}; waiting {event.delay:g} s before retry {event.attempt}",
          file=sys.stderr, flush=True)


async def stream_answer(
    client: Client, model: str, messages: list[dict[str, str]], out: TextIO, **options: Any
) -> StreamAccumulator:
    """Stream one answer to ``out``; return what was received, usage included."""
    accumulator = StreamAccumulator()
    stream = await client.chat.completions.create(
        model=model, messages=messages, stream=True, stream_options={"include_usage": True},
        **options,
    )
    async with stream:
        async for chunk in stream:
            accumulator.add(chunk)
            if chunk.choices and chunk.choices[0].delta.content:
                out.write(chunk.choices[0].delta.content)
                out.flush()
    out.write("\n")
    return accumulator


def _read_stdin() -> str:
    """Standard input as text, refused (ValidationError) unless it is UTF-8."""
    binary = getattr(sys.stdin, "buffer", None)
    if binary is None:  # replaced by a text stream (tests, embedding programs)
        return _utf8(sys.stdin.read(), "standard input")
    data = binary.read()
    try:
        return str(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"standard input is not UTF-8 text (byte {exc.start}: {exc.reason})", field="prompt"
        ) from None


def _utf8(text: str, what: str, field: str = "prompt") -> str:
    """``text`` unless it holds bytes that were not UTF-8 (kept by Python as surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(
            f"{what} is not UTF-8 text (character {exc.start})", field=field
        ) from None
    return text


async def cmd_chat(args: argparse.Namespace, out: TextIO) -> int:
    # The newline that ends piped or typed input is not part of the prompt.
    prompt = (
        _utf8(args.prompt, "the prompt") if args.prompt is not None
        else _read_stdin().rstrip("\r\n")
    )  # fmt: skip
    if not prompt.strip():
        raise ValidationError("empty prompt: pass one as an argument or on standard input")
    if args.system:
        _utf8(args.system, "the system prompt", "system")
    messages = [{"role": "system", "content": args.system}] if args.system else []
    messages.append({"role": "user", "content": prompt})
    async with open_client(args) as client:
        await stream_answer(client, args.model, messages, out, temperature=args.temperature,
                            max_tokens=args.max_tokens)
    return EXIT_OK


async def cmd_models(args: argparse.Namespace, out: TextIO) -> int:
    async with open_client(args) as client:
        models = await client.models.list()
    rows = [("ID", "TIER", "IN/OUT TOKENS", "CAPABILITIES")]
    for model in models:
        limits = model.limits
        tokens = f"{limits.max_input_tokens}/{limits.max_output_tokens}" if limits else "-"
        rows.append((model.id, model.rate_limit_tier or "-", tokens,
                     ",".join(model.capabilities) or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write("  ".join(cells).rstrip() + "\n")
    return EXIT_OK


async def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    async with open_client(args, chunk_delay=0.01, fake_by_default=True) as client:
        fake_url = getattr(args, "fake_url", None)
        where = f"the embedded fake server at {fake_url}" if fake_url else client.base_url
        prompts = args.prompts if args.prompts is not None else (300 if fake_url else 10)
        if prompts < 1 or args.concurrency < 1:
            raise ValidationError("--prompts and --concurrency must be >= 1")
        out.write(f"ghmodels_async {__version__} talking to {where}\n\n1. A streamed answer:\n")
        streamed = await stream_answer(
            client, args.model,
            [{"role": "user", "content": "Introduce yourself in three sentences."}], out,
        )
        usage = streamed.usage
        if usage is not None:
            out.write(f"   (usage: {usage.prompt_tokens} prompt + {usage.completion_tokens} "
                      f"completion = {usage.total_tokens} tokens)\n")

        out.write(f"\n2. Fan-out: {prompts} prompts at concurrency {args.concurrency}...\n")

        async def ask(number: int) -> Any:
            return await client.chat.completions.create(
                model=args.model, max_tokens=64,
                messages=[{"role": "user", "content": f"Prompt {number}: say something short."}],
            )

        started = time.perf_counter()
        outcomes: list[Outcome[Any]] = await fan_out(
            ask, range(prompts), concurrency=args.concurrency
        )
        wall = time.perf_counter() - started
    failures = Counter(type(o.error).__name__ for o in outcomes if not o.ok)
    done = [o.value for o in outcomes if o.value is not None]
    tokens = sum(c.usage.total_tokens for c in done if c.usage is not None)
    out.write(f"   done: {len(done)}  failed: {sum(failures.values())}  wall: {wall:.2f} s  "
              f"({len(outcomes) / wall:.0f} calls/s)  tokens: {tokens}\n")
    for name, count in failures.most_common():
        out.write(f"   {count} x {name}\n")
    return EXIT_OK if not failures else EXIT_ERROR


async def cmd_prompt_file(args: argparse.Namespace, out: TextIO) -> int:
    from .prompts.cli import run_command  # code of ``run`` and ``eval`` lives there

    return await run_command(args, out)


COMMANDS = {"demo": cmd_demo, "chat": cmd_chat, "models": cmd_models, "serve-fake": serve_fake,
            "run": cmd_prompt_file, "eval": cmd_prompt_file, "batch": cmd_batch}


def describe_error(error: BaseException, model: str | None = None) -> tuple[int, str]:
    """The exit code and the one-line message for a failure (``model``: the model the
    command asked for, to suggest a publisher prefix)."""
    if isinstance(error, ConfigurationError) and str(error).startswith("no token"):
        return EXIT_AUTH, (
            "no token: set the GITHUB_TOKEN environment variable, or use --fake to try "
            "the embedded fake server"
        )
    if isinstance(error, ConfigurationError) and "token" in str(error):
        return EXIT_AUTH, f"{error} (GITHUB_TOKEN)"
    if isinstance(error, (ValidationError, ConfigurationError)):
        return EXIT_USAGE, str(error)
    if isinstance(error, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH, f"not allowed ({error.status_code}): {error.message}"
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND, f"not found (404): {error.message}"
    if isinstance(error, APIStatusError) and error.code == "unknown_model":
        hint = ""
        if model and "/" not in model:
            hint = f"; model ids include the publisher, e.g. 'openai/{model}'"
        return EXIT_NOT_FOUND, f"unknown model ({error.status_code}): {error.message}{hint}"
    if isinstance(error, GoneError):
        return EXIT_GONE, f"endpoint gone (410): {error.message}"
    if isinstance(error, RateLimitError):
        wait = error.retry_after
        hint = f"; wait {wait:g} s before retrying" if wait is not None else ""
        kind = error.rate_limit.limit_type
        label = f"rate limited ({kind})" if kind else "rate limited"
        return EXIT_RATE_LIMITED, f"{label}: {error.message}{hint}"
    if isinstance(error, (BadRequestError, UnprocessableEntityError)):
        return EXIT_USAGE, f"bad request ({error.status_code}): {error.message}"
    if isinstance(error, APIStatusError):
        label = "server error" if error.status_code >= 500 else "error"
        return EXIT_ERROR, f"{label} ({error.status_code}): {error.message}"
    if isinstance(error, APIConnectionError):
        return EXIT_NETWORK, f"network: {error}"
    return EXIT_ERROR, str(error) or type(error).__name__


def _fill_closed_std_streams() -> None:
    """Put ``/dev/null`` on standard streams the caller closed (``>&-``, some daemons).

    Otherwise ``sys.stdout`` is ``None`` (a crash at the first message) and the next
    file opened takes descriptor 1 or 2, where stray writes would land in it.
    """
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                opened = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: fd
                if opened != fd:
                    os.close(opened)
                    continue
                setattr(sys, name, open(fd, mode, closefd=False))  # noqa: SIM115


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run the command line; return the exit code."""
    _fill_closed_std_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    stream = out if out is not None else sys.stdout
    try:
        return asyncio.run(COMMANDS[args.command](args, stream))
    except GHModelsError as error:
        code, message = describe_error(error, _option(args, "model"))
        print(f"ghmodels: error: {printable(message)}", file=sys.stderr)
        return code
    except KeyboardInterrupt:
        print("ghmodels: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (``| head``): stop quietly, and keep the interpreter's final
        # flush of stdout from failing again with a traceback.
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
