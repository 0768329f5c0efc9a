"""ELF edits: planned as data from what a file needs, applied by patchelf in one call per file."""

from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import TYPE_CHECKING

from condapress import _tools
from condapress.errors import RelocationError, ToolError
from condapress.model import BinaryEdit

if TYPE_CHECKING:
    from pathlib import Path

    from condapress.model import BinaryFacts, Providers

__all__ = ["apply_edit", "edited", "plan_edit"]


def plan_edit(
    dest: str, facts: BinaryFacts, link_name: str | None, providers: Providers
) -> BinaryEdit:
    """The RPATH, DT_NEEDED and DT_SONAME changes of the ELF file bound for *dest*.

    Each DT_NEEDED that *providers* has is renamed to its file name in the wheel, and the RPATH
    lists, relative to ``$ORIGIN``, every folder those files are in. A file that had an RPATH and
    needs nothing of the wheel loses it: no build-machine path survives.

    >>> from condapress.model import BinaryFacts
    >>> facts = BinaryFacts("x86_64", True, False, "libb.so.1", ("liba.so.1",), ("/opt/x",),
    ...                     (), None, (), (), (), False)
    >>> plan_edit("p.libs/libb-2.so.1", facts, "libb.so.1",
    ...           {"liba.so.1": ("p.libs", "liba-1.so.1"), "libb.so.1": ("p.libs", "libb-2.so.1")})
    BinaryEdit(dest='p.libs/libb-2.so.1', set_rpath='$ORIGIN', remove_rpath=False, \
replace_needed=(('liba.so.1', 'liba-1.so.1'),), set_soname='libb-2.so.1', \
sign=False)
    """
    here = posixpath.dirname(dest) or "."
    renamed = tuple(
        (needed, providers[needed][1])
        for needed in facts.needed
        if needed in providers and providers[needed][1] != needed
    )
    folders = sorted({providers[needed][0] for needed in facts.needed if needed in providers})
    # $ORIGIN is the folder of the file itself, wherever the wheel is installed.
    rpath = ":".join(
        "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}"
        for rel in (posixpath.relpath(folder, here) for folder in folders)
    )
    new_name = providers[link_name][1] if link_name is not None and link_name in providers else None
    had_rpath = bool(facts.rpath or facts.runpath)
    return BinaryEdit(
        dest=dest,
        set_rpath=rpath or None,
        remove_rpath=had_rpath and not rpath,
        replace_needed=renamed,
        set_soname=new_name,
    )


def apply_edit(source: Path, edit: BinaryEdit, output: Path | None) -> None:
    """Run patchelf once on *source* with every change of *edit* (into *output* when given).

    :raises RelocationError: patchelf failed; its stderr is in ``detail``.
    """
    try:
        _tools.patchelf(
            source,
            set_rpath=edit.set_rpath,
            remove_rpath=edit.remove_rpath,
            replace_needed=edit.replace_needed,
            set_soname=edit.set_soname,
            output=output,
        )
    except ToolError as exc:
        raise RelocationError(
            f"cannot rewrite {edit.dest} for the wheel: {exc.message}",
            hint="report this with the package name; run with -v for patchelf's output",
            path=edit.dest,
            detail=exc.detail,
        ) from exc


def edited(facts: BinaryFacts, edit: BinaryEdit) -> BinaryFacts:
    """What an ELF file that said *facts* says after :func:`apply_edit` made *edit*.

    patchelf's semantics, which the tests check against the edited files read again:
    ``--force-rpath --set-rpath`` leaves one DT_RPATH (a DT_RUNPATH becomes DT_RPATH),
    ``--remove-rpath`` removes both, ``--replace-needed`` renames the DT_NEEDED entry in place
    and the library of its symbol versions (``.gnu.version_r``), ``--set-soname`` sets or adds
    DT_SONAME. Nothing else changes.

    >>> from condapress.model import BinaryFacts, BinaryEdit
    >>> facts = BinaryFacts("x86_64", True, False, None, ("liba.so.1", "libc.so.6"), (),
    ...                     ("/opt/x",), None, (("liba.so.1", ("A_1",)),), (), (), False)
    >>> after = edited(facts, BinaryEdit("p.libs/libb-2.so.1", set_rpath="$ORIGIN",
    ...     replace_needed=(("liba.so.1", "liba-1.so.1"),), set_soname="libb-2.so.1"))
    >>> after.soname, after.needed, after.rpath, after.runpath, after.version_needs
    ('libb-2.so.1', ('liba-1.so.1', 'libc.so.6'), ('$ORIGIN',), (), (('liba-1.so.1', ('A_1',)),))
    """
    renames = dict(edit.replace_needed)
    rpath, runpath = facts.rpath, facts.runpath
    if edit.set_rpath is not None:
        rpath, runpath = tuple(p for p in edit.set_rpath.split(":") if p), ()
    elif edit.remove_rpath:
        rpath, runpath = (), ()
    return replace(
        facts,
        soname=facts.soname if edit.set_soname is None else edit.set_soname,
        needed=tuple(renames.get(name, name) for name in facts.needed),
        rpath=rpath,
        runpath=runpath,
        version_needs=tuple(
            sorted((renames.get(lib, lib), versions) for lib, versions in facts.version_needs)
        ),
    )
