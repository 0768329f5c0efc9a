"""Stage 4, relocate: map conda paths to wheel paths and plan every ELF edit, then apply them.

:func:`plan_layout` is pure: from the unpacked packages and what their ELF files say, it decides
where every file goes, which files are left out and why, and which RPATH, DT_NEEDED and DT_SONAME
edits each ELF file needs. :func:`apply` then writes the staged tree, rewriting build-prefix
placeholders and running patchelf once per ELF file.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
import re
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from condapress import _datapaths, _elf
from condapress._paths import Claim, Claims, file_digest
from condapress.errors import ArchiveError, RelocationError, UnresolvedLibraryError
from condapress.model import ElfEdit, FileMode, Launcher, Layout, PathType, Placement
from condapress.relocate import _apply, _hook
from condapress.relocate._links import SITE_PACKAGES, expanded, links_to_site_lib, site_dest
from condapress.unpack._conda_meta import safe_name
from condapress.unpack._guard import UNSAFE_HINT

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from pathlib import Path

    from condapress._elf import ElfFile
    from condapress.model import PathEntry, PlaceholderSite, UnpackedPackage, WheelSpec

__all__ = [
    "ElfEdit",
    "Launcher",
    "Layout",
    "Placement",
    "apply",
    "libs_dir",
    "mangle",
    "plan_layout",
    "provided_sonames",
    "scan",
    "with_environment",
]

logger = logging.getLogger(__name__)

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

    Every wheel that links the library computes the same name from the same package.

    >>> mangle("libgreet.so.1", "0" * 64)
    'libgreet-562049fa.so.1'
    """
    digest = hashlib.sha256(f"{package_sha256}:{soname}".encode()).hexdigest()[:8]
    stem, dot, rest = soname.partition(".so")
    return f"{stem}-{digest}{dot}{rest}" if dot else f"{soname}-{digest}"


def scan(package: UnpackedPackage) -> dict[str, ElfFile]:
    """Read every regular ELF file of *package*: its path inside the package -> what it says.

    :raises ArchiveError: an ELF file is damaged, or names a library by more than a file name.
    """
    found: dict[str, ElfFile] = {}
    for entry in package.info.paths:
        path = package.root / entry.path
        if entry.path_type is PathType.HARDLINK and not path.is_symlink() and _elf.is_elf(path):
            try:
                found[entry.path] = _elf.read_elf(path)
            except ArchiveError as exc:
                archive = package.archive.name
                raise ArchiveError(
                    f"{archive}: {entry.path} {exc.message.partition(' ')[2]}",
                    hint=exc.hint,
                    package=package.info.record.dist,
                    path=entry.path,
                ) from exc
            _check_names(package, entry.path, found[entry.path])
    return found


#: What to do about a DT_SONAME or DT_NEEDED that is not one plain file name.
_NAME_HINTS = {
    "DT_SONAME": UNSAFE_HINT,
    "DT_NEEDED": "a wheel's binaries find their libraries by file name: rebuild the package "
    "linking its libraries by soname, or report it to the channel it came from",
}


def _check_names(package: UnpackedPackage, path: str, elf: ElfFile) -> None:
    """Refuse a DT_SONAME or DT_NEEDED that is not one plain file name.

    Sonames become file names in the wheel, and DT_NEEDED entries are looked up among them: both
    are data, never paths. A DT_NEEDED with a '/' is a path to the loader (from the working
    folder, or absolute), which no installed wheel can honour.
    """
    names = [("DT_SONAME", elf.soname)] if elf.soname else []
    for tag, name in [*names, *(("DT_NEEDED", needed) for needed in elf.needed)]:
        if not safe_name(name):
            raise ArchiveError(
                f"{package.archive.name}: {path} has the {tag} {name!r}, which is not a plain "
                "file name (empty, or contains '/', '\\', '..' or a control character)",
                hint=_NAME_HINTS[tag],
                package=package.info.record.dist,
                path=path,
            )


def _package_sha256(package: UnpackedPackage) -> str:
    return (
        package.info.record.sha256 or hashlib.sha256(package.info.record.dist.encode()).hexdigest()
    )


def provided_sonames(
    wheel: WheelSpec,
    packages: Mapping[str, UnpackedPackage],
    elfs: Mapping[str, Mapping[str, ElfFile]],
) -> dict[str, tuple[str, str]]:
    """Soname -> (libs folder, mangled name) for every shared library *wheel* will carry."""
    folder = libs_dir(wheel.distribution)
    provided: dict[str, tuple[str, str]] = {}
    for name in wheel.members:
        for path, elf in sorted(elfs.get(name, {}).items()):
            soname = _soname(path, elf)
            if soname is not None:
                mangled = mangle(soname, _package_sha256(packages[name]))
                provided.setdefault(soname, (folder, mangled))
    return provided


