"""``ghmodels serve-fake`` options for faults and tier emulation, mapped onto FakeServer.

``--fault 429:0.05`` answers 5% of requests with a 429 (seeded, so a run repeats);
``--fault 'rate_limit;wait=2'`` every request; ``--rate-limits`` emulates the tiers,
``--rate-window`` shrinks their window so a test sees them in seconds, not minutes.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from ._errors import ValidationError

if TYPE_CHECKING:
    from .testing import FakeServer

__all__ = ["FaultOption", "add_fault_options", "parse_fault_option", "serve_fake"]

#: A status given instead of a fault name, and the fault it stands for.
STATUS_FAULTS = {
    "400": "openai_error",
    "410": "gone",
    "413": "tokens_limit",
    "429": "rate_limit",
    "500": "internal_error",
    "502": "bad_gateway",
    "503": "service_unavailable",
}


@dataclass(frozen=True)
class FaultOption:
    """One ``--fault``: the fault spec FakeServer.inject takes and its probability."""

    spec: str
    rate: float | None


def parse_fault_option(text: str) -> FaultOption:
    """Parse ``KIND_OR_STATUS[;key=value...][:RATE]``, e.g. ``429:0.05`` or
    ``rate_limit;wait=2;limit_type=UserByModelByDay:0.1``; raise ValidationError if bad."""
    from .testing.faults import parse_faults  # the fake server is the heavier half

    head, sep, tail = text.rpartition(":")
    spec, rate = (head, tail) if sep else (text, None)
    probability: float | None = None
    if rate is not None:
        try:
            probability = float(rate)
        except ValueError:
            raise ValidationError(f"--fault {text!r}: rate {rate!r} is not a number",
                                  field="fault") from None
        if not 0.0 <= probability <= 1.0:
            raise ValidationError(f"--fault {text!r}: rate must be in [0, 1]", field="fault")
    kind, _, options = spec.partition(";")
    kind = kind.strip()
    if kind.isdigit():
        if kind in STATUS_FAULTS:
            kind = STATUS_FAULTS[kind]
        elif 400 <= int(kind) <= 599:
            options = f"status={kind};{options}" if options else f"status={kind}"
            kind = "error"
        else:
            raise ValidationError(f"--fault {text!r}: status must be 400-599", field="fault")
    spec = f"{kind};{options}" if options else kind
    try:
        faults = parse_faults(spec)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"--fault {text!r}: {exc}", field="fault") from None
    if len(faults) != 1:
        raise ValidationError(f"--fault {text!r}: give one fault per --fault", field="fault")
    return FaultOption(spec, probability)


def add_fault_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--fault``, ``--rate-window``, ``--seed`` and ``--token`` to serve-fake."""
    parser.add_argument(
        "--fault", action="append", default=[], metavar="KIND[;OPT=V...][:RATE]",
        help="inject a fault: a status (429, 500, 502, 503, 410, 413, 400, any 4xx/5xx) or a "
             "fault name (rate_limit, delay_headers, stream_cut, ...; docs/fake-server.md) with "
             "options, answered to the share RATE of requests (default: all); repeatable, "
             "e.g. --fault 429:0.05 --fault 500:0.02",
    )
    parser.add_argument("--rate-window", type=float, default=None, metavar="SECONDS",
                        help="window of the --rate-limits emulation (default 60)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the fault randomness (default 0)")
    parser.add_argument("--token", default=None,
                        help="accept only this bearer token (default: any)")


async def serve_fake(args: argparse.Namespace, out: TextIO) -> int:
    """Run the fake server with the command line's faults and limits until interrupted."""
    from .testing import FakeServer, RateLimitTable

    faults = [parse_fault_option(text) for text in args.fault]
    if args.rate_window is not None and not 0 < args.rate_window < float("inf"):
        raise ValidationError("--rate-window must be a finite number > 0", field="rate_window")
    limits: bool | RateLimitTable = bool(args.rate_limits)
    if args.rate_window is not None:
        limits = RateLimitTable(window=args.rate_window, exact_retry_after=args.rate_window < 60)
        if not args.rate_limits:
            raise ValidationError("--rate-window needs --rate-limits", field="rate_window")
    server: FakeServer = FakeServer(
        host=args.host, port=args.port, token=args.token, quirks=args.quirks,
        rate_limits=limits, chunk_delay=args.chunk_delay, seed=args.seed,
    )  # fmt: skip
    for fault in faults:
        server.inject(fault.spec, times=None, rate=fault.rate)
    try:
        await server.start()
    except OSError as exc:  # port in use, address not on this machine, no permission
        raise ValidationError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", field="port"
        ) from None
    try:
        out.write(f"fake GitHub Models server listening on {server.url}\n")
        for fault in faults:
            share = "every request" if fault.rate is None else f"{fault.rate:.1%} of requests"
            out.write(f"  fault {fault.spec}: {share}\n")
        if args.rate_limits:
            window = args.rate_window if args.rate_window is not None else 60
            out.write(f"  tier rate limits emulated (window {window:g} s)\n")
        note = "any token works" if args.token is None else "only the --token one is accepted"
        out.write(f"try: ghmodels --base-url {server.url} chat 'hello'  ({note})\n")
        out.flush()
        await asyncio.Event().wait()
    finally:
        await server.close()
    return 0
