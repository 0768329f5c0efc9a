"""Frozen dataclasses that the pipeline stages pass to each other."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, TypeAlias

from condapress._paths import SITE_PACKAGES
from condapress._progress import NULL_REPORTER, Reporter

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "KNOWN_SUBDIRS",
    "AuditReport",
    "Becomes",
    "BinaryEdit",
    "BinaryFacts",
    "BuiltWheel",
    "CheckReport",
    "Closure",
    "CondaRecord",
    "ConsoleScript",
    "Control",
    "CoreMetadata",
    "DataPaths",
    "EnvSetting",
    "FileMode",
    "Finding",
    "IndexResult",
    "Launcher",
    "Layout",
    "LeftOut",
    "Level",
    "LibraryReport",
    "MachoSlice",
    "MemberScan",
    "NameSource",
    "NoArch",
    "NodeClass",
    "PackageDecision",
    "PackageFacts",
    "PackageInfo",
    "PathEntry",
    "PathType",
    "PlaceholderSite",
    "Placement",
    "PlanOptions",
    "PlatformVerdict",
    "PressOptions",
    "PressResult",
    "Provenance",
    "Providers",
    "Runtime",
    "SkippedPress",
    "SmokeOptions",
    "SolveRequest",
    "StagedWheel",
    "UnpackedPackage",
    "Uploaded",
    "WheelContents",
    "WheelPlan",
    "WheelScan",
    "WheelSpec",
]

#: The seconds one download may take by default, all its tries included (``--timeout``).
DOWNLOAD_TIMEOUT = 300.0

#: The conda subdirs condapress knows how to name; formats.for_subdir says which of them press.
KNOWN_SUBDIRS = (
    "linux-64",
    "linux-aarch64",
    "linux-ppc64le",
    "linux-s390x",
    "osx-64",
    "osx-arm64",
    "win-64",
    "noarch",
)

#: The libraries a binary may find, each by the name it links it by: link name -> (the wheel
#: folder, the file name) of the library in the wheel (or in a wheel it requires).
Providers: TypeAlias = Mapping[str, tuple[str, str]]

#: Compiler-runtime policy (DESIGN.md, "Compiler runtime policy").
Runtime = Literal["system", "bundle"]


class NoArch(enum.Enum):
    """The ``noarch`` kind of a conda package."""

    NONE = "none"
    GENERIC = "generic"
    PYTHON = "python"

    @classmethod
    def from_raw(cls, raw: object) -> NoArch:
        """Read the ``noarch`` field, which conda writes as a string, a bool or null."""
        if raw in (None, False, ""):
            return cls.NONE
        if raw is True:
            return cls.GENERIC
        return cls(str(raw))


@dataclass(frozen=True, slots=True)
class CondaRecord:
    """One conda package as a channel's repodata (or a local archive's index.json) describes it."""

    #: the package's name.
    name: str
    #: the conda version, as the record spells it (``1.2.3``, ``2024a``).
    version: str
    #: the build string, e.g. ``py311h2372a71_0``.
    build: str
    #: the build number, which orders builds of one version.
    build_number: int
    #: the platform it was built for (``linux-64``), or ``noarch``.
    subdir: str
    #: its dependencies, as conda match specs.
    depends: tuple[str, ...]
    #: constraints on packages it does not depend on, as match specs.
    constrains: tuple[str, ...] = ()
    #: whether, and how, it is independent of the platform.
    noarch: NoArch = NoArch.NONE
    #: the license as the recipe states it (often, not always, SPDX).
    license: str | None = None
    #: hex sha256 of the archive, as the repodata promises it (None for old channels).
    sha256: str | None = None
    #: hex md5 of the archive, as the repodata promises it.
    md5: str | None = None
    #: the archive's size in bytes, as the repodata promises it.
    size: int | None = None
    #: where the archive is fetched from (https:// or file://).
    url: str = ""
    #: the channel the record came from, as the solver names it (its URL; a ``file://`` URL for
    #: a local folder); for a local archive given as a spec, the archive's folder.
    channel: str = ""
    #: the archive's file name (``name-version-build.conda``).
    file_name: str = ""
    #: milliseconds since the epoch, as conda writes it.
    timestamp: int | None = None

    @property
    def dist(self) -> str:
        """``name-version-build``, conda's name for one build of one package."""
        return f"{self.name}-{self.version}-{self.build}"


