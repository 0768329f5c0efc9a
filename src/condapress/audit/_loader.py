"""Where a loader looks, from a wheel: install paths, ``$ORIGIN`` and ``@loader_path``, RPATH.

Shared by the audit of ELF and Mach-O files (:mod:`condapress.audit._binaries`,
:mod:`condapress.audit._macho`): both loaders search folders named relative to the binary
that loads, and both are misled by absolute or build-prefix entries alike.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from condapress._datapaths import PLACEHOLDERS
from condapress.audit._integrity import finding

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from condapress.model import BinaryFacts, Finding

__all__ = ["inherited", "installed", "leads_to", "resolve", "rpath_findings"]


def installed(name: str) -> str:
    """Where an archive member lands relative to the install root (purelib/platlib data)."""
    parts = name.split("/")
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in {"purelib", "platlib"}:  # noqa: PLR2004
        return "/".join(parts[2:])
    return name


def resolve(origin: str, entry: str) -> str | None:
    """The folder an ``$ORIGIN`` (or ``@loader_path``) entry leads to from *origin*; else None.

    >>> resolve("yaml", "@loader_path/../pyyaml.libs"), resolve("x", "/usr/lib")
    ('pyyaml.libs', None)
    """
    for token in ("$ORIGIN", "${ORIGIN}", "@loader_path"):
        if entry == token or entry.startswith(f"{token}/"):
            return posixpath.normpath(posixpath.join(origin or ".", entry[len(token) + 1 :]))
    return None


def leads_to(path: str, entries: Sequence[str]) -> set[str]:
    """The wheel folders the RPATH-like *entries* of the binary at *path* lead to."""
    origin = posixpath.dirname(installed(path))
    return {folder for entry in entries if (folder := resolve(origin, entry)) is not None}


def inherited(
    folders: dict[str, set[str]], loaded_by: Mapping[str, set[str]]
) -> dict[str, set[str]]:
    """*folders*, each path's grown by those of every path that loads it, up the chain.

    Both loaders pass the search path of a binary on to what it loads (glibc's DT_RPATH, dyld's
    LC_RPATH). Any binary that may load a file may have loaded it, so the sets are merged until
    nothing changes. *folders* is updated in place and returned.
    """
    changed = True
    while changed:
        changed = False
        for path, loaders in loaded_by.items():
            for loader in loaders:
                if not folders[loader] <= folders[path]:
                    folders[path] |= folders[loader]
                    changed = True
    return folders


def rpath_findings(
    path: str, elf: BinaryFacts, folders: set[str], requires_dist: Sequence[str]
) -> list[Finding]:
    """What is wrong with the RPATH, RUNPATH or LC_RPATH entries of the binary at *path*.

    :param folders: every folder of the wheel, relative to the install root.
    """
    origin = posixpath.dirname(installed(path))
    findings = []
    for entry in dict.fromkeys((*elf.rpath, *elf.runpath)):
        kind = "RPATH" if entry in elf.rpath else "RUNPATH"
        kind = "LC_RPATH" if elf.format == "Mach-O" else kind
        folder = resolve(origin, entry)
        if any(placeholder in entry for placeholder in PLACEHOLDERS):
            message = f"{path} has the {kind} entry {entry}, which holds a conda prefix placeholder"
            findings.append(finding("rpath-placeholder", message, path))
        elif entry.startswith("/"):
            message = f"{path} has the absolute {kind} entry {entry}"
            findings.append(finding("rpath-absolute", message, path))
        # $LIB and $PLATFORM are the loader's business, @executable_path the program's
        elif folder is None and "$" not in entry and not entry.startswith("@"):
            message = (
                f"{path} has the {kind} entry {entry}, which the loader resolves against the "
                "current directory"
            )
            findings.append(finding("rpath-cwd-relative", message, path))
        elif folder is not None and folder not in folders:
            leads = f"{path} has the {kind} entry {entry}, which leads to {folder}"
            if requires_dist and folder != ".." and not folder.startswith("../"):
                message = f"{leads}, a folder the wheel does not have (a wheel it requires may)"
                findings.append(finding("rpath-other-wheel", message, path))
            else:
                findings.append(finding("rpath-outside-wheel", f"{leads}, outside the wheel", path))
    return findings
