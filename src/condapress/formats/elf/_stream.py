"""Read an ELF file's dynamic linking facts from a stream that only goes forward, in bounded memory.

A zip member can only be decompressed from its start, so :class:`ElfCollector` keeps, of the
chunks that stream past, only the bytes :func:`~condapress.formats.elf._read.parse_elf` reads:
the headers and
the tables of the dynamic linker (``.dynamic``, ``.dynsym``, ``.dynstr``, ``.gnu.version_r``).
pyelftools itself says which bytes those are: it parses a view of the file in
which the bytes not held yet read as zeros, and every range it read that way is wanted. The ELF
header says where the other headers are, and they say where the tables are, so most of them are
kept as they stream past; tables that lie before the section headers (usually ``.dynsym``) are
fetched by streaming the file again from its start, only as far as the last byte still wanted.
"""

from __future__ import annotations

import bisect
from collections import deque
from typing import IO, TYPE_CHECKING, BinaryIO, cast

from elftools.common.exceptions import ELFError
from elftools.construct.core import ConstructError
from elftools.elf.elffile import ELFFile

from condapress.errors import ArchiveError, BinaryError, TooLargeError
from condapress.formats.elf._read import headers, parse_elf, tables_too_large

if TYPE_CHECKING:
    from collections.abc import Callable

    from condapress.model import BinaryFacts

__all__ = ["MAX_ELF_TABLES", "ElfCollector"]

#: The most bytes of one ELF file kept in memory: its headers and the dynamic linker's tables.
#: Those of the largest libraries on PyPI take about 12 MiB (torch 2.6's libtorch_cuda.so, a
#: 900 MB file: ``.dynstr`` 11 MiB, ``.dynsym`` 1.2 MiB); a file whose tables claim more is
#: refused without reading them.
MAX_ELF_TABLES = 256 << 20
_CHUNK = 1 << 20
# Files up to this size are kept whole: most libraries and extension modules of a wheel are,
# and one parse of the whole costs less than the few parses that find the tables in a large one.
_WHOLE = 4 << 20
# Passes over the file before giving up: the first, one for the tables before the section
# headers, and two more for files whose tables point into each other in unusual ways.
_PASSES = 4
# Parses of what is held while the file streams past, at most; more wait for the end of the pass.
_PLANS = 32
# pyelftools reads a string in chunks of 64 bytes: one near the end of a table reads past it.
_STRING_CHUNK = 64
# What is wanted around a byte outside the tables the section headers describe.
_UNKNOWN_SPAN = 4096
# Read whole as soon as any byte of them is needed: pyelftools walks them entry by entry.
_TABLES = frozenset(
    {"SHT_STRTAB", "SHT_DYNAMIC", "SHT_DYNSYM", "SHT_GNU_verneed", "SHT_GNU_HASH", "SHT_HASH"}
)
_SEGMENTS = frozenset({"PT_DYNAMIC", "PT_INTERP"})


