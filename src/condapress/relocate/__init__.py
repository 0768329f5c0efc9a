"""Stage 5, relocate: every wheel's files, placed and edited for the wheel layout, staged on disk.

:func:`relocate` reads the binaries of the unpacked packages through the target's binary format,
plans each wheel's layout (:mod:`condapress.relocate._layout`, pure: where every file goes and
every binary's edit, as data), points known packages at their data (variables for the launchers
and the import hook), then writes the staged trees (:mod:`condapress.relocate._apply`: files
copied, placeholders rewritten, one edit per binary) and reads the binaries back as written.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import replace
from typing import TYPE_CHECKING

from condapress import _datapaths
from condapress._distinfo import excluded_by
from condapress._paths import destination, safe_name
from condapress._progress import NULL_REPORTER
from condapress.errors import UNSAFE_HINT, ArchiveError, BinaryError, SpecError, printable
from condapress.model import PathType, StagedWheel
from condapress.relocate import _apply, _hook, _windows
from condapress.relocate._layout import libs_dir, plan_layout, provided_sonames

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from condapress._progress import Reporter
    from condapress.formats import BinaryFormat
    from condapress.model import (
        BinaryFacts,
        Layout,
        LeftOut,
        UnpackedPackage,
        WheelPlan,
        WheelSpec,
    )

__all__ = ["libs_dir", "relocate", "scan"]

logger = logging.getLogger(__name__)


def relocate(
    the_plan: WheelPlan,
    packages: Mapping[str, UnpackedPackage],
    stage: Path,
    fmt: BinaryFormat,
    *,
    allow_overlap: bool = False,
    jobs: int = 1,
    reporter: Reporter = NULL_REPORTER,
) -> tuple[StagedWheel, ...]:
    """Stage every wheel of *the_plan* under ``stage/<distribution>``, in the plan's order.

    :param packages: every member of every wheel, unpacked.
    :param fmt: the binary format of the plan's subdir.
    :param allow_overlap: keep the first of two different files at one wheel path (warning).
    :param jobs: binaries edited at once.
    :param reporter: told how many binaries of each wheel are edited, and of each edit done.
    :raises UnresolvedLibraryError: a binary needs a library nothing provides.
    :raises OverlapError: two different files would take one wheel path.
    :raises ArchiveError: a binary is damaged, or names a library by more than a file name.
    :raises RelocationError: a binary cannot be edited.
    :raises ToolError: the plan strips the binaries, and strip is missing or fails.
    :raises WriteError: the temporary folder is full or not writable.
    """
    if the_plan.strip and fmt.name != "ELF":
        raise SpecError(
            f"--strip removes the debug sections of ELF files; {fmt.name} files are not stripped",
            hint="press without --strip",
        )
    binaries = {name: scan(package, fmt) for name, package in packages.items()}
    provided = {
        wheel.distribution: provided_sonames(wheel, packages, binaries, fmt, the_plan.exclude)
        for wheel in the_plan.wheels
    }
    others = {
        wheel.distribution: {
            link: where
            for dependency in wheel.wheel_dependencies
            for link, where in provided[dependency].items()
        }
        for wheel in the_plan.wheels
    }
    # Every layout is planned before any is written: the variables that point a wheel's
    # packages at their data may name the wheels it requires.
    layouts = {
        wheel.distribution: plan_layout(
            wheel,
            packages,
            binaries,
            fmt,
            others=others[wheel.distribution],
            graft_only_needed=frozenset(m for m in wheel.members if m in the_plan.grafted),
            allow_overlap=allow_overlap,
            exclude=the_plan.exclude,
        )
        for wheel in the_plan.wheels
    }
    for layout in layouts.values():
        for left in layout.left_out:
            logger.debug("%s: %s of %s left out: %s", layout.distribution, *_left_out_text(left))
    staged = []
    for wheel in the_plan.wheels:
        layout = _with_environment(wheel, the_plan.wheels, layouts, packages, fmt)
        if the_plan.strip:
            layout = replace(layout, strip=tuple(edit.dest for edit in layout.binary_edits))
        root = destination(stage, wheel.distribution)
        written = _apply.write_layout(layout, packages, root, fmt, jobs=jobs, reporter=reporter)
        if the_plan.strip:
            logger.info("%s: strip saved %d bytes", wheel.distribution, written.stripped)
        read = (
            tuple((e.dest, fmt.read(root / e.dest)) for e in layout.binary_edits)
            if the_plan.strip  # strip rewrote every binary: each is read as written
            else _as_written(layout, binaries, root, fmt)
        )
        needed = {name for _, facts in read for name in facts.needed}
        staged.append(
            StagedWheel(
                spec=_in_the_wheel(wheel, layout),
                layout=layout,
                root=root,
                files=tuple(sorted(_files(layout))),
                executables=frozenset(p.dest for p in layout.placements if p.executable)
                | {launcher.dest for launcher in layout.launchers},
                binaries=read,
                external=frozenset(name for _, name in others[wheel.distribution].values()),
                sites=written.sites,
                excluded=tuple(sorted(n for n in needed if excluded_by(n, the_plan.exclude))),
                stripped=written.stripped if the_plan.strip else None,
            )
        )
    return tuple(staged)


def _as_written(
    layout: Layout, scanned: Mapping[str, Mapping[str, BinaryFacts]], root: Path, fmt: BinaryFormat
) -> tuple[tuple[str, BinaryFacts], ...]:
    """Every binary of *layout* as written: what the scan read, with its edit applied.

    Each file is parsed once: a binary placed straight from its package is not read again
    when the format can tell what its edit changed (:meth:`BinaryFormat.edited`); one whose
    placeholder was rewritten, or of a format that cannot tell, is read as written.
    """
    placed = {placement.dest: placement for placement in layout.placements}
    written = []
    for edit in layout.binary_edits:
        placement, facts = placed.get(edit.dest), None
        if placement is not None and not placement.placeholder and not placement.python_shebang:
            before = scanned.get(placement.package, {}).get(placement.source)
            facts = fmt.edited(before, edit) if before is not None else None
        written.append((edit.dest, facts if facts is not None else fmt.read(root / edit.dest)))
    return tuple(written)


def _left_out_text(left: LeftOut) -> tuple[str, str, str]:
    """(path, package, reason) of a file left out, escaped for a log line."""
    return printable(left.path), left.package, printable(left.reason)


def _files(layout: Layout) -> list[str]:
    """Every path of the staged wheel: placed files, launchers and generated hook modules."""
    files = [p.dest for p in layout.placements] + [launcher.dest for launcher in layout.launchers]
    return files + [_hook.hook_module(init) for init in layout.hooks]


def scan(package: UnpackedPackage, fmt: BinaryFormat) -> dict[str, BinaryFacts]:
    """Read every regular binary of *package*: its path inside the package -> what it says.

    :raises ArchiveError: a binary is damaged, or names a library by more than a file name.
    """
    found: dict[str, BinaryFacts] = {}
    for entry in package.info.paths:
        path = package.root / entry.path
        if entry.path_type is not PathType.HARDLINK or path.is_symlink():
            continue
        with path.open("rb") as handle:
            head = handle.read(_HEAD)
        if not fmt.is_binary(head):
            continue
        try:
            found[entry.path] = fmt.read(path)
        except BinaryError as exc:
            raise ArchiveError(
                f"{package.archive.name}: {entry.path} is not a valid {fmt.name} file:"
                f" {exc.reason}",
                hint=exc.hint,
                package=package.info.record.dist,
                path=entry.path,
            ) from exc
        _check_names(package, entry.path, found[entry.path], fmt)
    return found


#: How much of a file tells its format: a PE header's place is at offset 0x3c, and it is
#: within the first few hundred bytes of any real file.
_HEAD = 1024

#: What to do about a DT_SONAME or DT_NEEDED that is not one plain file name.
_NAME_HINTS = {
    "DT_SONAME": UNSAFE_HINT,
    "DT_NEEDED": "a wheel's binaries find their libraries by file name: rebuild the package "
    "linking its libraries by soname, or report it to the channel it came from",
}


def _check_names(
    package: UnpackedPackage, path: str, facts: BinaryFacts, fmt: BinaryFormat
) -> None:
    """Refuse a DT_SONAME or DT_NEEDED that is not one plain file name.

    Sonames become file names in the wheel, and DT_NEEDED entries are looked up among them: both
    are data, never paths. A DT_NEEDED with a '/' is a path to the loader (from the working
    folder, or absolute), which no installed wheel can honour. Mach-O install names are paths
    by design (``@rpath/libz.1.dylib``), looked up whole among the libraries' own: there, the
    file name of a library's install name must be one plain name, as it names a wheel file.
    """
    if fmt.name == "Mach-O":
        own = posixpath.basename(facts.soname or "")
        if facts.soname is not None and not safe_name(own):
            raise ArchiveError(
                f"{package.archive.name}: {path} has the install name (LC_ID_DYLIB) "
                f"{facts.soname!r}, whose file name {own!r} is not a plain file name (empty, or "
                "contains '\\', '..' or a control character)",
                hint=UNSAFE_HINT,
                package=package.info.record.dist,
                path=path,
            )
        return
    names = [("DT_SONAME", facts.soname)] if facts.soname else []
    for tag, name in [*names, *(("DT_NEEDED", needed) for needed in facts.needed)]:
        if not safe_name(name):
            raise ArchiveError(
                f"{package.archive.name}: {path} has the {tag} {name!r}, which is not a plain "
                "file name (empty, or contains '/', '\\', '..' or a control character)",
                hint=_NAME_HINTS[tag],
                package=package.info.record.dist,
                path=path,
            )


def _with_environment(
    wheel: WheelSpec,
    wheels: Sequence[WheelSpec],
    layouts: Mapping[str, Layout],
    packages: Mapping[str, UnpackedPackage],
    fmt: BinaryFormat,
) -> Layout:
    """*wheel*'s layout with the variables that point its packages at their data, and hooks.

    The variables cover the packages of the wheels it requires too; the hooks are the
    ``__init__.py`` files that import the generated module setting them. On Windows the
    module also adds the folders of the DLLs to the DLL search path and holds the functions of
    the commands that run the wheel's programs.
    """
    layout = layouts[wheel.distribution]
    settings = _datapaths.environment(wheel, wheels, layouts, packages)
    windows = fmt.name == "PE"
    hooked = any(s.at_import and s.path for s in settings) or layout.dll_directories
    hooks = _hook.hook_targets(layout) if hooked or (windows and layout.launchers) else ()
    layout = replace(layout, environment=settings, hooks=hooks)
    return _windows.console_scripts(layout) if windows else layout


def _in_the_wheel(wheel: WheelSpec, layout: Layout) -> WheelSpec:
    """*wheel* with only the members that have a file in it; the root always counts.

    Licenses, ``License-Expression`` and the provenance follow the files: a compiler runtime
    of which no library was grafted (``--runtime bundle`` grafts only what the binaries need),
    or a package whose files were all left out (headers, static libraries), is not in the wheel.
    """
    placed = {placement.package for placement in layout.placements}
    members = tuple(m for m in wheel.members if m == wheel.members[0] or m in placed)
    return replace(wheel, members=members)