def _soname(path: str, elf: ElfFile) -> str | None:
    """The name other files link *path* by.

    Its DT_SONAME, or for a library in ``lib/`` without one (tk's ``libtcl8.6.so``), its file
    name, which is what the linker then recorded in its users' DT_NEEDED.
    """
    if not elf.is_shared or not path.startswith("lib/") or SITE_PACKAGES.match(path):
        return None
    if elf.soname:
        return elf.soname
    return posixpath.basename(path) if path.count("/") == 1 else None


def plan_layout(
    wheel: WheelSpec,
    packages: Mapping[str, UnpackedPackage],
    elfs: Mapping[str, Mapping[str, ElfFile]],
    *,
    others: Mapping[str, tuple[str, str]] | None = None,
    graft_only_needed: frozenset[str] = frozenset(),
    is_system: Callable[[str, str], bool] | None = None,
    allow_overlap: bool = False,
) -> Layout:
    """Decide where every file of the members of *wheel* goes, and every ELF edit.

    :param elfs: per conda package, its ELF files as :func:`scan` read them.
    :param others: sonames carried by the other wheels this one depends on (split mode).
    :param graft_only_needed: members (the compiler runtime under ``--runtime bundle``) of which
        only the shared libraries that the wheel's other binaries need are kept.
    :param is_system: ``(soname, machine) -> bool``, whether the target system provides a
        library; when given, a DT_NEEDED that nothing provides is an error.
    :param allow_overlap: when two files would take one wheel path and differ, keep the first
        (members in the wheel's order) instead of raising :class:`~condapress.errors.OverlapError`.
    :raises UnresolvedLibraryError: a binary needs a library that nothing provides.
    :raises OverlapError: two different files would take one wheel path.
    :raises ArchiveError: a symbolic link in site-packages loops or leads nowhere.
    """
    folder = libs_dir(wheel.distribution)
    own = provided_sonames(wheel, packages, elfs)
    site_libs = _site_libraries(wheel, elfs)
    builder = _LayoutBuilder(
        wheel=wheel,
        folder=folder,
        own=own,
        providers={**(others or {}), **own, **_site_providers(site_libs)},
        site_libs=site_libs,
        unneeded=_unneeded(wheel, elfs, graft_only_needed),
        is_system=is_system,
        claims=Claims(allow_overlap=allow_overlap),
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
        elf_edits=tuple(builder.edits),
        launchers=tuple(builder.launchers),
        left_out=tuple(builder.left_out),
    )


@dataclass
class _LayoutBuilder:
    """Decides one file at a time; collects what :func:`plan_layout` returns."""

    wheel: WheelSpec
    folder: str
    own: Mapping[str, tuple[str, str]]
    providers: Mapping[str, tuple[str, str]]
    site_libs: Mapping[tuple[str, str], str]
    unneeded: set[tuple[str, str]]
    is_system: Callable[[str, str], bool] | None
    claims: Claims
    placements: list[Placement] = field(default_factory=list)
    edits: list[ElfEdit] = field(default_factory=list)
    launchers: list[Launcher] = field(default_factory=list)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)
    data_links: dict[str, dict[str, PathEntry]] = field(default_factory=dict)

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
        elfs: Mapping[str, ElfFile],
    ) -> None:
        """Place *entry*, seen at *path* (its own, or its name under a link to its folder)."""
        if (name, entry.path) in self.unneeded:
            self.left_out.append((name, entry.path, "runtime library that no binary needs"))
            return
        entry = self.copied_link(name, package, entry)
        dest, why = _destination(entry, path, package, elfs, self.folder, self.own)
        if (name, entry.path) in self.site_libs:
            dest = self.site_libs[(name, entry.path)]
        elif links_to_site_lib(package, entry, name, self.site_libs):
            dest, why = None, "symbolic link to a library kept under its soname"
        elf = elfs.get(entry.path)
        shebang = elf is None and path.startswith("bin/")
        if dest is not None and shebang:
            dest = f"{self.data_scripts}/{posixpath.basename(path)}"
        source, dist = package.root / entry.path, package.info.record.dist
        taken = dest and self.claims.claim(dest, Claim(dist, path, lambda: file_digest(source)))
        if dest is None or taken:
            self.left_out.append((name, entry.path, taken or why or ""))
            return
        if path.startswith("bin/") and elf is not None:
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
            if self.is_system is not None:
                _check_resolved(package, entry.path, elf, self.providers, self.is_system)
            self.edits.append(_elf_edit(dest, _soname(entry.path, elf), elf, self.providers))

    def _add_launcher(self, name: str, dist: str, path: str, target: str) -> None:
        script = posixpath.basename(target)
        launcher = Launcher(script, f"{self.data_scripts}/{script}", target)
        claim = Claim(dist, f"the launcher of {path}", lambda: f"launcher of {target}")
        taken = self.claims.claim(launcher.dest, claim)
        if taken:
            self.left_out.append((name, f"the launcher of {path}", taken))
        else:
            self.launchers.append(launcher)


