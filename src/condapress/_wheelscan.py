"""One pass over a wheel member's bytes: its digests, the build-prefix strings in it, its tables.

The audit feeds it the members it inflates from a wheel (:mod:`condapress.audit._scan`); the
assemble stage feeds it the bytes it deflates into one, so a press knows what the audit reads
without reading its wheels again. Either way each member is read once, and only the few tables
of a binary the audit needs are kept (:class:`~condapress.formats.Collector`).
"""

from __future__ import annotations

import hashlib
import re
import zipfile
import zlib
from base64 import urlsafe_b64encode
from typing import TYPE_CHECKING

from condapress import formats
from condapress._datapaths import BUILD_PREFIXES
from condapress._distinfo import DATA_PATHS_FILE, PROVENANCE_FILE
from condapress.errors import ArchiveError, TooLargeError
from condapress.model import MemberScan

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import IO

    from condapress.formats import BinaryFormat, Collector

__all__ = [
    "CORRUPT",
    "DIST_INFO_FILES",
    "MAX_DIST_INFO_FILE",
    "MAX_SOURCE",
    "MemberScanner",
    "dist_infos",
    "has_source",
]

#: The largest ``.dist-info`` file read into memory (METADATA, WHEEL, RECORD, the provenance
#: file). A RECORD row takes 100 to 300 bytes, so 64 MiB holds the rows of 200,000 files;
#: torch 2.6's RECORD is 1.3 MiB, its METADATA 30 KiB.
MAX_DIST_INFO_FILE = 64 << 20
#: The ``.dist-info`` files whose text the audit reads.
DIST_INFO_FILES = ("METADATA", "WHEEL", "RECORD", PROVENANCE_FILE, DATA_PATHS_FILE)
#: The largest package ``__init__.py`` (or hook module) kept to look for DLL folders it adds.
MAX_SOURCE = 1 << 20
# zipfile reports a corrupt member as a bad CRC or deflate stream, an unknown compression
# method (NotImplementedError) or encryption (RuntimeError), depending on where it notices.
CORRUPT = (OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError)
#: Strings that only a conda build machine writes: its build root, and the placeholders that
#: conda replaces with the install prefix (neither survives a proper relocation).
_NEEDLES = tuple(prefix.encode() for prefix in BUILD_PREFIXES)
# A string split across two chunks is found in the tail of one plus the next.
_OVERLAP = max(len(needle) for needle in _NEEDLES) - 1
_SOURCES = re.compile(
    r"(?:[^/]+\.data/(?:purelib|platlib)/)?[^/]+/(?:__init__|_condapress_env)\.py"
)


def dist_infos(names: Iterable[str]) -> tuple[str, ...]:
    """The top-level ``.dist-info`` folders among member *names*, sorted."""
    tops = {name.split("/")[0] for name in names if "/" in name}
    return tuple(sorted(top for top in tops if top.endswith(".dist-info")))


def has_source(name: str, size: int) -> bool:
    """Whether member *name* is a package ``__init__.py`` or hook module the audit reads."""
    return size <= MAX_SOURCE and _SOURCES.fullmatch(name) is not None


class MemberScanner:
    """Fed a member's bytes in order, it tells what the audit needs of them (:meth:`finish`)."""

    def __init__(
        self, name: str, size: int, algorithms: Sequence[str], *, seekable: bool = False
    ) -> None:
        """:param size: the member's size as declared (it bounds what a collector keeps).

        :param seekable: the stream :meth:`finish` opens again seeks at no cost (a staged file,
            not a zip member): a binary's tables are read from it, not kept as they stream past.
        """
        self.name, self._declared, self._seekable = name, size, seekable
        self.size = 0
        self._hashers = [(algorithm, hashlib.new(algorithm)) for algorithm in algorithms]
        self._found: set[bytes] = set()
        self._tail = b""
        self._fmt: BinaryFormat | None = None
        self._collector: Collector | None = None
        self.problem: tuple[str, str] | None = None

    def feed(self, chunk: bytes) -> None:
        """Take the next *chunk* of the member."""
        if self.size == 0 and (fmt := formats.for_head(chunk)) is not None:
            collector = fmt.collector(self.name, self._declared, seekable=self._seekable)
            self._fmt, self._collector = fmt, collector
        self.size += len(chunk)
        for _, hasher in self._hashers:
            hasher.update(chunk)
        window = self._tail + chunk
        self._found.update(needle for needle in _NEEDLES if needle in window)
        self._tail = window[-_OVERLAP:]
        if self._collector is not None:
            try:
                self._collector.feed(chunk)
            except TooLargeError as exc:  # hashed to the end all the same
                self.problem, self._collector = ("file-too-large", exc.message), None

    def digest(self, algorithm: str) -> bytes:
        """The raw digest of the bytes fed so far (*algorithm* among those asked for)."""
        return dict(self._hashers)[algorithm].digest()

    def finish(self, reopen: Callable[[], IO[bytes]], source: str | None = None) -> MemberScan:
        """What the member holds; *reopen* gives its bytes again, for a binary's late tables.

        :param source: its text, when :func:`has_source` says the audit reads it.
        :raises CORRUPT: the member cannot be read again (the audit's reader reports it).
        """
        elf, problem = None, self.problem
        try:
            if self._collector is not None:
                elf = self._collector.read(reopen)
        except TooLargeError as exc:
            problem = ("file-too-large", exc.message)
        except ArchiveError as exc:  # "bad-elf", "bad-macho": named after the format that read it
            kind = self._fmt.name.lower().replace("-", "") if self._fmt is not None else "elf"
            problem = (f"bad-{kind}", exc.message)
        digests = tuple((algorithm, _b64(hasher.digest())) for algorithm, hasher in self._hashers)
        prefixes = tuple(
            p for p, n in zip(BUILD_PREFIXES, _NEEDLES, strict=True) if n in self._found
        )
        return MemberScan(self.name, self.size, digests, prefixes, elf, problem, source)


def _b64(digest: bytes) -> str:
    return urlsafe_b64encode(digest).rstrip(b"=").decode()
