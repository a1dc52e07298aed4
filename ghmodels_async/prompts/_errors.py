"""Errors of the prompt-file feature, all ``ValidationError`` (so the CLI exits 2)."""

from __future__ import annotations

from collections.abc import Sequence

from .._errors import ConfigurationError, ValidationError

__all__ = ["MissingExtraError", "PromptFileError", "PromptVariableError"]


class PromptFileError(ValidationError):
    """A prompt file cannot be read or is invalid.

    ``path`` is the file, ``line`` the 1-based line (None when unknown) and ``field`` the
    JSON-style path of the offending key (``messages[1].role``). ``str()`` says all three.
    """

    def __init__(
        self, path: str, problem: str, *, line: int | None = None, field: str | None = None
    ) -> None:
        where = path if line is None else f"{path}:{line}"
        at = f" (at {field})" if field else ""
        super().__init__(f"{where}: {problem}{at}", field=field)
        self.path = path
        self.line = line
        self.problem = problem


class PromptVariableError(ValidationError):
    """``{{variables}}`` are missing (placeholders without a value) or unknown (values no
    template uses); ``missing`` and ``unknown`` name them."""

    def __init__(
        self, message: str, *, missing: Sequence[str] = (), unknown: Sequence[str] = ()
    ) -> None:
        names = [*missing, *unknown]
        super().__init__(message, field=names[0] if names else None)
        self.missing = list(missing)
        self.unknown = list(unknown)


class MissingExtraError(ConfigurationError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""
