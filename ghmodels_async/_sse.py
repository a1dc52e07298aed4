"""Incremental Server-Sent Events decoding: bytes in, ``data`` payloads out.

Pure and synchronous. Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``; a block may end
anywhere (inside a line ending or a UTF-8 character), so the unfinished tail is kept
for the next block. Comment lines (``: keep-alive``) and fields other than ``data``
are ignored; several ``data`` lines of one event are joined with ``\\n``. Payloads stay
bytes: the JSON decoder reads them directly, so UTF-8 is only decoded once, whole.
"""

from __future__ import annotations

from ._errors import ResponseTooLargeError

__all__ = ["SSEDecoder"]


class SSEDecoder:
    """Feed byte blocks with :meth:`feed`; each call returns the events it completed."""

    __slots__ = ("_buffer", "_data", "_max_event_bytes", "_pending_size")

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buffer = b""
        self._data: list[bytes] = []
        self._pending_size = 0
        self._max_event_bytes = max_event_bytes

    def feed(self, block: bytes) -> list[bytes]:
        """Consume ``block``; return the ``data`` payloads of the events it completed."""
        buffer = self._buffer + block if self._buffer else block
        if b"\r" in buffer:
            # A trailing "\r" may be the first half of "\r\n": keep it for the next block.
            keep_cr = buffer.endswith(b"\r")
            if keep_cr:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buffer += b"\r"
        lines = buffer.split(b"\n")
        tail = self._buffer = lines.pop()  # the unfinished last line, maybe empty
        events: list[bytes] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    payload = data[0] if len(data) == 1 else b"\n".join(data)
                    if payload:  # an event whose data is empty is not dispatched
                        events.append(payload)
                    data = self._data = []
                    self._pending_size = 0
            elif line.startswith(b"data:"):
                value = line[6:] if line.startswith(b" ", 5) else line[5:]
                data.append(value)
                self._pending_size += len(value)
                if self._pending_size > self._max_event_bytes:
                    self._check_size(self._pending_size)
            # Comments (":...") and other fields (event, id, retry) are ignored.
        if self._pending_size + len(tail) > self._max_event_bytes:
            self._check_size(self._pending_size + _tail_size(tail))
        return events

    def flush(self) -> list[bytes]:
        """End of input: return a last event that lacked its blank line, if any."""
        leftover = self._buffer.rstrip(b"\r")
        self._buffer = b""  # feed() prepends the buffer: clear it so the tail is read once
        return self.feed(leftover + b"\n\n") if leftover or self._data else []

    def _check_size(self, size: int) -> None:
        if size > self._max_event_bytes:
            raise ResponseTooLargeError(
                f"a single SSE event exceeds max_event_bytes={self._max_event_bytes}"
            )


def _tail_size(tail: bytes) -> int:
    """The size an unfinished line adds to the event: its value, for a ``data`` line."""
    if tail[:5] == b"data:":
        return len(tail) - (6 if tail[5:6] == b" " else 5)
    return len(tail)
