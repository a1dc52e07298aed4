"""Argument types for the command line: a number with bounds, refused in one line.

Every subcommand's numeric options go through :func:`bounded`, so a bad value reads the
same everywhere (``expected a port 0-65535, got 'x'``) and never shows a traceback.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TypeVar

__all__ = ["bounded"]

N = TypeVar("N", int, float)


def bounded(
    convert: Callable[[str], N], expected: str, ok: Callable[[N], bool]
) -> Callable[[str], N]:
    """An argparse ``type=`` that converts with ``convert`` and accepts values ``ok`` holds
    for; anything else is an ArgumentTypeError saying what was ``expected``."""

    def parse(text: str) -> N:
        try:
            value = convert(text)
        except (ValueError, OverflowError):
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse
