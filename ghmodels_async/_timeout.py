"""Timeout settings: connect, whole non-streaming call, and idle gap between stream events."""

from __future__ import annotations

import msgspec

from ._errors import ConfigurationError

__all__ = ["Timeout"]


class Timeout(msgspec.Struct, frozen=True):
    """Seconds to wait (``None`` = no limit).

    ``connect``: to open a connection. ``total``: one attempt of a non-streaming call, reading
    the body included. ``stream_idle``: the longest silence between two reads of a
    stream; a long but healthy stream is never cut, since streams have no total cap.
    """

    connect: float | None = 10.0
    total: float | None = 600.0
    stream_idle: float | None = 120.0

    def __post_init__(self) -> None:
        for name in ("connect", "total", "stream_idle"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigurationError(
                    f"Timeout.{name} must be a number > 0 or None, got {value!r}"
                )

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A Timeout from a Timeout, a number (the whole-call and idle limit) or None."""
        if isinstance(value, Timeout):
            return value
        if value is None:
            return cls(connect=None, total=None, stream_idle=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigurationError(
                f"timeout must be a Timeout, a number of seconds > 0 or None, got {value!r}"
            )
        return cls(connect=min(float(value), 10.0), total=float(value), stream_idle=float(value))
