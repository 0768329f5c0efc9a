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
import shutil
from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from condapress import _elf, _tools
from condapress.errors import RelocationError, ToolError
from condapress.model import FileMode, PathType

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from condapress._elf import ElfFile
    from condapress.model import PathEntry, UnpackedPackage, WheelSpec

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
]

logger = logging.getLogger(__name__)

_SITE_PACKAGES = re.compile(r"^(?:site-packages|lib/python\d+\.\d+t?/site-packages)/")
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
    #: what the placeholder becomes: the wheel's prefix folder, relative to the file's folder.
    prefix: str | None = None
    #: rewrite a ``#!<prefix>/bin/python`` line to ``#!python`` (pip fills in the interpreter).
    python_shebang: bool = False


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


def libs_dir(distribution: str) -> str:
    """``<dist>.libs``: the folder beside the packages that holds the wheel's shared libraries."""
    return canonicalize_name(distribution).replace("-", "_") + ".libs"


def mangle(soname: str, package_sha256: str) -> str:
    """``libzstd.so.1`` -> ``libzstd-1a2b3c4d.so.1``, the hash taken from the conda package.

    Every wheel that links the library computes the same name from the same package.

    >>> mangle("libgreet.so.1", "0" * 64)
    'libgreet-9a7c2bdc.so.1'
    """
    digest = hashlib.sha256(f"{package_sha256}:{soname}".encode()).hexdigest()[:8]
    stem, dot, rest = soname.partition(".so")
    return f"{stem}-{digest}{dot}{rest}" if dot else f"{soname}-{digest}"


def scan(package: UnpackedPackage) -> dict[str, ElfFile]:
    """Read every regular ELF file of *package*: its path inside the package -> what it says."""
    found: dict[str, ElfFile] = {}
    for entry in package.info.paths:
        path = package.root / entry.path
        if entry.path_type is PathType.HARDLINK and not path.is_symlink() and _elf.is_elf(path):
            found[entry.path] = _elf.read_elf(path)
    return found


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
    if not elf.is_shared or not path.startswith("lib/"):
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
) -> Layout:
    """Decide where every file of the members of *wheel* goes, and every ELF edit.

    :param elfs: per conda package, its ELF files as :func:`scan` read them.
    :param others: sonames carried by the other wheels this one depends on (split mode).
    :param graft_only_needed: members (the compiler runtime under ``--runtime bundle``) of which
        only the shared libraries that the wheel's other binaries need are kept.
    """
    folder = libs_dir(wheel.distribution)
    own = provided_sonames(wheel, packages, elfs)
    unneeded = _unneeded(wheel, elfs, graft_only_needed)
    providers = {**(others or {}), **own}
    placements: list[Placement] = []
    launchers: list[Launcher] = []
    left_out: list[tuple[str, str, str]] = []
    edits: list[ElfEdit] = []
    taken: set[str] = set()
    data_scripts = (
        f"{canonicalize_name(wheel.distribution).replace('-', '_')}-{wheel.version}.data/scripts"
    )
    for name in wheel.members:
        package = packages[name]
        pkg_elfs = elfs.get(name, {})
        for entry in package.info.paths:
            if (name, entry.path) in unneeded:
                left_out.append((name, entry.path, "runtime library that no binary needs"))
                continue
            dest, why = _destination(entry, package, pkg_elfs, folder, own)
            if dest is None or dest in taken:
                left_out.append(
                    (name, entry.path, why or "a file of the same name is already in the wheel")
                )
                continue
            taken.add(dest)
            elf = pkg_elfs.get(entry.path)
            if entry.path.startswith("bin/") and elf is not None:
                launchers.append(
                    Launcher(
                        posixpath.basename(dest), f"{data_scripts}/{posixpath.basename(dest)}", dest
                    )
                )
            shebang = elf is None and entry.path.startswith("bin/")
            if shebang:
                dest = f"{data_scripts}/{posixpath.basename(entry.path)}"
            placements.append(
                Placement(
                    package=name,
                    source=entry.path,
                    dest=dest,
                    executable=(elf is not None and not elf.is_shared) or shebang,
                    placeholder=entry.prefix_placeholder,
                    file_mode=entry.file_mode,
                    prefix=posixpath.relpath(folder, posixpath.dirname(dest) or ".")
                    if entry.prefix_placeholder
                    else None,
                    python_shebang=shebang,
                )
            )
            if elf is not None:
                edits.append(_elf_edit(dest, _soname(entry.path, elf), elf, providers))
    return Layout(
        distribution=wheel.distribution,
        libs_dir=folder,
        placements=tuple(placements),
        elf_edits=tuple(edits),
        launchers=tuple(launchers),
        left_out=tuple(left_out),
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
    package: UnpackedPackage,
    elfs: Mapping[str, ElfFile],
    folder: str,
    own: Mapping[str, tuple[str, str]],
) -> tuple[str | None, str | None]:
    path = entry.path
    for pattern, why in _LEFT_OUT:
        if pattern.search(path):
            return None, why
    site = _SITE_PACKAGES.match(path)
    if entry.path_type is PathType.SOFTLINK:
        if site:  # wheels hold no links: the target's content is copied under the link's name
            return path[site.end() :], None
        return None, "symbolic link (the wheel keeps one file per library, under its soname)"
    if site:
        return path[site.end() :], None
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
    replace = tuple((soname, providers[soname][1]) for soname in elf.needed if soname in providers)
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


