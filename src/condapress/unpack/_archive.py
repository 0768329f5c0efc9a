"""Read a conda archive's ``info/`` and extract it safely, verified against its own lists.

Archives are untrusted input. They are streamed with conda-package-streaming, every member is
checked before it touches the disk, and the payload is verified against ``info/paths.json``.
Anything wrong becomes an :class:`~condapress.errors.ArchiveError` naming the archive and the
member; no exception of another library leaves this module.

Messages (``<a>`` is the archive's file name, ``<m>`` a member, ``<p>`` a path of paths.json):

- ``<a> is not a conda package: its name does not end in .conda or .tar.bz2``
- ``cannot open <a>: <strerror>``
- ``<a> is not a .conda archive: <problem>``, the problem being one of ``it is not a zip file
  (or it is truncated)``, ``its members are nested under the folder '<dir>/'``, ``it has no
  info-*.tar.zst`` (or ``pkg-``), ``it has 2 info-*.tar.zst members``, ``it holds the unexpected
  member '<m>'``, ``info-<x>.tar.zst and pkg-<y>.tar.zst belong to different packages``,
  ``metadata.json declares conda_pkg_format_version <v>, not 2``
- ``<a> is not a bzip2 archive: it holds gzip data`` (``zstd data``, ``zip data``, ``unknown
  data``), or ``...: it is empty``
- ``<a> is damaged: <reason> in <part> (last member read: '<m>')`` or ``(before its first
  member)``; reasons: ``the zstd data is corrupt``, ``the data ends early``, ``the bzip2 data is
  corrupt``, ``the tar data is invalid``, ``the zip data is corrupt``, ``it cannot be read``
- ``<a>: refusing member '<m>': <reason>``, reasons listed on
  :class:`~condapress.unpack._guard.Guard`,
  and ``the archive (<n> bytes) would unpack to more than <limit> bytes (a decompression bomb)``
- ``<a> is a decompression bomb: <part> unpacks to more than <limit> bytes, from an archive of
  <n> bytes (last member read: '<m>')`` (or ``before its first member``)
- ``<a> does not match its paths.json: <problem>``, problems listed in
  :mod:`condapress.unpack._payload`
- ``cannot extract <a> into <dest>: it is not an empty folder``
- ``cannot extract <a>: <strerror> (last member read: '<m>')``: the destination's file system
  refused a write (a WriteError when it is out of space, at a limit or read-only)
"""

from __future__ import annotations

import bz2
import contextlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from email.parser import BytesParser
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

from conda_package_streaming import package_streaming

from condapress._folders import is_refused_write, on_the_file_system_of, write_hint
from condapress._limits import unpack_limit
from condapress._paths import dist_info_file
from condapress.errors import UNSAFE_HINT, ArchiveError, CondapressError, WriteError
from condapress.model import UnpackedPackage
from condapress.unpack import _conda_meta, _payload
from condapress.unpack._guard import REPACKED_HINT, Counted, Guard
from condapress.unpack._payload import lstat_mode
from condapress.unpack._writes import Writes

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator
    from email.message import Message

    from condapress.model import CondaRecord, PackageInfo

__all__ = ["extract", "read_info", "read_python_metadata"]

_Component = Literal["info", "pkg"]
#: tarfile's ``data`` filter (3.12+, backported to 3.10.12 and 3.11.4) refuses what Guard
#: refuses; it is a second line of defence, and Guard runs either way to name the member.
_HAS_DATA_FILTER = hasattr(tarfile, "data_filter")
_ZSTD_ERRORS: tuple[type[Exception], ...] = (
    (package_streaming.zstd.ZstdError,) if package_streaming.zstd is not None else ()
)
#: What a damaged archive makes zipfile, tarfile (and conda-package-streaming's SafetyError, a
#: TarError), bz2 and zstd (EOFError, OSError) and the zip member lookup raise.
_FOREIGN_ERRORS: tuple[type[Exception], ...] = (
    *_ZSTD_ERRORS,
    *(zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, LookupError, ValueError),
    *(RuntimeError, NotImplementedError),
)
_MAX_METADATA_BYTES = 256 << 20
#: metadata.json holds one small object; a larger one declares nothing condapress reads.
_MAX_FORMAT_BYTES = 64 << 10
_MAGIC = {b"\x1f\x8b": "gzip data", b"\x28\xb5\x2f\xfd": "zstd data", b"PK": "zip data"}


