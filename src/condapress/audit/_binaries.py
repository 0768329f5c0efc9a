"""How a wheel's binaries fit together: the tag they allow, where their libraries are found."""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING

from condapress import formats
from condapress.audit import _macho
from condapress.audit._dlls import dll_findings
from condapress.audit._integrity import cxx_findings, finding, missing_library
from condapress.audit._loader import inherited, installed, leads_to, rpath_findings
from condapress.errors import MixedArchitecturesError, PolicyViolation, SpecError
from condapress.formats.elf._read import max_versions
from condapress.model import LibraryReport, PlatformVerdict

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from condapress.audit._integrity import WheelFacts
    from condapress.audit._scan import Member
    from condapress.formats import BinaryFormat
    from condapress.model import BinaryFacts, Finding

__all__ = ["binary_findings"]


def binary_findings(
    members: Sequence[Member], facts: WheelFacts
) -> tuple[PlatformVerdict, tuple[LibraryReport, ...], list[Finding]]:
    """The platform tag the wheel's binaries allow, one report per binary, and the findings.

    :param facts: what the wheel's ``.dist-info`` says (its tags, its requirements).
    """
    binaries = _judged({m.name: m.elf for m in members if m.elf is not None}, facts.claimed_tags)
    findings: list[Finding] = []
    if not binaries:
        return _PURE, (), findings
    fmt = formats.for_facts(binaries[min(binaries)])
    if fmt.name == "PE":
        return dll_findings(binaries, members, facts, fmt)
    verdict = _verdict(binaries, members, facts, findings, fmt)
    if fmt.name == "Mach-O":
        libraries = _macho.libraries(binaries, members, verdict, facts.requires_dist, findings, fmt)
    else:
        libraries = _libraries(binaries, members, verdict, facts, findings, fmt)
    return verdict, libraries, findings


#: The verdict of a wheel without binaries.
_PURE = PlatformVerdict("any", (), "any", ())
#: The binary format of the wheels that claim a platform tag starting so; ELF for the others.
_TAG_FORMATS = (("win", "PE"), ("macosx", "Mach-O"))


def _judged(binaries: Mapping[str, BinaryFacts], claimed: Sequence[str]) -> dict[str, BinaryFacts]:
    """The binaries of the format the wheel's platform loads; the others are data to it.

    A wheel for Linux (or a pure one) may carry Windows programs as data, which it never runs
    (setuptools' and pip's launcher templates, ``cli-64.exe``, ``t64.exe``): PE files are
    judged only in a wheel that claims a Windows tag, or that claims a platform and has no
    binary of its own format.
    """
    platforms = {tag.rpartition("-")[2] for tag in claimed}
    wanted = next(
        (name for prefix, name in _TAG_FORMATS if any(p.startswith(prefix) for p in platforms)),
        "ELF",
    )
    judged = {path: facts for path, facts in binaries.items() if facts.format == wanted}
    if judged or platforms <= {"any"}:
        return judged
    # A wheel for one platform whose binaries are all another's: judged, and found wanting.
    return dict(binaries)


_PLATFORM = re.compile(
    r"(?P<policy>manylinux_\d+_\d+|manylinux(?:1|2010|2014)|musllinux_\d+_\d+|linux"
    r"|macosx_\d+_\d+)_(?P<arch>.+)"
)


def _verdict(
    elfs: Mapping[str, BinaryFacts],
    members: Sequence[Member],
    facts: WheelFacts,
    findings: list[Finding],
    fmt: BinaryFormat,
) -> PlatformVerdict:
    """The platform tag the binaries allow; append what is wrong with the claimed ones."""
    platforms = sorted({tag.rpartition("-")[2] for tag in facts.claimed_tags})
    wheel_libs = {name for path, elf in elfs.items() for name in _names(path, elf)}
    wheel_libs |= facts.excluded  # the press left them to the system: the tag does not judge them
    expected: set[str] = set()
    if facts.requires_dist and fmt.name == "Mach-O":
        expected = _macho.elsewhere(elfs, members, fmt)
    elif facts.requires_dist:
        # A library on no whitelist is expected from a required wheel (reported as such), which
        # answers for it: the press tags a wheel that relies on another's libraries the same way.
        arch = elfs[min(elfs)].machine
        needed = {name for elf in elfs.values() for name in elf.needed}
        expected = {n for n in needed - wheel_libs if not fmt.is_system_library(n, arch)}
        wheel_libs |= expected
    try:
        verdict = fmt.platform(elfs, wheel_libs)
    except MixedArchitecturesError as exc:
        findings.append(finding("mixed-architectures", exc.message, exc.path))
        arch = elfs[min(elfs)].machine
        return PlatformVerdict(f"linux_{arch}", (), "linux", (exc.message,), arch=arch)
    before = len(findings)
    for platform in platforms:
        findings.extend(_claim(platform, verdict, fmt))
    exact = {verdict.tag, *verdict.aliases} & set(platforms)
    if platforms and len(findings) == before and not exact and expected:
        # The press tags such a wheel no better than the wheels it loads libraries from.
        message = (
            f"claims {', '.join(platforms)}, less than its own binaries allow ({verdict.tag}): it "
            f"loads {', '.join(sorted(expected))} from the wheels it requires "
            f"({', '.join(facts.requires_dist)}), whose tags bound its own"
        )
        findings.append(finding("tag-from-required-wheels", message))
    elif platforms and len(findings) == before and not exact:
        message = f"claims {', '.join(platforms)} but its binaries allow {verdict.tag}"
        findings.append(finding("underclaimed-tag", message, tag=verdict.tag))
    return verdict