def apply(layout: Layout, packages: Mapping[str, UnpackedPackage], stage: Path) -> None:
    """Write the staged tree of *layout* under *stage*: copy, rewrite placeholders, patch ELF."""
    for placement in layout.placements:
        source = packages[placement.package].root / placement.source
        target = stage / placement.dest
        target.parent.mkdir(parents=True, exist_ok=True)
        if placement.python_shebang:
            _write_python_script(source, target)
        elif placement.placeholder and placement.prefix is not None:
            _rewrite_placeholder(source, target, placement)
        else:
            shutil.copyfile(source, target)
        target.chmod(0o755 if placement.executable else 0o644)
    for edit in layout.elf_edits:
        try:
            _tools.patchelf(
                stage / edit.dest,
                set_rpath=edit.set_rpath,
                remove_rpath=edit.remove_rpath,
                replace_needed=edit.replace_needed,
                set_soname=edit.set_soname,
            )
        except ToolError as exc:
            raise RelocationError(
                f"cannot rewrite {edit.dest} for the wheel: {exc.message}",
                hint="report this with the package name; run with -v for patchelf's output",
                path=edit.dest,
                detail=exc.detail,
            ) from exc
    for launcher in layout.launchers:
        target = stage / launcher.dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(
            _LAUNCHER.format(target=launcher.target, name=launcher.name), encoding="utf-8"
        )
        target.chmod(0o755)


def _write_python_script(source: Path, target: Path) -> None:
    with source.open("rb") as src, target.open("wb") as dst:
        src.readline()
        dst.write(b"#!python\n")
        shutil.copyfileobj(src, dst)


def _rewrite_placeholder(source: Path, target: Path, placement: Placement) -> None:
    assert placement.placeholder is not None  # noqa: S101 - checked by the caller
    assert placement.prefix is not None  # noqa: S101
    data = source.read_bytes()
    old, new = placement.placeholder.encode(), placement.prefix.encode()
    if placement.file_mode is FileMode.BINARY:
        # As conda does: inside each NUL-terminated string, replace the placeholder and pad the
        # string with NULs so that every offset in the file stays where it was.
        def padded(match: re.Match[bytes]) -> bytes:
            text = match.group()
            count = text.count(old)
            return text.replace(old, new) + b"\0" * ((len(old) - len(new)) * count)

        data = re.sub(re.escape(old) + rb"[^\0]*", padded, data)
    else:
        data = data.replace(old, new)
    target.write_bytes(data)


_LAUNCHER = '''#!python
"""Run {name}, kept inside the wheel in {target}; installed by condapress."""
import os
import sys


def _find():
    here = os.path.dirname(os.path.abspath(__file__))
    # sys.path covers venv and --user installs; a --target install puts bin/ beside the packages.
    for base in [*sys.path, os.path.dirname(here)]:
        exe = os.path.join(base or os.curdir, *"{target}".split("/"))
        if os.path.isfile(exe):
            return exe
    sys.exit("{name}: cannot find {target} on sys.path; is its package installed?")


if __name__ == "__main__":
    exe = _find()
    os.execv(exe, [exe, *sys.argv[1:]])
'''
