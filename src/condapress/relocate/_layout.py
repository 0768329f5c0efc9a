"""Plan a wheel's layout, pure: where every file goes, what is left out and why, every edit.

From the unpacked packages and what their binaries say (through the binary format), it decides
each file's path in the wheel: modules where pip puts them, libraries in ``<dist>.libs`` under
mangled names, executables behind launchers; and which RPATH, DT_NEEDED and DT_SONAME edits
each binary needs. Nothing is written here: :mod:`condapress.relocate._apply` writes the result.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from condapress import _datapaths
from condapress._distinfo import excluded_by
from condapress._paths import SITE_PACKAGES, Claim, Claims, file_digest
from condapress.errors import RelocationError, UnresolvedLibraryError
from condapress.model import FileMode, Launcher, Layout, LeftOut, PathType, Placement
from condapress.relocate import _windows
from condapress.relocate._links import expanded, links_to_site_lib, site_dest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from condapress.formats import BinaryFormat
    from condapress.model import (
        BinaryEdit,
        BinaryFacts,
        PathEntry,
        Providers,
        UnpackedPackage,
        WheelSpec,
    )

__all__ = ["libs_dir", "mangle", "plan_layout", "provided_sonames"]

logger = logging.getLogger(__name__)

#: The binary format whose layout rules differ: DLLs, programs beside them, no shebangs.
_WINDOWS = "PE"
_DYLIB = ".dylib"

# Development files, documentation and conda's own bookkeeping: not needed at run time.
_LEFT_OUT = (
    (re.compile(r"^include/"), "header (development file)"),
    (re.compile(r"^(lib|share)/(pkgconfig|cmake)/"), "build-system file (development file)"),
    (re.compile(r"^lib/(.*/)?\w+Config\.sh$"), "build-system file (development file)"),
    (re.compile(r"^lib/.*\.(a|la)$"), "static library or libtool file (development file)"),
    (re.compile(r"^share/(man|doc|info|aclocal|gtk-doc|licenses)/"), "documentation"),
    (re.compile(r"^(conda-meta|etc/conda)/"), "conda environment bookkeeping"),
    (re.compile(r"(^|/)__pycache__/"), "byte-code cache (pip compiles on install)"),
    (re.compile(r"\.(dist|egg)-info/"), "metadata of a merged package (the wheel has its own)"),
)


def libs_dir(distribution: str) -> str:
    """``<dist>.libs``: the folder beside the packages that holds the wheel's shared libraries."""
    return canonicalize_name(distribution).replace("-", "_") + ".libs"


def mangle(soname: str, package_sha256: str) -> str:
    """``libzstd.so.1`` -> ``libzstd-1a2b3c4d.so.1``, the hash taken from the conda package.

    Every wheel that links the library computes the same name from the same package. A DLL's
    hash goes before ``.dll``, as delvewheel puts it. A Mach-O install name is a path: its file
    name is mangled before ``.dylib``.

    >>> mangle("libgreet.so.1", "0" * 64), mangle("yaml.dll", "0" * 64)
    ('libgreet-562049fa.so.1', 'yaml-195beb2e.dll')
    >>> mangle("@rpath/libzstd.1.dylib", "0" * 64)
    'libzstd.1-afd636f4.dylib'
    """
    digest = hashlib.sha256(f"{package_sha256}:{soname}".encode()).hexdigest()[:8]
    name = posixpath.basename(soname)
    if name.lower().endswith(".dll"):
        return f"{name[:-4]}-{digest}{name[-4:]}"
    if name.endswith(_DYLIB):
        return f"{name.removesuffix(_DYLIB)}-{digest}{_DYLIB}"
    stem, dot, rest = name.partition(".so")
    return f"{stem}-{digest}{dot}{rest}" if dot else f"{name}-{digest}"


def _package_sha256(package: UnpackedPackage) -> str:
    return (
        package.info.record.sha256 or hashlib.sha256(package.info.record.dist.encode()).hexdigest()
    )


