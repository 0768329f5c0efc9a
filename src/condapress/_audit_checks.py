"""The audit's findings, and its checks of a wheel's files, read in one streaming pass.

Each member is decompressed once: the same chunks feed its RECORD hashes, the search for
build-prefix strings and, for ELF files only, a temporary copy that :func:`read_elf` reads.
Every finding code is listed in :data:`CODES` with its level and hint. The checks here cover the
archive, the ``.dist-info`` folder (RECORD, METADATA, WHEEL, file name) and what one library
alone shows (C++ exports, a bundled libstdc++); :mod:`condapress.audit` checks how the binaries
fit together.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import hashlib
import io
import json
import re
import tempfile
import zipfile
import zlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from packaging.metadata import ExceptionGroup, Metadata, parse_email
from packaging.tags import parse_tag
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from condapress._elf import read_elf
from condapress.assemble import DATA_PATHS_FILE, PROVENANCE_FILE
from condapress.errors import ArchiveError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from condapress._elf import ElfFile


#: Strings that only a conda build machine writes: its build root, and the placeholders that
#: conda replaces with the install prefix (neither survives a proper relocation).
PLACEHOLDERS = ("_h_env_placehold", "/opt/anaconda1anaconda2anaconda3")
BUILD_PREFIXES = ("/home/conda/feedstock_root/build_artifacts/", *PLACEHOLDERS)
_NEEDLES = tuple(prefix.encode() for prefix in BUILD_PREFIXES)
# A string split across two chunks is found in the tail of one plus the next.
_OVERLAP = max(len(needle) for needle in _NEEDLES) - 1
_CHUNK = 1 << 20
_ELF_MAGIC = b"\x7fELF"
_MAX_LISTED = 10
# zipfile reports a corrupt member as a bad CRC or deflate stream, an unknown compression
# method (NotImplementedError) or encryption (RuntimeError), depending on where it notices.
_CORRUPT = (OSError, EOFError, zlib.error, zipfile.BadZipFile, NotImplementedError, RuntimeError)
# The binary-format wheel spec asks for sha256 or a stronger hash of hashlib.algorithms_guaranteed.
_STRONG_HASHES = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
_REQUIRED_FIELDS = ("Metadata-Version", "Name", "Version")
# libstdc++ under its own name, or mangled by a repair tool (libstdc++-1a2b3c4d.so.6.0.32).
_LIBSTDCXX = re.compile(r"libstdc\+\+(?:-[0-9a-f]+)*\.so(?:\.[0-9.]+)?")
_SHOWN_SYMBOLS = 3


class Level(enum.Enum):
    """How serious a finding is."""

    #: PyPI, an installer or the dynamic loader will refuse or break on it.
    ERROR = "error"
    #: works here, but is a hazard elsewhere (another process, another machine).
    WARNING = "warning"
    #: worth knowing; nothing to fix.
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for errors, 1 for warnings, 2 for notes: the order reports list them in."""
        return list(Level).index(self)


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing the audit found about a wheel."""

    #: how serious it is; every code always has the same level.
    level: Level
    #: stable kebab-case identifier, such as ``rpath-absolute`` (listed in ``CODES``).
    code: str
    #: what is wrong, naming the file or library.
    message: str
    #: what to do about it.
    hint: str
    #: the archive member concerned, if one is.
    path: str | None = None


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
    # the binaries
    "bad-elf": (_E, "rebuild the wheel: the loader cannot use a truncated or corrupt binary"),
    "missing-library": (_E, "bundle it in the wheel (condapress --fat, auditwheel repair)"),
    "library-from-other-wheel": (_W, "check that a Requires-Dist wheel installs it on the RPATH"),
    "unreachable-library": (_W, "add an RPATH entry $ORIGIN/<its folder> (patchelf --add-rpath)"),
    "rpath-absolute": (_E, "use an entry relative to $ORIGIN (patchelf --set-rpath)"),
    "rpath-placeholder": (_E, "press the conda package with condapress, which rewrites RPATH"),
    "rpath-outside-wheel": (_W, "point it at a folder of the wheel, or remove it"),
    "rpath-other-wheel": (_I, "nothing to do if a Requires-Dist wheel installs that folder"),
    "rpath-cwd-relative": (_W, "use $ORIGIN: the loader resolves it from the current directory"),
    "exported-std-symbols": (_W, _STD_HINT),
    "cxx11-abi": (_I, "C++ libraries sharing std::string need the same _GLIBCXX_USE_CXX11_ABI"),
    "bundled-libstdcxx": (_W, _LIBSTDCXX_HINT),
    # the data paths of placeholder sites (condapress._audit_datapaths)
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


def finding(code: str, message: str, path: str | None = None, **fields: str) -> Finding:
    """A finding of *code*, with the level and hint ``CODES`` gives it."""
    level, hint = CODES[code]
    return Finding(level, code, message, hint.format(**fields) if fields else hint, path)


@dataclass(frozen=True, slots=True)
class Member:
    """What one pass over an archive member found."""

    name: str
    size: int
    #: ``(algorithm, urlsafe base64 digest without padding)`` for every algorithm RECORD uses.
    digests: tuple[tuple[str, str], ...]
    #: the build-prefix strings it contains.
    prefixes: tuple[str, ...]
    elf: ElfFile | None
    #: the member could not be read, or is a broken ELF file.
    problem: Finding | None


@dataclass(frozen=True, slots=True)
class WheelScan:
    """Every member of a wheel and the texts of its ``.dist-info`` files."""

    filename: str
    members: tuple[Member, ...]
    #: the top-level ``.dist-info`` folders (a valid wheel has exactly one).
    dist_infos: tuple[str, ...]
    #: ``(file name, text)`` of METADATA, WHEEL, RECORD, the provenance and data-path records.
    texts: tuple[tuple[str, str], ...]

    def text(self, leaf: str) -> str | None:
        """The text of ``<dist-info>/<leaf>``, or None."""
        return dict(self.texts).get(leaf)


def read_wheel(path: Path) -> WheelScan:
    """Scan every member of the wheel at *path* once, never extracting more than one ELF file.

    :raises ArchiveError: *path* cannot be opened as a zip archive.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ArchiveError(
            f"cannot audit {path.name}: it is not a readable zip archive ({exc})",
            hint="download or press the wheel again; a wheel is a zip file",
            path=str(path),
        ) from exc
    with zf, tempfile.TemporaryDirectory(prefix="condapress-audit-") as tmp:
        infos = [info for info in zf.infolist() if not info.is_dir()]
        names = {info.filename for info in infos}
        tops = {name.split("/")[0] for name in names if "/" in name}
        dist_infos = sorted(top for top in tops if top.endswith(".dist-info"))
        texts: list[tuple[str, str]] = []
        if len(dist_infos) == 1:
            for leaf in ("METADATA", "WHEEL", "RECORD", PROVENANCE_FILE, DATA_PATHS_FILE):
                name = f"{dist_infos[0]}/{leaf}"
                with contextlib.suppress(*_CORRUPT, KeyError):
                    texts.append((leaf, zf.read(name).decode("utf-8", "replace")))
        record = dict(texts).get("RECORD", "")
        used = {row[1].partition("=")[0] for row in _record_rows(record)[0]}
        algorithms = sorted({"sha256"} | (used & _STRONG_HASHES))
        members = tuple(_scan_member(zf, info, algorithms, Path(tmp)) for info in infos)
    return WheelScan(path.name, members, tuple(dist_infos), tuple(texts))


