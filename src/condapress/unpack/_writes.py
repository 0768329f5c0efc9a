"""Write an archive's files as tarfile extracts them: hashed on the way, small ones on threads.

tarfile extracts one member after another on the thread that reads the stream: it writes a
regular file's bytes in ``TarFile.makefile``, then gives it its owner, mode and time
(``chown``, ``chmod``, ``utime``). :class:`Writes` takes those steps over for one archive:

- every regular file is hashed (sha256) as it is written, into ``digests`` by member name, so
  the payload is verified without being read again (:func:`condapress.unpack._payload.verify`);
- a file of at most :data:`SMALL` bytes is read from the stream on the reading thread, then
  created, written, hashed and given its owner, mode and time on one of a few threads
  (``--jobs``), and so is a symbolic link. Creating either is the kernel's work (an inode, a
  directory entry, the journal), which does not hold the interpreter lock: 0.1 to 0.8 ms of CPU
  each on the machine of docs/performance.md, where ncurses' 3,000 terminfo entries are most
  of a press that has ncurses alone.

What needs a file to exist waits for the writes ahead of it: a hard link (to an earlier file of
the archive), the folders' modes and times (which tarfile sets after the last member), and
whatever reads the payload once :meth:`Writes.drain` returns. A write that fails is raised by
the next wait, with the member it was for (:attr:`Writes.failed`); :meth:`Writes.close` waits
for every write, so nothing is still being written while a failed extraction is removed. The
files, their bytes, modes and times are the same whatever the number of threads.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import os
import tarfile
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import IO, TYPE_CHECKING, Protocol

from condapress._limits import CHUNK

if TYPE_CHECKING:
    from collections.abc import Callable

    from _typeshed import StrOrBytesPath

__all__ = ["SMALL", "Writes"]

#: Files of at most this many bytes are written on the threads; a larger one costs its bytes,
#: not its creation, and is written by the reading thread as it streams by.
SMALL = CHUNK
#: How far the reading thread may run ahead of the writes: files, and bytes held for them.
_FILES_AHEAD = 256
_BYTES_AHEAD = 16 << 20
#: What tarfile calls to make a link since the security releases of June 2025 (``makelink``
#: before): both are taken over.
_WITH_FILTER = "makelink_with_filter"


class _Stream(Protocol):
    def read(self, size: int, /) -> bytes: ...


class Writes:
    """Writes the regular files and symbolic links that *tar* extracts, each file hashed.

    Each file's sha256 goes into *digests*, by member name.

    :param threads: how many threads write the small files and the links; 1 writes everything
        on the reading thread, as tarfile does.
    """

    def __init__(self, tar: tarfile.TarFile, digests: dict[str, str], *, threads: int) -> None:
        self._tar = tar
        self._digests = digests
        self._pool = ThreadPoolExecutor(threads, "condapress-write") if threads > 1 else None
        #: the writes on the threads, oldest first: each one's future, bytes and member name.
        self._ahead: collections.deque[tuple[Future[None], int, str]] = collections.deque()
        self._held = 0
        #: the paths given to the threads, which set their owner, mode and time themselves.
        self._deferred: set[str] = set()
        #: the name of the member whose write failed, once a wait has raised its error.
        self.failed: str | None = None
        # instance attributes: this archive alone extracts its files so
        tar.makefile = self._makefile  # type: ignore[method-assign]
        tar.makelink = self._makelink  # type: ignore[method-assign]
        if hasattr(tarfile.TarFile, _WITH_FILTER):
            # tarfile of Python 3.10.18, 3.11.13, 3.12.11, 3.13.4 and later makes links here
            setattr(tar, _WITH_FILTER, self._makelink_with_filter)
        tar.chown = self._chown  # type: ignore[method-assign]
        tar.chmod = self._chmod  # type: ignore[method-assign]
        tar.utime = self._utime  # type: ignore[method-assign]

    def drain(self) -> None:
        """Wait for every write given to the threads; raise the first that failed."""
        while self._ahead:
            self._wait_oldest()

    def close(self) -> None:
        """Wait for every write, without raising (an error is already on its way, or drained)."""
        if self._pool is None:
            return
        wait([future for future, _, _ in self._ahead])
        self._ahead.clear()
        self._pool.shutdown()

    def _wait_oldest(self) -> None:
        future, size, name = self._ahead.popleft()
        self._held -= size
        try:
            future.result()
        except BaseException:
            self.failed = name
            raise

    def _makefile(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if tarinfo.sparse is not None:  # pragma: no cover - no conda archive holds a sparse file
            tarfile.TarFile.makefile(self._tar, tarinfo, targetpath)
            return
        source = self._tar.fileobj
        assert source is not None  # noqa: S101 - an open archive
        source.seek(tarinfo.offset_data)
        if self._pool is None or tarinfo.size > SMALL:
            with open(targetpath, "wb") as out:  # noqa: PTH123 - tarfile's own call
                self._digests[tarinfo.name] = _copy(source, tarinfo.size, out)
            return
        data = _read(source, tarinfo.size)
        self._hand_over(self._write, tarinfo, os.fsdecode(targetpath), data)

    def _hand_over(
        self, write: Callable[..., None], member: tarfile.TarInfo, path: str, *data: bytes
    ) -> None:
        """Hand *write* of *path* to the threads; the reader waits when it is too far ahead."""
        assert self._pool is not None  # noqa: S101 - called only when there are threads
        self._deferred.add(path)
        size = sum(map(len, data))
        self._ahead.append((self._pool.submit(write, member, path, *data), size, member.name))
        self._held += size
        while len(self._ahead) > _FILES_AHEAD or self._held > _BYTES_AHEAD:
            self._wait_oldest()

    def _write(self, member: tarfile.TarInfo, path: str, data: bytes) -> None:
        """Create *path* with *data*, then its owner, mode and time, as tarfile would."""
        with open(path, "wb") as out:  # noqa: PTH123 - tarfile's own call
            out.write(data)
        self._digests[member.name] = hashlib.sha256(data).hexdigest()
        self._attributes(member, path)

    def _attributes(self, member: tarfile.TarInfo, path: str) -> None:
        """Give *path* the owner, mode and time of *member*, as extractall does after writing it.

        extractall's own calls: ``numeric_owner`` False, no mode or time for a symbolic link;
        their failures are not fatal at tarfile's default errorlevel, as when tarfile makes them.
        """
        steps = [functools.partial(tarfile.TarFile.chown, self._tar, member, path, False)]  # noqa: FBT003
        if not member.issym():
            steps.append(functools.partial(tarfile.TarFile.chmod, self._tar, member, path))
            steps.append(functools.partial(tarfile.TarFile.utime, self._tar, member, path))
        for step in steps:
            if self._tar.errorlevel > 1:
                step()
            else:
                with contextlib.suppress(tarfile.ExtractError):
                    step()

    def _taken_over(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> bool:
        """Whether the link is handed to the threads; a hard link first waits for the writes."""
        if tarinfo.issym() and self._pool is not None:  # a symbolic link is a new inode too
            self._hand_over(self._symlink, tarinfo, os.fsdecode(targetpath))
            return True
        if tarinfo.islnk():  # a hard link needs the earlier file it links to
            self.drain()
        return False

    def _makelink(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if not self._taken_over(tarinfo, targetpath):
            tarfile.TarFile.makelink(self._tar, tarinfo, targetpath)

    def _makelink_with_filter(
        self,
        tarinfo: tarfile.TarInfo,
        targetpath: StrOrBytesPath,
        filter_function: object,
        extraction_root: object,
    ) -> None:
        if not self._taken_over(tarinfo, targetpath):
            original = getattr(tarfile.TarFile, _WITH_FILTER)
            original(self._tar, tarinfo, targetpath, filter_function, extraction_root)

    def _symlink(self, member: tarfile.TarInfo, path: str) -> None:
        """Create the symbolic link *path*, then its owner, as tarfile would."""
        os.symlink(member.linkname, path)  # noqa: PTH211 - tarfile's own call
        self._attributes(member, path)

    def _chown(
        self,
        tarinfo: tarfile.TarInfo,
        targetpath: StrOrBytesPath,
        numeric_owner: bool,  # noqa: FBT001 - tarfile's signature
    ) -> None:
        if os.fsdecode(targetpath) not in self._deferred:
            tarfile.TarFile.chown(self._tar, tarinfo, targetpath, numeric_owner)

    def _chmod(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if os.fsdecode(targetpath) not in self._deferred:
            tarfile.TarFile.chmod(self._tar, tarinfo, targetpath)

    def _utime(self, tarinfo: tarfile.TarInfo, targetpath: StrOrBytesPath) -> None:
        if os.fsdecode(targetpath) not in self._deferred:
            tarfile.TarFile.utime(self._tar, tarinfo, targetpath)


def _copy(source: _Stream, size: int, out: IO[bytes]) -> str:
    """Copy *size* bytes of *source* to *out*, :data:`CHUNK` at a time; their sha256."""
    digest, remaining = hashlib.sha256(), size
    while remaining:
        chunk = _read(source, min(CHUNK, remaining))
        digest.update(chunk)
        out.write(chunk)
        remaining -= len(chunk)
    return digest.hexdigest()


def _read(source: _Stream, size: int) -> bytes:
    """The next *size* bytes of *source*.

    tarfile's stream (``r|``) takes what it is asked for from the decompressor in records of
    ``bufsize`` (10 KiB), a call and a join per record: 308 for 3 MiB. A read larger than a
    record asks for its own size instead: the decompressors' readers return all that is asked,
    so no more is left in the stream's buffer for the next member than the records left
    (libarrow's 150 MB extract with 0.10 s less CPU, half the system time). The bytes are the
    same.
    """
    record = getattr(source, "bufsize", None)  # tarfile's _Stream; absent, reads stay as they are
    if record is not None and size > record:
        source.bufsize = size  # type: ignore[attr-defined]
    try:
        data = source.read(size)
    finally:
        if record is not None:
            source.bufsize = record  # type: ignore[attr-defined]
    if len(data) != size:
        raise tarfile.ReadError("unexpected end of data")
    return data
