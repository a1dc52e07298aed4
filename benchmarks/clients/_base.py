"""What every adapter implements; the worker drives only this interface."""

from __future__ import annotations

import abc
from typing import ClassVar

PATIENT_S = 3600.0


class Adapter(abc.ABC):
    """One client library, set up once, making the benchmark's one request.

    ``chat()`` returns the number of characters of the answer's content and
    ``stream()`` returns (content characters, usage.completion_tokens), read through
    the library's public objects, so that a lazily decoding client cannot skip work.
    The floor adapter (``floor = True``) parses nothing: ``chat()`` returns the body
    length and ``stream()`` returns (events, bytes).
    """

    floor: ClassVar[bool] = False

    def __init__(self) -> None:
        #: remarks the worker reports with the figures (e.g. a limit it could not set)
        self.notes: list[str] = []

    @abc.abstractmethod
    async def open(
        self, origin: str, flags: str, max_connections: int, patient: bool = False
    ) -> None:
        """Set up the client for the server at ``origin`` (``http://127.0.0.1:PORT``).

        ``flags`` is a path prefix of canned-server flags (``""`` or ``"/_delay1500"``)
        to put before the client's own API path; ``max_connections`` is the connection
        limit to configure (``0`` is never passed). ``patient`` asks for connect and
        read timeouts of at least ``PATIENT_S`` (the in-flight test starves the event
        loop on purpose; it measures memory, not timeouts).
        """

    @abc.abstractmethod
    async def chat(self) -> int: ...

    @abc.abstractmethod
    async def stream(self) -> tuple[int, int]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...
