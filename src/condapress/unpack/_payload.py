"""Check an extracted payload against its paths.json (or info/files), as conda's builders wrote it.

Messages (``<a>`` is the archive's file name, ``<p>`` a path of paths.json):

- ``<a> does not match its paths.json: <p> is missing`` (``info/files`` for old packages), or
  ``...: <p> is a <kind>, not a <kind>``, ``<p> is <n> bytes, not <n>``, ``<p> has sha256 <x>,
  not <y>``, ``<p> is not listed``, ``<p> is a link of <n> bytes to a file of <m> bytes, not
  <k>``
- warning: ``<a>: <n> of its <m> files have no sha256 in paths.json, so their content could not
  be verified (first: '<p>')``, or ``<a> predates paths.json: the content of its <n> files could
  not be verified``
"""

from __future__ import annotations

import dataclasses
import logging
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._paths import file_digest
from condapress.errors import ArchiveError, printable
from condapress.model import PathEntry, PathType

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import PackageInfo

__all__ = ["MISMATCH_HINT", "lstat_mode", "verify"]

# The unpack stage's logger: callers configure logging per stage.
logger = logging.getLogger("condapress.unpack")

MISMATCH_HINT = "the archive was changed after it was built; download it again from its channel"
_KIND_WANTED = {PathType.HARDLINK: "file", PathType.SOFTLINK: "symbolic link"}


def verify(
    info: PackageInfo,
    root: Path,
    archive: str,
    *,
    legacy: bool,
    digests: Mapping[str, str] | None = None,
) -> PackageInfo:
    """Check the payload under *root* against *info*; return *info* with legacy types corrected.

    Every entry must exist with its kind, size and sha256, and nothing unlisted may exist.
    Files listed without a sha256 are verified as far as their entry allows (their size, or the
    sha256 a symbolic link to them carries) and counted in one warning.

    :param legacy: the package predates paths.json: *info* comes from ``info/files``, whose
        entries say nothing about kinds, sizes or digests.
    :param digests: sha256 (hex) of files as they were written, by path under *root*
        (:class:`condapress.unpack._writes.Writes`): those are not read again.
    :raises ArchiveError: ``<a> does not match its paths.json: <problem>``.
    """
    source = "info/files" if legacy else "paths.json"
    checker = _Checker(root, digests or {})
    try:
        entries = [checker.entry(entry, legacy=legacy) for entry in info.paths]
        _check_unlisted(root, {entry.path for entry in info.paths})
    except _Mismatch as exc:
        raise ArchiveError(
            f"{archive} does not match its {source}: {printable(exc.args[0])}",
            hint=MISMATCH_HINT,
            package=archive,
            path=exc.args[1],
        ) from None
    files = [entry for entry in entries if entry.path_type is PathType.HARDLINK]
    unverified = [entry.path for entry in files if not checker.verified(entry)]
    if legacy and unverified:
        logger.warning(
            "%s predates paths.json: the content of its %d files could not be verified",
            archive,
            len(unverified),
        )
    elif unverified:
        logger.warning(
            "%s: %d of its %d files have no sha256 in paths.json, so their content could not"
            " be verified (first: %r)",
            archive,
            len(unverified),
            len(files),
            unverified[0],
        )
    return dataclasses.replace(info, paths=tuple(entries)) if legacy else info


class _Mismatch(Exception):  # an internal signal, turned into ArchiveError by verify
    pass


class _Checker:
    """Checks entries one by one; remembers the digests it computed and what they verified."""

    def __init__(self, root: Path, written: Mapping[str, str]) -> None:
        self.root = root
        self.real_root = root.resolve()
        #: sha256 of each file hashed so far, by real path (links share their targets); the
        #: extraction wrote each member where it names, through no link (the guard's rule).
        self.digests = {self.real_root / name: digest for name, digest in written.items()}
        #: real paths of the files whose sha256 a paths.json entry confirmed.
        self.confirmed: set[Path] = set()

    def entry(self, entry: PathEntry, *, legacy: bool) -> PathEntry:
        path = self.root / entry.path
        mode = lstat_mode(path)
        if not mode:
            raise _Mismatch(f"{entry.path} is missing", entry.path)
        actual = (
            "symbolic link" if stat.S_ISLNK(mode) else "folder" if stat.S_ISDIR(mode) else "file"
        )
        if legacy and actual == "symbolic link":  # info/files does not say; conda asks the disk too
            entry = PathEntry(entry.path, PathType.SOFTLINK, no_link=entry.no_link)
        wanted = _KIND_WANTED.get(entry.path_type, "folder")
        if actual != wanted:
            raise _Mismatch(f"{entry.path} is a {actual}, not a {wanted}", entry.path)
        if actual == "file":
            self._file(entry, path)
        elif actual == "symbolic link":
            self._softlink(entry, path)
        return entry

    def verified(self, entry: PathEntry) -> bool:
        """Whether the content of the file of *entry* was checked against a sha256."""
        return self.real_root / entry.path in self.confirmed

    def _digest(self, real: Path) -> str:
        if real not in self.digests:
            self.digests[real] = file_digest(real)[0]
        return self.digests[real]

    def _check_sha256(self, entry: PathEntry, real: Path) -> None:
        if entry.sha256 is None:
            return
        if (digest := self._digest(real)) != entry.sha256:
            raise _Mismatch(f"{entry.path} has sha256 {digest}, not {entry.sha256}", entry.path)
        self.confirmed.add(real)

    def _file(self, entry: PathEntry, path: Path) -> None:
        size = path.lstat().st_size
        if entry.size is not None and size != entry.size:
            raise _Mismatch(f"{entry.path} is {size} bytes, not {entry.size}", entry.path)
        self._check_sha256(entry, self.real_root / entry.path)

    def _softlink(self, entry: PathEntry, path: Path) -> None:
        # conda verifies nothing of a softlink but that it exists. conda-build and rattler-build
        # both record the sha256 of the file it resolves to; as its size conda-build records
        # that file's, rattler-build the length of the link's own text. A link to a folder, or
        # to a file another package provides, holds no bytes of this package: its entry's
        # numbers (the empty file's sha256, 0, the text length, or whatever the build prefix
        # held) are not checked. docs/decisions.md, "Reading archives".
        real = Path(os.path.realpath(path))
        if not (real.is_relative_to(self.real_root) and real.is_file()):
            return
        size, text = real.stat().st_size, len(os.fsencode(path.readlink()))
        if entry.size is not None and entry.size not in (size, text):
            problem = f"{entry.path} is a link of {text} bytes to a file of {size} bytes"
            raise _Mismatch(f"{problem}, not {entry.size}", entry.path)
        self._check_sha256(entry, real)


def _check_unlisted(root: Path, listed: set[str]) -> None:
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root).as_posix()
        if rel == ".":
            dirs[:] = [name for name in dirs if name != "info"]
        for name in sorted([*dirs, *files]):
            path = name if rel == "." else f"{rel}/{name}"
            real_folder = name in dirs and not Path(folder, name).is_symlink()
            if path not in listed and not real_folder:
                raise _Mismatch(f"{path} is not listed", path)


def lstat_mode(path: Path) -> int:
    """The ``st_mode`` of *path* itself (not of what a link points to), or 0 if it is absent."""
    try:
        return path.lstat().st_mode
    except FileNotFoundError:
        return 0