@dataclass(frozen=True, slots=True)
class SolveRequest:
    """Everything the solver needs: what to solve, where, and for which target."""

    #: conda match specs (``pyyaml >=6``), or paths of local archives.
    specs: tuple[str, ...]
    #: channel names, URLs or folders, searched in this order.
    channels: tuple[str, ...] = ("conda-forge",)
    #: target interpreter, ``X.Y``.
    python: str = "3.11"
    #: the target platform, a conda subdir (``linux-64``).
    subdir: str = "linux-64"
    #: glibc the target promises; packages that need a newer one are not chosen.
    glibc: str = "2.17"
    #: macOS the target promises (``__osx``, osx-* subdirs); builds needing a newer one are
    #: not chosen. 11.0 is the first macOS on Apple silicon.
    macos: str = "11.0"
    #: where repodata and archives are cached; None for the user's cache folder.
    cache_dir: Path | None = None
    #: seconds one download may take, all its tries included: reading the channels' repodata
    #: (and solving), and each archive (``--timeout``).
    timeout: float = DOWNLOAD_TIMEOUT


@dataclass(frozen=True, slots=True)
class Closure:
    """The runtime closure of the requested specs, as the solver chose it."""

    #: the specs as requested.
    specs: tuple[str, ...]
    #: names of the packages the specs asked for, in the order asked.
    roots: tuple[str, ...]
    #: every record of the solution, sorted by name; virtual packages are not records.
    records: tuple[CondaRecord, ...]
    #: target interpreter as ``X.Y``.
    python: str
    #: the target platform, a conda subdir.
    subdir: str
    #: the channels it was solved on, as requested.
    channels: tuple[str, ...]


class PathType(enum.Enum):
    """How conda links one file of a package (``path_type`` in paths.json)."""

    HARDLINK = "hardlink"
    SOFTLINK = "softlink"
    DIRECTORY = "directory"


class FileMode(enum.Enum):
    """How conda rewrites the build prefix inside a file (``file_mode`` in paths.json)."""

    TEXT = "text"
    BINARY = "binary"


@dataclass(frozen=True, slots=True)
class PathEntry:
    """One entry of a package's ``info/paths.json``."""

    #: the file's path inside the package (relative to the conda prefix).
    path: str
    #: how conda links it: a file, a symbolic link or a folder.
    path_type: PathType
    #: hex sha256 of the file as packaged; None when paths.json has none.
    sha256: str | None = None
    #: its size in bytes as packaged; None when paths.json has none.
    size: int | None = None
    #: the build prefix written in the file, which conda rewrites at install.
    prefix_placeholder: str | None = None
    #: how that placeholder is rewritten (text or binary); None without one.
    file_mode: FileMode | None = None
    #: conda copies it instead of linking it (``no_link`` in the recipe).
    no_link: bool = False


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """What a package's ``info/`` folder says about it, validated."""

    #: the package's record, from ``info/index.json``.
    record: CondaRecord
    #: every entry of ``info/paths.json`` (or the old ``info/files``).
    paths: tuple[PathEntry, ...]
    #: ``entry_points`` of a noarch python package (``info/link.json``), as ``name = mod:func``.
    entry_points: tuple[str, ...] = ()
    #: ``weak`` and ``strong`` run_exports, as match specs.
    run_exports: tuple[str, ...] = ()
    #: one line about the package (``info/about.json``).
    summary: str | None = None
    #: the project's home page (``info/about.json``).
    home: str | None = None
    #: where the project is developed (``info/about.json``).
    dev_url: str | None = None
    #: the project's documentation (``info/about.json``).
    doc_url: str | None = None
    #: names of the files under ``info/licenses/``.
    license_files: tuple[str, ...] = ()

    @property
    def site_packages(self) -> tuple[str, ...]:
        """Paths of the payload that land in site-packages (python files)."""
        return tuple(p.path for p in self.paths if SITE_PACKAGES.match(p.path))


@dataclass(frozen=True, slots=True)
class UnpackedPackage:
    """A package extracted and verified on disk: its ``info/`` and where its payload is."""

    #: what its ``info/`` folder says, validated.
    info: PackageInfo
    #: the folder that plays the conda prefix: ``root / entry.path`` for every entry of paths.json.
    root: Path
    #: the archive it came from.
    archive: Path