def _scan_member(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, algorithms: Sequence[str], tmp: Path
) -> Member:
    name = info.filename
    hashers = [(algorithm, hashlib.new(algorithm)) for algorithm in algorithms]
    found: set[bytes] = set()
    tail, size = b"", 0
    copy = tmp / "member.elf"
    out: BinaryIO | None = None
    try:
        with contextlib.ExitStack() as stack:
            src = stack.enter_context(zf.open(info))
            while chunk := src.read(_CHUNK):
                if size == 0 and chunk.startswith(_ELF_MAGIC):
                    out = stack.enter_context(copy.open("wb"))
                size += len(chunk)
                for _, hasher in hashers:
                    hasher.update(chunk)
                window = tail + chunk
                found.update(needle for needle in _NEEDLES if needle in window)
                tail = window[-_OVERLAP:]
                if out is not None:
                    out.write(chunk)
    except _CORRUPT as exc:
        message = f"{name} cannot be read from the archive: {exc}"
        return Member(name, size, (), (), None, finding("unreadable-member", message, name))
    elf: ElfFile | None = None
    problem: Finding | None = None
    if out is not None:
        try:
            elf = read_elf(copy)
        except ArchiveError as exc:
            reason = exc.message.partition(" is not a valid ELF file: ")[2] or exc.message
            problem = finding("bad-elf", f"{name} is not a valid ELF file: {reason}", name)
        copy.unlink()
    digests = tuple((algorithm, _b64(hasher.digest())) for algorithm, hasher in hashers)
    prefixes = tuple(p for p, n in zip(BUILD_PREFIXES, _NEEDLES, strict=True) if n in found)
    return Member(name, size, digests, prefixes, elf, problem)


