"""Read every member of a wheel once, streaming, within limits that no real wheel comes near.

Each member is decompressed once: the same chunks feed its RECORD hashes, the search for
build-prefix strings and, for ELF files only, an :class:`~condapress.formats.Collector`
that keeps the few tables the audit reads. Nothing is written to disk. A wheel is untrusted input:
its size bounds the work (:func:`~condapress._limits.unpack_limit`), and the files read into
memory
have caps of their own (:data:`MAX_MEMBERS`, :data:`MAX_DIST_INFO_FILE`,
:data:`~condapress.formats.elf._stream.MAX_ELF_TABLES`).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import re
import zipfile
import zlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from typing import TYPE_CHECKING

from condapress import formats
from condapress._datapaths import BUILD_PREFIXES
from condapress._distinfo import DATA_PATHS_FILE, PROVENANCE_FILE
from condapress._limits import CHUNK, unpack_limit
from condapress.errors import ArchiveError, TooLargeError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from condapress.formats import BinaryFormat, Collector
    from condapress.model import BinaryFacts

__all__ = [
    "MAX_DIST_INFO_FILE",
    "MAX_MEMBERS",
    "MAX_SOURCE",
    "Member",
    "WheelScan",
    "read_wheel",
    "record_rows",
]

#: The most members a wheel may have. The largest wheels on PyPI hold some ten thousand files
#: (torch 2.6: 11,402); each member costs the audit about 1.5 KiB of memory and 0.1 ms.
MAX_MEMBERS = 200_000
#: The largest ``.dist-info`` file read into memory (METADATA, WHEEL, RECORD, the provenance
#: file). A RECORD row takes 100 to 300 bytes, so 64 MiB holds the rows of MAX_MEMBERS files;
#: torch 2.6's RECORD is 1.3 MiB, its METADATA 30 KiB.
MAX_DIST_INFO_FILE = 64 << 20
#: Strings that only a conda build machine writes: its build root, and the placeholders that
#: conda replaces with the install prefix (neither survives a proper relocation).
_NEEDLES = tuple(prefix.encode() for prefix in BUILD_PREFIXES)
# A string split across two chunks is found in the tail of one plus the next.
_OVERLAP = max(len(needle) for needle in _NEEDLES) - 1
_DIST_INFO_FILES = ("METADATA", "WHEEL", "RECORD", PROVENANCE_FILE, DATA_PATHS_FILE)
# zipfile reports a corrupt member as a bad CRC or deflate stream, an unknown compression
# method (NotImplementedError) or encryption (RuntimeError), depending on where it notices.
_CORRUPT = (OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError)
# The binary-format wheel spec asks for sha256 or a stronger hash of hashlib.algorithms_guaranteed.
_STRONG_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
_UNSAFE_WHEEL = "do not install this wheel: no real wheel is made like this"
#: The largest package ``__init__.py`` (or hook module) kept to look for DLL folders it adds.
MAX_SOURCE = 1 << 20
_SOURCES = re.compile(
    r"(?:[^/]+\.data/(?:purelib|platlib)/)?[^/]+/(?:__init__|_condapress_env)\.py"
)


@dataclass(frozen=True, slots=True)
class Member:
    """What one pass over an archive member found."""

    #: its name in the archive.
    name: str
    #: how many bytes it unpacked to.
    size: int
    #: ``(algorithm, urlsafe base64 digest without padding)`` for every algorithm RECORD uses.
    digests: tuple[tuple[str, str], ...]
    #: the build-prefix strings it contains.
    prefixes: tuple[str, ...]
    #: what it says about linking, when it is a binary condapress reads.
    elf: BinaryFacts | None
    #: ``(finding code, message)``: it could not be read, or is a broken or oversized ELF file.
    problem: tuple[str, str] | None
    #: the text of a top-level package's ``__init__.py`` or import hook module (where a
    #: Windows wheel adds its DLL folders), up to MAX_SOURCE bytes.
    source: str | None = None


@dataclass(frozen=True, slots=True)
class WheelScan:
    """Every member of a wheel and the texts of its ``.dist-info`` files."""

    #: the wheel's file name.
    filename: str
    #: every member that is not a folder, in the archive's order.
    members: tuple[Member, ...]
    #: the top-level ``.dist-info`` folders (a valid wheel has exactly one).
    dist_infos: tuple[str, ...]
    #: ``(file name, text)`` of METADATA, WHEEL, RECORD and the provenance file, when present.
    texts: tuple[tuple[str, str], ...]
    #: ``(file name, size)`` of those larger than MAX_DIST_INFO_FILE, left unread.
    too_large: tuple[tuple[str, int], ...] = ()

    def text(self, leaf: str) -> str | None:
        """The text of ``<dist-info>/<leaf>``, or None."""
        return dict(self.texts).get(leaf)


def read_wheel(path: Path) -> WheelScan:
    """Scan every member of the wheel at *path* once, keeping only the ELF tables in memory.

    :raises ArchiveError: *path* cannot be opened as a zip archive.
    :raises TooLargeError: it has more than MAX_MEMBERS members, or they unpack to more than
        :func:`~condapress._limits.unpack_limit` allows for its size (a decompression bomb).
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(
            f"cannot audit {path.name}: it is not a readable zip archive ({exc})",
            hint="download or press the wheel again; a wheel is a zip file",
            path=str(path),
        ) from exc
    with zf:
        infos = [info for info in zf.infolist() if not info.is_dir()]
        _check_bounds(path, infos)
        names = {info.filename for info in infos}
        tops = {name.split("/")[0] for name in names if "/" in name}
        dist_infos = sorted(top for top in tops if top.endswith(".dist-info"))
        texts: list[tuple[str, str]] = []
        too_large: list[tuple[str, int]] = []
        if len(dist_infos) == 1:
            for leaf in _DIST_INFO_FILES:
                with contextlib.suppress(*_CORRUPT, KeyError):
                    # zipfile stops at the declared size (and then fails its CRC check).
                    size = zf.getinfo(f"{dist_infos[0]}/{leaf}").file_size
                    if size > MAX_DIST_INFO_FILE:
                        too_large.append((leaf, size))
                    else:
                        data = zf.read(f"{dist_infos[0]}/{leaf}")
                        texts.append((leaf, data.decode("utf-8", "replace")))
        record = dict(texts).get("RECORD", "")
        used = {row[1].partition("=")[0] for row in record_rows(record)[0]}
        algorithms = sorted({"sha256"} | (used & _STRONG_HASHES))
        members = tuple(_scan_member(zf, info, algorithms) for info in infos)
    return WheelScan(path.name, members, tuple(dist_infos), tuple(texts), tuple(too_large))