@dataclass(frozen=True, slots=True)
class PackageFacts:
    """What a package's own archive says, when the archive is at hand (local or cached)."""

    #: the conda name of the package.
    name: str
    #: True when the payload has files under site-packages; None when the archive was not read.
    has_site_packages: bool | None = None
    #: ``Name:`` of the package's own ``*.dist-info/METADATA``, if it has one.
    dist_info_name: str | None = None
    #: ``Requires-Dist`` lines of that METADATA; None when the package has none.
    requires_dist: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """How to plan: merge natives (fat) or split them, and which compiler runtime to assume."""

    #: merge the natives a root reaches into its wheel, instead of one wheel each.
    fat: bool = False
    #: whether the compiler runtime comes from the target system or the wheels.
    runtime: Runtime = "system"
    #: distribution name of a wheel made from a native conda package; ``{name}`` is its conda name.
    native_name: str = "{name}-conda"
    #: shell-style patterns of library names (sonames) that no wheel bundles: another wheel or
    #: the target system provides them (``--exclude``).
    exclude: tuple[str, ...] = ()
    #: ``(conda name, PyPI name)`` of python dependencies whose ``Requires-Dist`` name is not
    #: the one condapress finds (``--rename``).
    rename: tuple[tuple[str, str], ...] = ()
    #: PEP 508 lines added to the ``Requires-Dist`` of every wheel named after a requested
    #: package (``--add-requires``).
    add_requires: tuple[str, ...] = ()
    #: remove the debug sections of every binary the wheels carry (``--strip``).
    strip: bool = False


class NodeClass(enum.Enum):
    """What kind of node a conda package is in the plan graph (DESIGN.md, "Every node...")."""

    ROOT = "root"
    PYTHON = "python"
    NATIVE = "native"
    SYSTEM = "system"


class Becomes(enum.Enum):
    """What a conda package turns into on the PyPI side."""

    #: its files go into a wheel together with other packages (``WheelSpec.members``).
    MERGED = "merged"
    #: it is pressed into a wheel of its own.
    WHEEL = "wheel"
    #: it becomes a ``Requires-Dist`` line of the wheels that need it.
    REQUIREMENT = "requirement"
    #: nothing: the target system provides it.
    DROPPED = "dropped"


#: Where the PyPI name of a python dependency came from: the user (``--rename``), then the most
#: trustworthy first.
NameSource = Literal["rename", "dist-info", "table", "conda-name"]


@dataclass(frozen=True, slots=True)
class Control:
    """One of the user's dependency and size controls, and what the plan did with it."""

    #: the option: ``exclude``, ``rename``, ``add-requires`` or ``strip``.
    option: Literal["exclude", "rename", "add-requires", "strip"]
    #: its value as given (``libcuda.so.*``, ``ruamel.yaml.clib=ruamel-yaml-clib``), or ``""``.
    value: str
    #: what it does in this plan, in words.
    reason: str


@dataclass(frozen=True, slots=True)
class PackageDecision:
    """The plan's verdict on one package of the closure, with its reasons."""

    #: the package decided on.
    record: CondaRecord
    #: its class; ROOT for a requested package.
    node_class: NodeClass
    #: why it got its class, in words.
    reason: str
    #: what it turns into on the PyPI side.
    becomes: Becomes
    #: the wheels the package goes into (MERGED, WHEEL); empty otherwise.
    wheels: tuple[str, ...] = ()
    #: the exact ``Requires-Dist`` text (REQUIREMENT), e.g. ``PyYAML>=6.0,<7.0a0``.
    requirement: str | None = None
    #: the name it goes by on PyPI (python packages); None for natives.
    pypi_name: str | None = None
    #: where ``pypi_name`` came from: its dist-info, the table, or its conda name.
    name_source: NameSource | None = None
    #: False when the PyPI name is a guess (from the table or the conda name).
    name_verified: bool = True
    #: what else the decision took into account, in words.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WheelSpec:
    """One wheel the plan will press: its name and the conda packages that go in."""

    #: the wheel's distribution name.
    distribution: str
    #: the wheel's version: its first member's, in PEP 440.
    version: str
    #: conda package names pressed into this wheel; the first is the one it is named after.
    members: tuple[str, ...]
    #: its ``Requires-Dist`` lines, sorted.
    requires_dist: tuple[str, ...] = ()
    #: other wheels of this plan it needs (split mode).
    wheel_dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WheelPlan:
    """The whole plan: one decision per package of the closure and the wheels to press."""

    #: the closure planned.
    closure: Closure
    #: natives merged into their root's wheel (``--fat``).
    fat: bool
    #: the compiler-runtime policy planned for.
    runtime: Runtime
    #: one decision per package of the closure, in the closure's order.
    decisions: tuple[PackageDecision, ...]
    #: the wheels to press, roots first.
    wheels: tuple[WheelSpec, ...]
    #: graph edges (dependent, dependency) between package names, sorted.
    edges: tuple[tuple[str, str], ...] = field(default=())
    #: members of which only the libraries the other members' binaries need go in: the
    #: compiler runtime under ``--runtime bundle``.
    grafted: frozenset[str] = frozenset()
    #: the user's dependency and size controls, with what each does here.
    controls: tuple[Control, ...] = ()
    #: patterns of library names no wheel bundles (``--exclude``).
    exclude: tuple[str, ...] = ()
    #: remove the debug sections of the wheels' binaries (``--strip``).
    strip: bool = False

    def decision(self, name: str) -> PackageDecision:
        """The decision about package *name*; raises KeyError if it is not in the closure."""
        for dec in self.decisions:
            if dec.record.name == name:
                return dec
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class MachoSlice:
    """One architecture of a Mach-O file (a thin file has one; a universal file several)."""

    #: architecture, spelled as in wheel tags: arm64, x86_64, i386, ...
    arch: str
    #: the oldest macOS it loads on, ``X.Y`` (LC_BUILD_VERSION's minos, or
    #: LC_VERSION_MIN_MACOSX); None when it says nothing.
    minos: str | None
    #: it carries a code signature (LC_CODE_SIGNATURE).
    signed: bool
    #: why that signature does not verify (a page hash, the code limit); None when it does.
    signature_problem: str | None = None


