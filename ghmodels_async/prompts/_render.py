"""``{{variable}}`` templating as ``gh models`` does it, with missing names reported.

As in the ``gh`` CLI, ``{{key}}`` is replaced when ``key`` (exactly, spaces included) has
a value. A ``{{name}}`` of letters, digits, ``_``, ``-`` and ``.`` without a value is
*missing* (an error); any other ``{{...}}`` text without a value (``{{ x }}``, code
samples) is left as written. Substitution is one pass, so a value that itself contains
``{{x}}`` is never expanded again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final

from ._errors import PromptVariableError

__all__ = ["check_unknown", "fill", "mentions", "placeholders", "value_text"]

_BRACED: Final = re.compile(r"\{\{([^{}]+)\}\}")
_NAME: Final = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")


def placeholders(text: str) -> list[str]:
    """The variable names ``text`` needs (``{{name}}``), in order of first use."""
    return list(dict.fromkeys(n for n in _BRACED.findall(text) if _NAME.match(n)))


def mentions(text: str) -> list[str]:
    """Every ``{{...}}`` inner text of ``text``: the keys a value could fill."""
    return list(dict.fromkeys(_BRACED.findall(text)))


def value_text(value: object) -> str:
    """A variable's value as text: ``true``/``false`` for booleans, ``30`` for 30.0 (as
    the ``gh`` CLI prints numbers), ``str()`` otherwise."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def fill(text: str, values: Mapping[str, object], *, where: str = "template") -> str:
    """``text`` with every placeholder replaced; PromptVariableError names the missing."""
    missing = [name for name in placeholders(text) if name not in values]
    if missing:
        names = ", ".join(f"{{{{{name}}}}}" for name in missing)
        raise PromptVariableError(f"{where}: no value for {names}", missing=missing)
    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        return value_text(values[key]) if key in values else match.group(0)

    return _BRACED.sub(replace, text)


def check_unknown(given: Iterable[str], used: Iterable[str], *, where: str) -> None:
    """PromptVariableError if a given variable is used by no template (a likely typo)."""
    used_set = set(used)
    unknown = [name for name in given if name not in used_set]
    if unknown:
        known = ", ".join(sorted(used_set)) or "none"
        raise PromptVariableError(
            f"{where}: unknown variable(s) {', '.join(unknown)} (the prompt uses: {known})",
            unknown=unknown,
        )
