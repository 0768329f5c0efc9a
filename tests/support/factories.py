"""Model objects with sensible defaults, so a test spells out only what it is about.

Each factory builds one frozen dataclass of :mod:`condapress.model` the way the stage that
makes it would: a conda-forge-like linux-64 record, a closure for CPython 3.11, an x86_64
shared library that needs nothing.
"""

from __future__ import annotations

from pathlib import Path

from condapress.model import (
    BinaryFacts,
    Closure,
    CondaRecord,
    FileMode,
    MachoSlice,
    NoArch,
    PackageFacts,
    PackageInfo,
    PathEntry,
    PathType,
    UnpackedPackage,
    WheelSpec,
)


def record(
    name: str,
    version: str = "1.0",
    build: str = "h0_0",
    *depends: str,
    noarch: NoArch = NoArch.NONE,
    **fields: object,
) -> CondaRecord:
    """A record of *name* that depends on *depends*; a noarch one is in the noarch subdir.

    *fields* sets any other field (``sha256``, ``url``, ``constrains``, ...).
    """
    subdir = "linux-64" if noarch is NoArch.NONE else "noarch"
    return CondaRecord(
        name=name,
        version=version,
        build=build,
        build_number=0,
        subdir=subdir,
        depends=depends,
        noarch=noarch,
        **fields,  # type: ignore[arg-type]
    )


def closure(
    records: tuple[CondaRecord, ...],
    *roots: str,
    python: str = "3.11",
    subdir: str = "linux-64",
    channels: tuple[str, ...] = ("channels_fixture",),
) -> Closure:
    """The closure of *records* (sorted by name, as resolve gives them) asked for as *roots*."""
    return Closure(
        specs=roots,
        roots=roots,
        records=tuple(sorted(records, key=lambda r: r.name)),
        python=python,
        subdir=subdir,
        channels=channels,
    )


def package_facts(
    name: str, dist_info_name: str | None = None, *, requires_dist: tuple[str, ...] | None = None
) -> PackageFacts:
    """What peek says of *name*: with a dist-info it has site-packages, without one none.

    *requires_dist*: the Requires-Dist lines of the dist-info's METADATA, when it was read.
    """
    return PackageFacts(
        name,
        has_site_packages=dist_info_name is not None,
        dist_info_name=dist_info_name,
        requires_dist=requires_dist,
    )


def wheel_spec(
    distribution: str,
    *members: str,
    version: str = "1.0",
    requires_dist: tuple[str, ...] = (),
    wheel_dependencies: tuple[str, ...] = (),
) -> WheelSpec:
    """A wheel of *distribution* made of the conda packages *members*."""
    return WheelSpec(
        distribution,
        version,
        members,
        requires_dist=requires_dist,
        wheel_dependencies=wheel_dependencies,
    )


def binary_facts(
    *needed: str,
    soname: str | None = None,
    shared: bool = True,
    rpath: tuple[str, ...] = (),
    runpath: tuple[str, ...] = (),
    machine: str = "x86_64",
    version_needs: tuple[tuple[str, tuple[str, ...]], ...] = (),
    exported_weak_std: tuple[str, ...] = (),
    exported_global_std: tuple[str, ...] = (),
    uses_cxx11_abi: bool = False,
    kind: str = "ELF",
    slices: tuple[MachoSlice, ...] = (),
) -> BinaryFacts:
    """A file that needs *needed*: a shared library, or (``shared=False``) a program.

    An ELF file by default; *kind* ``Mach-O`` or ``PE`` for the others (no interpreter).
    """
    program = not shared and kind == "ELF"
    return BinaryFacts(
        machine=machine,
        is_shared=shared,
        is_executable=not shared,
        soname=soname,
        needed=needed,
        rpath=rpath,
        runpath=runpath,
        interpreter="/lib64/ld-linux-x86-64.so.2" if program else None,
        version_needs=version_needs,
        exported_weak_std=exported_weak_std,
        exported_global_std=exported_global_std,
        uses_cxx11_abi=uses_cxx11_abi,
        format=kind,
        slices=slices,
    )


def hardlink(path: str, placeholder: str | None = None) -> PathEntry:
    """A paths.json file entry; with a *placeholder*, a binary-mode one."""
    mode = FileMode.BINARY if placeholder else None
    return PathEntry(path, PathType.HARDLINK, prefix_placeholder=placeholder, file_mode=mode)


def softlink(path: str) -> PathEntry:
    """A paths.json symbolic link entry."""
    return PathEntry(path, PathType.SOFTLINK)


def unpacked(
    package: CondaRecord, *entries: PathEntry, root: Path, archive: Path | None = None
) -> UnpackedPackage:
    """*package* extracted at *root* with *entries* in its paths.json."""
    archive = archive or Path(f"{package.name}-{package.version}-{package.build}.conda")
    return UnpackedPackage(PackageInfo(package, entries), root, archive)
