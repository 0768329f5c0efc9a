"""Refuse archive members that would escape, corrupt or flood the destination."""

from __future__ import annotations

import os
import posixpath
import tarfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from condapress.errors import ArchiveError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["REPACKED_HINT", "Counted", "Guard"]

REPACKED_HINT = "the archive was damaged when it was re-packed; download the original again"
_SPECIAL = {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device"}
_SPECIAL[tarfile.FIFOTYPE] = "FIFO"


class Counted:
    """A decompressed stream that reports how many bytes came out of it to *count*."""

    def __init__(self, raw: IO[bytes], count: Callable[[int], None]) -> None:
        self.raw = raw
        self.count = count

    def read(self, size: int = -1) -> bytes:
        """Up to *size* bytes (all with -1), counted."""
        data = self.raw.read(size)
        self.count(len(data))
        return data

    def close(self) -> None:
        """Close the stream underneath."""
        self.raw.close()


class Guard:
    """Checks each member before it is extracted; refusals name the member.

    Reasons: ``it is an absolute path``, ``it has a '..' component``, ``it is a <character
    device|block device|FIFO|special file>``, ``it would be written through the symbolic link
    '<l>'``, ``its folder '<f>' is a file``, ``it would turn the folder '<f>' into a <kind>``,
    ``it appears twice in the archive``, ``it is a symbolic link with an empty target``, ``it is a
    symbolic link to '<t>', outside the package``, ``it is a hard link to '<t>', outside the
    package``, ``it is a hard link to '<t>', which is not an earlier file of the archive``,
    ``only info/ belongs in <inner>``, ``package metadata does not belong in <inner>``.
    """

    def __init__(self, archive: str, dest: Path) -> None:
        self.archive = archive
        self.dest = os.path.realpath(dest)
        #: what each path extracted so far is: file, folder, symbolic link or hard link.
        self.kinds: dict[str, str] = {}
        self.symlinks: list[tuple[str, str]] = []

    def check(self, member: tarfile.TarInfo) -> tarfile.TarInfo:
        """*member*, once it is safe to extract where it says, after the members before it.

        :raises ArchiveError: ``<archive>: refusing member '<name>': <reason>``.
        """
        name, kind = member.name, _kind(member)
        if name.startswith("/"):
            raise ArchiveError.refusing(self.archive, name, "it is an absolute path")
        if ".." in name.split("/"):
            raise ArchiveError.refusing(self.archive, name, "it has a '..' component")
        if kind == "special":
            raise ArchiveError.refusing(
                self.archive, name, f"it is a {_SPECIAL.get(member.type, 'special file')}"
            )
        norm = posixpath.normpath(name)
        folders = [norm.rsplit("/", depth)[0] for depth in range(norm.count("/"), 0, -1)]
        self._check_place(name, norm, kind, folders)
        if member.issym():
            self._check_symlink(name, norm, member.linkname)
        elif member.islnk():
            self._check_hardlink(name, member.linkname)
        self.kinds.update((folder, "folder") for folder in folders)
        self.kinds[norm] = kind
        return member

    def _check_place(self, name: str, norm: str, kind: str, folders: list[str]) -> None:
        for folder in folders:
            if self.kinds.get(folder) == "symbolic link":
                reason = f"it would be written through the symbolic link {folder!r}"
                raise ArchiveError.refusing(self.archive, name, reason)
            if self.kinds.get(folder) in ("file", "hard link"):
                raise ArchiveError.refusing(self.archive, name, f"its folder {folder!r} is a file")
        earlier = self.kinds.get(norm)
        if earlier == "folder" and kind != "folder":
            raise ArchiveError.refusing(
                self.archive, name, f"it would turn the folder {norm!r} into a {kind}"
            )
        if earlier not in (None, "folder"):
            raise ArchiveError.refusing(self.archive, name, "it appears twice in the archive")

    def _check_symlink(self, name: str, norm: str, target: str) -> None:
        if not target:
            reason = "it is a symbolic link with an empty target"
            raise ArchiveError.refusing(self.archive, name, reason, REPACKED_HINT)
        # Lexically, then as the file system resolves it now; sweep_symlinks() resolves every
        # link again once all members are in place, since a later link can change the meaning.
        joined = posixpath.join(posixpath.dirname(norm), target)
        if (
            target.startswith("/")
            or posixpath.normpath(joined).split("/")[0] == ".."
            or not self._inside(joined)
        ):
            reason = f"it is a symbolic link to {target!r}, outside the package"
            raise ArchiveError.refusing(self.archive, name, reason)
        self.symlinks.append((name, target))

    def _check_hardlink(self, name: str, target: str) -> None:
        norm = posixpath.normpath(target)
        if norm.startswith("/") or norm.split("/")[0] == "..":
            reason = f"it is a hard link to {target!r}, outside the package"
            raise ArchiveError.refusing(self.archive, name, reason)
        if self.kinds.get(norm) not in ("file", "hard link"):
            reason = f"it is a hard link to {target!r}, which is not an earlier file of the archive"
            raise ArchiveError.refusing(self.archive, name, reason)

    def _inside(self, path: str) -> bool:
        real = os.path.realpath(Path(self.dest, path))
        return real == self.dest or real.startswith(self.dest + os.sep)

    def sweep_symlinks(self) -> None:
        """Refuse symbolic links that resolve outside the package now that all members exist.

        Each link's target is resolved as the archive gives it, not as the link on disk reads:
        tarfile's ``data`` filter of Python 3.10.18, 3.11.13, 3.12.11, 3.13.4 and later writes a
        normalized target (``d/../..`` becomes ``..``), which no longer shows where the archive
        pointed.
        """
        for name, target in self.symlinks:
            norm = posixpath.normpath(name)
            if not self._inside(posixpath.join(posixpath.dirname(norm), target)):
                reason = f"it is a symbolic link to {target!r}, outside the package"
                raise ArchiveError.refusing(self.archive, name, reason)


def _kind(member: tarfile.TarInfo) -> str:
    if member.isreg():
        return "file"
    if member.isdir():
        return "folder"
    if member.issym():
        return "symbolic link"
    return "hard link" if member.islnk() else "special"
