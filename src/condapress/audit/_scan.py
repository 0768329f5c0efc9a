"""Read every member of a wheel once, streaming, within limits that no real wheel comes near.

Each member is decompressed once: the same chunks feed its RECORD hashes, the search for
build-prefix strings and, for binaries, a :class:`~condapress.formats.Collector` that keeps the
few tables the audit reads (:class:`condapress._wheelscan.MemberScanner`, which the assemble
stage feeds too). Nothing is written to disk. A wheel is untrusted input: its size bounds the
work (:func:`~condapress._limits.unpack_limit`), and the files read into memory have caps of
their own (:data:`MAX_MEMBERS`, :data:`MAX_DIST_INFO_FILE`,
:data:`~condapress.formats.elf._stream.MAX_ELF_TABLES`).
"""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from typing import TYPE_CHECKING

from condapress._limits import CHUNK, unpack_limit
from condapress._wheelscan import (
    CORRUPT,
    DIST_INFO_FILES,
    MAX_DIST_INFO_FILE,
    MAX_SOURCE,
    MemberScanner,
    dist_infos,
    has_source,
)
from condapress.errors import ArchiveError, TooLargeError, printable
from condapress.model import MemberScan as Member
from condapress.model import WheelScan

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

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
# The binary-format wheel spec asks for sha256 or a stronger hash of hashlib.algorithms_guaranteed.
_STRONG_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
_UNSAFE_WHEEL = "do not install this wheel: no real wheel is made like this"


def read_wheel(path: Path) -> WheelScan:
    """Scan every member of the wheel at *path* once, keeping only the ELF tables in memory.

    :raises ArchiveError: *path* cannot be opened as a zip archive.
    :raises TooLargeError: it has more than MAX_MEMBERS members, or they unpack to more than
        :func:`~condapress._limits.unpack_limit` allows for its size (a decompression bomb).
    """
    with open_wheel(path, "audit") as zf:
        infos = [info for info in zf.infolist() if not info.is_dir()]
        _check_bounds(path, infos)
        folders = dist_infos(info.filename for info in infos)
        texts: list[tuple[str, str]] = []
        too_large: list[tuple[str, int]] = []
        if len(folders) == 1:
            for leaf in DIST_INFO_FILES:
                with contextlib.suppress(*CORRUPT, KeyError):
                    # zipfile stops at the declared size (and then fails its CRC check).
                    size = zf.getinfo(f"{folders[0]}/{leaf}").file_size
                    if size > MAX_DIST_INFO_FILE:
                        too_large.append((leaf, size))
                    else:
                        data = zf.read(f"{folders[0]}/{leaf}")
                        texts.append((leaf, data.decode("utf-8", "replace")))
        record = dict(texts).get("RECORD", "")
        used = {row[1].partition("=")[0] for row in record_rows(record)[0]}
        algorithms = sorted({"sha256"} | (used & _STRONG_HASHES))
        members = tuple(_scan_member(zf, info, algorithms) for info in infos)
    return WheelScan(path.name, members, folders, tuple(texts), tuple(too_large))


def open_wheel(path: Path, verb: str) -> zipfile.ZipFile:
    """The wheel at *path*, opened as a zip archive to *verb* it (``audit``, ``check``).

    :raises ArchiveError: there is no such file, or it is not a readable zip archive.
    """
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError as exc:
        raise ArchiveError(
            f"no such file: {printable(str(path))}",
            hint="check the path of the wheel",
            path=str(path),
        ) from exc
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(
            f"cannot {verb} {printable(path.name)}: it is not a readable zip archive ({exc})",
            hint="download or press the wheel again; a wheel is a zip file",
            path=str(path),
        ) from exc


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
    scanner = MemberScanner(info.filename, info.file_size, algorithms)
    try:
        with zf.open(info) as src:
            while chunk := src.read(CHUNK):
                scanner.feed(chunk)
        source = None
        if has_source(info.filename, info.file_size):  # read again: it is small
            source = zf.read(info).decode("utf-8", "replace")
        return scanner.finish(lambda: zf.open(info), source)
    except CORRUPT as exc:
        message = f"{info.filename} cannot be read from the archive: {exc}"
        return Member(info.filename, scanner.size, (), (), None, ("unreadable-member", message))


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
