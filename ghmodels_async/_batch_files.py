"""The files of a batch: streamed input lines, the append-only output, and resume.

The output file is the batch's only state. Each answer is one JSON line written with a
single ``os.write`` on an ``O_APPEND`` descriptor (no user-space buffer, so nothing
written can be lost by Ctrl-C, SIGTERM or a crash, and an interrupt between Python
bytecodes never splits a line). A line torn by a crash mid-``write`` is cut off by
:func:`repair_torn_tail` on the next run. The ids already answered are read back
into an :class:`IdSet`: 16 bytes per id, so resuming a million-line batch costs 16 MB.
"""

from __future__ import annotations

import hashlib
import os
from array import array
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec

__all__ = [
    "IdSet",
    "LineWriter",
    "OutputKey",
    "count_lines",
    "first_unreadable_line",
    "id_hash",
    "read_lines",
    "repair_torn_tail",
    "scan_output",
]

_BLOCK = 1 << 20


def id_hash(custom_id: str | None, line: int) -> int:
    """A 64-bit hash of a line's id: its ``custom_id``, or its line number when none."""
    key = b"c" + custom_id.encode("utf-8", "surrogatepass") if custom_id is not None else (
        b"l%d" % line
    )
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


class IdSet:
    """A compact set of 64-bit id hashes: open addressing in one ``array('Q')``.

    A Python ``set`` of a million strings takes about 100 MB; this takes 16 MB (two
    slots per id, 8 bytes each) and builds without any per-id Python object. Two ids
    sharing a 64-bit hash (odds about 1 in 37 million for 10^6 ids) would make the
    second one look done: the price of flat memory, documented in docs/fanout.md.
    """

    def __init__(self, values: Iterable[int] = ()) -> None:
        self._slots = array("Q", bytes(8 * 16))
        self._mask = 15
        self._count = 0
        for value in values:
            self.add(value)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[int]:
        return (value for value in self._slots if value)

    def add(self, value: int) -> None:
        """Add one 64-bit hash (0 is stored as 1: 0 marks an empty slot)."""
        value = value or 1
        if 2 * (self._count + 1) > len(self._slots):
            self._grow()
        slots, mask = self._slots, self._mask
        index = value & mask
        while True:
            found = slots[index]
            if found == value:
                return
            if not found:
                slots[index] = value
                self._count += 1
                return
            index = (index + 1) & mask

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int) or not self._count:
            return False
        value = value or 1
        slots, mask = self._slots, self._mask
        index = value & mask
        while True:
            found = slots[index]
            if found == value:
                return True
            if not found:
                return False
            index = (index + 1) & mask

    def _grow(self) -> None:
        old = self._slots
        self._slots = array("Q", bytes(16 * len(old)))
        self._mask = len(self._slots) - 1
        self._count = 0
        for value in old:
            if value:
                self.add(value)


class OutputKey(msgspec.Struct):
    """The fields of an output line that resume needs (the rest is skipped unread)."""

    line: int
    custom_id: str | None = None
    error: msgspec.Raw = msgspec.Raw(b"null")  # kept as bytes: never decoded


_key_decoder = msgspec.json.Decoder(OutputKey)


def repair_torn_tail(path: Path) -> int:
    """Cut a last line left without its newline by a crash; return the bytes removed."""
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        return 0
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return 0
        end = size
        keep = 0
        while end > 0:
            start = max(0, end - _BLOCK)
            handle.seek(start)
            newline = handle.read(end - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        handle.truncate(keep)
        handle.flush()
        os.fsync(handle.fileno())
        return size - keep


def scan_output(path: Path) -> tuple[IdSet, IdSet, int]:
    """Read an existing output file: (ids answered, ids only failed, unreadable lines)."""
    done, failed = IdSet(), IdSet()
    unreadable = 0
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return done, failed, 0
    with handle:
        for raw in handle:
            if not raw.strip():
                continue
            try:
                key = _key_decoder.decode(raw)
            except (msgspec.MsgspecError, UnicodeDecodeError):  # not UTF-8: UnicodeDecodeError
                unreadable += 1
                continue
            (failed if bytes(key.error) != b"null" else done).add(id_hash(key.custom_id, key.line))
    only_failed = IdSet(value for value in failed if value not in done)
    return done, only_failed, unreadable


def first_unreadable_line(path: Path) -> int | None:
    """The number of the first non-blank line of ``path`` that is no answer line."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                _key_decoder.decode(raw)
            except (msgspec.MsgspecError, UnicodeDecodeError):
                return number
    return None


def count_lines(path: Path) -> int:
    """Lines in a file (a last line without a newline counts), read in 1 MB blocks."""
    count = 0
    last = b"\n"
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number from 1, bytes) for every line of ``path``, read lazily."""
    with path.open("rb") as handle:
        yield from enumerate(handle, start=1)


class LineWriter:
    """Appends whole lines to a file: one ``os.write`` per line, no buffer to lose."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, line: bytes) -> None:
        """Append ``line`` (which ends with a newline)."""
        view = memoryview(line)
        while view:  # a regular file takes it in one go; loop only on a short write
            written = os.write(self._fd, view)
            view = view[written:]

    def close(self) -> None:
        """Flush the file to disk and close it."""
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