@dataclass(frozen=True, slots=True)
class BinaryFacts:
    """What the loader and the platform tag care about in one binary (ELF or Mach-O).

    Read by a :class:`~condapress.formats.BinaryFormat`, never by running the file. The fields
    are named after ELF; a Mach-O or PE reader fills in its own counterparts (the install name
    or DLL name for ``soname``, LC_LOAD_DYLIB or the import table for ``needed``, LC_RPATH for
    ``rpath``).
    """

    #: architecture, spelled as in wheel tags: x86_64, aarch64, i686, ppc64le, s390x, armv7l, ...
    machine: str
    #: a library or extension module: ET_DYN without PT_INTERP.
    is_shared: bool
    #: a program: has PT_INTERP (PIE executables are ET_DYN) or is ET_EXEC.
    is_executable: bool
    #: DT_SONAME, if any.
    soname: str | None
    #: DT_NEEDED entries, in file order.
    needed: tuple[str, ...]
    #: DT_RPATH entries, split on ``:``; empty entries dropped.
    rpath: tuple[str, ...]
    #: DT_RUNPATH entries, split on ``:``; empty entries dropped.
    runpath: tuple[str, ...]
    #: the program interpreter (PT_INTERP), for executables.
    interpreter: str | None
    #: ``(library, sorted version names)`` from ``.gnu.version_r``, sorted by library.
    version_needs: tuple[tuple[str, tuple[str, ...]], ...]
    #: defined (st_shndx != SHN_UNDEF), exported (visibility default or protected) STB_WEAK
    #: .dynsym symbols in namespace std (mangled, sorted; the rule is at _STD_SYMBOL). Another
    #: C++ runtime's definitions may be bound to these, or these to its callers: the crash of
    #: two libstdc++ in one process.
    exported_weak_std: tuple[str, ...]
    #: the same for STB_GLOBAL and STB_GNU_UNIQUE (unified process-wide by the loader).
    exported_global_std: tuple[str, ...]
    #: any dynamic symbol uses the libstdc++ C++11 ABI (``[abi:cxx11]`` or ``std::__cxx11``).
    uses_cxx11_abi: bool
    #: the format that read it (:attr:`condapress.formats.BinaryFormat.name`).
    format: str = "ELF"
    #: Mach-O: every slice, with its minimum macOS and code signature; empty for other formats.
    slices: tuple[MachoSlice, ...] = ()


@dataclass(frozen=True, slots=True)
class PlatformVerdict:
    """The most compatible platform tag a wheel's binaries allow, and what stood in the way."""

    #: the platform tag, e.g. ``manylinux_2_17_x86_64``; ``linux_<arch>`` when no policy fits.
    tag: str
    #: legacy aliases of the tag, e.g. ``("manylinux2014_x86_64",)``.
    aliases: tuple[str, ...]
    #: the policy, without the architecture: ``manylinux_2_17``, ``linux``, or ``any``.
    policy: str
    #: why no more compatible tag was possible, the most restrictive reason first.
    limits: tuple[str, ...]
    #: the architecture, spelled as in wheel tags (``x86_64``); empty for ``any``.
    arch: str = ""
    #: how compatible the tag is: higher is more; ``linux_<arch>`` (and ``any``) are 0.
    rank: int = 0