def provided_sonames(
    wheel: WheelSpec,
    packages: Mapping[str, UnpackedPackage],
    elfs: Mapping[str, Mapping[str, BinaryFacts]],
    fmt: BinaryFormat,
    exclude: Sequence[str] = (),
) -> dict[str, tuple[str, str]]:
    """Link name -> (libs folder, mangled name) of every shared library *wheel* will carry.

    The folder is ``<dist>.libs``; on Windows, when a top-level extension module imports one of
    them, the root of the wheel (``.``): no ``__init__.py`` runs before such a module to add a
    folder to the DLL search path, and Windows searches the module's own folder.

    :param exclude: patterns of the libraries no wheel carries (``--exclude``).
    """
    folder = libs_dir(wheel.distribution)
    provided: dict[str, tuple[str, str]] = {}
    for name in wheel.members:
        for path, elf in sorted(elfs.get(name, {}).items()):
            soname = fmt.link_name(path, elf)
            if soname is not None and excluded_by(soname, exclude) is None:
                mangled = mangle(soname, _package_sha256(packages[name]))
                provided.setdefault(soname, (folder, mangled))
    if fmt.name == _WINDOWS and _windows.top_level_users(wheel.members, elfs, provided):
        return {soname: (".", mangled) for soname, (_, mangled) in provided.items()}
    return provided


def plan_layout(
    wheel: WheelSpec,
    packages: Mapping[str, UnpackedPackage],
    elfs: Mapping[str, Mapping[str, BinaryFacts]],
    fmt: BinaryFormat,
    *,
    others: Providers | None = None,
    graft_only_needed: frozenset[str] = frozenset(),
    allow_overlap: bool = False,
    exclude: Sequence[str] = (),
) -> Layout:
    """Decide where every file of the members of *wheel* goes, and every binary's edit.

    Pure but for reading the first line of scripts in ``bin/`` and the targets of links.

    :param elfs: per conda package, its binaries as :func:`condapress.relocate.scan` read them.
    :param fmt: the binary format, which names libraries and plans each binary's edit.
    :param others: sonames carried by the other wheels this one depends on (split mode).
    :param graft_only_needed: members (the compiler runtime under ``--runtime bundle``) of which
        only the shared libraries that the wheel's other binaries need are kept.
    :param allow_overlap: when two files would take one wheel path and differ, keep the first
        (members in the wheel's order) instead of raising :class:`~condapress.errors.OverlapError`.
    :param exclude: patterns of library names left out (``--exclude``): their files are not
        placed, and the binaries' DT_NEEDED entries that name them stay as they are.
    :raises UnresolvedLibraryError: a binary needs a library that neither the wheel, the wheels
        it requires nor the target system provides.
    :raises OverlapError: two different files would take one wheel path.
    :raises ArchiveError: a symbolic link in site-packages loops or leads nowhere.
    """
    folder = libs_dir(wheel.distribution)
    own = provided_sonames(wheel, packages, elfs, fmt, exclude)
    site_libs = _site_libraries(wheel, elfs, fmt)
    builder = _LayoutBuilder(
        wheel=wheel,
        folder=folder,
        own=own,
        providers={**(others or {}), **own, **_site_providers(site_libs, elfs, fmt)},
        site_libs=site_libs,
        unneeded=_unneeded(wheel, elfs, graft_only_needed, fmt),
        fmt=fmt,
        claims=Claims(allow_overlap=allow_overlap),
        exclude=tuple(exclude),
    )
    for name in wheel.members:
        package = packages[name]
        for entry in package.info.paths:
            for path, real in expanded(package, entry, entry.path):
                builder.add(name, package, real, path, elfs.get(name, {}))
    return Layout(
        distribution=wheel.distribution,
        libs_dir=folder,
        placements=tuple(builder.placements),
        binary_edits=tuple(builder.edits),
        launchers=tuple(builder.launchers),
        left_out=tuple(builder.left_out),
        dll_directories=tuple(sorted(builder.dll_directories)),
    )