def read_info(archive: Path, *, record: CondaRecord | None = None) -> PackageInfo:
    """Read and validate the ``info/`` folder of *archive*, without unpacking the payload.

    For a ``.conda`` only the ``info-*.tar.zst`` stream is read; a ``.tar.bz2`` is streamed until
    its ``info/`` block has been read (conda-build writes it first; later ones are found too).
    ``license_files`` lists the licenses found there. conda-build (and conda-package-handling
    before 2.0) stored ``info/licenses/`` among the payload, in the ``pkg-*`` stream of a
    ``.conda``: for those packages only :func:`extract` lists them.

    :param record: the channel's record of the archive: its ``index.json`` must name the same
        package (name, version and build).
    :raises ArchiveError: the archive cannot be read (messages in the module docstring).
    :raises MetadataError: ``<a> has invalid metadata: <problem>; <problem>; ...``.
    """
    files: dict[str, bytes] = {}
    licenses: list[str] = []
    with _reading(archive) as reader:
        for tar, member in reader.members("info"):
            if member.name.split("/", 1)[0] != "info":
                if "info/index.json" in files:
                    break
                continue
            if member.isfile() and member.name in _conda_meta.INFO_FILES:
                files[member.name] = reader.read(tar, member)
            elif member.isfile() and member.name.startswith("info/licenses/"):
                licenses.append(member.name.removeprefix("info/licenses/"))
    info = _conda_meta.validate(_conda_meta.parse(files, licenses), archive.name)
    _check_record(info, record, archive.name)
    return info


def read_python_metadata(archive: Path) -> Message | None:
    """Return the parsed ``*.dist-info/METADATA`` the package ships in site-packages, if any.

    Only ``site-packages/`` (noarch python) and ``lib/pythonX.Y/site-packages/`` are searched;
    streaming stops at the first match.

    :raises ArchiveError: the archive cannot be read.
    """
    with _reading(archive) as reader:
        for tar, member in reader.members("pkg"):
            if member.isfile() and dist_info_file(member.name) == "METADATA":
                return BytesParser().parsebytes(reader.read(tar, member))
    return None


def extract(
    archive: Path, dest: Path, *, record: CondaRecord | None = None, threads: int = 1
) -> UnpackedPackage:
    """Extract *archive* into *dest* (new or empty) and verify the payload against paths.json.

    Members are refused before they are written if they would land outside *dest* (absolute,
    ``..``, links that leave it, writing through a link), are devices or FIFOs, or collide with
    an earlier member. On any failure everything written under *dest* is removed again.

    :param record: the channel's record of the archive, as for :func:`read_info`; for a
        ``.conda`` it is compared before any payload is written.
    :param threads: threads that write its small files and symbolic links
        (:class:`~condapress.unpack._writes.Writes`); 1 writes everything as it is read. The
        files are the same for any number.
    :returns: the package, with ``root == dest``. For an old package without paths.json, the
        path types of its entries are read from the files on disk.
    :raises ArchiveError: an unsafe, damaged or altered archive (see the module docstring).
    :raises MetadataError: the ``info/`` files are invalid.
    """
    existed = dest.exists()
    if existed and (not dest.is_dir() or any(dest.iterdir())):
        raise ArchiveError(
            f"cannot extract {archive.name} into {dest}: it is not an empty folder",
            hint="pass a folder that does not exist yet, or an empty one",
            package=archive.name,
            path=str(dest),
        )
    try:
        with _reading(archive, dest) as reader:
            dest.mkdir(parents=True, exist_ok=True)
            guard = Guard(archive.name, dest)
            if not reader.single_stream:  # .conda: info/ is valid before any payload is written
                reader.extract("info", guard, threads=threads)
                _check_record(_load_info(dest, archive.name)[0], record, archive.name)
            reader.extract("pkg", guard, threads=threads)
            guard.sweep_symlinks()
            digests = reader.digests
        info, legacy = _load_info(dest, archive.name)
        _check_record(info, record, archive.name)
        info = _payload.verify(info, dest, archive.name, legacy=legacy, digests=digests)
    except BaseException:
        _remove_written(dest, keep_folder=existed)
        raise
    return UnpackedPackage(info=info, root=dest, archive=archive)