def _check_bounds(path: Path, infos: Sequence[zipfile.ZipInfo]) -> None:
    """Refuse a wheel with too many members, or whose members unpack to too many bytes.

    zipfile yields no more than a member's declared size, so the declared sizes bound the work.
    """
    if len(infos) > MAX_MEMBERS:
        message = (
            f"cannot audit {path.name}: it has {len(infos):,} members, more than the "
            f"{MAX_MEMBERS:,} condapress reads"
        )
        raise TooLargeError(message, hint=_UNSAFE_WHEEL, path=str(path))
    declared = sum(info.file_size for info in infos)
    size = path.stat().st_size
    if declared > unpack_limit(size):
        message = (
            f"cannot audit {path.name}: it is a decompression bomb: its members unpack to "
            f"{declared:,} bytes, more than the {unpack_limit(size):,} allowed for a wheel of "
            f"{size:,} bytes"
        )
        raise TooLargeError(message, hint=_UNSAFE_WHEEL, path=str(path))


def _scan_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, algorithms: Sequence[str]) -> Member:
    name = info.filename
    hashers = [(algorithm, hashlib.new(algorithm)) for algorithm in algorithms]
    found: set[bytes] = set()
    tail, size = b"", 0
    collector: Collector | None = None
    fmt: BinaryFormat | None = None
    elf: BinaryFacts | None = None
    problem: tuple[str, str] | None = None
    try:
        with zf.open(info) as src:
            while chunk := src.read(CHUNK):
                if size == 0 and (fmt := formats.for_head(chunk)) is not None:
                    collector = fmt.collector(name, info.file_size)
                size += len(chunk)
                for _, hasher in hashers:
                    hasher.update(chunk)
                window = tail + chunk
                found.update(needle for needle in _NEEDLES if needle in window)
                tail = window[-_OVERLAP:]
                if collector is not None:
                    try:
                        collector.feed(chunk)
                    except TooLargeError as exc:  # hashed to the end all the same
                        problem, collector = ("file-too-large", exc.message), None
        if collector is not None:
            elf = collector.read(lambda: zf.open(info))
    except TooLargeError as exc:
        problem = ("file-too-large", exc.message)
    except ArchiveError as exc:  # "bad-elf", "bad-macho": named after the format that read it
        kind = fmt.name.lower().replace("-", "") if fmt is not None else "elf"
        problem = (f"bad-{kind}", exc.message)
    except _CORRUPT as exc:
        message = f"{name} cannot be read from the archive: {exc}"
        return Member(name, size, (), (), None, ("unreadable-member", message))
    digests = tuple((algorithm, _b64(hasher.digest())) for algorithm, hasher in hashers)
    prefixes = tuple(p for p, n in zip(BUILD_PREFIXES, _NEEDLES, strict=True) if n in found)
    return Member(name, size, digests, prefixes, elf, problem, _source(zf, info))


def _source(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    """The text of a package's ``__init__.py`` or hook module (read again: it is small)."""
    if info.file_size > MAX_SOURCE or not _SOURCES.fullmatch(info.filename):
        return None
    return zf.read(info).decode("utf-8", "replace")


def _b64(digest: bytes) -> str:
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def record_rows(text: str) -> tuple[list[list[str]], list[int]]:
    """The ``path,hash,size`` rows of RECORD, and the line numbers of malformed rows."""
    rows: list[list[str]] = []
    malformed: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if len(row) == 3:  # noqa: PLR2004
                rows.append(row)
            elif any(row):
                malformed.append(reader.line_num)
    except csv.Error:  # an unterminated quote: the rest of the file is one bad row
        malformed.append(reader.line_num)
    return rows, malformed
