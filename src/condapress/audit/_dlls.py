"""How a Windows wheel's DLLs fit together: where the loader finds each DLL a binary imports.

CPython (3.8 and later) loads an extension module with ``LOAD_LIBRARY_SEARCH_DEFAULT_DIRS |
LOAD_LIBRARY_SEARCH_DLL_LOAD_DIR``: the DLLs it imports are found in its own folder, in the
folders ``os.add_dll_directory`` added (process-wide), and in System32. A wheel that bundles
DLLs elsewhere than beside its modules must add their folder before a module loads: the
package's ``__init__.py`` does it (delvewheel writes the call there; condapress imports its
hook module there, which makes it). A program (``.exe``) is a process of its own, which finds
its DLLs in its own folder and the system's. Names are compared without case, as Windows does.
"""

from __future__ import annotations

import ast
import posixpath
import re
from typing import TYPE_CHECKING

from condapress.audit._integrity import finding
from condapress.errors import MixedArchitecturesError, PolicyViolation
from condapress.formats.pe._system import TAGS, needs_redistributable
from condapress.model import LibraryReport, PlatformVerdict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from condapress.audit._integrity import WheelFacts
    from condapress.audit._scan import Member
    from condapress.formats import BinaryFormat
    from condapress.model import BinaryFacts, Finding

__all__ = ["dll_findings"]

# A bundled DLL renamed with a hash: condapress's (yaml-1a2b3c4d.dll) or delvewheel's (32 hex).
_MANGLED = re.compile(r".+-[0-9a-f]{8,}\.dll", re.IGNORECASE)
_SPECIAL = (".libs", ".data", ".dist-info")


def dll_findings(
    binaries: Mapping[str, BinaryFacts],
    members: Sequence[Member],
    facts: WheelFacts,
    fmt: BinaryFormat,
) -> tuple[PlatformVerdict, tuple[LibraryReport, ...], list[Finding]]:
    """The platform tag the PE *binaries* allow, one report per binary, and the findings."""
    findings: list[Finding] = []
    verdict = _verdict(binaries, facts, findings, fmt)
    files = {_installed(m.name) for m in members}
    where: dict[str, list[str]] = {}
    for path in sorted(files):
        where.setdefault(posixpath.basename(path).lower(), []).append(path)
    added = _added_folders(members, files)
    everywhere = set().union(*added.values()) if added else set()
    reports = []
    for member in sorted(binaries):
        dll, path = binaries[member], _installed(member)
        top = path.split("/")[0] if "/" in path else ""
        folders = {posixpath.dirname(path)}
        if not dll.is_executable:  # a module or DLL: loaded after some package's __init__
            is_package = top and not top.endswith(_SPECIAL)
            folders |= added.get(top, set()) if is_package else everywhere
        needed = []
        for name in dll.needed:
            found = where.get(name, [])
            if found:
                needed.append((name, "wheel"))
                findings += _reach(member, name, found, folders, top)
            elif fmt.is_system_library(name, verdict.arch):
                needed.append((name, "system"))
                if needs_redistributable(name, verdict.arch):
                    message = (
                        f"{member} needs {name}, of the Microsoft Visual C++ runtime, which "
                        "CPython does not ship: Windows has it once the Visual C++ "
                        "Redistributable (or a program that bundles it) is installed"
                    )
                    findings.append(finding("msvc-runtime", message, member))
            else:
                needed.append((name, "missing"))
                findings.append(_missing(member, name, facts.requires_dist))
        reports.append(LibraryReport(member, tuple(needed), (), (), 0, 0, cxx11_abi=False))
    return verdict, tuple(reports), findings


