"""PE edits: the DLL names an import table holds, renamed to the mangled names of the wheel.

The new names are longer than the old ones, so they cannot overwrite them: as delvewheel's
``replace_needed`` does (github.com/adang1345/delvewheel, ``delvewheel/_dll_utils.py``), they are
written into the zero padding at the end of a data section (next fit, in the order of the
import table), or, when the padding is too small, into a new section appended to the file; then
each import descriptor's ``Name`` (``szName`` for delay imports) is pointed at its new name. An
Authenticode signature, which the edit would break, is dropped when it is all that follows the
sections; any other data there (an overlay) would end up inside a new section, so a file with
an overlay and too little padding is refused. The checksum is recomputed when the file had one.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pefile

from condapress.errors import RelocationError
from condapress.model import BinaryEdit

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from condapress.model import BinaryFacts, Providers

__all__ = ["apply_edit", "plan_edit", "rename_imports"]

_IMPORTS = [
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
]
_SECURITY = pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_SECURITY"]
# IMAGE_SECTION_HEADER: Name, VirtualSize, VirtualAddress, SizeOfRawData, PointerToRawData,
# PointerToRelocations, PointerToLinenumbers, NumberOfRelocations, NumberOfLinenumbers,
# Characteristics.
_SECTION_HEADER = struct.Struct("<8sIIIIIIHHI")
_NEW_SECTION = b".cpnames"  # eight bytes, as a section name may have
_NEW_SECTION_FLAGS = (
    pefile.SECTION_CHARACTERISTICS["IMAGE_SCN_MEM_READ"]
    | pefile.SECTION_CHARACTERISTICS["IMAGE_SCN_CNT_INITIALIZED_DATA"]
)
_CERTIFICATE_ALIGNMENT = 8


def plan_edit(
    dest: str,
    facts: BinaryFacts,
    link_name: str | None,  # noqa: ARG001 - a DLL's own name is its file name: nothing to set
    providers: Providers,
) -> BinaryEdit:
    """The import-table renames of the PE file bound for *dest*: bundled DLLs, mangled.

    >>> from condapress.model import BinaryFacts
    >>> facts = BinaryFacts("amd64", True, False, None, ("yaml.dll", "kernel32.dll"), (), (),
    ...                     None, (), (), (), False, "PE")
    >>> plan_edit("yaml/_yaml.pyd", facts, None, {"yaml.dll": ("p.libs", "yaml-1a2b3c4d.dll")})
    BinaryEdit(dest='yaml/_yaml.pyd', set_rpath=None, remove_rpath=False, \
replace_needed=(('yaml.dll', 'yaml-1a2b3c4d.dll'),), set_soname=None, sign=False)
    """
    renamed = tuple(
        (needed, providers[needed][1])
        for needed in facts.needed
        if needed in providers and providers[needed][1].lower() != needed
    )
    return BinaryEdit(dest=dest, replace_needed=renamed)


def apply_edit(source: Path, edit: BinaryEdit, output: Path | None) -> None:
    """Rename the imports of *source* as *edit* says, into *output* when given.

    :raises RelocationError: the file cannot be parsed, lacks an import to rename, or has no
        room for the new names.
    """
    try:
        data = rename_imports(source.read_bytes(), dict(edit.replace_needed))
    except (pefile.PEFormatError, _CannotEditError) as exc:
        reason = exc.value if isinstance(exc, pefile.PEFormatError) else str(exc)
        raise RelocationError(
            f"cannot rewrite {edit.dest} for the wheel: {reason}",
            hint="report this with the package name; condapress renames a PE file's imports "
            "in its section padding or a new section, and keeps no data after its sections",
            path=edit.dest,
        ) from exc
    (output or source).write_bytes(data)


class _CannotEditError(Exception):
    """The file lacks an import to rename, or has no room for the new names."""


@dataclass(frozen=True, slots=True)
class _Import:
    """One import descriptor whose DLL is renamed: the structure, its name field, the name."""

    structure: pefile.Structure
    field: str
    dll: str


def rename_imports(data: bytes, renames: Mapping[str, str]) -> bytes:
    """*data*, a PE image, with the DLLs of *renames* (old, in lower case -> new) renamed.

    :raises _CannotEditError: an old name is not among the file's imports, or the new names
        fit nowhere without moving data.
    :raises pefile.PEFormatError: *data* is no PE image.
    """
    if not renames:
        return data
    pe = _parse(data)
    image_end = max(s.PointerToRawData + s.SizeOfRawData for s in pe.sections)
    if len(data) > image_end and _only_a_signature_follows(pe, image_end, len(data)):
        data = data[:image_end]
        pe = _parse(data)
    imports = _imports(pe, renames)
    order = list(dict.fromkeys(imp.dll for imp in imports))
    names = [renames[old].encode("ascii") + b"\0" for old in order]
    slots = _padding_slots(pe, names)
    appended = b""
    if slots is not None:
        for name, (section, offset) in zip(names, slots, strict=True):
            pe.set_bytes_at_offset(section.PointerToRawData + offset, name)
            section.Misc_VirtualSize = max(section.Misc_VirtualSize, offset + len(name))
        rvas = [section.VirtualAddress + offset for section, offset in slots]
        _resize_image(pe)
    elif len(data) > image_end:
        raise _CannotEditError(
            f"its sections have no padding for the new names, and {len(data) - image_end:,} "
            "bytes that are no signature follow them (a new section would come after them)"
        )
    else:
        appended, rvas = _new_section(pe, names)
    new_rva = dict(zip(order, rvas, strict=True))
    for imp in imports:
        setattr(imp.structure, imp.field, new_rva[imp.dll])
    # A signature covered the old bytes: it is void, and was dropped above.
    certificate = pe.OPTIONAL_HEADER.DATA_DIRECTORY[_SECURITY]
    certificate.VirtualAddress = certificate.Size = 0
    checksum = bool(pe.OPTIONAL_HEADER.CheckSum)
    written = bytes(pe.write())
    if appended:  # the new section's raw data starts where the last section's ends
        written = written.ljust(image_end, b"\0") + appended
    if checksum:
        with pefile.PE(data=written, fast_load=True) as again:
            again.OPTIONAL_HEADER.CheckSum = again.generate_checksum()
            written = bytes(again.write())
    return written


def _parse(data: bytes) -> pefile.PE:
    pe = pefile.PE(data=data, fast_load=True)
    pe.parse_data_directories(directories=_IMPORTS, import_dllnames_only=True)
    # The PE format orders sections by address; next fit and the new section rely on it.
    pe.sections.sort(key=lambda section: section.VirtualAddress)
    return pe


def _imports(pe: pefile.PE, renames: Mapping[str, str]) -> list[_Import]:
    """The descriptors of the imports to rename, in file order (imports, then delay imports).

    :raises _CannotEditError: a DLL of *renames* is not imported.
    """
    found = [
        _Import(entry.struct, field, entry.dll.decode("ascii", "replace").lower())
        for attr, field in (
            ("DIRECTORY_ENTRY_IMPORT", "Name"),
            ("DIRECTORY_ENTRY_DELAY_IMPORT", "szName"),
        )
        for entry in getattr(pe, attr, ())
        if isinstance(entry.dll, bytes)
    ]
    missing = sorted(set(renames) - {imp.dll for imp in found})
    if missing:
        raise _CannotEditError(f"it does not import {', '.join(missing)}")
    return [imp for imp in found if imp.dll in renames]


def _only_a_signature_follows(pe: pefile.PE, image_end: int, size: int) -> bool:
    """Whether what follows the sections is exactly the Authenticode certificate table."""
    table = pe.OPTIONAL_HEADER.DATA_DIRECTORY[_SECURITY]
    start = -(-image_end // _CERTIFICATE_ALIGNMENT) * _CERTIFICATE_ALIGNMENT
    return bool(table.Size) and table.VirtualAddress == start and start + table.Size == size


def _suitable(section: pefile.SectionStructure) -> bool:
    """A section whose padding may take names: readable initialized data, nothing else."""
    return bool(
        section.IMAGE_SCN_CNT_INITIALIZED_DATA
        and section.IMAGE_SCN_MEM_READ
        and not section.IMAGE_SCN_CNT_CODE
        and not section.IMAGE_SCN_CNT_UNINITIALIZED_DATA
        and not section.IMAGE_SCN_GPREL
        and not section.IMAGE_SCN_LNK_NRELOC_OVFL
        and not section.IMAGE_SCN_MEM_DISCARDABLE
        and not section.IMAGE_SCN_MEM_EXECUTE
    )


def _padding_slots(
    pe: pefile.PE, names: Sequence[bytes]
) -> list[tuple[pefile.SectionStructure, int]] | None:
    """(section, offset in it) of each name, next fit in the padding after each section's data.

    The padding is what the file holds of a section beyond its virtual size, up to where the
    next section is mapped. None when the names do not all fit.
    """
    slots: list[tuple[pefile.SectionStructure, int]] = []
    sections = pe.sections
    for index, section in enumerate(sections):
        if len(slots) == len(names) or not _suitable(section):
            continue
        used = section.Misc_VirtualSize
        end = section.SizeOfRawData
        if index + 1 < len(sections):
            end = min(end, sections[index + 1].VirtualAddress - section.VirtualAddress)
        while len(slots) < len(names) and used + len(names[len(slots)]) <= end:
            slots.append((section, used))
            used += len(names[len(slots) - 1])
    return slots if len(slots) == len(names) else None


def _align(value: int, alignment: int) -> int:
    return -(-value // alignment) * alignment


def _resize_image(pe: pefile.PE) -> None:
    """SizeOfInitializedData and SizeOfImage after sections grew (or one was added)."""
    header = pe.OPTIONAL_HEADER
    header.SizeOfInitializedData = sum(
        max(section.SizeOfRawData, _align(section.Misc_VirtualSize, header.FileAlignment))
        for section in pe.sections
        if section.IMAGE_SCN_CNT_INITIALIZED_DATA
    )
    last = pe.sections[-1]
    header.SizeOfImage = _align(
        last.VirtualAddress + last.Misc_VirtualSize, header.SectionAlignment
    )


def _new_section(pe: pefile.PE, names: Sequence[bytes]) -> tuple[bytes, list[int]]:
    """Add a section holding *names* after the last one: its raw bytes, and each name's RVA.

    The section header goes into the room left after the section table; without room for it,
    every section would have to move.

    :raises _CannotEditError: the headers have no room for one more section header.
    """
    header = pe.OPTIONAL_HEADER
    table_end = pe.sections[-1].get_file_offset() + _SECTION_HEADER.size
    if header.SizeOfHeaders - table_end < _SECTION_HEADER.size:
        raise _CannotEditError(
            "its sections have no padding for the new names, nor its headers room"
        )
    content = b"".join(names)
    raw_size = _align(len(content), header.FileAlignment)
    last = pe.sections[-1]
    rva = _align(last.VirtualAddress + last.Misc_VirtualSize, header.SectionAlignment)
    offset = max(s.PointerToRawData + s.SizeOfRawData for s in pe.sections)
    section_header = _SECTION_HEADER.pack(
        _NEW_SECTION, len(content), rva, raw_size, offset, 0, 0, 0, 0, _NEW_SECTION_FLAGS
    )
    pe.set_bytes_at_offset(table_end, section_header)
    pe.FILE_HEADER.NumberOfSections += 1
    header.SizeOfInitializedData += raw_size
    header.SizeOfImage = _align(rva + len(content), header.SectionAlignment)
    rvas, at = [], rva
    for name in names:
        rvas.append(at)
        at += len(name)
    return content + bytes(raw_size - len(content)), rvas