@dataclass
class _LayoutBuilder:
    """Decides one file at a time; collects what :func:`plan_layout` returns."""

    wheel: WheelSpec
    folder: str
    own: Providers
    providers: Providers
    site_libs: Mapping[tuple[str, str], str]
    unneeded: set[tuple[str, str]]
    fmt: BinaryFormat
    claims: Claims
    exclude: tuple[str, ...] = ()
    placements: list[Placement] = field(default_factory=list)
    edits: list[BinaryEdit] = field(default_factory=list)
    launchers: list[Launcher] = field(default_factory=list)
    left_out: list[LeftOut] = field(default_factory=list)
    data_links: dict[str, dict[str, PathEntry]] = field(default_factory=dict)
    #: the folders of the DLLs the binaries import (Windows: the import hook adds them).
    dll_directories: set[str] = field(default_factory=set)

    @property
    def data_scripts(self) -> str:
        stem = canonicalize_name(self.wheel.distribution).replace("-", "_")
        return f"{stem}-{self.wheel.version}.data/scripts"

    def copied_link(self, name: str, package: UnpackedPackage, entry: PathEntry) -> PathEntry:
        """*entry*, or for a link in a known data folder, its target's entry under its name."""
        if name not in self.data_links:
            self.data_links[name] = _datapaths.linked_data(package, name)
        target = self.data_links[name].get(entry.path)
        return entry if target is None else replace(target, path=entry.path)

    def add(
        self,
        name: str,
        package: UnpackedPackage,
        entry: PathEntry,
        path: str,
        elfs: Mapping[str, BinaryFacts],
    ) -> None:
        """Place *entry*, seen at *path* (its own, or its name under a link to its folder)."""
        if (skipped := self._skipped(name, entry.path, elfs)) is not None:
            self.left_out.append(LeftOut(name, entry.path, skipped))
            return
        entry = self.copied_link(name, package, entry)
        dest, why = _destination(entry, path, package, elfs, self.folder, self.own, self.fmt)
        if (name, entry.path) in self.site_libs:
            dest = self.site_libs[(name, entry.path)]
        elif links_to_site_lib(package, entry, name, self.site_libs):
            dest, why = None, "symbolic link to a library kept under its soname"
        elf = elfs.get(entry.path)
        windows = self.fmt.name == _WINDOWS
        shebang = elf is None and path.startswith("bin/") and not windows
        if dest is not None and shebang:
            dest = f"{self.data_scripts}/{posixpath.basename(path)}"
        source, dist = package.root / entry.path, package.info.record.dist
        taken = dest and self.claims.claim(dest, Claim(dist, path, lambda: file_digest(source)[0]))
        if dest is None or taken:
            self.left_out.append(LeftOut(name, entry.path, taken or why or ""))
            return
        if elf is not None and (
            _windows.is_program(path, elf) if windows else path.startswith("bin/")
        ):
            self._add_launcher(name, dist, path, dest)
        prefix = None
        if entry.prefix_placeholder:
            prefix = _datapaths.placeholder_value(name, entry.file_mode, dest, self.folder)
            _check_rewritable(package, entry, prefix)
        self.placements.append(
            Placement(
                package=name,
                source=entry.path,
                dest=dest,
                executable=(elf is not None and not elf.is_shared) or shebang,
                placeholder=entry.prefix_placeholder,
                file_mode=entry.file_mode,
                prefix=prefix,
                python_shebang=shebang,
                loader_strings=_loader_strings(elf) if entry.prefix_placeholder else (),
            )
        )
        if elf is not None:
            _check_resolved(package, entry.path, elf, self.providers, self.fmt, self.exclude)
            if windows:  # Windows searches a DLL's own folder for its DLLs already
                found = {self.providers[n][0] for n in elf.needed if n in self.providers}
                self.dll_directories.update(found - {posixpath.dirname(dest) or "."})
            self.edits.append(
                self.fmt.plan_edit(dest, elf, self.fmt.link_name(entry.path, elf), self.providers)
            )

    def _skipped(self, name: str, path: str, elfs: Mapping[str, BinaryFacts]) -> str | None:
        """Why the file at *path* stays out before any placement: unneeded, or ``--exclude``."""
        if (name, path) in self.unneeded:
            return "runtime library that no binary needs"
        elf = elfs.get(path)
        link = self.fmt.link_name(path, elf) if elf is not None and elf.is_shared else None
        pattern = excluded_by(link, self.exclude) if link is not None else None
        if pattern is None:
            return None
        return f"excluded by --exclude {pattern!r}: another wheel or the system provides it"

    def _add_launcher(self, name: str, dist: str, path: str, target: str) -> None:
        script = posixpath.basename(target)
        if self.fmt.name == _WINDOWS:  # the command of zstd.exe is zstd
            script = script.removesuffix(".exe").removesuffix(".EXE")
        launcher = Launcher(script, f"{self.data_scripts}/{script}", target)
        claim = Claim(dist, f"the launcher of {path}", lambda: f"launcher of {target}")
        taken = self.claims.claim(launcher.dest, claim)
        if taken:
            self.left_out.append(LeftOut(name, f"the launcher of {path}", taken))
        else:
            self.launchers.append(launcher)