def _b64(digest: bytes) -> str:
    return urlsafe_b64encode(digest).rstrip(b"=").decode()


def listing(items: Sequence[str], separator: str = ", ") -> str:
    """*items* joined, the first ten only, then ``... and N more``."""
    more = f"{separator}... and {len(items) - _MAX_LISTED} more" if len(items) > _MAX_LISTED else ""
    return separator.join(items[:_MAX_LISTED]) + more


def _count(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _record_rows(text: str) -> tuple[list[list[str]], list[int]]:
    """The ``path,hash,size`` rows of RECORD, and the line numbers of malformed rows."""
    rows: list[list[str]] = []
    malformed: list[int] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if len(row) == 3:  # noqa: PLR2004
                rows.append(row)
            elif any(row):
                malformed.append(reader.line_num)
    except csv.Error:  # an unterminated quote: the rest of the file is one bad row
        malformed.append(reader.line_num)
    return rows, malformed


@dataclass(frozen=True, slots=True)
class WheelFacts:
    """What the integrity checks learned that the other checks need."""

    #: the tags of the WHEEL file, then those only the file name claims.
    claimed_tags: tuple[str, ...]
    #: METADATA's ``Requires-Dist`` values.
    requires_dist: tuple[str, ...]
    #: the compiler-runtime policy recorded in the provenance file, if any.
    runtime: str | None


def integrity_findings(scan: WheelScan) -> tuple[WheelFacts, list[Finding]]:
    """Check the archive members, the ``.dist-info`` folder, RECORD, METADATA and the tags."""
    findings = [m.problem for m in scan.members if m.problem is not None]
    for m in scan.members:
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
    findings += _record_findings(dist_info, scan.text("RECORD"), scan.members)
    requires = _metadata_findings(
        dist_info, scan.text("METADATA"), file_name, file_version, findings
    )
    claimed = _wheel_tags(dist_info, scan.text("WHEEL"), file_tags, findings)
    return WheelFacts(claimed, requires, _runtime(scan.text(PROVENANCE_FILE))), findings


def _record_findings(dist_info: str, text: str | None, members: Sequence[Member]) -> list[Finding]:
    record = f"{dist_info}/RECORD"
    if text is None:
        return [finding("record-missing", f"{record} is missing", record)]
    # RECORD cannot hold its own hash, and signatures of RECORD are made after it.
    unhashed = {record, f"{record}.jws", f"{record}.p7s"}
    by_name = {m.name: m for m in members}
    rows, malformed = _record_rows(text)
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


def _metadata_findings(
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


def _runtime(text: str | None) -> str | None:
    with contextlib.suppress(ValueError):
        document = json.loads(text or "{}")
        if isinstance(document, dict) and isinstance(runtime := document.get("runtime"), str):
            return runtime
    return None


def missing_library(path: str, soname: str, requires_dist: Sequence[str]) -> Finding:
    """The finding for a library that is neither in the wheel nor on the whitelist."""
    where = f"{path} needs {soname}, which is neither in the wheel nor on the manylinux whitelist"
    if requires_dist:
        message = f"{where}: expected from another wheel ({', '.join(requires_dist)})"
        return finding("library-from-other-wheel", message, path)
    return finding("missing-library", where, path)


def cxx_findings(path: str, elf: ElfFile, names: Iterable[str]) -> list[Finding]:
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
