"""Incremental Server-Sent Events decoding: bytes in, ``data`` payloads out.

Pure and synchronous. Lines may end in ``\\n``, ``\\r\\n`` or ``\\r``; a block may end
anywhere (inside a line ending or a UTF-8 character), so the unfinished tail is kept
for the next block. Comment lines (``: keep-alive``) and fields other than ``data``
are ignored; several ``data`` lines of one event are joined with ``\\n``. Payloads stay
bytes: the JSON decoder reads them directly, so UTF-8 is only decoded once, whole.

A leading UTF-8 byte order mark is ignored. ``max_event_bytes`` bounds what one event
accumulates, each ``data`` line counting its value plus the line break joining it to
the previous one, so a flood of empty ``data:`` lines is bounded too. At the end of
input an event not finished by a blank line is discarded, never dispatched.
"""

from __future__ import annotations

from ._errors import ResponseTooLargeError

__all__ = ["SSEDecoder"]

_BOM = b"\xef\xbb\xbf"


class SSEDecoder:
    """Feed byte blocks with :meth:`feed`; each call returns the events it completed."""

    __slots__ = ("_buffer", "_data", "_max_event_bytes", "_pending_size", "_started")

    def __init__(self, max_event_bytes: int = 16 * 1024 * 1024) -> None:
        self._buffer = b""
        self._started = False
        self._data: list[bytes] = []
        self._pending_size = 0
        self._max_event_bytes = max_event_bytes

    def feed(self, block: bytes) -> list[bytes]:
        """Consume ``block``; return the ``data`` payloads of the events it completed."""
        buffer = self._buffer + block if self._buffer else block
        if not self._started:
            if len(buffer) < len(_BOM) and _BOM.startswith(buffer):
                self._buffer = buffer  # maybe the first bytes of a BOM: wait for more
                return []
            self._started = True
            if buffer.startswith(_BOM):
                buffer = buffer[len(_BOM) :]
        if b"\r" in buffer:
            # A trailing "\r" may be the first half of "\r\n": keep it for the next block.
            keep_cr = buffer.endswith(b"\r")
            if keep_cr:
                buffer = buffer[:-1]
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buffer += b"\r"
        events: list[bytes] = []
        if not self._data:
            # The fast path, with no event under way: each complete event that is a
            # single "data: " line is taken whole (one split for the block, no per-line
            # work); from the first event of another shape on (comments, other fields,
            # several lines), the rest goes through the line-by-line path below.
            parts = buffer.split(b"\n\n")
            buffer = parts.pop()  # the event not finished yet, if any
            limit = self._max_event_bytes
            for part in parts:
                if part.startswith(b"data: ") and b"\n" not in part:
                    payload = part[6:]
                    if payload:  # an event whose data is empty is not dispatched
                        if len(payload) > limit:
                            self._check_size(len(payload))
                        events.append(payload)
                else:  # (an equal earlier part would have stopped here already)
                    parts.append(buffer)
                    buffer = b"\n\n".join(parts[parts.index(part) :])
                    break
            if not buffer:  # the block ended with an event's blank line
                self._buffer = b""
                return events
        lines = buffer.split(b"\n")
        tail = self._buffer = lines.pop()  # the unfinished last line, maybe empty
        if lines:
            self._lines(lines, events)
        if self._pending_size + len(tail) > self._max_event_bytes:
            self._check_size(self._pending_size + _tail_size(tail))
        return events

    def _lines(self, lines: list[bytes], events: list[bytes]) -> None:
        """Process complete lines one by one (SSE rules), appending finished events."""
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
                if data:
                    self._pending_size += 1  # the "\n" that will join it to the previous line
                data.append(value)
                self._pending_size += len(value)
                if self._pending_size > self._max_event_bytes:
                    self._check_size(self._pending_size)
            # Comments (":...") and other fields (event, id, retry) are ignored.

    def flush(self) -> list[bytes]:
        """End of input: return the events a held-back final ``\\r`` completes; an
        unfinished line or an event without its blank line is discarded (SSE rules)."""
        events = self.feed(b"\n") if self._buffer.endswith(b"\r") else []
        self._buffer = b""
        self._data = []
        self._pending_size = 0
        return events

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
