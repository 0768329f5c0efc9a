"""Stage 7: audit a wheel, ours or anyone's, for what PyPI, installers and the loader trip on.

The wheel is streamed, never installed or run. The report sets the tags it claims against the
platform tag its binaries allow (:func:`condapress.retag.platform_tag`), shows one block per
binary (what it needs and where that is found, RPATH, C++ exports) and lists findings with codes.
"""

from __future__ import annotations

import functools
import posixpath
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from auditwheel.architecture import Architecture
from auditwheel.libc import Libc
from auditwheel.policy import WheelPolicies

from condapress._elf import max_versions
from condapress.assemble import DATA_PATHS_FILE
from condapress.audit._datapaths import data_path_findings
from condapress.audit._integrity import (
    Finding,
    Level,
    cxx_findings,
    finding,
    integrity_findings,
    missing_library,
)
from condapress.audit._scan import PLACEHOLDERS, read_wheel
from condapress.errors import CondapressError, PolicyViolation, SpecError, printable
from condapress.retag import PlatformVerdict, check_requested, platform_tag

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from condapress._elf import ElfFile
    from condapress.audit._integrity import WheelFacts
    from condapress.audit._scan import Member

__all__ = [
    "AUDIT_SCHEMA_VERSION",
    "AuditReport",
    "Finding",
    "Level",
    "LibraryReport",
    "audit_document",
    "audit_text",
    "audit_wheel",
]

#: Bumped on every incompatible change of the ``audit --json`` document.
AUDIT_SCHEMA_VERSION = 1

#: The verdict of a wheel without binaries.
_PURE = PlatformVerdict("any", (), "any", ())
# The dynamic loader ships with libc and is on no whitelist (as in retag and auditwheel).
_LOADERS = re.compile(r"ld-linux.*|ld64\.so\.[12]")
_WORDS = ((Level.ERROR, "error"), (Level.WARNING, "warning"), (Level.INFO, "note"))
_PLATFORM = re.compile(
    r"(?P<policy>manylinux_\d+_\d+|manylinux(?:1|2010|2014)|musllinux_\d+_\d+|linux)_(?P<arch>.+)"
)


