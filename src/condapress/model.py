"""Frozen dataclasses that the pipeline stages pass to each other."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "DOWNLOAD_TIMEOUT",
    "KNOWN_SUBDIRS",
    "Becomes",
    "BuiltWheel",
    "Closure",
    "CondaRecord",
    "CoreMetadata",
    "DataPaths",
    "ElfEdit",
    "EnvSetting",
    "FileMode",
    "Launcher",
    "Layout",
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
    "PressResult",
    "Provenance",
    "Runtime",
    "UnpackedPackage",
    "WheelContents",
    "WheelPlan",
    "WheelSpec",
]

#: The seconds one download may take by default, all its tries included (``--timeout``).
DOWNLOAD_TIMEOUT = 300.0

#: The conda subdirs condapress knows how to name; only ``linux-*`` and ``noarch`` press today.
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

    name: str
    version: str
    build: str
    build_number: int
    subdir: str
    depends: tuple[str, ...]
    constrains: tuple[str, ...] = ()
    noarch: NoArch = NoArch.NONE
    license: str | None = None
    #: hex sha256 of the archive, as the repodata promises it (None for old channels).
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    #: where the archive is fetched from (https:// or file://).
    url: str = ""
    #: the channel the record came from, as the solver names it (its URL; a ``file://`` URL for
    #: a local folder); for a local archive given as a spec, the archive's folder.
    channel: str = ""
    file_name: str = ""
    #: milliseconds since the epoch, as conda writes it.
    timestamp: int | None = None

    @property
    def dist(self) -> str:
        """``name-version-build``, conda's name for one build of one package."""
        return f"{self.name}-{self.version}-{self.build}"


@dataclass(frozen=True, slots=True)
class Closure:
    """The runtime closure of the requested specs, as the solver chose it."""

    specs: tuple[str, ...]
    #: names of the packages the specs asked for, in the order asked.
    roots: tuple[str, ...]
    #: every record of the solution, sorted by name; virtual packages are not records.
    records: tuple[CondaRecord, ...]
    #: target interpreter as ``X.Y``.
    python: str
    subdir: str
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

    path: str
    path_type: PathType
    sha256: str | None = None
    size: int | None = None
    prefix_placeholder: str | None = None
    file_mode: FileMode | None = None
    no_link: bool = False


@dataclass(frozen=True, slots=True)
class PackageInfo:
    """What a package's ``info/`` folder says about it, validated."""

    record: CondaRecord
    paths: tuple[PathEntry, ...]
    #: ``entry_points`` of a noarch python package (``info/link.json``), as ``name = mod:func``.
    entry_points: tuple[str, ...] = ()
    #: ``weak`` and ``strong`` run_exports, as match specs.
    run_exports: tuple[str, ...] = ()
    summary: str | None = None
    home: str | None = None
    dev_url: str | None = None
    doc_url: str | None = None
    #: names of the files under ``info/licenses/``.
    license_files: tuple[str, ...] = ()

    @property
    def site_packages(self) -> tuple[str, ...]:
        """Paths of the payload that land in site-packages (python files)."""
        return tuple(p.path for p in self.paths if _is_site_packages(p.path))


@dataclass(frozen=True, slots=True)
class UnpackedPackage:
    """A package extracted and verified on disk: its ``info/`` and where its payload is."""

    info: PackageInfo
    #: the folder that plays the conda prefix: ``root / entry.path`` for every entry of paths.json.
    root: Path
    #: the archive it came from.
    archive: Path


def _is_site_packages(path: str) -> bool:
    head = path.split("/", 3)
    if head[0] == "site-packages":  # noarch: python
        return True
    return len(head) >= 3 and head[0] == "lib" and head[2] == "site-packages"  # noqa: PLR2004


@dataclass(frozen=True, slots=True)
class PackageFacts:
    """What a package's own archive says, when the archive is at hand (local or cached)."""

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

    fat: bool = False
    runtime: Runtime = "system"
    #: distribution name of a wheel made from a native conda package; ``{name}`` is its conda name.
    native_name: str = "{name}-conda"


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


#: Where the PyPI name of a python dependency came from, most trustworthy first.
NameSource = Literal["dist-info", "table", "conda-name"]


@dataclass(frozen=True, slots=True)
class PackageDecision:
    """The plan's verdict on one package of the closure, with its reasons."""

    record: CondaRecord
    node_class: NodeClass
    #: why it got its class, in words.
    reason: str
    becomes: Becomes
    #: the wheels the package goes into (MERGED, WHEEL); empty otherwise.
    wheels: tuple[str, ...] = ()
    #: the exact ``Requires-Dist`` text (REQUIREMENT), e.g. ``PyYAML>=6.0,<7.0a0``.
    requirement: str | None = None
    pypi_name: str | None = None
    name_source: NameSource | None = None
    #: False when the PyPI name is a guess (from the table or the conda name).
    name_verified: bool = True
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WheelSpec:
    """One wheel the plan will press: its name and the conda packages that go in."""

    distribution: str
    version: str
    #: conda package names pressed into this wheel; the first is the one it is named after.
    members: tuple[str, ...]
    requires_dist: tuple[str, ...] = ()
    #: other wheels of this plan it needs (split mode).
    wheel_dependencies: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class WheelPlan:
    """The whole plan: one decision per package of the closure and the wheels to press."""

    closure: Closure
    fat: bool
    runtime: Runtime
    decisions: tuple[PackageDecision, ...]
    wheels: tuple[WheelSpec, ...]
    #: graph edges (dependent, dependency) between package names, sorted.
    edges: tuple[tuple[str, str], ...] = field(default=())

    def decision(self, name: str) -> PackageDecision:
        """The decision about package *name*; raises KeyError if it is not in the closure."""
        for dec in self.decisions:
            if dec.record.name == name:
                return dec
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class Provenance:
    """One conda package pressed into a wheel, as recorded in its ``.dist-info``."""

    name: str
    version: str
    build: str
    channel: str
    sha256: str
    license: str | None
    url: str