def _loader_strings(elf: ElfFile | None) -> tuple[str, ...]:
    if elf is None:
        return ()
    return tuple(text for text in (":".join(elf.rpath), ":".join(elf.runpath)) if text)


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
    wheel: WheelSpec, elfs: Mapping[str, Mapping[str, ElfFile]]
) -> dict[tuple[str, str], str]:
    """(package, path) -> wheel path of every shared library inside site-packages.

    Such libraries (pyarrow's libarrow_python) stay beside the modules that load them, as one
    file under their soname, the way PyPI's own wheels ship them; their users get an $ORIGIN
    entry to their folder.
    """
    return {
        (name, path): f"{posixpath.dirname(site_dest(path))}/{elf.soname}".lstrip("/")
        for name in wheel.members
        for path, elf in elfs.get(name, {}).items()
        if elf.is_shared and elf.soname and SITE_PACKAGES.match(path)
    }


def _site_providers(site_libs: Mapping[tuple[str, str], str]) -> dict[str, tuple[str, str]]:
    return {
        posixpath.basename(dest): (posixpath.dirname(dest) or ".", posixpath.basename(dest))
        for dest in site_libs.values()
    }


def _check_resolved(
    package: UnpackedPackage,
    path: str,
    elf: ElfFile,
    providers: Mapping[str, tuple[str, str]],
    is_system: Callable[[str, str], bool],
) -> None:
    for soname in elf.needed:
        if soname not in providers and not is_system(soname, elf.machine):
            raise UnresolvedLibraryError(
                f"{package.archive.name}: {path} needs {soname}, which no package of the "
                "closure provides and a manylinux system does not have",
                package=package.info.record.dist,
                path=path,
            )


def _unneeded(
    wheel: WheelSpec, elfs: Mapping[str, Mapping[str, ElfFile]], graft: frozenset[str]
) -> set[tuple[str, str]]:
    """Files of the *graft* members that no binary of the wheel needs, directly or not."""
    if not graft:
        return set()
    by_soname = {
        soname: (name, path)
        for name in wheel.members
        if name in graft
        for path, elf in elfs.get(name, {}).items()
        if (soname := _soname(path, elf)) is not None
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
    elfs: Mapping[str, ElfFile],
    folder: str,
    own: Mapping[str, tuple[str, str]],
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
    return _prefix_destination(entry, package, elfs.get(path), folder, own)


def _prefix_destination(
    entry: PathEntry,
    package: UnpackedPackage,
    elf: ElfFile | None,
    folder: str,
    own: Mapping[str, tuple[str, str]],
) -> tuple[str | None, str | None]:
    """Where a file outside site-packages goes: libraries by soname, the rest under .libs."""
    path = entry.path
    if elf is None and re.match(r"^lib/[^/]+\.so$", path):
        return None, "linker script for a library's link-time name (development file)"
    soname = _soname(path, elf) if elf is not None else None
    if soname is not None:
        return f"{folder}/{own[soname][1]}", None
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


def _elf_edit(
    dest: str, soname: str | None, elf: ElfFile, providers: Mapping[str, tuple[str, str]]
) -> ElfEdit:
    here = posixpath.dirname(dest) or "."
    replace = tuple(
        (soname, providers[soname][1])
        for soname in elf.needed
        if soname in providers and providers[soname][1] != soname
    )
    folders = sorted({providers[soname][0] for soname in elf.needed if soname in providers})
    rpath = ":".join(
        "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"
        for rel in (posixpath.relpath(f, here) for f in folders)
    )
    new_soname = providers[soname][1] if soname is not None and soname in providers else None
    had_rpath = bool(elf.rpath or elf.runpath)
    return ElfEdit(
        dest=dest,
        set_rpath=rpath or None,
        remove_rpath=had_rpath and not rpath,
        replace_needed=replace,
        set_soname=new_soname,
    )


def with_environment(
    layout: Layout,
    wheel: WheelSpec,
    wheels: Sequence[WheelSpec],
    layouts: Mapping[str, Layout],
    packages: Mapping[str, UnpackedPackage],
) -> Layout:
    """*layout* with the variables that point its packages at their data, and its hooks.

    The variables cover the packages of the wheels it requires too; the hooks are the
    ``__init__.py`` files that import the generated module setting them.

    :param layouts: the layout of every wheel of the plan, by distribution.
    """
    settings = _datapaths.environment(wheel, wheels, layouts, packages)
    hooks = _hook.hook_targets(layout) if any(s.at_import and s.path for s in settings) else ()
    return replace(layout, environment=settings, hooks=hooks)


def apply(
    layout: Layout, packages: Mapping[str, UnpackedPackage], stage: Path, *, jobs: int = 1
) -> tuple[PlaceholderSite, ...]:
    """Write the staged tree of *layout* under *stage*; return every placeholder site written.

    Files are copied, placeholders rewritten and ELF files patched; the launchers and the import
    hook are written last.

    :param jobs: patchelf processes run at once (each edits a different file).
    """
    return _apply.write_layout(layout, packages, stage, jobs=jobs)
