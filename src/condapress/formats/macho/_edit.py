"""Mach-O edits: planned as data, written in place by macholib, then the signature hashed again.

A wheel's binaries find each other by ``@loader_path``, the folder of the binary that loads:
every load command that names a bundled library becomes ``@loader_path/<relative path>/<its
file>``, as ``delocate`` writes them, and every LC_RPATH goes (conda's ``@loader_path/../../..``
and the build prefix alike): nothing is looked up through ``@rpath`` any more. A bundled
library's own install name (LC_ID_DYLIB) becomes ``@rpath/<its file>``: its mangled file name,
unique like the file, and no absolute path.

macholib rewrites the load commands inside the header's padding and moves nothing else
(conda-build links with ``-headerpad_max_install_names``), so the code signature keeps its
place and :mod:`condapress.formats.macho._sign` only hashes the changed pages again.
"""

from __future__ import annotations

import io
import posixpath
import shutil
import struct
from typing import TYPE_CHECKING

from macholib import mach_o
from macholib.MachO import MachO
from macholib.ptypes import sizeof

from condapress.errors import RelocationError
from condapress.formats.macho import _read, _sign
from condapress.model import BinaryEdit

if TYPE_CHECKING:
    from pathlib import Path

    from macholib.MachO import MachOHeader

    from condapress.model import BinaryFacts, Providers

__all__ = ["apply_edit", "loader_path", "plan_edit"]

# lc_str names are NUL-terminated and padded to 8 bytes (macholib's rewriteDataForCommand).
_ALIGN = 8


def loader_path(dest: str, folder: str, name: str) -> str:
    """The install name by which the binary at *dest* loads the file *name* in *folder*.

    >>> loader_path("yaml/_yaml.so", "pyyaml.libs", "libyaml-0.2-1a2b3c4d.dylib")
    '@loader_path/../pyyaml.libs/libyaml-0.2-1a2b3c4d.dylib'
    """
    here = posixpath.dirname(dest) or "."
    return "@loader_path/" + posixpath.relpath(posixpath.join(folder, name), here)


def plan_edit(
    dest: str, facts: BinaryFacts, link_name: str | None, providers: Providers
) -> BinaryEdit:
    """The install-name, load-command and LC_RPATH changes of the Mach-O file bound for *dest*.

    >>> from condapress.model import BinaryFacts, MachoSlice
    >>> facts = BinaryFacts("arm64", True, False, None, ("@rpath/libyaml-0.2.dylib",),
    ...                     ("@loader_path/../../../",), (), None, (), (), (), False,
    ...                     "Mach-O", (MachoSlice("arm64", "11.0", True),))
    >>> edit = plan_edit("yaml/_yaml.so", facts, None,
    ...                  {"@rpath/libyaml-0.2.dylib": ("pyyaml.libs", "libyaml-0.2-1a.dylib")})
    >>> edit.replace_needed
    (('@rpath/libyaml-0.2.dylib', '@loader_path/../pyyaml.libs/libyaml-0.2-1a.dylib'),)
    >>> edit.remove_rpath, edit.sign
    (True, True)
    """
    renamed = tuple(
        (needed, new)
        for needed in facts.needed
        if needed in providers and (new := loader_path(dest, *providers[needed])) != needed
    )
    new_id = None
    if link_name is not None and link_name in providers:
        new_id = f"@rpath/{providers[link_name][1]}"
    return BinaryEdit(
        dest=dest,
        remove_rpath=bool(facts.rpath),
        replace_needed=renamed,
        set_soname=new_id if new_id != facts.soname else None,
        sign=any(piece.signed for piece in facts.slices),
    )


def apply_edit(source: Path, edit: BinaryEdit, output: Path | None) -> None:
    """Rewrite the load commands of *source* (into *output* when given), then its signature.

    :raises RelocationError: the new commands do not fit in the header, or the file cannot be
        read or signed again; the message says which.
    """
    target = source
    if output is not None:
        shutil.copyfile(source, output)
        target = output
    try:
        if edit.replace_needed or edit.set_soname or edit.remove_rpath:
            _rewrite(target, edit)
        if edit.sign:
            _sign_again(target)
    except (ValueError, struct.error) as exc:  # SignatureError is a ValueError
        raise RelocationError(
            f"cannot rewrite {edit.dest} for the wheel: {exc}",
            hint="report this with the package name: condapress edits Mach-O files only in "
            "place, and signs again only ad hoc signatures",
            path=edit.dest,
        ) from exc


def _rewrite(target: Path, edit: BinaryEdit) -> None:
    macho = MachO(str(target), allow_unknown_load_commands=True)
    for header in macho.headers:
        _edit_header(header, edit)
    with target.open("r+b") as handle:
        macho.write(handle)


def _edit_header(header: MachOHeader, edit: BinaryEdit) -> None:
    """Rewrite one slice's commands in memory, once they are known to fit in its header."""
    changes = dict(edit.replace_needed)
    rewrites = [(i, changes[old]) for i, _kind, old in header.walkRelocatables() if old in changes]
    if edit.set_soname is not None and header.id_cmd is not None:
        rewrites.append((header.id_cmd, edit.set_soname))
    removed = []
    if edit.remove_rpath:
        removed = [command for command in header.commands if command[0].cmd == mach_o.LC_RPATH]
    growth = sum(_size(header, index, new) - header.commands[index][0].cmdsize
                 for index, new in rewrites)  # fmt: skip
    growth -= sum(command[0].cmdsize for command in removed)
    room = header.low_offset - header.total_size
    if header.low_offset > header.size or growth > room:
        msg = (
            f"its new load commands need {growth} more bytes, and its header has room for "
            f"{max(room, 0)} (link it with -headerpad_max_install_names)"
        )
        raise ValueError(msg)
    # macholib checks the room itself, but prints (not raises) a warning first: hence above.
    for index, new in rewrites:
        header.rewriteDataForCommand(index, new.encode())
    for command in removed:
        header.commands.remove(command)
        header.header.ncmds -= 1
        header.changedHeaderSizeBy(-command[0].cmdsize)


def _size(header: MachOHeader, index: int, new: str) -> int:
    load, command, _data = header.commands[index]
    name = len(new.encode())
    fixed: int = sizeof(load.__class__) + sizeof(command.__class__)
    return fixed + name + _ALIGN - name % _ALIGN


def _sign_again(target: Path) -> None:
    """Hash every page of every signed slice of *target* again, in place."""
    data = bytearray(target.read_bytes())
    for piece in _read.layout(io.BytesIO(data), len(data)):
        if piece.signature is not None:
            _sign.rehash(data, piece.base, *piece.signature)
    target.write_bytes(data)