class _Held:
    """Disjoint ranges of a file and their bytes, by start offset."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.data: list[bytes] = []

    def get(self, start: int, end: int) -> bytes | None:
        """Bytes ``[start, end)``, if held (across adjacent ranges if need be)."""
        pieces = []
        index = bisect.bisect_right(self.starts, start) - 1
        at = start
        while at < end:
            if not 0 <= index < len(self.starts):
                return None
            offset, data = self.starts[index], self.data[index]
            if not offset <= at < offset + len(data):
                return None
            pieces.append(data[at - offset : end - offset])
            at += len(pieces[-1])
            index += 1
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def part(self, at: int) -> tuple[int, bytes] | None:
        """The held range that holds byte *at*, with its start."""
        index = bisect.bisect_right(self.starts, at) - 1
        if index >= 0 and at < self.starts[index] + len(self.data[index]):
            return self.starts[index], self.data[index]
        return None

    def add(self, start: int, data: bytes) -> None:
        index = bisect.bisect_left(self.starts, start)
        self.starts.insert(index, start)
        self.data.insert(index, data)

    def ranges(self) -> list[tuple[int, int]]:
        return [(s, s + len(d)) for s, d in zip(self.starts, self.data, strict=True)]


class _TooLargeReadError(Exception):
    """pyelftools asked for more bytes at once than an ELF file may have read."""


class _View:
    """The file as far as it is held, for pyelftools: bytes not held read as zeros, and are noted.

    A dry run of the parser on it then tells which bytes the parser needs.
    """

    def __init__(self, held: _Held, size: int, limit: int) -> None:
        self.held = held
        self.size = size
        self.limit = limit
        self.pos = 0
        #: the ranges read that are not held (consecutive reads joined).
        self.missing: list[tuple[int, int]] = []
        # pyelftools reads field by field: most reads fall in the range the previous one did.
        self._last = (0, b"")

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset + (self.pos if whence == 1 else self.size if whence == 2 else 0)  # noqa: PLR2004
        return self.pos

    def tell(self) -> int:
        return self.pos

    def read(self, n: int = -1) -> bytes:
        start = self.pos
        end = self.size if n < 0 else min(self.size, start + n)
        if end <= start:
            return b""
        self.pos = end
        offset, data = self._last
        if not offset <= start < end <= offset + len(data):
            part = self.held.part(start)
            if part is None or end > part[0] + len(part[1]):
                found = self.held.get(start, end)  # across adjacent ranges, or not held
                if found is not None:
                    return found
                return self._missing(start, end)
            self._last = offset, data = part
        return data[start - offset : end - offset]

    def _missing(self, start: int, end: int) -> bytes:
        if end - start > self.limit:
            raise _TooLargeReadError
        if self.missing and self.missing[-1][1] == start:
            self.missing[-1] = (self.missing[-1][0], end)
        else:
            self.missing.append((start, end))
        return bytes(end - start)


class ElfCollector:
    """Gathers the bytes of one ELF file that :func:`parse_elf` needs, as the file streams past.

    Feed the file's chunks in order with :meth:`feed`, then call :meth:`read`.

    :param name: the file's name in messages.
    :param size: its size in bytes.
    :param limit: the most bytes kept (:data:`MAX_ELF_TABLES`). A dry run may read as many zeros
        again, and the final parse copies what it reads: memory peaks below three times *limit*.
    :param whole: a file up to this size is kept whole and parsed once.
    :param seekable: the file opened again seeks at no cost (a file on disk, as a press writes
        it into a wheel): nothing is kept, and :meth:`read` parses the file opened again, once,
        instead of finding out in dry runs which bytes to keep. The same facts and errors; the
        limit then counts the tables alone, without the headers.
    """

    def __init__(
        self,
        name: str,
        size: int,
        limit: int = MAX_ELF_TABLES,
        whole: int = _WHOLE,
        *,
        seekable: bool = False,
    ) -> None:
        self.name = name
        self.size = size
        self.limit = limit
        self._seekable = seekable
        self._held = _Held()
        #: disjoint ranges wanted and not held, with the bytes of each streamed past in this pass.
        self._pending: dict[tuple[int, int], bytearray] = {}
        #: the last chunks streamed past: a range found wanted just after it went by is still here.
        self._window: deque[tuple[int, bytes]] = deque(maxlen=2)
        self._pos = 0
        self._plans = 0
        #: how many times the file was streamed: 1, then one more for tables passed unknown.
        self.passes = 1
        self._outcome: BinaryFacts | ArchiveError | None = None
        # A small file is kept whole and parsed once; of a large one, the ELF header comes first.
        if not seekable:
            self._want(0, size if size <= min(whole, limit) else 64)

    def feed(self, chunk: bytes) -> None:
        """Take the next *chunk* of the file."""
        if self._seekable:
            return
        self._window.append((self._pos, chunk))
        self._pos += len(chunk)
        # Each range held may say where the next is; most lie further on, often in this chunk.
        while self._fill() and self._outcome is None and self._plans < _PLANS:
            self._plan()

    def read(self, reopen: Callable[[], IO[bytes]]) -> BinaryFacts:
        """The facts, once the whole file has been fed.

        :param reopen: opens the file again at its start, for the tables that streamed past
            before they were known to be wanted.
        :raises ArchiveError: the file is not a valid ELF file.
        :raises TooLargeError: its tables claim more than *limit* bytes.
        """
        if self._seekable:
            with reopen() as stream:
                source = cast("BinaryIO", stream)
                return parse_elf(source, self.size, self.name, self.name, limit=self.limit)
        while self._outcome is None and self._plan():
            if self.passes == _PASSES:
                reason = f"its headers still point at unread bytes after {_PASSES} passes over it"
                raise BinaryError(self.name, reason, path=self.name)
            self._again(reopen)
        if isinstance(self._outcome, ArchiveError):
            raise self._outcome
        assert self._outcome is not None  # noqa: S101 - the loop ends on an outcome
        return self._outcome

    @property
    def kept(self) -> int:
        """How many bytes of the file are held or wanted: what reading it costs in memory."""
        return sum(len(data) for data in self._held.data) + sum(e - s for s, e in self._pending)

    def _fill(self) -> bool:
        """Copy what the window holds of the pending ranges; whether any is now complete."""
        complete = False
        for (start, end), got in list(self._pending.items()):
            for offset, chunk in self._window:
                at = start + len(got)
                if offset <= at < offset + len(chunk):
                    got.extend(chunk[at - offset : min(end, offset + len(chunk)) - offset])
            if start + len(got) == end:
                del self._pending[start, end]
                self._held.add(start, bytes(got))
                complete = True
        return complete

    def _plan(self) -> bool:
        """Parse what is held; want what the parse lacked. False once the outcome is known."""
        self._plans += 1
        view = _View(self._held, self.size, self.limit)
        outcome: BinaryFacts | ArchiveError | None = None
        try:
            # The symbols are looked at only in the last parse, once everything is held.
            if sum(map(len, self._held.data)) < self.size:
                stream = cast("BinaryIO", view)
                parse_elf(stream, self.size, self.name, self.name, scan_symbols=False)
            if not view.missing:
                view = _View(self._held, self.size, self.limit)
                outcome = parse_elf(cast("BinaryIO", view), self.size, self.name, self.name)
        except ArchiveError as exc:
            outcome = exc
        except _TooLargeReadError:
            raise self._too_large() from None
        except Exception:  # zeros stand in for the bytes not held: pyelftools may trip anywhere
            if not view.missing:
                raise
            outcome = None
        if not view.missing:
            self._outcome = outcome
            return False
        spans = _spans(_View(self._held, self.size, self.limit))
        for start, end in _merged(view.missing):
            around = [(s, e) for s, e in spans if s <= start < e]
            span = min(around, key=lambda r: r[1] - r[0], default=None)
            if span is None:  # e.g. strings read through the dynamic segment, 64 bytes a time
                self._want(start, min(self.size, max(end, start + _UNKNOWN_SPAN)))
            else:
                self._want(min(start, span[0]), min(self.size, max(end, span[1] + _STRING_CHUNK)))
        return True

    def _want(self, start: int, end: int) -> None:
        """Want the bytes of ``[start, end)`` that are neither held nor wanted yet."""
        at = start
        for s, e in sorted([*self._held.ranges(), *self._pending]):
            if s > at and at < end:
                self._pending[at, min(s, end)] = bytearray()
            at = max(at, e)
        if at < end:
            self._pending[at, end] = bytearray()
        if self.kept > self.limit:
            raise self._too_large()

    def _again(self, reopen: Callable[[], IO[bytes]]) -> None:
        """Stream the file again from its start, as far as the last byte still wanted."""
        self.passes += 1
        self._pending = {key: bytearray() for key in self._pending}
        self._window.clear()
        self._pos = 0
        with reopen() as stream:
            while any(start + len(got) >= self._pos for (start, _), got in self._pending.items()):
                chunk = stream.read(_CHUNK)
                if not chunk:
                    break
                self.feed(chunk)

    def _too_large(self) -> TooLargeError:
        return tables_too_large(self.name, self.limit)


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """*ranges* sorted, those that touch joined."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _spans(view: _View) -> list[tuple[int, int]]:
    """Where the tables that pyelftools walks entry by entry are, as far as the headers are held."""
    spans: list[tuple[int, int]] = []
    try:
        elf = ELFFile(cast("BinaryIO", view))
        spans += [
            (header["sh_offset"], header["sh_offset"] + header["sh_size"])
            for header in headers(elf, "section")
            if header["sh_type"] in _TABLES
        ]
        spans += [
            (header["p_offset"], header["p_offset"] + header["p_filesz"])
            for header in headers(elf, "segment")
            if header["p_type"] in _SEGMENTS
        ]
    except (ELFError, ConstructError, ValueError, _TooLargeReadError):
        pass  # headers not held yet, or broken: the parse itself says what is wrong
    return spans
