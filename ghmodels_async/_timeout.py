"""Timeout settings: connect, whole non-streaming call, and idle gap between stream events."""

from __future__ import annotations

from typing import Annotated

import msgspec

from ._config import check, check_struct

__all__ = ["Timeout"]

_Positive = Annotated[float, msgspec.Meta(gt=0)]


class Timeout(msgspec.Struct, frozen=True):
    """Seconds to wait (``None`` or ``math.inf`` = no limit).

    ``connect``: to open a connection. ``total``: one attempt of a non-streaming call, reading
    the body included. ``stream_idle``: the longest silence between two reads of a
    stream; a long but healthy stream is never cut, since streams have no total cap.
    """

    connect: _Positive | None = 10.0
    total: _Positive | None = 600.0
    stream_idle: _Positive | None = 120.0

    def __post_init__(self) -> None:
        check_struct(self, _MESSAGES)

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A Timeout from a Timeout, a number (the whole-call and idle limit) or None."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, total=None, stream_idle=None)
        seconds: float = check(
            value,
            _Positive,
            "timeout must be a Timeout, a number of seconds > 0 or None, got {value!r}",
        )
        return cls(connect=min(seconds, 10.0), total=seconds, stream_idle=seconds)


_MESSAGES = {
    name: f"Timeout.{name} must be a number > 0 or None, got {{value!r}}"
    for name in ("connect", "total", "stream_idle")
}