@dataclass(frozen=True, slots=True)
class Provenance:
    """One conda package pressed into a wheel, as recorded in its ``.dist-info``."""

    #: the conda package's name.
    name: str
    #: its conda version.
    version: str
    #: its build string.
    build: str
    #: the channel it came from.
    channel: str
    #: hex sha256 of its archive.
    sha256: str
    #: its license, as the record states it.
    license: str | None
    #: where its archive was fetched from.
    url: str


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    """What goes into a wheel's METADATA (core metadata 2.4)."""

    #: the distribution name (``Name``).
    name: str
    #: the PEP 440 version (``Version``).
    version: str
    #: one line about the distribution (``Summary``).
    summary: str | None = None
    #: SPDX expression, when the conda license is one; else None and ``license`` carries the text.
    license_expression: str | None = None
    #: the license text (``License``), when it is no SPDX expression.
    license: str | None = None
    #: (path under ``.dist-info/licenses/``, file on disk) for every bundled license file.
    license_files: tuple[tuple[str, Path], ...] = ()
    #: (label, URL) pairs.
    project_urls: tuple[tuple[str, str], ...] = ()
    #: the Pythons it installs on (``Requires-Python``).
    requires_python: str | None = None
    #: the ``Requires-Dist`` lines.
    requires_dist: tuple[str, ...] = ()
    #: the extras the package's own METADATA declares (``Provides-Extra``).
    provides_extra: tuple[str, ...] = ()
    #: the long description, the body of METADATA.
    description: str | None = None
    #: its format (``Description-Content-Type``), e.g. ``text/markdown``.
    description_content_type: str | None = None
    #: other single- or multi-use fields taken from the package's own METADATA, in order
    #: (Author, Author-email, Keywords, Classifier, ...).
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WheelContents:
    """Everything :func:`condapress.assemble.build_wheel` needs to write one wheel."""

    #: what goes into METADATA.
    metadata: CoreMetadata
    #: ``python-abi-platform`` tags, e.g. ``cp311-cp311-manylinux_2_17_x86_64``.
    tags: tuple[str, ...]
    #: ``Root-Is-Purelib`` of the WHEEL file (true when the wheel has no binaries).
    root_is_purelib: bool
    #: (path inside the wheel, file on disk), without the ``.dist-info``.
    files: tuple[tuple[str, Path], ...]
    #: paths inside the wheel that get mode 0755.
    executables: frozenset[str] = frozenset()
    #: (group, name, value) for ``entry_points.txt``, e.g. ("console_scripts", "salute", "m:f").
    entry_points: tuple[tuple[str, str, str], ...] = ()
    #: the conda packages pressed into it, for ``conda-packages.json``.
    provenance: tuple[Provenance, ...] = ()
    #: the compiler-runtime policy the wheel was pressed under, recorded with the provenance.
    runtime: Runtime | None = None
    #: the placeholder sites and environment variables, recorded for the audit.
    data_paths: DataPaths | None = None
    #: the software bill of materials (a CycloneDX JSON text), written to
    #: ``.dist-info/sboms/``; None: no SBOM.
    sbom: str | None = None
    #: the libraries its binaries need that the press left to the system or other wheels
    #: (``--exclude``), recorded for the audit.
    excluded: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BuiltWheel:
    """A wheel on disk, complete."""

    #: where the wheel file is.
    path: Path
    #: hex sha256 of the wheel file.
    sha256: str
    #: its size in bytes.
    size: int
    #: its ``python-abi-platform`` tags.
    tags: tuple[str, ...]
    #: the conda packages whose files went into it (its provenance), root first.
    members: tuple[str, ...] = ()
    #: the bytes stripping its binaries' debug sections saved (``--strip``); None: not stripped.
    stripped: int | None = None
    #: what the audit reads of it, gathered while it was written; None once it has landed.
    scan: WheelScan | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class MemberScan:
    """What one pass over a wheel member's bytes found (the audit's view of one member)."""

    #: its name in the archive.
    name: str
    #: how many bytes it unpacked to.
    size: int
    #: ``(algorithm, urlsafe base64 digest without padding)`` for every algorithm RECORD uses.
    digests: tuple[tuple[str, str], ...]
    #: the build-prefix strings it contains.
    prefixes: tuple[str, ...]
    #: what it says about linking, when it is a binary condapress reads.
    elf: BinaryFacts | None
    #: ``(finding code, message)``: it could not be read, or is a broken or oversized ELF file.
    problem: tuple[str, str] | None
    #: the text of a top-level package's ``__init__.py`` or import hook module (where a
    #: Windows wheel adds its DLL folders), up to ``_wheelscan.MAX_SOURCE`` bytes.
    source: str | None = None


