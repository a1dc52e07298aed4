"""Keeping the configured secret out of every error the library raises.

A hostile or careless server can echo the token (``Bad credentials: Bearer ...``) and
aiohttp's own exceptions carry the request headers. :class:`Redactor` replaces the
secret in an error's texts, body and headers, and drops the exception chain
(``__cause__``/``__context__``), so no attribute path of a raised error reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["REDACTED", "Redactor"]

REDACTED = "<redacted>"
# Real tokens and keys are dozens of characters; a test token like "t" is not redacted,
# which would garble every message that contains the letter.
MIN_SECRET_LENGTH = 6


def _json_escaped(secret: str) -> str | None:
    """How a JSON writer that escapes ``/`` may spell ``secret``, if differently."""
    escaped = secret.replace("\\", "\\\\").replace('"', '\\"').replace("/", "\\/")
    return escaped if escaped != secret else None


class Redactor:
    """Replaces the configured secrets (token, API key) in texts and in errors."""

    __slots__ = ("_secrets",)

    def __init__(self, *secrets: str | None) -> None:
        kept = [s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH]
        # a JSON body may echo a secret escaped ("\/" for "/", "\"" and "\\")
        escaped = [_json_escaped(s) for s in kept]
        self._secrets = tuple(dict.fromkeys([*kept, *(e for e in escaped if e)]))

    def text(self, value: str) -> str:
        """``value`` with every secret replaced by ``<redacted>``."""
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value

    def data(self, value: bytes) -> bytes:
        """``value`` (a raw body) with every secret's UTF-8 bytes replaced."""
        for secret in self._secrets:
            raw = secret.encode()
            if raw in value:
                value = value.replace(raw, REDACTED.encode())
        return value

    def scrub(self, error: BaseException) -> BaseException:
        """Make ``error`` safe to show: drop its chain and redact its texts. Returns it."""
        error.__cause__ = None
        error.__context__ = None
        error.__suppress_context__ = True
        if not self._secrets:
            return error
        error.args = tuple(self._any(arg) for arg in error.args)
        fields = getattr(error, "__dict__", {})
        for name, value in list(fields.items()):
            fields[name] = self._any(value)
        return error

    def _any(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, bytes):
            return self.data(value)
        if isinstance(value, Mapping):
            return {self._any(k): self._any(v) for k, v in value.items()}
        if type(value) is list:
            return [self._any(v) for v in value]
        if type(value) is tuple:
            return tuple(self._any(v) for v in value)
        return value