def _loader_strings(elf: BinaryFacts | None) -> tuple[str, ...]:
    """The file's RPATH and RUNPATH strings: ELF joins its entries, Mach-O keeps one a command."""
    if elf is None:
        return ()
    joined = (":".join(elf.rpath), ":".join(elf.runpath))
    return tuple(dict.fromkeys(text for text in (*joined, *elf.rpath, *elf.runpath) if text))


def _check_rewritable(package: UnpackedPackage, entry: PathEntry, prefix: str) -> None:
    placeholder = entry.prefix_placeholder or ""
    if entry.file_mode is FileMode.BINARY and len(placeholder) < len(prefix):
        raise RelocationError(
            f"{package.archive.name}: {entry.path} holds the build prefix {placeholder!r} in a "
            f"binary file, shorter than {prefix!r}, which it must be rewritten to",
            hint="rebuild the package with conda-build's default prefix, whose placeholder is "
            "255 characters long",
            package=package.info.record.dist,
            path=entry.path,
        )


def _site_libraries(
    wheel: WheelSpec, elfs: Mapping[str, Mapping[str, BinaryFacts]], fmt: BinaryFormat
) -> dict[tuple[str, str], str]:
    """(package, path) -> wheel path of every shared library inside site-packages.

    Such libraries (pyarrow's libarrow_python) stay beside the modules that load them, as one
    file under their soname (the file name of a Mach-O install name), the way PyPI's own wheels
    ship them; their users get an $ORIGIN entry to their folder. A DLL (not an extension module)
    keeps its file name, by which Windows finds it.
    """
    found = {}
    for name in wheel.members:
        for path, elf in elfs.get(name, {}).items():
            if not elf.is_shared or not SITE_PACKAGES.match(path):
                continue
            if fmt.name == _WINDOWS:
                if path.lower().endswith(".dll"):
                    found[name, path] = site_dest(path)
            elif elf.soname:
                folder = posixpath.dirname(site_dest(path))
                found[name, path] = f"{folder}/{posixpath.basename(elf.soname)}".lstrip("/")
    return found


def _site_providers(
    site_libs: Mapping[tuple[str, str], str],
    elfs: Mapping[str, Mapping[str, BinaryFacts]],
    fmt: BinaryFormat,
) -> dict[str, tuple[str, str]]:
    """Link name -> (folder, file name) of the libraries kept in site-packages."""
    providers = {}
    for (name, path), dest in site_libs.items():
        # Windows finds a DLL by its file name, without case (the PE reader gives lower case).
        link = dest.rpartition("/")[2].lower() if fmt.name == _WINDOWS else elfs[name][path].soname
        providers[str(link)] = (posixpath.dirname(dest) or ".", posixpath.basename(dest))
    return providers


#: The systems whose libraries a binary may need, by format, in messages.
_SYSTEMS = {"ELF": "a manylinux system", "Mach-O": "macOS", _WINDOWS: "Windows"}