class _Reader:
    """One open archive: its streams, and where reading is, for messages."""

    def __init__(self, archive: Path, fileobj: IO[bytes]) -> None:
        self.name = archive.name
        self.fileobj = fileobj
        self.part = "the archive"
        self.member: str | None = None
        #: bytes the members streamed so far declare, bytes decompressed so far, and how many
        #: the archive may unpack to.
        self.unpacked = self.decompressed = 0
        self.limit = unpack_limit(os.fstat(fileobj.fileno()).st_size)
        self._zip: zipfile.ZipFile | None = None
        self._inner: dict[str, str] = {}
        #: sha256 (hex) of every regular file written so far, by member name.
        self.digests: dict[str, str] = {}
        if self.name.endswith(".conda"):
            self._open_conda()
        elif self.name.endswith(".tar.bz2"):
            self._check_bzip2()
        else:
            raise ArchiveError(
                f"{self.name} is not a conda package: its name does not end in .conda or .tar.bz2",
                hint="pass a .conda or .tar.bz2 file",
                package=self.name,
            )

    @property
    def single_stream(self) -> bool:
        return self._zip is None

    def _not_conda(self, problem: str, hint: str | None = None) -> ArchiveError:
        message = f"{self.name} is not a .conda archive: {problem}"
        return ArchiveError(message, hint=hint, package=self.name)

    def _open_conda(self) -> None:
        try:
            self._zip = zipfile.ZipFile(self.fileobj)
        except zipfile.BadZipFile as exc:
            raise self._not_conda("it is not a zip file (or it is truncated)") from exc
        names = self._zip.namelist()
        if nested := [n for n in names if "/" in n]:
            files = [n for n in nested if not n.endswith("/")]
            folder = files[0].rpartition("/")[0] if files else nested[0].rstrip("/")
            problem = f"its members are nested under the folder {folder + '/'!r}"
            raise self._not_conda(problem, REPACKED_HINT)
        for component in ("info", "pkg"):
            found = [n for n in names if n.startswith(f"{component}-") and n.endswith(".tar.zst")]
            if len(found) != 1:
                many = f"it has {len(found)} {component}-*.tar.zst members"
                raise self._not_conda(many if found else f"it has no {component}-*.tar.zst")
            self._inner[component] = found[0]
        if extra := sorted(set(names) - {"metadata.json", *self._inner.values()}):
            raise self._not_conda(f"it holds the unexpected member {extra[0]!r}")
        info, pkg = self._inner["info"], self._inner["pkg"]
        if info.removeprefix("info-") != pkg.removeprefix("pkg-"):
            raise self._not_conda(f"{info} and {pkg} belong to different packages")
        if (version := self._declared_format()) is not None:
            raise self._not_conda(
                f"metadata.json declares conda_pkg_format_version {version}, not 2",
                "condapress reads .conda format 2 only; use the package's .tar.bz2 instead",
            )

    def _declared_format(self) -> str | None:
        """The format version metadata.json declares (shown), when it declares one other than 2.

        conda (conda-package-handling, conda-package-streaming) and rattler never read
        metadata.json: anaconda's builds of 2019-2021 leave it empty, and an archive without it
        installs all the same. Only a declared other version is refused, as a format that
        condapress cannot know how to read.
        """
        assert self._zip is not None  # noqa: S101 - called on .conda archives only
        if "metadata.json" not in self._zip.namelist():
            return None
        with self._zip.open("metadata.json") as stream:
            data = stream.read(_MAX_FORMAT_BYTES + 1)
        with contextlib.suppress(ValueError, RecursionError):
            metadata = json.loads(data) if len(data) <= _MAX_FORMAT_BYTES else None
            if isinstance(metadata, dict) and "conda_pkg_format_version" in metadata:
                version = metadata["conda_pkg_format_version"]
                return None if version in (2, "2") else _conda_meta.shown(version)
        return None

    def _check_bzip2(self) -> None:
        head = self.fileobj.read(4)
        self.fileobj.seek(0)
        if head.startswith(b"BZh"):
            return
        kind = next((k for magic, k in _MAGIC.items() if head.startswith(magic)), "unknown data")
        raise ArchiveError(
            f"{self.name} is not a bzip2 archive: {f'it holds {kind}' if head else 'it is empty'}",
            hint="a .tar.bz2 conda package must be bzip2-compressed; rebuild it with conda-build",
            package=self.name,
        )

    def members(
        self, component: _Component
    ) -> Generator[tuple[tarfile.TarFile, tarfile.TarInfo], None, None]:
        """Stream the members of *component* (for a ``.tar.bz2``: of the whole archive)."""
        raw: IO[bytes]
        if self._zip is None:
            self.part = "the bzip2 stream"
            self.fileobj.seek(0)
            raw = bz2.open(self.fileobj)  # noqa: SIM115 - tar_generator closes it
        else:
            self.part = self._inner[component]
            if package_streaming.zstd is None:  # pragma: no cover - a dependency of c-p-s
                raise RuntimeError("no zstd module to read .conda archives with")
            raw = package_streaming.zstd.open(self._zip.open(self.part))
        # The decompressed bytes are counted too: tarfile reads a pax or long-name header into
        # memory whole, before any member is seen, so a bomb can hide there.
        stream = package_streaming.tar_generator(Counted(raw, self.count), closefd=True)
        self.member = None
        try:
            for tar, member in stream:
                self.member = member.name
                self.unpacked += member.size
                if self.unpacked > self.limit:
                    size = os.fstat(self.fileobj.fileno()).st_size
                    reason = (
                        f"the archive ({size} bytes) would unpack to more than {self.limit}"
                        " bytes (a decompression bomb)"
                    )
                    raise ArchiveError.refusing(self.name, member.name, reason)
                if self._zip is not None:
                    self._check_component(component, member.name)
                yield tar, member
        finally:
            stream.close()

    def count(self, decompressed: int) -> None:
        """Count bytes that came out of a stream; too many make it a decompression bomb."""
        self.decompressed += decompressed
        if self.decompressed <= self.limit:
            return
        size = os.fstat(self.fileobj.fileno()).st_size
        where = "before its first member" if self.member is None else "last member read"
        where += "" if self.member is None else f": {self.member!r}"
        raise ArchiveError(
            f"{self.name} is a decompression bomb: {self.part} unpacks to more than"
            f" {self.limit} bytes, from an archive of {size} bytes ({where})",
            hint=UNSAFE_HINT,
            package=self.name,
            path=self.member,
        )

    def _check_component(self, component: _Component, name: str) -> None:
        # conda-package-handling before 2.0 put the info/ files it did not know (licenses above
        # all) into pkg-*; the metadata that defines the package must come from info-*.
        if component == "info" and name.split("/", 1)[0] != "info":
            raise ArchiveError.refusing(self.name, name, f"only info/ belongs in {self.part}")
        if component == "pkg" and name in _conda_meta.INFO_FILES:
            raise ArchiveError.refusing(
                self.name, name, f"package metadata does not belong in {self.part}"
            )

    def read(self, tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
        if member.size > _MAX_METADATA_BYTES:
            message = f"{self.name}: member {member.name!r} is too large to read ({member.size} B)"
            raise ArchiveError(message, package=self.name, path=member.name)
        data = tar.extractfile(member)
        return data.read() if data is not None else b""

    def extract(self, component: _Component, guard: Guard, *, threads: int) -> None:
        stream = self.members(component)
        try:
            first = next(stream, None)
            if first is None:
                return
            tar = first[0]
            writes = Writes(tar, self.digests, threads=threads)

            def checked() -> Iterator[tarfile.TarInfo]:
                yield guard.check(first[1])
                for _, member in stream:
                    yield guard.check(member)
                writes.drain()  # every file is there before the folders get their modes

            try:
                # extractall, not extract: it sets folder modes last, so read-only folders work.
                if _HAS_DATA_FILTER:
                    tar.extractall(guard.dest, members=checked(), filter="data")
                else:  # pragma: no cover - Python < 3.10.12 / 3.11.4
                    tar.extractall(guard.dest, members=checked())  # noqa: S202 - checked by Guard
            except OSError:
                self.member = writes.failed or self.member  # the file whose write failed
                raise
            finally:
                writes.close()
        finally:
            stream.close()


@contextlib.contextmanager
def _reading(archive: Path, dest: Path | None = None) -> Iterator[_Reader]:
    """Open *archive*, and turn every foreign exception met while reading it into ArchiveError.

    :param dest: where it is extracted to: a write the file system refuses there (no space, a
        limit, no permission) is a WriteError, not a damaged archive.
    """
    try:
        fileobj = archive.open("rb")
    except OSError as exc:
        raise ArchiveError(
            f"cannot open {archive.name}: {exc.strerror}",
            hint=f"check that {archive} exists and is readable",
            package=archive.name,
            path=str(archive),
        ) from exc
    reader: _Reader | None = None
    with fileobj:
        try:
            reader = _Reader(archive, fileobj)
            yield reader
        except CondapressError:
            raise
        except _FOREIGN_ERRORS as exc:
            raise _damaged(archive.name, reader, exc, dest) from exc


def _damaged(
    name: str, reader: _Reader | None, exc: Exception, dest: Path | None
) -> CondapressError:
    member = reader.member if reader is not None else None
    where = "(before its first member)" if member is None else f"(last member read: {member!r})"
    if dest is not None and isinstance(exc, OSError) and is_refused_write(exc):
        # The press extracts into its temporary folder: TMPDIR is what a user can change.
        tmp = Path(tempfile.gettempdir())
        under_tmp = on_the_file_system_of(dest, tmp) and dest.resolve().is_relative_to(tmp)
        folder, elsewhere = (tmp, "set TMPDIR to") if under_tmp else (dest, "extract into")
        return WriteError(
            f"cannot extract {name}: {exc.strerror} {where}",
            hint=write_hint(exc, folder, elsewhere),
            package=name,
            path=str(dest),
            detail=str(exc),
        )
    if isinstance(exc, OSError) and exc.errno is not None and exc.filename is not None:
        return ArchiveError(
            f"cannot extract {name}: {exc.strerror} {where}",
            hint="check the free space and permissions of the destination folder",
            package=name,
            detail=str(exc),
        )
    if isinstance(exc, _ZSTD_ERRORS):
        reason = "the zstd data is corrupt"
    elif isinstance(exc, EOFError) or "unexpected end of data" in str(exc):
        reason = "the data ends early"
    elif isinstance(exc, OSError) and reader is not None and reader.single_stream:
        reason = "the bzip2 data is corrupt"
    elif isinstance(exc, tarfile.TarError):
        reason = "the tar data is invalid"
    elif isinstance(exc, zipfile.BadZipFile):
        reason = "the zip data is corrupt"
    else:
        reason = "it cannot be read"
    part = reader.part if reader is not None else "the archive"
    message = f"{name} is damaged: {reason} in {part} {where}"
    return ArchiveError(message, package=name, path=member, detail=repr(exc))


def _check_record(info: PackageInfo, record: CondaRecord | None, archive: str) -> None:
    """Refuse an archive whose index.json names another package than its record."""
    if record is None:
        return
    own = info.record
    # conda names are case-insensitive: py-rattler hands them over normalized (lower case).
    if (own.name.lower(), own.version, own.build) == (
        record.name.lower(),
        record.version,
        record.build,
    ):
        return
    raise ArchiveError(
        f"{archive} is not the package its channel lists: its index.json names"
        f" {own.name} {own.version} {own.build}, the channel {record.name} {record.version}"
        f" {record.build}",
        hint="the channel's index does not describe this archive; re-index the channel, or"
        " report it to the channel it came from",
        package=record.dist,
        path=archive,
    )


def _load_info(dest: Path, archive: str) -> tuple[PackageInfo, bool]:
    """Validate the extracted ``info/``; also say whether the package predates paths.json."""
    files = {
        name: (dest / name).read_bytes()
        for name in sorted(_conda_meta.INFO_FILES)
        if stat.S_ISREG(lstat_mode(dest / name))
    }
    licenses = dest / "info" / "licenses"
    names = []
    if stat.S_ISDIR(lstat_mode(licenses)):
        names = [
            path.relative_to(licenses).as_posix()
            for path in sorted(licenses.rglob("*"))
            if stat.S_ISREG(lstat_mode(path))
        ]
    raw = _conda_meta.parse(files, names)
    return _conda_meta.validate(raw, archive), raw.get("paths") is None


def _remove_written(dest: Path, *, keep_folder: bool) -> None:
    if not dest.is_dir():
        return
    # Without the data filter a member can leave a folder read-only: undo that first.
    for folder, dirs, _ in os.walk(dest):
        for name in dirs:
            with contextlib.suppress(OSError):
                Path(folder, name).chmod(0o700)
    for path in list(dest.iterdir()) if keep_folder else [dest]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
