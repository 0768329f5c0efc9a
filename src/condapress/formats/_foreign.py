"""The facts of a binary of another format than ELF: ELF's own fields left empty.

Mach-O and PE files have no RUNPATH, program interpreter, symbol versions or exported ``std::``
symbols that condapress reads; both readers fill :class:`~condapress.model.BinaryFacts` here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from condapress.model import BinaryFacts

if TYPE_CHECKING:
    from condapress.model import MachoSlice

__all__ = ["facts"]


def facts(
    *,
    machine: str,
    is_shared: bool,
    is_executable: bool,
    soname: str | None,
    needed: tuple[str, ...],
    rpath: tuple[str, ...],
    kind: str,
    slices: tuple[MachoSlice, ...] = (),
) -> BinaryFacts:
    """:class:`BinaryFacts` of a *kind* (``Mach-O``, ``PE``) file, with ELF's fields empty."""
    return BinaryFacts(
        machine=machine,
        is_shared=is_shared,
        is_executable=is_executable,
        soname=soname,
        needed=needed,
        rpath=rpath,
        runpath=(),
        interpreter=None,
        version_needs=(),
        exported_weak_std=(),
        exported_global_std=(),
        uses_cxx11_abi=False,
        format=kind,
        slices=slices,
    )