def _check_resolved(
    package: UnpackedPackage,
    path: str,
    elf: BinaryFacts,
    providers: Providers,
    fmt: BinaryFormat,
    exclude: Sequence[str],
) -> None:
    for soname in elf.needed:
        if soname in providers or excluded_by(soname, exclude) is not None:
            continue
        if not fmt.is_system_library(soname, elf.machine):
            system = _SYSTEMS.get(fmt.name, "the target system")
            raise UnresolvedLibraryError(
                f"{package.archive.name}: {path} needs {soname}, which no package of the "
                f"closure provides and {system} does not have",
                package=package.info.record.dist,
                path=path,
            )


def _unneeded(
    wheel: WheelSpec,
    elfs: Mapping[str, Mapping[str, BinaryFacts]],
    graft: frozenset[str],
    fmt: BinaryFormat,
) -> set[tuple[str, str]]:
    """Files of the *graft* members that no binary of the wheel needs, directly or not."""
    if not graft:
        return set()
    by_soname = {
        soname: (name, path)
        for name in wheel.members
        if name in graft
        for path, elf in elfs.get(name, {}).items()
        if (soname := fmt.link_name(path, elf)) is not None
    }
    wanted: set[tuple[str, str]] = set()
    queue = [
        elf for name in wheel.members if name not in graft for elf in elfs.get(name, {}).values()
    ]
    while queue:
        for soname in queue.pop().needed:
            key = by_soname.get(soname)
            if key is not None and key not in wanted:
                wanted.add(key)
                queue.append(elfs[key[0]][key[1]])
    return {
        (name, path) for name in wheel.members if name in graft for path in elfs.get(name, {})
    } - wanted


def _destination(
    entry: PathEntry,
    path: str,
    package: UnpackedPackage,
    elfs: Mapping[str, BinaryFacts],
    folder: str,
    own: Providers,
    fmt: BinaryFormat,
) -> tuple[str | None, str | None]:
    """Where *entry*, seen at *path*, goes in the wheel; None and why when it is left out."""
    for pattern, why in _LEFT_OUT:
        if pattern.search(path):
            return None, why
    if SITE_PACKAGES.match(path):
        # wheels hold no links: a link's target content is copied under the link's name
        return site_dest(path), None
    if entry.path_type is PathType.SOFTLINK:
        return None, "symbolic link (the wheel keeps one file per library, under its soname)"
    return _prefix_destination(entry, package, elfs.get(path), folder, own, fmt)


def _prefix_destination(
    entry: PathEntry,
    package: UnpackedPackage,
    elf: BinaryFacts | None,
    folder: str,
    own: Providers,
    fmt: BinaryFormat,
) -> tuple[str | None, str | None]:
    """Where a file outside site-packages goes: libraries by soname, the rest under .libs."""
    path = entry.path
    if fmt.name == _WINDOWS and (why := _windows.left_out(entry, package)):
        return None, why
    if elf is None and re.match(r"^lib/[^/]+\.so$", path):
        return None, "linker script for a library's link-time name (development file)"
    soname = fmt.link_name(path, elf) if elf is not None else None
    if soname is not None:
        return _windows.joined(*own[soname]), None
    if fmt.name == _WINDOWS and elf is not None and _windows.is_program(path, elf):
        # beside the DLLs, where Windows finds a program's DLLs
        dlls = next(iter(own.values()), (folder, ""))[0]
        return _windows.joined(dlls, posixpath.basename(path)), None
    if path.startswith("bin/"):
        if elf is not None:
            return f"{folder}/bin/{path[4:]}", None
        if _names_prefix_python(package.root / path, entry.prefix_placeholder):
            return f"bin/{path[4:]}", None
        return None, "script in bin/ that is neither an executable nor a python script"
    return f"{folder}/{path}", None


def _names_prefix_python(path: Path, placeholder: str | None) -> bool:
    with path.open("rb") as handle:
        first = handle.readline(4096)
    if not first.startswith(b"#!"):
        return False
    interpreter = first[2:].strip().split(b" ")[0]
    return (
        placeholder is not None
        and interpreter.startswith(placeholder.encode())
        and posixpath.basename(interpreter.decode(errors="replace")).startswith("python")
    )
