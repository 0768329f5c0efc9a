"""Write a wheel as a zip file whose bytes depend only on what goes in it."""

from __future__ import annotations

import base64
import contextlib
import csv
import dataclasses
import hashlib
import io
import itertools
import logging
import operator
import os
import secrets
import stat
import time
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from condapress._folders import write_hint
from condapress._limits import CHUNK
from condapress._paths import destination
from condapress._wheelscan import (
    DIST_INFO_FILES,
    MAX_DIST_INFO_FILE,
    MemberScanner,
    dist_infos,
    has_source,
)
from condapress.assemble import _deflate
from condapress.errors import SpecError, WheelContentsError, WriteError
from condapress.model import WheelScan

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path
    from typing import IO

    from condapress.model import MemberScan

__all__ = ["DateTime", "Member", "date_time", "write_atomically"]

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class Member:
    """One member of the wheel to write: its name, mode, and where its bytes come from."""

    #: its path inside the wheel.
    arcname: str
    #: its permission bits (0o644 or 0o755), stored in the zip entry.
    mode: int
    #: the size of *source*: it decides whether the entry needs ZIP64.
    size: int = 0
    #: the file whose bytes it holds; None for a member held in memory.
    source: Path | None = dataclasses.field(default=None, compare=False)
    #: its bytes, when *source* is None (the ``.dist-info`` files).
    data: bytes = dataclasses.field(default=b"", compare=False)

    def chunks(self) -> Iterator[bytes]:
        """Its bytes, *CHUNK* at a time.

        :raises WheelContentsError: *source* cannot be read any more.
        """
        if self.source is None:
            yield self.data
            return
        try:
            with self.source.open("rb") as fh:
                while chunk := fh.read(CHUNK):
                    yield chunk
        except OSError as exc:
            raise WheelContentsError(
                f"cannot read {self.source} (for {self.arcname!r}): {exc.strerror}",
                hint="the staged files changed while the wheel was written; press again",
                path=str(self.source),
            ) from exc

    def reopen(self) -> IO[bytes]:
        """Its bytes, from the start, as a file object."""
        return io.BytesIO(self.data) if self.source is None else self.source.open("rb")


def date_time(epoch: int | None) -> DateTime:
    """The time every zip entry carries: *epoch*, else ``SOURCE_DATE_EPOCH``, else 1980.

    >>> date_time(0), date_time(1_700_000_000)
    ((1980, 1, 1, 0, 0, 0), (2023, 11, 14, 22, 13, 20))

    :raises SpecError: ``SOURCE_DATE_EPOCH`` is set, but not to a whole number.
    """
    if epoch is None and (env := os.environ.get("SOURCE_DATE_EPOCH", "").strip()):
        try:
            epoch = int(env)
        except ValueError:
            raise SpecError(
                f"SOURCE_DATE_EPOCH must be a whole number of seconds, not {env!r}",
                hint="set it to the output of 'git log -1 --format=%ct', or unset it",
            ) from None
    # A zip entry holds a local time from 1980 to 2107; wheels use UTC.
    when = min(max(_EPOCH_1980 if epoch is None else epoch, _EPOCH_1980), _EPOCH_2107)
    return time.gmtime(when)[:6]


def _write_zip(
    fh: io.BufferedRandom,
    members: Sequence[Member],
    stem: str,
    date_time: DateTime,
    level: int,
    jobs: int,
    progress: Callable[[int], None],
) -> tuple[list[MemberScan], dict[str, bytes]]:
    """Write the zip; return what the audit reads of each member, from the bytes written.

    The second item holds the bytes of the members that may be ``.dist-info`` files the audit
    reads (:func:`_wheel_scan`). *progress* is told the size of each member once it is written.
    """
    rows: list[tuple[str, str, str]] = []
    scans: list[MemberScan] = []
    held: dict[str, bytes] = {}

    def add(member: Member, deflated: Iterator[tuple[bytes, bytes]] | None) -> int:
        """Write *member*, from its *deflated* blocks (stored when there are none)."""
        zinfo = zipfile.ZipInfo(member.arcname, date_time)
        zinfo.create_system = 3  # Unix, so that installers honour the mode bits
        zinfo.external_attr = (stat.S_IFREG | member.mode) << 16
        zinfo.file_size = member.size or len(member.data)  # only decides ZIP64; rewritten after
        # A staged file (or bytes held) seeks for free: a binary's tables are read once from it.
        scanner = MemberScanner(member.arcname, zinfo.file_size, ("sha256",), seekable=True)
        if deflated is None:
            zinfo.compress_type = zipfile.ZIP_STORED
            with zf.open(zinfo, "w") as out:
                for chunk in member.chunks():  # the source is never read whole
                    scanner.feed(chunk)
                    out.write(chunk)
        else:
            _add_deflated(zf, zinfo, deflated, scanner)
        b64 = base64.urlsafe_b64encode(scanner.digest("sha256")).rstrip(b"=").decode()
        rows.append((member.arcname, f"sha256={b64}", str(scanner.size)))
        source = None
        if has_source(member.arcname, scanner.size):
            source = b"".join(member.chunks()).decode("utf-8", "replace")
        folder, _, leaf = member.arcname.partition("/")
        read = folder.endswith(".dist-info") and leaf in DIST_INFO_FILES
        if read and scanner.size <= MAX_DIST_INFO_FILE:
            held[member.arcname] = b"".join(member.chunks())
        scans.append(scanner.finish(member.reopen, source))
        return scanner.size

    def write(batch: Sequence[Member], told: Callable[[int], None]) -> None:
        if level == 0:
            for member in batch:
                told(add(member, None))
        else:
            for member, blocks in _deflated(batch, level, pool, jobs):
                told(add(member, blocks))

    with zipfile.ZipFile(fh, "w") as zf, ThreadPoolExecutor(max_workers=jobs) as pool:
        write(members, progress)
        rows.append((f"{stem}.dist-info/RECORD", "", ""))
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        record = Member(f"{stem}.dist-info/RECORD", 0o644, data=buffer.getvalue().encode())
        write([record], lambda _size: None)  # RECORD is not among the files reported
    return scans, held