@dataclass(frozen=True, slots=True)
class LibraryReport:
    """What one ELF file of a wheel needs, and where the loader would find it."""

    #: its path inside the wheel.
    path: str
    #: every DT_NEEDED entry with where it resolves: ``wheel``, ``system`` (on the verdict
    #: policy's whitelist, or the dynamic loader) or ``missing``.
    needed: tuple[tuple[str, str], ...]
    #: the highest GLIBC, GLIBCXX, CXXABI and GCC symbol version it needs, by prefix.
    max_versions: tuple[tuple[str, str], ...]
    #: its DT_RPATH then DT_RUNPATH entries.
    rpath: tuple[str, ...]
    #: how many weak symbols of namespace std it exports.
    exported_weak_std: int
    #: how many global (or unique) symbols of namespace std it exports.
    exported_global_std: int
    #: whether it uses the C++11 ABI of libstdc++ (``std::__cxx11``).
    cxx11_abi: bool


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Everything the audit found about one wheel."""

    #: the wheel's file name.
    wheel: str
    #: the tags the wheel claims: its WHEEL file's, then those only its file name claims.
    claimed_tags: tuple[str, ...]
    #: the most compatible platform tag its binaries allow; tag ``any`` without binaries.
    verdict: PlatformVerdict
    #: one report per ELF file, by path.
    libraries: tuple[LibraryReport, ...]
    #: errors first, then warnings, then notes.
    findings: tuple[Finding, ...]
    #: the compiler-runtime policy recorded in the wheel's provenance file, if any.
    runtime: str | None

    @property
    def ok(self) -> bool:
        """Whether no finding is an error."""
        return all(f.level is not Level.ERROR for f in self.findings)


def audit_wheel(path: Path) -> AuditReport:
    """Audit the wheel at *path*: its integrity, its tags and its binaries.

    Problems of the wheel are findings of the report, not exceptions.

    :raises ArchiveError: *path* is not a readable zip archive.
    """
    scan = read_wheel(path)
    facts, findings = integrity_findings(scan)
    findings += data_path_findings(scan.text(DATA_PATHS_FILE), (m.name for m in scan.members))
    elfs = {m.name: m.elf for m in scan.members if m.elf is not None}
    verdict = _verdict(elfs, facts, findings)
    libraries = _libraries(elfs, scan.members, verdict, facts.requires_dist, findings)
    return AuditReport(
        wheel=scan.filename,
        claimed_tags=facts.claimed_tags,
        verdict=verdict,
        libraries=libraries,
        findings=tuple(sorted(findings, key=lambda f: f.level.rank)),
        runtime=facts.runtime,
    )


def _verdict(
    elfs: Mapping[str, ElfFile], facts: WheelFacts, findings: list[Finding]
) -> PlatformVerdict:
    """The platform tag the binaries allow; append what is wrong with the claimed ones."""
    platforms = sorted({tag.rpartition("-")[2] for tag in facts.claimed_tags})
    if not elfs:
        return _PURE
    wheel_libs = {name for path, elf in elfs.items() for name in _names(path, elf)}
    expected: set[str] = set()
    if facts.requires_dist:
        # A library on no whitelist is expected from a required wheel (reported as such), which
        # answers for it: the press tags a wheel that relies on another's libraries the same way.
        system = _whitelist(elfs[min(elfs)].machine, None)
        needed = {name for elf in elfs.values() for name in elf.needed}
        expected = {n for n in needed - wheel_libs if n not in system and not _LOADERS.fullmatch(n)}
        wheel_libs |= expected
    try:
        verdict = platform_tag(elfs, wheel_libs=wheel_libs)
    except CondapressError as exc:  # binaries of several architectures
        findings.append(finding("mixed-architectures", exc.message, exc.path))
        arch = elfs[min(elfs)].machine
        return PlatformVerdict(f"linux_{arch}", (), "linux", (exc.message,))
    arch = verdict.tag.removeprefix(f"{verdict.policy}_")
    before = len(findings)
    for platform in platforms:
        findings.extend(_claim(platform, verdict, arch))
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


def _claim(platform: str, verdict: PlatformVerdict, arch: str) -> list[Finding]:
    """What is wrong with claiming *platform* for binaries that allow *verdict*."""
    limit = f": {verdict.limits[0]}" if verdict.limits else ""
    message = f"claims {platform} but its binaries need {verdict.tag}{limit}"
    overclaimed = finding("overclaimed-tag", message, tag=verdict.tag)
    if platform == "any":
        return [overclaimed]
    match = _PLATFORM.fullmatch(platform)
    if match is not None and match["arch"] != arch:
        message = f"claims {platform} but its binaries are built for {arch}"
        return [finding("wrong-architecture", message)]
    if match is not None and not match["policy"].startswith("musllinux"):
        try:
            check_requested(verdict, platform)
        except PolicyViolation:
            return [overclaimed]
        except SpecError:
            pass  # a policy this auditwheel does not know, such as a future manylinux_2_99
        else:
            return []
    message = f"claims {platform}, a platform condapress cannot check (only glibc Linux tags)"
    return [finding("unchecked-tag", message)]


def _names(path: str, elf: ElfFile) -> set[str]:
    """The names the loader may know *elf* by: its file name and its SONAME."""
    return {posixpath.basename(path), *([elf.soname] if elf.soname else [])}


def _installed(name: str) -> str:
    """Where an archive member lands relative to the install root (purelib/platlib data)."""
    parts = name.split("/")
    if len(parts) > 2 and parts[0].endswith(".data") and parts[1] in {"purelib", "platlib"}:  # noqa: PLR2004
        return "/".join(parts[2:])
    return name


def _resolve(origin: str, entry: str) -> str | None:
    """The folder an ``$ORIGIN`` entry leads to, relative to the install root; None otherwise."""
    for token in ("$ORIGIN", "${ORIGIN}"):
        if entry == token or entry.startswith(f"{token}/"):
            return posixpath.normpath(posixpath.join(origin or ".", entry[len(token) + 1 :]))
    return None


@functools.cache
def _whitelist(arch: str, tag: str | None) -> frozenset[str]:
    """The system libraries of policy *tag*; of the most permissive policy when None."""
    try:
        policies = WheelPolicies(libc=Libc.GLIBC, arch=Architecture(arch))
    except ValueError:  # no policy for the architecture: judge by x86_64's sonames
        policies = WheelPolicies(libc=Libc.GLIBC, arch=Architecture.x86_64)
    policy = policies.lowest if tag is None else policies.get_policy_by_name(tag)
    return frozenset(policy.whitelist)


def _search_dirs(
    elfs: Mapping[str, ElfFile], provided: Mapping[str, Sequence[str]]
) -> dict[str, set[str]]:
    """The wheel folders the loader searches for each file's DT_NEEDED entries.

    glibc's loader searches the DT_RUNPATH of the needing file alone if it has one; otherwise the
    DT_RPATH of the needing file, then of the file that loaded it, and so on up the chain
    (a file with DT_RUNPATH adds nothing to the chain). Any wheel file needing a library may have
    loaded it, so the chains are merged until nothing changes.
    """

    def dirs(path: str, entries: Sequence[str]) -> set[str]:
        origin = posixpath.dirname(_installed(path))
        return {d for entry in entries if (d := _resolve(origin, entry)) is not None}

    inherited = {
        path: set() if elf.runpath else dirs(path, elf.rpath) for path, elf in elfs.items()
    }
    loaders: dict[str, set[str]] = {path: set() for path in elfs}
    for path, elf in elfs.items():
        for soname in elf.needed:
            for provider in provided.get(soname, ()):
                loaders[provider].add(path)
    changed = True
    while changed:
        changed = False
        for path, needers in loaders.items():
            for needer in needers:
                if not inherited[needer] <= inherited[path]:
                    inherited[path] |= inherited[needer]
                    changed = True
    return {p: dirs(p, elf.runpath) if elf.runpath else inherited[p] for p, elf in elfs.items()}


def _libraries(
    elfs: Mapping[str, ElfFile],
    members: Sequence[Member],
    verdict: PlatformVerdict,
    requires_dist: Sequence[str],
    findings: list[Finding],
) -> tuple[LibraryReport, ...]:
    """One report per ELF file; append the problems of its needs, RPATH and C++ exports."""
    files = {_installed(m.name) for m in members}
    folders = {"."} | {f.rsplit("/", i)[0] for f in files for i in range(1, f.count("/") + 1)}
    provided: dict[str, list[str]] = {}
    for path, elf in elfs.items():
        for name in _names(path, elf):
            provided.setdefault(name, []).append(path)
    search = _search_dirs(elfs, provided) if elfs else {}
    arch = verdict.tag.removeprefix(f"{verdict.policy}_")
    # A wheel that meets no policy is judged by the most permissive whitelist.
    tag = None if verdict.policy == "linux" else verdict.tag
    whitelist = _whitelist(arch, tag) if elfs else frozenset()
    reports = []
    for path in sorted(elfs):
        elf = elfs[path]
        findings += _rpath_findings(path, elf, folders, requires_dist)
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
            elif soname in whitelist or _LOADERS.fullmatch(soname):
                where = "system"
            else:
                where = "missing"
                findings.append(missing_library(path, soname, requires_dist))
            needed.append((soname, where))
        findings += cxx_findings(path, elf, _names(path, elf))
        weak, strong = len(elf.exported_weak_std), len(elf.exported_global_std)
        versions = tuple(max_versions(elf).items())
        rpath = (*elf.rpath, *elf.runpath)
        reports.append(
            LibraryReport(path, tuple(needed), versions, rpath, weak, strong, elf.uses_cxx11_abi)
        )
    return tuple(reports)


def _rpath_findings(
    path: str, elf: ElfFile, folders: set[str], requires_dist: Sequence[str]
) -> list[Finding]:
    origin = posixpath.dirname(_installed(path))
    findings = []
    for entry in dict.fromkeys((*elf.rpath, *elf.runpath)):
        kind = "RPATH" if entry in elf.rpath else "RUNPATH"
        folder = _resolve(origin, entry)
        if any(placeholder in entry for placeholder in PLACEHOLDERS):
            message = f"{path} has the {kind} entry {entry}, which holds a conda prefix placeholder"
            findings.append(finding("rpath-placeholder", message, path))
        elif entry.startswith("/"):
            message = f"{path} has the absolute {kind} entry {entry}"
            findings.append(finding("rpath-absolute", message, path))
        elif folder is None and "$" not in entry:  # $LIB and $PLATFORM are the loader's business
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


def audit_document(reports: Sequence[AuditReport]) -> dict[str, Any]:
    """The reports as the versioned JSON document described by ``data/audit-schema.json``."""
    return {
        "version": AUDIT_SCHEMA_VERSION,
        "wheels": [
            {
                "wheel": report.wheel,
                "ok": report.ok,
                "claimed_tags": list(report.claimed_tags),
                "verdict": {k: _json(v) for k, v in asdict(report.verdict).items()},
                "runtime": report.runtime,
                "libraries": [
                    {
                        **{k: _json(v) for k, v in asdict(lib).items()},
                        "needed": [{"soname": s, "where": w} for s, w in lib.needed],
                        "max_versions": dict(lib.max_versions),
                    }
                    for lib in report.libraries
                ],
                "findings": [{**asdict(f), "level": f.level.value} for f in report.findings],
            }
            for report in reports
        ],
    }


def _json(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def audit_text(report: AuditReport) -> str:
    """The report for people: tags claimed and allowed, one block per binary, then findings.

    Control characters are escaped (:func:`~condapress.errors.printable`); the JSON document
    keeps every name as it is.
    """
    verdict = report.verdict
    aliases = f" (also {', '.join(verdict.aliases)})" if verdict.aliases else ""
    lines = [
        report.wheel,
        f"  claims: {', '.join(report.claimed_tags) or '(no tags)'}",
        f"  binaries allow: {verdict.tag}{aliases}"
        + ("" if report.libraries else " (no binary files)"),
    ]
    lines += [f"    limited by: {limit}" for limit in verdict.limits]
    if report.runtime is not None:
        lines.append(f"  compiler runtime: {report.runtime}")
    for lib in report.libraries:
        lines += ["", f"  {lib.path}"]
        lines += [f"    needs {soname} ({where})" for soname, where in lib.needed]
        if lib.max_versions:
            versions = ", ".join(f"{prefix}_{v}" for prefix, v in lib.max_versions)
            lines.append(f"    max versions: {versions}")
        if lib.rpath:
            lines.append(f"    rpath: {':'.join(lib.rpath)}")
        if lib.exported_weak_std or lib.exported_global_std:
            lines.append(
                f"    exports std:: {lib.exported_weak_std} weak, {lib.exported_global_std} global"
            )
        if lib.cxx11_abi:
            lines.append("    C++11 ABI (std::__cxx11)")
    if report.findings:
        lines.append("")
    for f in report.findings:
        lines += [f"{f.level.value}: {f.message}", f"  hint: {f.hint}"]
    counts = {word: sum(f.level is level for f in report.findings) for level, word in _WORDS}
    summary = ", ".join(f"{n} {word}{'' if n == 1 else 's'}" for word, n in counts.items())
    lines += ["", f"{report.wheel}: {'ok' if report.ok else 'failed'} ({summary})"]
    # Names come from the wheel (members, sonames, RPATH, tags, METADATA): escaped, a newline or
    # an escape sequence in one can neither forge a line nor drive the terminal.
    return "".join(f"{printable(line)}\n" for line in lines)