def _claim(platform: str, verdict: PlatformVerdict, fmt: BinaryFormat) -> list[Finding]:
    """What is wrong with claiming *platform* for binaries that allow *verdict*."""
    limit = f": {verdict.limits[0]}" if verdict.limits else ""
    message = f"claims {platform} but its binaries need {verdict.tag}{limit}"
    overclaimed = finding("overclaimed-tag", message, tag=verdict.tag)
    if platform == "any":
        return [overclaimed]
    match = _PLATFORM.fullmatch(platform)
    if match is not None and match["arch"] != verdict.arch:
        message = f"claims {platform} but its binaries are built for {verdict.arch}"
        return [finding("wrong-architecture", message)]
    if match is not None and not match["policy"].startswith("musllinux"):
        try:
            fmt.requested(verdict, platform)
        except PolicyViolation:
            return [overclaimed]
        except SpecError:
            pass  # a policy this auditwheel does not know, such as a future manylinux_2_99
        else:
            return []
    message = (
        f"claims {platform}, a platform condapress cannot check (only glibc Linux and macOS tags)"
    )
    return [finding("unchecked-tag", message)]


def _names(path: str, elf: BinaryFacts) -> set[str]:
    """The names the loader may know *elf* by: its file name and its SONAME."""
    return {posixpath.basename(path), *([elf.soname] if elf.soname else [])}


def _search_dirs(
    elfs: Mapping[str, BinaryFacts], provided: Mapping[str, Sequence[str]]
) -> dict[str, set[str]]:
    """The wheel folders the loader searches for each file's DT_NEEDED entries.

    glibc's loader searches the DT_RUNPATH of the needing file alone if it has one; otherwise the
    DT_RPATH of the needing file, then of the file that loaded it, and so on up the chain
    (a file with DT_RUNPATH adds nothing to the chain). Any wheel file needing a library may have
    loaded it, so the chains are merged until nothing changes.
    """
    own = {path: set() if elf.runpath else leads_to(path, elf.rpath) for path, elf in elfs.items()}
    loaded_by: dict[str, set[str]] = {path: set() for path in elfs}
    for path, elf in elfs.items():
        for soname in elf.needed:
            for provider in provided.get(soname, ()):
                loaded_by[provider].add(path)
    chains = inherited(own, loaded_by)
    return {p: leads_to(p, elf.runpath) if elf.runpath else chains[p] for p, elf in elfs.items()}


def _libraries(
    elfs: Mapping[str, BinaryFacts],
    members: Sequence[Member],
    verdict: PlatformVerdict,
    facts: WheelFacts,
    findings: list[Finding],
    fmt: BinaryFormat,
) -> tuple[LibraryReport, ...]:
    """One report per ELF file; append the problems of its needs, RPATH and C++ exports."""
    requires_dist = facts.requires_dist
    files = {installed(m.name) for m in members}
    folders = {"."} | {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}
    provided: dict[str, list[str]] = {}
    for path, elf in elfs.items():
        for name in _names(path, elf):
            provided.setdefault(name, []).append(path)
    search = _search_dirs(elfs, provided) if elfs else {}
    # A wheel that meets no policy is judged by the most permissive whitelist.
    tag = None if verdict.policy == "linux" else verdict.tag
    reports = []
    for path in sorted(elfs):
        elf = elfs[path]
        findings += rpath_findings(path, elf, folders, requires_dist)
        needed = []
        for soname in elf.needed:
            if soname in provided:
                where = "wheel"
                if not any(posixpath.normpath(f"{d}/{soname}") in files for d in search[path]):
                    at = ", ".join(provided[soname])
                    message = (
                        f"{path} needs {soname}, which the wheel has at {at}, but no RPATH entry "
                        f"of {path} (or of what loads it) leads there"
                    )
                    findings.append(finding("unreachable-library", message, path))
            elif fmt.is_system_library(soname, verdict.arch, tag):
                where = "system"
            else:
                where = "excluded" if soname in facts.excluded else "missing"
                findings.append(missing_library(path, soname, requires_dist, facts.excluded))
            needed.append((soname, where))
        findings += cxx_findings(path, elf, _names(path, elf))
        weak, strong = len(elf.exported_weak_std), len(elf.exported_global_std)
        versions = tuple(max_versions(elf).items())
        rpath = (*elf.rpath, *elf.runpath)
        reports.append(
            LibraryReport(path, tuple(needed), versions, rpath, weak, strong, elf.uses_cxx11_abi)
        )
    return tuple(reports)
