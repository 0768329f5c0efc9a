"""The Windows rules of a wheel's layout: what a ``win-*`` package leaves out, and its commands.

A conda environment on Windows keeps its DLLs and programs in ``Library/bin`` (and the other
folders conda puts on PATH), development files under ``Library/include`` and ``Library/lib``,
and conda's own launchers of entry points in ``Scripts``. In a wheel the DLLs go to
``<dist>.libs`` under mangled names and the programs beside them, where the Windows loader finds
their DLLs (it searches the program's own folder first); pip, which runs no file of
``.data/scripts`` as a command on Windows, makes each program a command through a
``console_scripts`` entry point whose function the import hook module holds.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from condapress._paths import SITE_PACKAGES
from condapress.formats.pe import DLL_FOLDERS
from condapress.model import ConsoleScript, LeftOut
from condapress.relocate._hook import HOOK_MODULE
from condapress.relocate._links import site_dest

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from condapress.model import BinaryFacts, Layout, PathEntry, Providers, UnpackedPackage

__all__ = ["console_scripts", "is_program", "joined", "left_out", "top_level_users"]

# Outside site-packages: development files, debug symbols, and what only conda runs.
_LEFT_OUT = (
    (re.compile(r"^Library/include/"), "header (development file)"),
    (
        re.compile(r"^Library/((lib|share)/)?(pkgconfig|cmake)/"),
        "build-system file (development file)",
    ),
    (
        re.compile(r"^Library/lib/.*\.lib$", re.IGNORECASE),
        "import or static library (development file)",
    ),
    (re.compile(r"\.pdb$", re.IGNORECASE), "debug symbols (development file)"),
    (re.compile(r"^Library/share/(man|doc|info|aclocal|gtk-doc|licenses)/"), "documentation"),
    (re.compile(r"^Menu/"), "start-menu shortcut of a conda environment (menuinst)"),
    (
        re.compile(r"\.(bat|cmd|ps1)$", re.IGNORECASE),
        "batch script: it runs programs by their place in a conda environment",
    ),
)
_CONDA_SCRIPT = re.compile(r"^Scripts/(?P<name>[^/]+)-script\.pyw?$")
_CONDA_LAUNCHER = re.compile(r"^Scripts/(?P<name>[^/]+)\.exe$", re.IGNORECASE)


def left_out(entry: PathEntry, package: UnpackedPackage) -> str | None:
    """Why the file *entry* of a Windows package, outside site-packages, is left out; or None."""
    path = entry.path
    for pattern, why in _LEFT_OUT:
        if pattern.search(path):
            return why
    paths = {other.path for other in package.info.paths}
    if "/" not in path and path.lower().endswith(".dll") and f"Library/bin/{path}" in paths:
        return f"copy of Library/bin/{path} at the prefix root, where conda's python.exe finds it"
    script = _CONDA_SCRIPT.match(path)
    launcher = _CONDA_LAUNCHER.match(path)
    name = script["name"] if script else launcher["name"] if launcher else None
    if name is not None and {f"Scripts/{name}-script.py", f"Scripts/{name}-script.pyw"} & paths:
        return (
            f"conda's launcher of the entry point {name}: pip writes its own from the "
            "entry points of the wheel"
        )
    return None


def console_scripts(layout: Layout) -> Layout:
    """*layout* with its launchers turned into console scripts of its import hook module.

    The function of each goes into the hook module of the first top-level package (by name);
    a wheel without a package has no module to hold them, so its executables stay in the wheel
    without a command, each with the reason among the files left out.
    """
    if not layout.launchers:
        return layout
    if not layout.hooks:
        package = {p.dest: p.package for p in layout.placements}
        why = (
            "a command on Windows is a console_scripts entry point, whose function needs a "
            "python package of the wheel, and this wheel has none"
        )
        left = tuple(
            LeftOut(package[launcher.target], f"the command {launcher.name}", why)
            for launcher in layout.launchers
        )
        return replace(layout, launchers=(), left_out=layout.left_out + left)
    module = f"{layout.hooks[0].split('/')[0]}.{HOOK_MODULE}"
    taken: set[str] = set()
    scripts = []
    for launcher in layout.launchers:
        function = _function_name(launcher.name, taken)
        scripts.append(ConsoleScript(launcher.name, module, function, launcher.target))
    return replace(layout, launchers=(), console_scripts=tuple(scripts))


def _function_name(command: str, taken: set[str]) -> str:
    """A Python name for the function of *command*, unique among *taken* (which it joins).

    >>> taken = set()
    >>> [_function_name(command, taken) for command in ("zstd", "xz-dec", "xz_dec")]
    ['_run_zstd', '_run_xz_dec', '_run_xz_dec_2']
    """
    base = "_run_" + re.sub(r"\W", "_", command, flags=re.ASCII)
    name, count = base, 1
    while name in taken:
        count += 1
        name = f"{base}_{count}"
    taken.add(name)
    return name


def is_program(path: str, facts: BinaryFacts) -> bool:
    """Whether the PE file at *path* (in a conda prefix) is a program conda puts on PATH.

    A program elsewhere (in site-packages, say setuptools' ``cli-64.exe``) is a package's data.

    >>> from condapress.model import BinaryFacts
    >>> exe = BinaryFacts("amd64", False, True, None, (), (), (), None, (), (), (), False, "PE")
    >>> is_program("Library/bin/zstd.exe", exe), is_program("Lib/site-packages/p/cli.exe", exe)
    (True, False)
    """
    return facts.is_executable and posixpath.dirname(path) in DLL_FOLDERS


def joined(folder: str, name: str) -> str:
    """The wheel path of *name* in *folder* (``.`` is the root of the wheel).

    >>> joined("zstandard.libs", "zstd.exe"), joined(".", "yaml-1a2b3c4d.dll")
    ('zstandard.libs/zstd.exe', 'yaml-1a2b3c4d.dll')
    """
    return name if folder == "." else f"{folder}/{name}"


def top_level_users(
    members: Sequence[str],
    binaries: Mapping[str, Mapping[str, BinaryFacts]],
    provided: Providers,
) -> bool:
    """Whether an extension module at the top of site-packages imports a DLL of *provided*."""
    return any(
        SITE_PACKAGES.match(path)
        and "/" not in site_dest(path)
        and set(facts.needed) & provided.keys()
        for name in members
        for path, facts in binaries.get(name, {}).items()
    )
