"""Write a relocation layout to disk: files copied or rewritten, ELF files patched, launchers."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from condapress import _datapaths, _tools
from condapress._folders import is_refused_write, write_hint
from condapress._paths import Destinations
from condapress._progress import NULL_REPORTER
from condapress.errors import WriteError
from condapress.model import FileMode, PlaceholderSite
from condapress.relocate import _hook

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from condapress._progress import Reporter
    from condapress.formats import BinaryFormat
    from condapress.model import BinaryEdit, EnvSetting, Layout, Placement, UnpackedPackage


class Written(NamedTuple):
    """What writing a layout made beside the files."""

    #: every file that held the build-prefix placeholder, and the paths it named.
    sites: tuple[PlaceholderSite, ...]
    #: the bytes stripping the binaries' debug sections saved (``Layout.strip``).
    stripped: int


#: patchelf holds about twice the file it edits in memory: files of more than this many bytes
#: in all are not edited at once (one always may be), so memory stays flat as closures grow.
PATCH_BYTES_IN_FLIGHT = 64 << 20


def write_layout(
    layout: Layout,
    packages: Mapping[str, UnpackedPackage],
    stage: Path,
    fmt: BinaryFormat,
    *,
    jobs: int = 1,
    reporter: Reporter = NULL_REPORTER,
) -> Written:
    """Write every file of *layout* under *stage*: copies, rewritten placeholders, edited binaries.

    An ELF file that only needs patchelf's edits is written by patchelf straight from the
    unpacked package (``--output``), not copied first. A binary of ``layout.strip`` is written
    by strip, before patchelf edits it (strip after patchelf can undo its work: auditwheel
    strips first for that reason).

    :param reporter: told how many binaries are edited or stripped, and of each one done (from
        the threads that edit them).
    :raises ToolError: ``strip`` is not installed, or cannot read a binary.
    :raises WriteError: the file system refused a write (no space, a quota, no permission).
    """
    try:
        return _write_layout(layout, packages, stage, fmt, jobs=jobs, reporter=reporter)
    except OSError as exc:
        if not is_refused_write(exc):
            raise
        # The stage is in the press's temporary folder: TMPDIR is what a user can change.
        raise WriteError(
            f"cannot write the files of {layout.distribution}: {exc.strerror}",
            hint=write_hint(exc, Path(tempfile.gettempdir()), "set TMPDIR to"),
            path=str(exc.filename or stage),
            detail=str(exc),
        ) from exc


def _write_layout(
    layout: Layout,
    packages: Mapping[str, UnpackedPackage],
    stage: Path,
    fmt: BinaryFormat,
    *,
    jobs: int,
    reporter: Reporter,
) -> Written:
    destination = Destinations(stage)
    edits = {edit.dest: edit for edit in layout.binary_edits if _changes(edit)}
    strip = frozenset(layout.strip)
    saved: dict[str, int] = {}
    patch_from: dict[str, Path] = {}
    modes: dict[str, int] = {}
    sites: list[PlaceholderSite] = []
    for placement in layout.placements:
        source = packages[placement.package].root / placement.source
        target = destination(placement.dest)
        modes[placement.dest] = 0o755 if placement.executable else 0o644
        if placement.python_shebang:
            write_python_script(source, target, placement)
        elif placement.placeholder and placement.prefix is not None:
            paths = rewrite_placeholder(source, target, placement)
            if paths and placement.file_mode is not None:
                sites.append(
                    PlaceholderSite(placement.dest, placement.package, placement.file_mode, paths)
                )
        elif placement.dest in edits or placement.dest in strip:
            patch_from[placement.dest] = source
            continue
        else:
            _place(source, target, modes[placement.dest])
            continue
        target.chmod(modes[placement.dest])
    budget = _ByteBudget(PATCH_BYTES_IN_FLIGHT)

    def patch(dest: str) -> None:
        source, target = patch_from.get(dest), destination(dest)
        with budget.taking((source or target).stat().st_size):
            if dest in strip:
                before = (source or target).stat().st_size
                _tools.strip_debug(source or target, target)
                saved[dest], source = before - target.stat().st_size, None
            if dest in edits:
                fmt.apply_edit(source or target, edits[dest], None if source is None else target)
        target.chmod(modes[dest])
        reporter.patched(layout.distribution, dest)

    work = sorted(edits.keys() | strip)
    reporter.patching(layout.distribution, len(work))
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        # list() re-raises the first failure, after every call has finished
        list(pool.map(patch, work))
    _write_scripts(layout, destination)
    return Written(tuple(sites), sum(saved.values()))


def _write_scripts(layout: Layout, destination: Destinations) -> None:
    """Write the launchers and the import hooks of *layout*."""
    executables = {placement.dest for placement in layout.placements if placement.executable}
    for launcher in layout.launchers:
        target = destination(launcher.dest)
        script = launcher_source(launcher.name, launcher.target, layout.environment)
        target.write_text(script, encoding="utf-8")
        target.chmod(0o755)
    for init in layout.hooks:
        hook = _hook.hook_source(layout.environment, layout.dll_directories, layout.console_scripts)
        destination(_hook.hook_module(init)).write_text(hook, encoding="utf-8")
        package_init = destination(init)
        text = _hook.with_hook_import(package_init.read_bytes())
        package_init.unlink()  # it may be the unpacked package's file (_place): not written through
        package_init.write_bytes(text)
        package_init.chmod(0o755 if init in executables else 0o644)


def _place(source: Path, target: Path, mode: int) -> None:
    """Put *source*'s bytes at *target* with *mode*: a hard link when its mode is already *mode*.

    A link copies nothing; the unpacked file is never written again, and its mode is left as
    it is (two placements of one file may want different modes). Otherwise, or where the file
    system refuses links, a copy.
    """
    if stat.S_IMODE(source.stat().st_mode) == mode:
        try:
            os.link(source, target, follow_symlinks=True)
        except OSError as exc:
            if exc.errno not in _NO_LINK:
                raise
        else:
            return
    shutil.copyfile(source, target)
    target.chmod(mode)


#: What a file system answers when it cannot link: another device, not supported, too many.
_NO_LINK = frozenset({errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EOPNOTSUPP, errno.ENOSYS})


def _literal(text: str) -> str:
    """*text* escaped to sit between the double quotes of a Python string literal."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


