"""Progress of long work: a live line on a terminal, plain periodic lines otherwise.

A small renderer of our own rather than tqdm: it needs four numbers and a status, it
costs no import time (this module imports only the standard library and is itself
imported only by the batch command), and it accepts a "current wait" from anything
that makes the work wait (a retry's back-off, a rate limiter) through :meth:`on_wait`.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Literal, TextIO

__all__ = ["Progress", "ProgressMode", "format_duration", "printable"]

ProgressMode = Literal["auto", "live", "plain", "quiet"]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str, limit: int = 500) -> str:
    """``text`` safe for one terminal line: control characters (escape sequences, bells,
    line breaks, C1 codes) shown as ``\\xNN`` and at most ``limit`` characters kept.
    A server's message goes through it before it reaches the user's terminal."""
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def format_duration(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``: short enough for a status line."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    """Counts finished items and shows done / failed / rate / ETA / current wait.

    ``mode="auto"`` draws a live line when ``stream`` is a terminal and a plain line
    every ``interval`` seconds (default 10) when it is not; ``"quiet"`` shows nothing.
    ``total`` (None when unknown) is the number of items this run expects to finish.
    Run the periodic redraw with ``async with progress.running():``.
    """

    def __init__(
        self,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        mode: ProgressMode = "auto",
        interval: float | None = None,
        label: str = "",
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        if mode == "auto":
            isatty = getattr(self.stream, "isatty", None)
            mode = "live" if isatty is not None and isatty() else "plain"
        self.mode: ProgressMode = mode
        self.interval = interval if interval is not None else (0.25 if mode == "live" else 10.0)
        self.total = total
        self.label = label
        self.done = 0
        self.failed: Counter[str] = Counter()
        self.tokens = 0
        self.started = time.monotonic()
        self._wait_until = 0.0
        self._wait_reason = ""
        self._drawn = False

    # -- what the work reports ---------------------------------------------------

    def advance(self, *, ok: bool, error_type: str | None = None, tokens: int = 0) -> None:
        """One item finished: answered (``ok``) or failed with ``error_type``."""
        if ok:
            self.done += 1
        else:
            self.failed[error_type or "Error"] += 1
        self.tokens += tokens

    def on_wait(self, seconds: float, reason: str) -> None:
        """Something makes the work wait ``seconds`` (a retry back-off, a rate limit):
        shown as the current wait until it is over (the longest one wins)."""
        until = time.monotonic() + max(0.0, seconds)
        if until > self._wait_until:
            self._wait_until = until
            self._wait_reason = printable(reason, 200)

    # -- what it shows -----------------------------------------------------------

    @property
    def finished(self) -> int:
        """Items finished so far, answered or failed."""
        return self.done + sum(self.failed.values())

    def status(self) -> str:
        """The one-line status: counts, rate, ETA and the current wait, if any."""
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        finished = self.finished
        rate = finished / elapsed
        parts = [f"{self.label}: " if self.label else ""]
        if self.total is not None:
            share = 100.0 * finished / self.total if self.total else 100.0
            parts.append(f"{finished}/{self.total} ({share:.0f}%)")
        else:
            parts.append(f"{finished}")
        parts.append(f"  done {self.done}  failed {sum(self.failed.values())}")
        parts.append(f"  {rate:.1f}/s")
        waiting = max(0.0, self._wait_until - now)
        if self.total is not None and rate > 0 and finished < self.total:
            # the current wait holds everything up: the end is at least that far away
            eta = max((self.total - finished) / rate, waiting)
            parts.append(f"  ETA {format_duration(eta)}")
        if waiting:
            parts.append(f"  waiting {format_duration(self._wait_until - now)} "
                         f"({self._wait_reason})")
        parts.append(f"  [{format_duration(elapsed)}]")
        return "".join(parts)

    def draw(self) -> None:
        """Show the status now (a redraw of the live line, or one plain line)."""
        if self.mode == "quiet":
            return
        if self.mode == "live":
            self.stream.write("\r" + self.status() + "\x1b[K")
        else:
            self.stream.write(self.status() + "\n")
        self.stream.flush()
        self._drawn = True

    def close(self) -> None:
        """Draw the final status and end the live line."""
        if self.mode == "quiet":
            return
        self.draw()
        if self.mode == "live":
            self.stream.write("\n")
            self.stream.flush()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Progress]:
        """Redraw every ``interval`` seconds while the block runs; the final line at exit."""
        ticker = None if self.mode == "quiet" else asyncio.ensure_future(self._tick())
        try:
            yield self
        finally:
            if ticker is not None:
                ticker.cancel()
                await asyncio.wait([ticker])  # never raises the ticker's CancelledError
            self.close()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.draw()
