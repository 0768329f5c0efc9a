"""How a wheel's Mach-O files find their libraries, and what dyld or macOS would refuse.

dyld takes a load command's install name as a path: ``@loader_path/x`` from the folder of the
binary that loads, ``@rpath/x`` from each LC_RPATH of that binary and of the binaries that
loaded it, an absolute path as it is (the libraries under /usr/lib and /System are the
system's). A wheel is installed anywhere, so only the first two can reach its own files. On
Apple silicon every slice must also carry a code signature that verifies, page by page.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING

from condapress.audit._integrity import finding
from condapress.audit._loader import inherited, installed, leads_to, rpath_findings
from condapress.formats.macho._policy import minimum
from condapress.model import LibraryReport

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from condapress.audit._scan import Member
    from condapress.formats import BinaryFormat
    from condapress.model import BinaryFacts, Finding, PlatformVerdict

__all__ = ["elsewhere", "libraries"]

_RPATH, _LOADER = "@rpath/", "@loader_path/"


@dataclass(frozen=True, slots=True)
class _Context:
    """What resolving one install name needs to know of the wheel."""

    #: every file of the wheel, relative to the install root.
    files: set[str]
    #: by wheel path, the folders its ``@rpath/`` loads are searched in.
    rpaths: Mapping[str, set[str]]
    #: by file name (theirs, or that of their install name), the wheel paths of binaries.
    by_name: Mapping[str, Sequence[str]]
    requires_dist: Sequence[str]
    fmt: BinaryFormat


def libraries(
    binaries: Mapping[str, BinaryFacts],
    members: Sequence[Member],
    verdict: PlatformVerdict,
    requires_dist: Sequence[str],
    findings: list[Finding],
    fmt: BinaryFormat,
) -> tuple[LibraryReport, ...]:
    """One report per Mach-O file; append the problems of its loads, LC_RPATH and signature."""
    del verdict  # every macOS has the same system libraries
    context = _context(binaries, members, requires_dist, fmt)
    files = context.files
    folders = {"."} | {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}
    reports = []
    for path in sorted(binaries):
        facts = binaries[path]
        findings += rpath_findings(path, facts, folders, requires_dist)
        findings += _signature_findings(path, facts)
        needed = []
        for name in facts.needed:
            where, problem = _where(path, name, context)
            if problem is not None:
                findings.append(problem)
            needed.append((name, where))
        top = minimum(facts)
        reports.append(
            LibraryReport(
                path=path,
                needed=tuple(needed),
                max_versions=(),
                rpath=facts.rpath,
                exported_weak_std=0,
                exported_global_std=0,
                cxx11_abi=False,
                minos=f"{top[0]}.{top[1]}" if top != (0, 0) else None,
                signature=", ".join(
                    f"{s.arch}: {_state(s.signed, s.signature_problem)}" for s in facts.slices
                ),
            )
        )
    return tuple(reports)


def elsewhere(
    binaries: Mapping[str, BinaryFacts], members: Sequence[Member], fmt: BinaryFormat
) -> set[str]:
    """The install names the binaries load that are neither the system's nor in the wheel."""
    context = _context(binaries, members, (), fmt)
    return {
        name
        for path, facts in binaries.items()
        for name in facts.needed
        if _where(path, name, context)[0] == "missing"
    }


def _context(
    binaries: Mapping[str, BinaryFacts],
    members: Sequence[Member],
    requires_dist: Sequence[str],
    fmt: BinaryFormat,
) -> _Context:
    files = {installed(m.name) for m in members}
    by_name: dict[str, list[str]] = {}
    for path, facts in binaries.items():  # by its file name, and by its install name's
        for name in {posixpath.basename(path), posixpath.basename(facts.soname or path)}:
            by_name.setdefault(name, []).append(path)
    return _Context(files, _rpath_folders(binaries, files), by_name, requires_dist, fmt)


def _state(signed: bool, problem: str | None) -> str:  # noqa: FBT001
    return "invalid" if problem else "valid" if signed else "none"


def _rpath_folders(binaries: Mapping[str, BinaryFacts], files: set[str]) -> dict[str, set[str]]:
    """The wheel folders dyld searches for each file's ``@rpath/`` loads.

    Its own LC_RPATH entries, then those of every binary that loads it, and so on up the chain:
    the loads of the wheel's binaries among each other are followed until nothing changes.
    """
    folders = {path: leads_to(path, facts.rpath) for path, facts in binaries.items()}
    loaded_by: dict[str, set[str]] = {path: set() for path in binaries}
    for path, facts in binaries.items():
        origin = posixpath.dirname(installed(path))
        for name in facts.needed:
            for target in _candidates(origin, name, folders[path]):
                if target in files and target in loaded_by:
                    loaded_by[target].add(path)
    return inherited(folders, loaded_by)


def _candidates(origin: str, name: str, rpaths: set[str]) -> list[str]:
    """The wheel paths dyld tries for the install name *name*, loaded from folder *origin*."""
    if name.startswith(_LOADER):
        return [posixpath.normpath(posixpath.join(origin or ".", name[len(_LOADER) :]))]
    if name.startswith(_RPATH):
        return [posixpath.normpath(f"{folder}/{name[len(_RPATH) :]}") for folder in sorted(rpaths)]
    return []


def _where(
    path: str,
    name: str,
    context: _Context,
) -> tuple[str, Finding | None]:
    """Where dyld finds *name* for the binary at *path*: ``wheel``, ``system`` or ``missing``,
    and the finding when that is a problem."""  # noqa: D205, D209
    if context.fmt.is_system_library(name, ""):
        return "system", None
    origin = posixpath.dirname(installed(path))
    if any(c in context.files for c in _candidates(origin, name, context.rpaths[path])):
        return "wheel", None
    if name.startswith("/"):
        message = f"{path} loads {name} by an absolute path, which is no macOS system library"
        return "missing", finding("install-name-absolute", message, path)
    elsewhere = context.by_name.get(posixpath.basename(name))
    if elsewhere and name.startswith((_LOADER, _RPATH)):
        message = (
            f"{path} needs {name}, which the wheel has at {', '.join(elsewhere)}, but neither "
            f"@loader_path nor an LC_RPATH entry of {path} (or of what loads it) leads there"
        )
        return "wheel", finding("unreachable-library", message, path)
    where = f"{path} needs {name}, which is neither in the wheel nor a macOS system library"
    if name.startswith("@executable_path/"):
        where = f"{path} needs {name}, which dyld looks for beside the program, not in the wheel"
    if context.requires_dist:
        message = f"{where}: expected from another wheel ({', '.join(context.requires_dist)})"
        return "missing", finding("library-from-other-wheel", message, path)
    return "missing", finding("missing-library", where, path)


def _signature_findings(path: str, facts: BinaryFacts) -> list[Finding]:
    found = []
    for piece in facts.slices:
        if piece.signature_problem is not None:
            message = (
                f"{path}: the code signature of its {piece.arch} code does not verify: "
                f"{piece.signature_problem}"
            )
            found.append(finding("bad-signature", message, path))
        elif piece.arch == "arm64" and not piece.signed:
            message = (
                f"{path} has no code signature for arm64: macOS on Apple silicon refuses to "
                "load unsigned code"
            )
            found.append(finding("unsigned-binary", message, path))
    return found
