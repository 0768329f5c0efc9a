"""Press a set of specs, for one or more Pythons, into a PEP 503 simple index with PEP 658 metadata.

Each spec is pressed on its own (specs that no single conda environment could hold, such as
pygreet and pyshout, each get their closure) for each Python; the same wheel pressed twice is
the same bytes (condapress's wheels are reproducible) and goes in once. The index is
``DIR/simple/``: a root page, and per project ``<project>/index.html`` with its wheels and their
``<wheel>.metadata`` files beside it (:mod:`condapress.index._pages`). New files are added to an
index already there; a file of the same name with other bytes is refused, as an index never
replaces a file. The presses work in the temporary folder; the index changes all at once, or
not at all.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from itertools import product
from typing import TYPE_CHECKING

from condapress import _folders
from condapress.errors import CondapressError, IndexConflictError, printable
from condapress.index._pages import index_file, project_of, project_page, root_page
from condapress.model import IndexResult, SkippedPress

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from condapress.index._pages import IndexFile
    from condapress.model import PressOptions, SolveRequest

__all__ = ["build_index"]

logger = logging.getLogger(__name__)


def build_index(
    request: SolveRequest,
    pythons: Sequence[str],
    options: PressOptions,
    root: Path,
    *,
    keep_going: bool = False,
) -> IndexResult:
    """Press every spec of *request* for every one of *pythons* into the index at *root*.

    :param options: how to press; its output folder is not used.
    :param keep_going: a press that fails is skipped (logged, and listed in the result)
        instead of stopping the index (``index --all``).
    :raises IndexConflictError: two presses made, or the index already has, a wheel of the same
        name with other bytes.
    :raises CondapressError: whatever a press raises (with *keep_going*: when none succeeds);
        then the index is left as it was.
    """
    from condapress._core import press  # noqa: PLC0415

    simple = root / "simple"
    _folders.check_output_dir(root)
    skipped: list[SkippedPress] = []
    with _folders.work_folder() as work:
        made: dict[str, tuple[str, Path, str]] = {}  # file name -> (made by, path, sha256)
        for number, (spec, python) in enumerate(product(request.specs, pythons)):
            try:
                result = press(
                    replace(request, specs=(spec,), python=python),
                    replace(options, output_dir=work / f"press-{number}"),
                )
            except CondapressError as exc:
                if not keep_going:
                    raise
                logger.warning("skipped %s for python %s: %s", spec, python, exc.message)
                skipped.append(SkippedPress(spec, python, exc.message))
                continue
            for wheel in result.wheels:
                _merge(made, f"{spec} for python {python}", wheel.path, wheel.sha256)
        if not made and skipped:
            raise _nothing_pressed(skipped)
        new = _new_files(made, simple)
        written = _write(simple, new, kept=sorted(made.keys() - {p.name for p in new}))
    return replace(written, skipped=tuple(skipped))


def _nothing_pressed(skipped: Sequence[SkippedPress]) -> CondapressError:
    first = skipped[0]
    return CondapressError(
        f"no press succeeded ({len(skipped)} tried); the first, {printable(first.spec)} for "
        f"python {first.python}: {first.reason}",
        hint="check --python and --subdir against the channel's builds; the log says why each "
        "was skipped",
    )


def _merge(made: dict[str, tuple[str, Path, str]], origin: str, path: Path, sha256: str) -> None:
    """Add the wheel *origin* made to *made*, unless the same bytes are in already."""
    before = made.get(path.name)
    if before is None:
        made[path.name] = (origin, path, sha256)
    elif before[2] != sha256:
        raise IndexConflictError(
            f"{printable(before[0])} and {printable(origin)} make different wheels named "
            f"{printable(path.name)}",
            hint="their closures hold different builds of one version: index them apart, or pin "
            "the build in the specs",
        )


def _new_files(made: dict[str, tuple[str, Path, str]], simple: Path) -> list[Path]:
    """The wheels of *made* that the index does not have yet; refuse one it has otherwise."""
    new = []
    for name, (origin, path, sha256) in sorted(made.items()):
        there = simple / project_of(name) / name
        if not there.exists():
            new.append(path)
        elif index_file(there).sha256 != sha256:
            raise IndexConflictError(
                f"the index already has a {printable(name)} other than the one "
                f"{printable(origin)} makes",
                hint="an index never replaces a file: press a new version, or choose another "
                "folder with -o",
                path=str(there),
            )
    return new


def _write(simple: Path, new: Sequence[Path], kept: Sequence[str]) -> IndexResult:
    """Stage the new wheels, their metadata files and the pages in *simple*'s parent; land them."""
    root = simple.parent
    with _folders.pending_folder(root) as pending:
        for name in ("metadata", "projects", "spare"):
            (pending / name).mkdir()
        files: dict[str, list[IndexFile]] = {}
        moves: list[tuple[Path, Path]] = []
        for path in new:
            entry = index_file(path)
            files.setdefault(entry.project, []).append(entry)
            metadata = pending / "metadata" / f"{entry.filename}.metadata"
            metadata.write_bytes(entry.metadata)
            moves += [(path, simple / entry.project / entry.filename)]
            moves += [(metadata, simple / entry.project / metadata.name)]
        for project, entries in files.items():  # the wheels the index had: on the pages too
            entries += [index_file(there) for there in sorted((simple / project).glob("*.whl"))]
        for project, entries in sorted(files.items()):
            page = pending / "projects" / project
            page.write_text(project_page(project, entries), encoding="utf-8")
            moves.append((page, simple / project / "index.html"))
        projects = sorted({p.name for p in _projects(simple)} | files.keys())
        page = pending / "index.html"
        page.write_text(root_page(projects), encoding="utf-8")
        moves.append((page, simple / "index.html"))
        made = [path for path in (simple, *(simple / p for p in files)) if not path.exists()]
        for path in made:
            path.mkdir()
        try:
            _folders.land_at(moves, pending / "spare")
        except BaseException:
            for path in reversed(made):
                with contextlib.suppress(OSError):
                    path.rmdir()
            raise
    added = tuple(final for _, final in moves if final.suffix == ".whl")
    logger.info("index %s: %d new wheels, %d there already", simple, len(added), len(kept))
    return IndexResult(simple=simple, added=added, unchanged=tuple(kept), projects=tuple(projects))


def _projects(simple: Path) -> list[Path]:
    try:
        return [p for p in simple.iterdir() if p.is_dir() and (p / "index.html").is_file()]
    except OSError:
        return []