def _deflated(
    members: Sequence[Member], level: int, pool: ThreadPoolExecutor, jobs: int
) -> Iterator[tuple[Member, Iterator[tuple[bytes, bytes]]]]:
    """Each of *members* with its ``(block, deflated block)`` pairs, deflated ahead on *pool*.

    Take each member's pairs before the next member: they come from one stream of blocks.
    """
    streams = _deflate.deflate_many((m.chunks() for m in members), level, pool, ahead=2 * jobs)
    for index, blocks in itertools.groupby(streams, key=operator.itemgetter(0)):
        yield members[index], ((block, data) for _, block, data in blocks)


def _add_deflated(
    zf: zipfile.ZipFile,
    zinfo: zipfile.ZipInfo,
    deflated: Iterator[tuple[bytes, bytes]],
    scanner: MemberScanner,
) -> None:
    """Write one member from its blocks deflated in parallel (:mod:`condapress.assemble._deflate`).

    ``ZipFile.open(..., "w")`` can only deflate on the calling thread, so the member is written
    the way it writes one to a seekable file: the local header, the data, then the header again
    with the CRC and sizes, and the member registered for the central directory.
    """
    fp = zf.fp
    assert fp is not None  # noqa: S101 - the ZipFile is open for writing
    zinfo.compress_type = zipfile.ZIP_DEFLATED
    zinfo.flag_bits, zinfo.CRC, zinfo.compress_size = 0, 0, 0  # as ZipFile.open(..., "w")
    zip64 = zinfo.file_size * 1.05 > zipfile.ZIP64_LIMIT  # zipfile's own rule
    zinfo.header_offset = fp.tell()
    fp.write(zinfo.FileHeader(zip64))
    crc, size, compressed = 0, 0, 0
    for block, data in deflated:
        scanner.feed(block)  # while the pool deflates the blocks ahead
        crc = zlib.crc32(block, crc)
        size += len(block)
        compressed += len(data)
        fp.write(data)
    zinfo.CRC, zinfo.file_size, zinfo.compress_size = crc, size, compressed
    end = fp.tell()
    fp.seek(zinfo.header_offset)
    fp.write(zinfo.FileHeader(zip64))
    fp.seek(end)
    zf.filelist.append(zinfo)
    zf.NameToInfo[zinfo.filename] = zinfo
    zf.start_dir = end  # where the central directory will go
    zf._didModify = True  # type: ignore[attr-defined]  # noqa: SLF001 - as ZipFile.open does


def write_atomically(
    final: Path,
    members: Sequence[Member],
    stem: str,
    date_time: DateTime,
    level: int,
    jobs: int,
    progress: Callable[[int], None] = lambda _size: None,
) -> tuple[str, int, WheelScan]:
    """Write the wheel *final* from *members*: in full under a temporary name, then renamed.

    :param stem: the wheel's ``name-version``, whose ``.dist-info/RECORD`` is written last.
    :param level: the deflate level; *jobs* the threads that deflate large members.
    :param progress: told the size of each member once it is written.
    :returns: the wheel's hex sha256 and size, and what the audit reads of it
        (:class:`~condapress.model.WheelScan`, from the bytes written).
    :raises WriteError: the file system refused the write (nothing is left behind).
    """
    tmp = final.with_name(f".{final.name}.{secrets.token_hex(6)}.tmp")
    try:
        destination(final.parent, tmp.name)  # made of validated names; checked all the same
        # os.open with 0o666 lets the umask decide the wheel's mode, as for any other new file.
        with os.fdopen(os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666), "w+b") as fh:
            scans = _write_zip(fh, members, stem, date_time, level, jobs, progress)
            fh.flush()
            os.fsync(fh.fileno())
            fh.seek(0)
            digest = hashlib.sha256()
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
            size = fh.tell()
        tmp.replace(final)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise WriteError(
                f"cannot write {final.name}: {exc.strerror or exc}",
                hint=write_hint(exc, final.parent, "pass -o with"),
                path=str(final),
                detail=str(exc),
            ) from exc
        raise
    return digest.hexdigest(), size, _wheel_scan(final.name, *scans)


def _wheel_scan(filename: str, scans: Sequence[MemberScan], held: dict[str, bytes]) -> WheelScan:
    """The audit's view of the wheel just written, as :func:`audit._scan.read_wheel` gives it.

    :param held: the bytes of the members that may be ``.dist-info`` files the audit reads.
    """
    folders = dist_infos(scan.name for scan in scans)
    texts: list[tuple[str, str]] = []
    too_large: list[tuple[str, int]] = []
    if len(folders) == 1:
        sizes = {scan.name: scan.size for scan in scans}
        for leaf in DIST_INFO_FILES:
            name = f"{folders[0]}/{leaf}"
            if name in held:
                texts.append((leaf, held[name].decode("utf-8", "replace")))
            elif name in sizes:
                too_large.append((leaf, sizes[name]))
    return WheelScan(filename, tuple(scans), folders, tuple(texts), tuple(too_large))


_EPOCH_1980 = 315_532_800  # 1980-01-01T00:00:00Z, the earliest time a zip entry can carry


_EPOCH_2107 = 4_354_819_198  # 2107-12-31T23:59:58Z, the latest


DateTime = tuple[int, int, int, int, int, int]