class _ByteBudget:
    """Let work proceed while the bytes it holds stay within a budget (one item always may)."""

    def __init__(self, limit: int) -> None:
        self._limit, self._used = limit, 0
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def taking(self, size: int) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._used == 0 or self._used + size <= self._limit)
            self._used += size
        try:
            yield
        finally:
            with self._cond:
                self._used -= size
                self._cond.notify_all()


def _changes(edit: BinaryEdit) -> bool:
    return bool(
        edit.set_rpath or edit.remove_rpath or edit.replace_needed or edit.set_soname or edit.sign
    )


__all__ = [
    "LAUNCHER",
    "Written",
    "launcher_source",
    "rewrite_placeholder",
    "write_layout",
    "write_python_script",
]


def write_python_script(source: Path, target: Path, placement: Placement) -> None:
    """Write a python script from ``bin/`` with ``#!python`` and its placeholder rewritten."""
    with source.open("rb") as src:
        src.readline()
        body = src.read()
    if placement.placeholder and placement.prefix is not None and placement.file_mode:
        body = _datapaths.replace_placeholder(
            body, placement.placeholder, placement.prefix, placement.file_mode
        )[0]
    target.write_bytes(b"#!python\n" + body)


def rewrite_placeholder(source: Path, target: Path, placement: Placement) -> tuple[str, ...]:
    """Copy *source* to *target* with its placeholder rewritten; return the paths it named."""
    assert placement.placeholder is not None  # noqa: S101 - checked by the caller
    assert placement.prefix is not None  # noqa: S101
    data, paths = _datapaths.replace_placeholder(
        source.read_bytes(),
        placement.placeholder,
        placement.prefix,
        placement.file_mode or FileMode.TEXT,
        placement.loader_strings,
    )
    target.write_bytes(data)
    return paths


def launcher_source(name: str, target: str, environment: Sequence[EnvSetting]) -> str:
    """The launcher script of executable *name*, which sets *environment* before it execs."""
    # Names from the package go into string literals of the script: escaped, not pasted.
    return LAUNCHER.format(
        target=_literal(target), name=_literal(name), point=_hook.point_function(environment)
    )


LAUNCHER = '''#!python
"""Run {name}, kept inside the wheel in {target}; installed by condapress."""
import os
import sys
{point}


def _find():
    here = os.path.dirname(os.path.abspath(__file__))
    # sys.path covers venv and --user installs; a --target install puts bin/ beside the packages.
    for base in [*sys.path, os.path.dirname(here)]:
        exe = os.path.join(base or os.curdir, *"{target}".split("/"))
        if os.path.isfile(exe):
            return base or os.curdir, exe
    sys.exit("{name}: cannot find {target} on sys.path; is its package installed?")


if __name__ == "__main__":
    root, exe = _find()
    _point(root)
    os.execv(exe, [exe, *sys.argv[1:]])
'''
