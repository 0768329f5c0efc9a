"""The audit's findings, and its checks of a wheel's files.

Every finding code is listed in :data:`CODES` with its level and hint. The checks here cover the
archive, the ``.dist-info`` folder (RECORD, METADATA, WHEEL, file name) and what one library
alone shows (C++ exports, a bundled libstdc++); :mod:`condapress.audit._scan` reads the wheel,
and :mod:`condapress.audit` checks how the binaries fit together.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from email.parser import HeaderParser
from typing import TYPE_CHECKING

from packaging.metadata import ExceptionGroup, Metadata, parse_email
from packaging.tags import parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from condapress._datapaths import PLACEHOLDERS
from condapress._distinfo import PROVENANCE_FILE
from condapress.audit._scan import MAX_DIST_INFO_FILE, record_rows
from condapress.errors import listing
from condapress.model import Finding, Level

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Mapping, Sequence

    from condapress.audit._scan import Member, WheelScan
    from condapress.model import BinaryFacts


_REQUIRED_FIELDS = ("Metadata-Version", "Name", "Version")
# libstdc++ under its own name, or mangled by a repair tool (libstdc++-1a2b3c4d.so.6.0.32).
_LIBSTDCXX = re.compile(r"libstdc\+\+(?:-[0-9a-f]+)*\.so(?:\.[0-9.]+)?")
_SHOWN_SYMBOLS = 3


_RECORD = "rebuild the wheel: installers that verify RECORD refuse it"
_METADATA = "fix METADATA and rebuild the wheel: PyPI rejects what does not validate"
_STD_HINT = (
    "link with -Wl,--exclude-libs,ALL or a version script exporting only the library's API "
    "(-fvisibility=hidden leaves them: libstdc++ gives namespace std default visibility)"
)
_LIBSTDCXX_HINT = (
    "press with --runtime system (the default) to use the target's libstdc++, or keep every "
    "other C++ library of the process off this one"
)
_E, _W, _I = Level.ERROR, Level.WARNING, Level.INFO
#: Every finding code, with its level and hint (``{name}`` fields are filled in per finding).
CODES: dict[str, tuple[Level, str]] = {
    # the archive and its .dist-info
    "unreadable-member": (_E, "the wheel is corrupt: download or press it again"),
    "unsafe-path": (_E, "installers refuse such a member: use relative paths"),
    "bad-filename": (_E, "name it <name>-<version>-<python>-<abi>-<platform>.whl"),
    "no-dist-info": (_E, "add <name>-<version>.dist-info with METADATA, WHEEL and RECORD"),
    "many-dist-info": (_E, "installers cannot tell which one is the wheel's: keep one"),
    **dict.fromkeys(("record-missing", "record-malformed", "record-unlisted"), (_E, _RECORD)),
    **dict.fromkeys(("record-missing-file", "record-no-hash"), (_E, _RECORD)),
    **dict.fromkeys(("record-hash-mismatch", "record-size-mismatch"), (_E, _RECORD)),
    **dict.fromkeys(("metadata-missing", "metadata-field-missing"), (_E, _METADATA)),
    "metadata-invalid": (_E, _METADATA),
    "name-mismatch": (_E, "name the file after METADATA's Name ('-' written as '_')"),
    "version-mismatch": (_E, "name the file after METADATA's Version"),
    "wheel-file-missing": (_E, "installers read the tags from WHEEL: rebuild the wheel"),
    "tag-mismatch": (_E, "make the file name and WHEEL's Tag lines claim the same tags"),
    "build-prefix": (_E, "press the package with condapress, or rebuild it relocatable"),
    "build-path": (
        _W,
        (
            "harmless unless the program opens that path at run time; rebuild with "
            "-ffile-prefix-map to drop it"
        ),
    ),
    # the platform tag
    "overclaimed-tag": (_E, "tag the wheel {tag}, or build the binaries on an older distribution"),
    "wrong-architecture": (_E, "tag the wheel for the architecture of its binaries"),
    "mixed-architectures": (_E, "a wheel holds binaries for one architecture: remove the odd file"),
    "unchecked-tag": (_W, "check the binaries against that platform's rules with another tool"),
    "underclaimed-tag": (_I, "tag the wheel {tag} to let older distributions install it"),
    "tag-from-required-wheels": (
        _I,
        "nothing to do if those wheels are tagged so: a wheel installs only where they install",
    ),
    # the binaries
    "bad-elf": (_E, "rebuild the wheel: the loader cannot use a truncated or corrupt binary"),
    "file-too-large": (_E, "do not install this wheel: no real wheel has a file like this"),
    "missing-library": (_E, "bundle it in the wheel (condapress --fat, auditwheel repair)"),
    "library-excluded": (_I, "make sure the target systems or a required wheel install it"),
    "library-from-other-wheel": (_W, "check that a Requires-Dist wheel installs it on the RPATH"),
    "unreachable-library": (_W, "add an RPATH entry $ORIGIN/<its folder> (patchelf --add-rpath)"),
    "rpath-absolute": (
        _E,
        (
            "use an entry relative to $ORIGIN (patchelf --set-rpath) or @loader_path "
            "(install_name_tool -rpath)"
        ),
    ),
    "rpath-placeholder": (_E, "press the conda package with condapress, which rewrites RPATH"),
    "rpath-outside-wheel": (_W, "point it at a folder of the wheel, or remove it"),
    "rpath-other-wheel": (_I, "nothing to do if a Requires-Dist wheel installs that folder"),
    "rpath-cwd-relative": (_W, "use $ORIGIN: the loader resolves it from the current directory"),
    "exported-std-symbols": (_W, _STD_HINT),
    "cxx11-abi": (_I, "C++ libraries sharing std::string need the same _GLIBCXX_USE_CXX11_ABI"),
    "bundled-libstdcxx": (_W, _LIBSTDCXX_HINT),
    # the DLLs of a Windows wheel (condapress.audit._dlls)
    "dll-missing": (_E, "bundle it in the wheel (condapress --fat, delvewheel repair)"),
    "dll-from-other-wheel": (
        _W,
        (
            "check that a Requires-Dist wheel installs it in a folder the package adds with "
            "os.add_dll_directory"
        ),
    ),
    "dll-unreachable": (
        _E,
        (
            "call os.add_dll_directory on its folder at the top of the package's __init__.py "
            "(condapress and delvewheel repair write that call)"
        ),
    ),
    "dll-not-mangled": (
        _W,
        (
            "rename the bundled DLL with a hash of its own and rewrite the import tables naming "
            "it (condapress and delvewheel repair do)"
        ),
    ),
    "msvc-runtime": (
        _I,
        (
            "nothing to do where the Microsoft Visual C++ Redistributable is installed, as it is "
            "on most machines; elsewhere the import fails until it is"
        ),
    ),
    # what dyld and macOS refuse (condapress.audit._macho)
    "bad-macho": (_E, "rebuild the wheel: dyld cannot use a truncated or corrupt binary"),
    "install-name-absolute": (
        _E,
        (
            "load it by @loader_path/<path from the binary to the library> (install_name_tool "
            "-change), with the library in the wheel"
        ),
    ),
    "unsigned-binary": (_E, "sign it ad hoc (codesign -s -) after its last edit"),
    "bad-signature": (_E, "sign it again (codesign -f -s -): an edit after signing broke it"),
    # the data paths of placeholder sites (condapress.audit._datapaths)
    "data-path-covered": (_I, "nothing to do"),
    "data-path-unshipped": (_I, "nothing to do: in a conda environment it is missing too"),
    "data-path-degraded": (_W, "nothing to do unless that feature matters: it needs conda"),
    "data-path-unreachable": (
        _E,
        (
            "add the environment variable that {package} reads for {datapath} to condapress's "
            "table of relocatable packages (data/relocatable_env.json) and press again"
        ),
    ),
    "data-path-absent": (
        _W,
        "nothing to do if {package} only reports {datapath}; if it reads it, the wheel lacks it",
    ),
    "data-path-prefix": (
        _W,
        (
            "nothing to do if it is build information (compiler flags); if {package} finds its "
            "files from it, add the variable it reads to condapress's table of relocatable "
            "packages (data/relocatable_env.json)"
        ),
    ),
    "data-variable-missing": (_E, "keep the data that {name} names in the wheel"),
}


def finding(
    code: str,
    message: str,
    path: str | None = None,
    *,
    codes: Mapping[str, tuple[Level, str]] = CODES,
    **fields: str,
) -> Finding:
    """A finding of *code*, with the level and hint *codes* (the audit's ``CODES``) give it."""
    level, hint = codes[code]
    return Finding(level, code, message, hint.format(**fields) if fields else hint, path)


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


@dataclass(frozen=True, slots=True)
class WheelFacts:
    """What the integrity checks learned that the other checks need."""

    #: the tags of the WHEEL file, then those only the file name claims.
    claimed_tags: tuple[str, ...]
    #: METADATA's ``Requires-Dist`` values.
    requires_dist: tuple[str, ...]
    #: the compiler-runtime policy recorded in the provenance file, if any.
    runtime: str | None
    #: the libraries the provenance file says the press left to the system (``--exclude``).
    excluded: frozenset[str] = frozenset()


def integrity_findings(scan: WheelScan) -> tuple[WheelFacts, list[Finding]]:
    """Check the archive members, the ``.dist-info`` folder, RECORD, METADATA and the tags."""
    findings = _member_findings(scan.members)
    file_tags: list[str] | None = None
    file_name = file_version = None
    try:
        file_name, file_version, _, tags = parse_wheel_filename(scan.filename)
        file_tags = sorted(str(tag) for tag in tags)
    except InvalidWheelFilename as exc:
        message = f"{scan.filename} is not a valid wheel file name: {exc}"
        findings.append(finding("bad-filename", message))
    if not scan.dist_infos:
        findings.append(finding("no-dist-info", "the wheel has no .dist-info folder"))
    if len(scan.dist_infos) > 1:
        message = (
            f"the wheel has {len(scan.dist_infos)} .dist-info folders "
            f"({', '.join(scan.dist_infos)}); it must have exactly one"
        )
        findings.append(finding("many-dist-info", message))
    if len(scan.dist_infos) != 1:
        return WheelFacts(tuple(file_tags or ()), (), None), findings
    dist_info = scan.dist_infos[0]
    # A file too large to read is reported as such; the checks that need it are left out.
    unread = dict(scan.too_large)
    for leaf, size in scan.too_large:
        message = (
            f"{dist_info}/{leaf} unpacks to {size:,} bytes; condapress reads at most "
            f"{MAX_DIST_INFO_FILE >> 20} MiB of a .dist-info file"
        )
        findings.append(finding("file-too-large", message, f"{dist_info}/{leaf}"))
    if "RECORD" not in unread:
        findings += _record_findings(dist_info, scan.text("RECORD"), scan.members)
    requires: tuple[str, ...] = ()
    if "METADATA" not in unread:
        metadata = scan.text("METADATA")
        requires = metadata_findings(dist_info, metadata, file_name, file_version, findings)
    claimed = tuple(file_tags or ())
    if "WHEEL" not in unread:
        claimed = _wheel_tags(dist_info, scan.text("WHEEL"), file_tags, findings)
    recorded = _provenance(scan.text(PROVENANCE_FILE))
    runtime = recorded.get("runtime")
    excluded = recorded.get("excluded")
    return WheelFacts(
        claimed,
        requires,
        runtime if isinstance(runtime, str) else None,
        frozenset(n for n in excluded if isinstance(n, str))
        if isinstance(excluded, list)
        else frozenset(),
    ), findings


def _member_findings(members: Sequence[Member]) -> list[Finding]:
    """What each member shows alone: unreadable, unsafe, broken ELF, build-machine strings."""
    findings = [finding(*m.problem, m.name) for m in members if m.problem is not None]
    for m in members:
        if m.name.startswith("/") or ".." in m.name.split("/"):
            message = f"{m.name} would be installed outside the installation folder"
            findings.append(finding("unsafe-path", message, m.name))
        # A placeholder is what conda rewrites at install time: a program may read it at run
        # time. A bare build-machine path (a source path in an assert message, a dead copy of
        # the old RPATH left in .dynstr by patchelf) only says where the package was built.
        placeholders = [p for p in m.prefixes if p in PLACEHOLDERS]
        if placeholders:
            more = f" (and {', '.join(placeholders[1:])})" if placeholders[1:] else ""
            message = f"{m.name} contains the build prefix {placeholders[0]}{more}"
            findings.append(finding("build-prefix", message, m.name))
        elif m.prefixes:
            message = f"{m.name} contains the build-machine path {m.prefixes[0]}"
            findings.append(finding("build-path", message, m.name))
    return findings


def _record_findings(dist_info: str, text: str | None, members: Sequence[Member]) -> list[Finding]:
    record = f"{dist_info}/RECORD"
    if text is None:
        return [finding("record-missing", f"{record} is missing", record)]
    # RECORD cannot hold its own hash, and signatures of RECORD are made after it.
    unhashed = {record, f"{record}.jws", f"{record}.p7s"}
    by_name = {m.name: m for m in members}
    rows, malformed = record_rows(text)
    templates = {
        "record-unlisted": "RECORD does not list {}",
        "record-missing-file": "RECORD lists {} that the wheel does not have",
        "record-no-hash": "RECORD has no sha256 (or stronger) hash for {}",
        "record-hash-mismatch": "RECORD has the wrong hash for {}",
        "record-size-mismatch": "RECORD has the wrong size for {}",
    }
    problems: dict[str, list[str]] = {code: [] for code in templates}
    problems["record-unlisted"] = sorted(by_name.keys() - {row[0] for row in rows} - unhashed)
    for path, hash_text, size in rows:
        member = by_name.get(path)
        if member is None:
            problems["record-missing-file"].append(path)
        elif path not in unhashed and member.digests:  # no digests: unreadable, reported already
            algorithm, _, value = hash_text.partition("=")
            digest = dict(member.digests).get(algorithm)
            if digest is None or value.rstrip("=") != digest:
                code = "record-no-hash" if digest is None else "record-hash-mismatch"
                problems[code].append(path)
            if size and size != str(member.size):
                problems["record-size-mismatch"].append(path)
    findings = []
    if n := len(malformed):
        lines = f"{'line' if n == 1 else 'lines'} {listing([str(line) for line in malformed])}"
        message = f"RECORD has {_count(n, 'malformed row')} ({lines})"
        findings.append(finding("record-malformed", message, record))
    for code, paths in problems.items():
        if paths:
            message = f"{templates[code].format(_count(len(paths), 'file'))}: {listing(paths)}"
            findings.append(finding(code, message, record))
    return findings


def metadata_findings(
    dist_info: str,
    text: str | None,
    file_name: str | None,
    file_version: Version | None,
    findings: list[Finding],
) -> tuple[str, ...]:
    """Append METADATA's problems to *findings*; return its Requires-Dist values."""
    metadata = f"{dist_info}/METADATA"
    if text is None:
        findings.append(finding("metadata-missing", f"{metadata} is missing", metadata))
        return ()
    headers = HeaderParser().parsestr(text)
    if missing := [field for field in _REQUIRED_FIELDS if headers.get(field) is None]:
        fields = "field" if len(missing) == 1 else "fields"
        message = f"METADATA lacks the required {fields} {', '.join(missing)}"
        findings.append(finding("metadata-field-missing", message, metadata))
    else:
        try:
            Metadata.from_email(text, validate=True)
        except ExceptionGroup as group:
            problems = sorted(str(exc) for exc in group.exceptions)  # packaging's order varies
            message = f"METADATA is not valid core metadata: {listing(problems, '; ')}"
            findings.append(finding("metadata-invalid", message, metadata))
    raw, _ = parse_email(text)
    name, version = raw.get("name"), raw.get("version")
    if file_name is not None and name is not None and canonicalize_name(name) != file_name:
        message = f"the file name says the distribution is {file_name}, but METADATA says {name}"
        findings.append(finding("name-mismatch", message, metadata))
    if file_version is not None and version is not None and _differs(version, file_version):
        message = f"the file name says version {file_version}, but METADATA says {version}"
        findings.append(finding("version-mismatch", message, metadata))
    return tuple(raw.get("requires_dist", []))


def _differs(version: str, file_version: Version) -> bool:
    try:
        return Version(version) != file_version
    except InvalidVersion:  # reported by the metadata validation
        return False


def _wheel_tags(
    dist_info: str, text: str | None, file_tags: Sequence[str] | None, findings: list[Finding]
) -> tuple[str, ...]:
    """Append WHEEL's problems to *findings*; return every tag the wheel claims."""
    wheel = f"{dist_info}/WHEEL"
    if text is None:
        findings.append(finding("wheel-file-missing", f"{wheel} is missing", wheel))
        return tuple(file_tags or ())
    listed: dict[str, None] = {}
    for line in HeaderParser().parsestr(text).get_all("Tag") or []:
        tag = line.strip()
        # A compressed tag set (cp311-cp311-a.b) stands for several; a malformed one for itself.
        ok = tag.count("-") == 2  # noqa: PLR2004
        listed.update(dict.fromkeys([str(t) for t in parse_tag(tag)] if ok else [tag]))
    if file_tags is None:
        return tuple(listed)
    if set(listed) != set(file_tags):
        message = (
            f"WHEEL lists the tags {', '.join(sorted(listed)) or '(none)'}, but the file name "
            f"claims {', '.join(file_tags)}"
        )
        findings.append(finding("tag-mismatch", message, wheel))
    return (*listed, *(tag for tag in file_tags if tag not in listed))


def _provenance(text: str | None) -> dict[str, object]:
    """The provenance file's object; empty when there is none, or it is no JSON object."""
    with contextlib.suppress(ValueError):
        document = json.loads(text or "{}")
        if isinstance(document, dict):
            return document
    return {}


def missing_library(
    path: str, soname: str, requires_dist: Sequence[str], excluded: Collection[str] = ()
) -> Finding:
    """The finding for a library that is neither in the wheel nor on the whitelist.

    :param excluded: the libraries the press left out on purpose (``--exclude``).
    """
    if soname in excluded:
        message = (
            f"{path} needs {soname}, which the press left out (--exclude): the system or another "
            "wheel provides it, and the platform tag does not vouch for it"
        )
        return finding("library-excluded", message, path)
    where = f"{path} needs {soname}, which is neither in the wheel nor on the manylinux whitelist"
    if requires_dist:
        message = f"{where}: expected from another wheel ({', '.join(requires_dist)})"
        return finding("library-from-other-wheel", message, path)
    return finding("missing-library", where, path)


def cxx_findings(path: str, elf: BinaryFacts, names: Iterable[str]) -> list[Finding]:
    """The C++ hazards of *elf*, known to the loader by *names*: a second libstdc++, std exports."""
    if any(_LIBSTDCXX.fullmatch(name) for name in names):
        message = (
            f"{path} is a copy of libstdc++: two libstdc++ in one process is the crash the "
            "Arrow and TensorFlow wheels hit"
        )
        return [finding("bundled-libstdcxx", message, path)]
    findings = []
    weak, strong = elf.exported_weak_std, elf.exported_global_std
    if weak or strong:
        examples = ", ".join((*weak, *strong)[:_SHOWN_SYMBOLS])
        message = (
            f"{path} exports {len(weak)} weak and {len(strong)} global symbols of namespace std, "
            f"such as {examples}"
        )
        findings.append(finding("exported-std-symbols", message, path))
    if elf.uses_cxx11_abi:
        message = f"{path} uses the C++11 ABI of libstdc++ (std::__cxx11)"
        findings.append(finding("cxx11-abi", message, path))
    return findings
