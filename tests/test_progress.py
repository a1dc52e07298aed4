"""Progress: the live line on a terminal, plain lines otherwise, quiet, the current wait."""

from __future__ import annotations

import asyncio
import io

import pytest

from ghmodels_async.progress import Progress, format_duration


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_mode_follows_the_stream() -> None:
    assert Progress(stream=Terminal()).mode == "live"
    assert Progress(stream=io.StringIO()).mode == "plain"


def test_status_has_counts_rate_eta_and_the_current_wait() -> None:
    progress = Progress(total=10, stream=io.StringIO(), label="batch")
    for _ in range(3):
        progress.advance(ok=True, tokens=5)
    progress.advance(ok=False, error_type="RateLimitError")
    status = progress.status()
    assert status.startswith("batch: 4/10 (40%)")
    assert "done 3  failed 1" in status and "/s" in status and "ETA" in status
    assert "waiting" not in status
    progress.on_wait(42.0, "429 rate limited")
    progress.on_wait(2.0, "shorter")  # the longest wait is the one shown
    assert "waiting 42s (429 rate limited)" in progress.status()
    assert "ETA 42s" in progress.status() or "ETA 41s" in progress.status()  # at least the wait
    assert progress.tokens == 15 and progress.failed == {"RateLimitError": 1}


def test_a_wait_that_is_over_is_not_shown() -> None:
    progress = Progress(stream=io.StringIO())
    progress.on_wait(0.0, "nothing")
    assert "waiting" not in progress.status()


def test_live_mode_redraws_one_line_and_ends_it() -> None:
    terminal = Terminal()
    progress = Progress(total=2, stream=terminal)
    progress.advance(ok=True)
    progress.draw()
    progress.advance(ok=True)
    progress.close()
    text = terminal.getvalue()
    assert text.count("\r") == 2 and text.endswith("\n") and text.count("\n") == 1
    assert "2/2 (100%)" in text


async def test_plain_mode_writes_periodic_lines_while_running() -> None:
    stream = io.StringIO()
    progress = Progress(total=None, stream=stream, interval=0.01)
    async with progress.running():
        progress.advance(ok=True)
        while stream.getvalue().count("\n") < 3:
            await asyncio.sleep(0.01)
    lines = stream.getvalue().splitlines()
    assert len(lines) >= 4 and all("done 1" in line for line in lines)


async def test_quiet_writes_nothing() -> None:
    stream = Terminal()
    progress = Progress(total=5, stream=stream, mode="quiet", interval=0.001)
    async with progress.running():
        progress.advance(ok=True)
        progress.on_wait(3, "x")
        await asyncio.sleep(0.01)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (42.4, "42s"), (185, "3m05s"), (7620, "2h07m"), (-1, "0s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
