"""Symbolic links of an unpacked package, resolved for a wheel, which holds none."""

from __future__ import annotations

import errno
import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from condapress._paths import SITE_PACKAGES
from condapress.errors import ArchiveError
from condapress.model import PathType

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from condapress.model import PathEntry, UnpackedPackage

__all__ = ["expanded", "link_target", "links_to_site_lib", "site_dest"]


def site_dest(path: str) -> str:
    """*path* without its site-packages folder: its path in the wheel."""
    match = SITE_PACKAGES.match(path)
    return path[match.end() :] if match else path


def links_to_site_lib(
    package: UnpackedPackage, entry: PathEntry, name: str, site_libs: Mapping[tuple[str, str], str]
) -> bool:
    """Whether *entry* is a link in site-packages to a library kept there under its soname."""
    if entry.path_type is not PathType.SOFTLINK or not SITE_PACKAGES.match(entry.path):
        return False
    link = package.root / entry.path
    target = (
        posixpath.normpath(
            posixpath.join(posixpath.dirname(entry.path), link.readlink().as_posix())
        )
        if link.is_symlink()
        else ""
    )
    return (name, target) in site_libs


def expanded(
    package: UnpackedPackage, entry: PathEntry, path: str, chain: tuple[str, ...] = ()
) -> Iterator[tuple[str, PathEntry]]:
    """``(path, entry)`` for *entry* seen at *path*, or for each file under a folder link.

    Wheels hold no links: a link in site-packages is copied under its own name, and a link to a
    folder (legal in conda) becomes a copy of every file the package has in that folder. A link
    that loops, leads nowhere, or leads back to a folder being copied is refused.
    """
    if entry.path_type is PathType.SOFTLINK and SITE_PACKAGES.match(path):
        target = link_target(package, entry)
        if (package.root / target).is_dir():
            if target in chain or entry.path.startswith(f"{target}/"):
                why = f"it is a symbolic link to the folder {target!r}, which leads back to it"
                raise ArchiveError.refusing(package.archive.name, entry.path, f"{why} (a loop)")
            for inner in package.info.paths:
                if inner.path.startswith(f"{target}/"):
                    inner_path = path + inner.path[len(target) :]
                    yield from expanded(package, inner, inner_path, (*chain, target))
            return
    yield path, entry


def link_target(package: UnpackedPackage, entry: PathEntry) -> str:
    """Where the link *entry* leads, links resolved, as a path inside the package."""
    link = package.root / entry.path
    root = Path(os.path.realpath(package.root))
    to = f"it is a symbolic link to {link.readlink().as_posix()!r}"
    try:
        real = Path(os.path.realpath(link, strict=True))
    except OSError as exc:
        loop = exc.errno == errno.ELOOP
        why = "it is a symbolic link loop" if loop else f"{to}, which is missing"
        raise ArchiveError.refusing(package.archive.name, entry.path, why) from exc
    if root not in real.parents:  # the guard refused such links on extraction
        raise ArchiveError.refusing(package.archive.name, entry.path, f"{to}, outside the package")
    return real.relative_to(root).as_posix()
