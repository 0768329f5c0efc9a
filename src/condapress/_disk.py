"""Say what to do when the file system refuses a write: no space, a limit, or no permission.

A full disk is not a damaged archive: the hint says what to free or which folder to choose.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["is_refused_write", "on_the_file_system_of", "write_hint"]

_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT})
_DENIED = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
#: What the file system answers a write it refuses (EFBIG: a file size limit, ``ulimit -f``).
_REFUSED = _SPACE | _DENIED | {errno.EFBIG}


def is_refused_write(exc: BaseException) -> bool:
    """Whether *exc* is the file system refusing to store something (not damaged input)."""
    return isinstance(exc, OSError) and exc.errno in _REFUSED


def write_hint(exc: OSError, folder: Path, elsewhere: str) -> str:
    """The hint for *exc*, raised while writing into *folder*.

    :param elsewhere: how to choose another folder, completed by "a folder ...": for example
        ``set TMPDIR to`` or ``pass --cache-dir with``.
    """
    if exc.errno in _SPACE:
        return f"free some space in {folder}, or {elsewhere} a folder on a larger file system"
    if exc.errno == errno.EFBIG:
        return (
            f"raise the file size limit (ulimit -f), or {elsewhere} a folder on a file system"
            " that takes larger files"
        )
    if exc.errno in _DENIED:
        return f"{folder} cannot be written to; {elsewhere} a folder you can write to"
    return f"check {folder} and the disk it is on, or {elsewhere} another folder"


def on_the_file_system_of(path: Path, folder: Path) -> bool:
    """Whether *path*, or its nearest existing parent, is on the file system of *folder*."""
    existing = path.absolute()
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    try:
        return existing.stat().st_dev == folder.stat().st_dev
    except OSError:
        return False