def _verdict(
    binaries: Mapping[str, BinaryFacts],
    facts: WheelFacts,
    findings: list[Finding],
    fmt: BinaryFormat,
) -> PlatformVerdict:
    """The tag the binaries allow; append what is wrong with the claimed ones."""
    arch = binaries[min(binaries)].machine
    try:
        verdict = fmt.platform(binaries, ())
    except MixedArchitecturesError as exc:
        findings.append(finding("mixed-architectures", exc.message, exc.path))
        verdict = PlatformVerdict(TAGS.get(arch, arch), (), "win", (exc.message,), arch=arch)
    except PolicyViolation as exc:
        findings.append(finding("wrong-architecture", exc.message, exc.path))
        return PlatformVerdict(arch, (), "win", (exc.message,), arch=arch)
    for platform in sorted({tag.rpartition("-")[2] for tag in facts.claimed_tags}):
        if platform == verdict.tag:
            continue
        if platform.startswith("win"):
            message = f"claims {platform} but its binaries are built for {verdict.arch}"
            findings.append(finding("wrong-architecture", message))
        else:
            message = f"claims {platform} but its binaries need {verdict.tag}"
            findings.append(finding("overclaimed-tag", message, tag=verdict.tag))
    return verdict


def _reach(
    member: str, name: str, found: Sequence[str], folders: set[str], top: str
) -> list[Finding]:
    """What is wrong with how *member* finds *name*, which the wheel has at *found*."""
    findings = []
    reachable = [path for path in found if posixpath.dirname(path) in folders]
    if not reachable:
        at = ", ".join(found)
        who = f"the __init__.py of {top}" if top and not top.endswith(_SPECIAL) else "any package"
        message = (
            f"{member} needs {name}, which the wheel has at {at}, but Windows does not search "
            f"there: neither is it beside {member}, nor does {who} add its folder with "
            "os.add_dll_directory"
        )
        findings.append(finding("dll-unreachable", message, member))
    if not _MANGLED.fullmatch(name):
        message = (
            f"{member} imports {name}, which the wheel bundles at {(reachable or found)[0]} "
            f"under its own name: in a process that loaded another {name} first (another "
            "wheel's, or the system's), Windows gives it that one"
        )
        findings.append(finding("dll-not-mangled", message, member))
    return findings


def _missing(member: str, name: str, requires_dist: Sequence[str]) -> Finding:
    where = f"{member} needs {name}, which is neither in the wheel nor a DLL of Windows"
    if requires_dist:
        message = f"{where}: expected from another wheel ({', '.join(requires_dist)})"
        return finding("dll-from-other-wheel", message, member)
    return finding("dll-missing", where, member)


def _installed(name: str) -> str:
    """Where an archive member lands relative to the install root (purelib/platlib data)."""
    parts = name.split("/")
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in {"purelib", "platlib"}:  # noqa: PLR2004
        return "/".join(parts[2:])
    return name


def _added_folders(members: Sequence[Member], files: set[str]) -> dict[str, set[str]]:
    """By top-level package, the wheel folders its ``__init__.py`` adds to the DLL search path.

    A package adds a folder when its ``__init__.py`` (or condapress's hook module, which it
    imports) calls ``os.add_dll_directory`` and names the folder in a string: delvewheel's
    ``os.path.join(os.path.dirname(__file__), os.pardir, 'x.libs')``, condapress's
    ``_DLL_DIRECTORIES = ('x.libs',)`` (``'.'`` for the root of the wheel).
    """
    texts = {_installed(m.name): m.source for m in members if m.source is not None}
    folders = {posixpath.dirname(f) for f in files} - {""}
    added: dict[str, set[str]] = {}
    for path, text in texts.items():
        top, _, leaf = path.partition("/")
        if leaf != "__init__.py":
            continue
        sources = [text]
        hook = texts.get(f"{top}/_condapress_env.py")
        if hook is not None and re.search(r"^from \. import _condapress_env\b", text, re.MULTILINE):
            sources.append(hook)
        named = {s for source in sources if "add_dll_directory" in source for s in _strings(source)}
        # '.' is the root of the wheel, site-packages itself
        added[top] = (named & folders) | ({""} if "." in named else set())
    return added


def _strings(source: str) -> set[str]:
    """Every string constant of the Python *source*; none when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return set()
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