@dataclass(frozen=True, slots=True)
class WheelScan:
    """Every member of a wheel and the texts of its ``.dist-info`` files: what the audit reads.

    The audit stage reads it from a wheel file; the assemble stage gathers it while it writes
    one, from the same bytes, so that a press audits its wheels without reading them again.
    """

    #: the wheel's file name.
    filename: str
    #: every member that is not a folder, in the archive's order.
    members: tuple[MemberScan, ...]
    #: the top-level ``.dist-info`` folders (a valid wheel has exactly one).
    dist_infos: tuple[str, ...]
    #: ``(file name, text)`` of METADATA, WHEEL, RECORD and the provenance file, when present.
    texts: tuple[tuple[str, str], ...]
    #: ``(file name, size)`` of those larger than ``_wheelscan.MAX_DIST_INFO_FILE``, left unread.
    too_large: tuple[tuple[str, int], ...] = ()

    def text(self, leaf: str) -> str | None:
        """The text of ``<dist-info>/<leaf>``, or None."""
        return dict(self.texts).get(leaf)


@dataclass(frozen=True, slots=True)
class SmokeOptions:
    """The smoke test of a press (``--smoke``): install, ``pip check``, import, run *code*."""

    #: Python code run in the fresh environment after the imports; empty: none.
    code: str = ""
    #: the interpreter to make the environment with; None: CPython X.Y found on PATH or pyenv.
    python: Path | None = None


