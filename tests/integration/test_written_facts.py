"""Each binary is parsed once: what relocate says of an edited file is what the file says."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from condapress import _core, formats, relocate, unpack
from condapress.model import PlanOptions, SolveRequest
from support import FIXTURE_CHANNEL, REALWORLD

if TYPE_CHECKING:
    from pathlib import Path

    from condapress.formats import BinaryFormat
    from condapress.model import BinaryFacts, Layout

CASES = [
    (FIXTURE_CHANNEL, ("pygreet", "salutation-python"), "3.11", PlanOptions(fat=True)),
    (FIXTURE_CHANNEL, ("pygreet", "salutation-python"), "3.12", PlanOptions()),
    (FIXTURE_CHANNEL, ("pyshout",), "3.12", PlanOptions()),
    (FIXTURE_CHANNEL, ("tally", "libgreet"), "3.11", PlanOptions()),
    (FIXTURE_CHANNEL, ("pygreet",), "3.11", PlanOptions(fat=True, runtime="bundle")),
    (REALWORLD / "cf2024", ("pyyaml", "cffi", "ruamel.yaml"), "3.10", PlanOptions(fat=True)),
    (REALWORLD / "cf2024", ("ncurses", "tk", "xz"), "3.10", PlanOptions(fat=True)),
    (REALWORLD / "cf2024", ("cffi",), "3.10", PlanOptions(fat=True, runtime="bundle")),
]


class CountingReads:
    """A binary format that keeps the path of every file it reads (the rest: the format's)."""

    def __init__(self, fmt: BinaryFormat) -> None:
        self.fmt = fmt
        self.paths: list[Path] = []

    def read(self, path: Path) -> BinaryFacts:
        self.paths.append(path)
        return self.fmt.read(path)

    def __getattr__(self, name: str) -> object:
        return getattr(self.fmt, name)


def rewritten(layout: Layout) -> set[str]:
    """The binaries whose bytes staging changed before their edit (placeholders, shebangs)."""
    changed = {p.dest for p in layout.placements if p.placeholder or p.python_shebang}
    return {edit.dest for edit in layout.binary_edits} & changed


@pytest.mark.parametrize(("channel", "specs", "python", "options"), CASES)
def test_the_facts_of_edited_binaries_are_those_read_from_the_written_files(
    channel: Path, specs: tuple[str, ...], python: str, options: PlanOptions, tmp_path: Path
) -> None:
    """patchelf's edits predicted on the scanned facts; the oracle: pyelftools on the output."""
    if not channel.is_dir():
        pytest.skip("../shared/realworld is absent: the conda-forge archive tier needs it")
    request = SolveRequest(specs, (str(channel),), python=python, cache_dir=tmp_path / "cache")
    plan = _core.make_plan(request, options)
    fmt = formats.for_subdir(plan.closure.subdir)
    packages = unpack.unpack(plan, tmp_path / "cache", tmp_path / "pkgs", timeout=60, jobs=3)
    counting = CountingReads(fmt)
    staged = relocate.relocate(plan, packages, tmp_path / "stage", counting, jobs=2)  # type: ignore[arg-type]
    # each ELF file is parsed once: a staged one only when staging rewrote it first
    again = sorted(
        str(p.relative_to(tmp_path / "stage")) for p in counting.paths if "stage" in p.parts
    )
    assert again == sorted(
        f"{w.spec.distribution}/{d}" for w in staged for d in rewritten(w.layout)
    )
    edited = 0
    for wheel in staged:
        read = {dest: fmt.read(wheel.root / dest) for dest, _ in wheel.binaries}
        assert dict(wheel.binaries) == read, wheel.spec.distribution
        edited += sum(1 for edit in wheel.layout.binary_edits if edit.replace_needed)
    assert edited  # every case renames some DT_NEEDED