@dataclass(frozen=True, slots=True)
class CoreMetadata:
    """What goes into a wheel's METADATA (core metadata 2.4)."""

    name: str
    version: str
    summary: str | None = None
    #: SPDX expression, when the conda license is one; else None and ``license`` carries the text.
    license_expression: str | None = None
    license: str | None = None
    #: (path under ``.dist-info/licenses/``, file on disk) for every bundled license file.
    license_files: tuple[tuple[str, Path], ...] = ()
    #: (label, URL) pairs.
    project_urls: tuple[tuple[str, str], ...] = ()
    requires_python: str | None = None
    requires_dist: tuple[str, ...] = ()
    #: the extras the package's own METADATA declares (``Provides-Extra``).
    provides_extra: tuple[str, ...] = ()
    description: str | None = None
    description_content_type: str | None = None
    #: other single- or multi-use fields taken from the package's own METADATA, in order
    #: (Author, Author-email, Keywords, Classifier, ...).
    extra: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class WheelContents:
    """Everything :func:`condapress.assemble.build_wheel` needs to write one wheel."""

    metadata: CoreMetadata
    #: ``python-abi-platform`` tags, e.g. ``cp311-cp311-manylinux_2_17_x86_64``.
    tags: tuple[str, ...]
    root_is_purelib: bool
    #: (path inside the wheel, file on disk), without the ``.dist-info``.
    files: tuple[tuple[str, Path], ...]
    #: paths inside the wheel that get mode 0755.
    executables: frozenset[str] = frozenset()
    #: (group, name, value) for ``entry_points.txt``, e.g. ("console_scripts", "salute", "m:f").
    entry_points: tuple[tuple[str, str, str], ...] = ()
    provenance: tuple[Provenance, ...] = ()
    #: the compiler-runtime policy the wheel was pressed under, recorded with the provenance.
    runtime: Runtime | None = None
    #: the placeholder sites and environment variables, recorded for the audit.
    data_paths: DataPaths | None = None


@dataclass(frozen=True, slots=True)
class BuiltWheel:
    """A wheel on disk, complete."""

    path: Path
    sha256: str
    size: int
    tags: tuple[str, ...]
    #: the conda packages whose files went into it (its provenance), root first.
    members: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PressResult:
    """What a press produced: the plan it followed and the wheels it wrote."""

    plan: WheelPlan
    wheels: tuple[BuiltWheel, ...]


@dataclass(frozen=True, slots=True)
class Placement:
    """One file of a conda package and where it goes in the wheel."""

    package: str
    #: path inside the package (relative to the unpacked root).
    source: str
    #: path inside the wheel.
    dest: str
    executable: bool = False
    placeholder: str | None = None
    file_mode: FileMode | None = None
    #: what the placeholder becomes (:func:`condapress._datapaths.placeholder_value`).
    prefix: str | None = None
    #: rewrite a ``#!<prefix>/bin/python`` line to ``#!python`` (pip fills in the interpreter).
    python_shebang: bool = False
    #: the file's DT_RPATH and DT_RUNPATH strings: placeholders in them are patchelf's business,
    #: not data paths.
    loader_strings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ElfEdit:
    """Every change one ELF file needs, applied in one patchelf call."""

    dest: str
    set_rpath: str | None = None
    remove_rpath: bool = False
    replace_needed: tuple[tuple[str, str], ...] = ()
    set_soname: str | None = None


@dataclass(frozen=True, slots=True)
class Launcher:
    """A script in ``.data/scripts`` that runs an executable kept inside the wheel."""

    name: str
    dest: str
    #: path of the executable relative to site-packages.
    target: str


@dataclass(frozen=True, slots=True)
class Layout:
    """Where every file of one wheel goes, and what is done to it."""

    distribution: str
    libs_dir: str
    placements: tuple[Placement, ...]
    elf_edits: tuple[ElfEdit, ...]
    launchers: tuple[Launcher, ...]
    #: (package, path, reason) of every file that does not go into the wheel.
    left_out: tuple[tuple[str, str, str], ...]
    #: the variables the launchers (and, where ``at_import``, the import hook) set.
    environment: tuple[EnvSetting, ...] = ()
    #: the ``<package>/__init__.py`` files that import the generated hook module.
    hooks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EnvSetting:
    """An environment variable that points a bundled package at its data inside the wheel."""

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
    mode: FileMode
    #: the paths under the conda prefix that followed the placeholder (``.`` for the prefix).
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DataPaths:
    """What ``conda-data-paths.json`` records: placeholder sites and the variables set."""

    #: the wheel's prefix folder (``<dist>.libs``), where the conda prefix's files went.
    prefix: str
    environment: tuple[EnvSetting, ...]
    sites: tuple[PlaceholderSite, ...]