@dataclass(frozen=True, slots=True)
class PressOptions:
    """How to press, beyond what to solve: plan options, output folder, compression."""

    #: how to plan: fat or split, and the compiler-runtime policy.
    plan: PlanOptions = field(default_factory=PlanOptions)
    #: where the wheels land (``-o``).
    output_dir: Path = Path("wheelhouse")
    #: the deflate level of the wheels' members, 0 (stored) to 9 (``--compression-level``).
    compression_level: int = 6
    #: audit every wheel before it lands, and refuse one with an error-level finding.
    audit: bool = True
    #: the platform tag asked for (``--plat``); the binaries must honour it.
    plat: str | None = None
    #: threads that extract packages, deflate and patch binaries; the bytes do not depend on it.
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    #: when two merged packages ship different files at one wheel path, keep the first
    #: package's (in the plan's member order) with a warning, instead of refusing.
    allow_overlap: bool = False
    #: check every wheel against PyPI's upload rules before it lands, and refuse one that
    #: PyPI would refuse (``condapress check``).
    check: bool = True
    #: the most bytes PyPI takes in one file of the project; None: PyPI's default (100 MiB).
    max_file_size: int | None = None
    #: install the wheels into a fresh environment of the target CPython, ``pip check``,
    #: import them and run code, before they land; None: no smoke test.
    smoke: SmokeOptions | None = None
    #: told what the press is doing, step by step (:class:`condapress._progress.Reporter`);
    #: by default, nothing is.
    reporter: Reporter = field(default=NULL_REPORTER, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PressResult:
    """What a press produced: the plan it followed and the wheels it wrote."""

    #: the plan the press followed.
    plan: WheelPlan
    #: the wheels written, at their paths in the output folder.
    wheels: tuple[BuiltWheel, ...]
    #: the audit of every wheel, in the order of ``wheels``; empty when not audited.
    audits: tuple[AuditReport, ...] = ()
    #: the check against PyPI's upload rules of every wheel, in order; empty when not checked.
    checks: tuple[CheckReport, ...] = ()


@dataclass(frozen=True, slots=True)
class Placement:
    """One file of a conda package and where it goes in the wheel."""

    #: the conda package the file comes from.
    package: str
    #: path inside the package (relative to the unpacked root).
    source: str
    #: path inside the wheel.
    dest: str
    #: it gets mode 0755 in the wheel.
    executable: bool = False
    #: the build prefix written in the file, if any (from paths.json).
    placeholder: str | None = None
    #: how the placeholder is written: text or binary.
    file_mode: FileMode | None = None
    #: what the placeholder becomes (:func:`condapress._datapaths.placeholder_value`).
    prefix: str | None = None
    #: rewrite a ``#!<prefix>/bin/python`` line to ``#!python`` (pip fills in the interpreter).
    python_shebang: bool = False
    #: the file's DT_RPATH and DT_RUNPATH strings: placeholders in them are patchelf's business,
    #: not data paths.
    loader_strings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinaryEdit:
    """Every change one binary needs, applied in one step (for ELF, one patchelf call)."""

    #: the binary's path inside the wheel.
    dest: str
    #: the new RPATH (``$ORIGIN/...`` entries), if it changes.
    set_rpath: str | None = None
    #: drop the binary's RPATH (or RUNPATH) altogether.
    remove_rpath: bool = False
    #: ``(old, new)`` DT_NEEDED renames: the libraries renamed in the wheel.
    replace_needed: tuple[tuple[str, str], ...] = ()
    #: the new DT_SONAME, for a library renamed in the wheel.
    set_soname: str | None = None
    #: Mach-O: hash its code signature again once every byte is written (its edits, and the
    #: placeholders rewritten before them): arm64 macOS refuses a page whose hash is wrong.
    sign: bool = False


@dataclass(frozen=True, slots=True)
class Launcher:
    """A script in ``.data/scripts`` that runs an executable kept inside the wheel."""

    #: the command's name, the script's file name.
    name: str
    #: the script's path inside the wheel (under ``.data/scripts``).
    dest: str
    #: path of the executable relative to site-packages.
    target: str


@dataclass(frozen=True, slots=True)
class ConsoleScript:
    """A ``console_scripts`` entry point that runs an executable kept inside the wheel."""

    #: the command pip makes (``zstd`` becomes ``Scripts/zstd.exe``).
    name: str
    #: the module that holds its function: ``<package>._condapress_env``.
    module: str
    function: str
    #: path of the executable inside the wheel.
    target: str

    @property
    def value(self) -> str:
        """The entry point's value: ``module:function``."""
        return f"{self.module}:{self.function}"


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A file of a conda package that does not go into the wheel, and why."""

    #: the conda package the file comes from.
    package: str
    #: its path inside the package (or what stands for it, such as ``the launcher of bin/x``).
    path: str
    #: why it is left out, in words.
    reason: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every file of one wheel goes, and what is done to it."""

    #: the wheel's distribution name.
    distribution: str
    #: the wheel's folder for libraries and data (``<dist>.libs``).
    libs_dir: str
    #: every file that goes into the wheel, and where.
    placements: tuple[Placement, ...]
    #: the edits of every binary that needs one, by its path in the wheel.
    binary_edits: tuple[BinaryEdit, ...]
    #: a script for every executable kept inside the wheel.
    launchers: tuple[Launcher, ...]
    #: every file of the members that does not go into the wheel, and why.
    left_out: tuple[LeftOut, ...]
    #: the variables the launchers (and, where ``at_import``, the import hook) set.
    environment: tuple[EnvSetting, ...] = ()
    #: the ``<package>/__init__.py`` files that import the generated hook module.
    hooks: tuple[str, ...] = ()
    #: the binaries whose debug sections are removed before their edits (``--strip``).
    strip: tuple[str, ...] = ()
    #: the wheel folders (``<dist>.libs``, those of the wheels it requires) holding the DLLs its
    #: binaries import, which the import hook adds to Windows' DLL search path.
    dll_directories: tuple[str, ...] = ()
    #: executables run by ``console_scripts`` entry points whose functions the import hook
    #: module holds (Windows, where pip makes no command of a ``.data/scripts`` file).
    console_scripts: tuple[ConsoleScript, ...] = ()


@dataclass(frozen=True, slots=True)
class StagedWheel:
    """One wheel's files, relocated and written under its stage folder, with what tags it.

    The relocate stage makes it; the retag stage fills in ``tags``; the assemble stage turns it
    into a :class:`BuiltWheel`.
    """

    #: the plan's wheel, its members cut to those that put a file in it (the root always counts).
    spec: WheelSpec
    #: where each file went and what was done to it.
    layout: Layout
    #: the folder the files are staged in: ``root / path`` for every path of the wheel.
    root: Path
    #: every path of the wheel staged under ``root`` (without the ``.dist-info``), sorted.
    files: tuple[str, ...]
    #: the paths among them that get mode 0755: executables, launchers, scripts.
    executables: frozenset[str]
    #: every binary of the wheel, by its path in the wheel, as written (after its edits).
    binaries: tuple[tuple[str, BinaryFacts], ...]
    #: link names of the libraries that the wheels it requires carry (split mode).
    external: frozenset[str]
    #: every placeholder site written, for the data-paths record.
    sites: tuple[PlaceholderSite, ...] = ()
    #: ``python-abi-platform`` tags; empty until the retag stage.
    tags: tuple[str, ...] = ()
    #: the platform verdict behind the tags; None for a wheel without binaries.
    verdict: PlatformVerdict | None = None
    #: the libraries its binaries need that ``--exclude`` left to the system or other wheels.
    excluded: tuple[str, ...] = ()
    #: the bytes stripping the binaries' debug sections saved; None when not stripped.
    stripped: int | None = None


@dataclass(frozen=True, slots=True)
class EnvSetting:
    """An environment variable that points a bundled package at its data inside the wheel."""

    #: the variable's name, e.g. ``TCL_LIBRARY``.
    name: str
    #: where it points, relative to the install root; None when the package has no such data.
    path: str | None
    #: the path under the conda prefix it stands for: a placeholder site at or under it is
    #: covered.
    covers: str
    #: the conda package whose data it names.
    package: str
    #: the ``<dist>.libs`` folder of the wheel that carries that package.
    prefix: str
    #: whether the import hook sets it too (else only the launchers of executables do).
    at_import: bool = True
    #: other names of the same setting: a value the user gave under any of them wins.
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PlaceholderSite:
    """A file of the wheel that held the build-prefix placeholder, and the paths it named."""

    #: the file's path inside the wheel.
    file: str
    #: the conda package it comes from.
    package: str
    #: how the placeholder was written: text or binary.
    mode: FileMode
    #: the paths under the conda prefix that followed the placeholder (``.`` for the prefix).
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DataPaths:
    """What ``conda-data-paths.json`` records: placeholder sites and the variables set."""

    #: the wheel's prefix folder (``<dist>.libs``), where the conda prefix's files went.
    prefix: str
    #: the variables set for the bundled packages' data.
    environment: tuple[EnvSetting, ...]
    #: every file that held the build-prefix placeholder.
    sites: tuple[PlaceholderSite, ...]


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


@dataclass(frozen=True, slots=True)
class LibraryReport:
    """What one binary of a wheel needs, and where the loader would find it."""

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
    #: Mach-O: the oldest macOS it loads on, ``X.Y`` (its slices' highest minos).
    minos: str | None = None
    #: Mach-O: its code signature: ``valid``, ``none`` or why it does not verify.
    signature: str | None = None


@dataclass(frozen=True, slots=True)
class AuditReport:
    """Everything the audit found about one wheel."""

    #: the wheel's file name.
    wheel: str
    #: the tags the wheel claims: its WHEEL file's, then those only its file name claims.
    claimed_tags: tuple[str, ...]
    #: the most compatible platform tag its binaries allow; tag ``any`` without binaries.
    verdict: PlatformVerdict
    #: one report per binary, by path.
    libraries: tuple[LibraryReport, ...]
    #: errors first, then warnings, then notes.
    findings: tuple[Finding, ...]
    #: the compiler-runtime policy recorded in the wheel's provenance file, if any.
    runtime: str | None

    @property
    def ok(self) -> bool:
        """Whether no finding is an error."""
        return all(f.level is not Level.ERROR for f in self.findings)


@dataclass(frozen=True, slots=True)
class CheckReport:
    """What PyPI's upload rules say about one wheel (``condapress check``)."""

    #: the wheel's file name.
    wheel: str
    #: its size in bytes.
    size: int
    #: the most bytes PyPI takes in one file of the project, as checked.
    max_file_size: int
    #: errors (PyPI refuses the upload), then warnings (``twine check --strict`` fails).
    findings: tuple[Finding, ...]

    def ok(self, *, strict: bool = False) -> bool:
        """Whether PyPI takes the wheel; with *strict*, also whether nothing warns."""
        refused = (Level.ERROR, Level.WARNING) if strict else (Level.ERROR,)
        return all(f.level not in refused for f in self.findings)


@dataclass(frozen=True, slots=True)
class Uploaded:
    """What ``condapress upload`` did."""

    #: the index's upload URL.
    url: str
    #: the file names uploaded, in order.
    wheels: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IndexResult:
    """What ``condapress index`` did to a simple index."""

    #: the index's ``simple/`` folder, the URL pip is given.
    simple: Path
    #: the wheels added, where they now are.
    added: tuple[Path, ...]
    #: the file names of wheels pressed that the index already had, byte for byte.
    unchanged: tuple[str, ...]
    #: every project of the index, PEP 503 normalized.
    projects: tuple[str, ...]
    #: the presses left out (``index --all``): spec, python and why, in the order tried.
    skipped: tuple[SkippedPress, ...] = ()


@dataclass(frozen=True, slots=True)
class SkippedPress:
    """A press ``condapress index --all`` left out, and why."""

    #: the spec (a package name of the channel).
    spec: str
    #: the target python.
    python: str
    #: the error that stopped it.
    reason: str
