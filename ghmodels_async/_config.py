"""Configuration checked as data: msgspec constraints, turned into the library's errors.

Settings declare their allowed range in their type (``Annotated[int, Meta(ge=0)]``);
:func:`check` converts one value with ``msgspec.convert`` and :func:`check_struct`
re-checks every field of a Struct built directly (msgspec checks constraints only when
it decodes or converts). A refused value raises ``ConfigurationError`` (or the error
type the caller names) with a message written for people, not msgspec's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from ._errors import ConfigurationError

__all__ = ["check", "check_struct"]


def check(
    value: Any,
    kind: Any,
    message: str,
    error: Callable[[str], Exception] = ConfigurationError,
) -> Any:
    """``value`` converted to ``kind``; else raise ``error(message.format(value=value))``."""
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError:
        raise error(message.format(value=value)) from None


def check_struct(struct: msgspec.Struct, messages: Mapping[str, str]) -> None:
    """Check every field of ``struct`` against its annotated type (called from
    ``__post_init__``); ``messages`` maps a field name to its error text."""
    for field in msgspec.structs.fields(struct):
        check(getattr(struct, field.name), field.type, messages[field.name])
