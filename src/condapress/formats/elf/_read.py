"""Read what the loader and the platform tag care about from an ELF file, without executing it.

Everything comes from one open of the file: the ELF and program headers, ``.dynamic`` (SONAME,
DT_NEEDED, RPATH, RUNPATH), ``.gnu.version_r`` (the symbol versions needed from each library)
and ``.dynsym``. pyelftools locates and reads the sections; its objects never leave this module,
callers get :class:`BinaryFacts`.
"""

from __future__ import annotations

import os
import re
import struct
from typing import TYPE_CHECKING, BinaryIO, Literal

from elftools.common.exceptions import ELFError
from elftools.common.utils import struct_parse
from elftools.construct.core import ConstructError
from elftools.elf.dynamic import Dynamic, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.sections import Section, StringTableSection
from elftools.elf.segments import InterpSegment

from condapress.errors import BinaryError, TooLargeError
from condapress.model import BinaryFacts

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from elftools.construct.lib.container import Container
    from elftools.elf.dynamic import DynamicTag

__all__ = [
    "MAX_HEADERS",
    "headers",
    "is_elf",
    "max_versions",
    "parse_elf",
    "read_elf",
    "tables_too_large",
]

_MAGIC = b"\x7fELF"
#: The most section (or program) headers read: SHN_LORESERVE, above which the ELF format needs
#: extended numbering, which linkers use only for relocatable objects (``ld -r``), never for a
#: library or a program (they have a few dozen).
MAX_HEADERS = 0xFF00

# e_machine -> the architecture names of auditwheel's Architecture enum (and of wheel tags).
# EM_PPC64 and EM_S390 are refined by byte order and class in _machine().
_MACHINES = {
    "EM_X86_64": "x86_64",
    "EM_386": "i686",
    "EM_AARCH64": "aarch64",
    "EM_PPC64": "ppc64",
    "EM_S390": "s390x",
    "EM_ARM": "armv7l",
    "EM_RISCV": "riscv64",
    "EM_LOONGARCH": "loongarch64",
}

# A symbol is "in namespace std" when its Itanium C++ ABI mangling names an entity whose
# outermost scope is std (https://itanium-cxx-abi.github.io/cxx-abi/abi.html#mangling), that is:
#   _ZSt...              std::f, std::v                    (unscoped name, St prefix)
#   _ZN[rVK]*[RO]?St...  std::C::f, incl. const/volatile/ref-qualified members and
#                        inline namespaces (std::__cxx11::, libc++'s std::__1::)
#   S[abiods]            the std abbreviations: allocator, basic_string, string, istream,
#                        ostream, iostream (old-ABI std::string members are _ZNSs...)
# optionally behind a special-name prefix for data the compiler emits for such an entity:
#   TV TT TI TS TC TW TH vtable, VTT, typeinfo, typeinfo name, construction vtable,
#                        TLS wrapper and init (std::__once_call is TLS)
#   Th Tv Tc             non-virtual, virtual and covariant thunks
#   GV GR GTt GTn        guard variables, reference temporaries, transaction clones
# and a local-entity prefix Z: statics inside a std function, such as the once_flag and
# lambda machinery std::call_once instantiates in the caller's library.
# Names that only mention std in their arguments (_Z3fooSt6vectorIiSaIiEE) are not in std.
_CALL_OFFSET = rb"(?:hn?\d+_|vn?\d+_n?\d+_)"
_STD_SYMBOL = re.compile(
    rb"_Z(?:T[VTISCWH]|T" + _CALL_OFFSET + rb"|Tc" + _CALL_OFFSET * 2 + rb"|G(?:[VR]|T[tn]))?"
    rb"Z?(?:N[rVK]*[RO]?)?S[tabiods]"
)
# The new libstdc++ ABI (_GLIBCXX_USE_CXX11_ABI=1) shows as the abi tag [abi:cxx11] (B5cxx11)
# on functions returning new-ABI types, and as the inline namespace std::__cxx11 (7__cxx11) in
# every name that takes one; a library using only the latter still needs the new ABI.
_CXX11 = re.compile(rb"[^\0]*?(?:B5cxx11|7__cxx11)")
_CXX11_MARKERS = (b"B5cxx11", b"7__cxx11")

_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE = 1, 2, 10
_STV_DEFAULT, _STV_PROTECTED = 0, 3
_SHN_UNDEF = 0
_ELFCLASS32, _ELFCLASS64 = 32, 64


def is_elf(path: Path) -> bool:
    """Whether *path* starts with the ELF magic number (``OSError`` if it cannot be read)."""
    with path.open("rb") as f:
        return f.read(4) == _MAGIC


def read_elf(path: Path) -> BinaryFacts:
    """Read *path*'s dynamic linking facts.

    :raises BinaryError: *path* is not an ELF file, or is truncated or corrupt.
    """
    try:
        f = path.open("rb")
    except OSError as exc:
        raise BinaryError(path.name, f"{type(exc).__name__}: {exc}", path=str(path)) from exc
    with f:
        return parse_elf(f, os.fstat(f.fileno()).st_size, path.name, str(path))


def parse_elf(
    f: BinaryIO,
    size: int,
    name: str,
    path: str,
    *,
    scan_symbols: bool = True,
    limit: int | None = None,
) -> BinaryFacts:
    """Read the dynamic linking facts of the ELF file of *size* bytes that *f* reads.

    *f* needs only ``read``, ``seek`` and ``tell``; *name* and *path* go into the error. Without
    *scan_symbols* the same bytes are read, but the dynamic symbols are not looked at (the
    ``std`` fields stay empty): a C++ library's hundred thousand symbols take most of a parse.

    :param limit: the most bytes of tables read (the sections of ``.dynamic``,
        ``.gnu.version_r`` and ``.dynsym``, with their string tables); None for no limit.
    :raises BinaryError: it is not an ELF file, or is truncated or corrupt.
    :raises TooLargeError: its tables are larger than *limit*.
    """
    try:
        return _read(f, size, scan_symbols=scan_symbols, limit=limit)
    except _TablesTooLargeError:
        raise tables_too_large(name, limit or 0) from None
    except _InvalidElfError as exc:
        reason = str(exc)
    except (ELFError, ConstructError, struct.error, ValueError, IndexError, OSError) as exc:
        reason = f"{type(exc).__name__}: {exc}"
    raise BinaryError(name, reason, path=path)


def max_versions(elf: BinaryFacts) -> dict[str, str]:
    """The highest GLIBC, GLIBCXX, CXXABI and GCC version *elf* needs, per prefix.

    Versions compare numerically; names that are not numbers (``GLIBC_PRIVATE``,
    ``CXXABI_TM_1``) are left out.

    >>> elf = BinaryFacts("x86_64", True, False, None, (), (), (), None,
    ...               (("libc.so.6", ("GLIBC_2.14", "GLIBC_2.2.5", "GLIBC_2.9")),), (), (), False)
    >>> max_versions(elf)
    {'GLIBC': '2.14'}
    """
    best: dict[str, tuple[tuple[int, ...], str]] = {}
    for _library, names in elf.version_needs:
        for name in names:
            prefix, _, version = name.partition("_")
            if prefix not in {"GLIBC", "GLIBCXX", "CXXABI", "GCC"}:
                continue
            key = _numeric(version)
            if key is not None and (prefix not in best or key > best[prefix][0]):
                best[prefix] = (key, version)
    return {prefix: best[prefix][1] for prefix in sorted(best)}


def _numeric(version: str) -> tuple[int, ...] | None:
    parts = version.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else None


class _InvalidElfError(Exception):
    """A structural problem found by our own checks; its text is the reason shown to users."""


class _TablesTooLargeError(Exception):
    """The tables to read are larger than the limit asked for."""


def tables_too_large(name: str, limit: int) -> TooLargeError:
    """The error for an ELF file *name* whose tables need more than *limit* bytes."""
    message = (
        f"{name}: its ELF tables need more than the {limit >> 20} MiB condapress reads of one file"
    )
    return TooLargeError(message, path=name)


def _read(f: BinaryIO, size: int, *, scan_symbols: bool, limit: int | None) -> BinaryFacts:
    elf = _open(f, size)
    interpreter = None
    dynamic: Dynamic | None = None
    section, verneed, dynsym = _sections(elf, size, limit)
    for header in headers(elf, "segment"):
        if header["p_type"] == "PT_INTERP":
            interpreter = InterpSegment(header, f).get_interp_name()
        elif header["p_type"] == "PT_DYNAMIC" and section is None:
            dynamic = DynamicSegment(header, f, elf)  # a file without section headers
    strings = _dynamic_strings(section or dynamic)
    weak_std, global_std, cxx11 = _symbols(elf, dynsym if scan_symbols else None)
    e_type = elf["e_type"]
    return BinaryFacts(
        machine=_machine(elf),
        is_shared=e_type == "ET_DYN" and interpreter is None,
        is_executable=interpreter is not None or e_type == "ET_EXEC",
        soname=strings["DT_SONAME"][0] if strings["DT_SONAME"] else None,
        needed=tuple(strings["DT_NEEDED"]),
        rpath=tuple(p for entry in strings["DT_RPATH"] for p in entry.split(":") if p),
        runpath=tuple(p for entry in strings["DT_RUNPATH"] for p in entry.split(":") if p),
        interpreter=interpreter,
        version_needs=_version_needs(verneed),
        exported_weak_std=weak_std,
        exported_global_std=global_std,
        uses_cxx11_abi=cxx11,
    )


def headers(elf: ELFFile, table: Literal["section", "segment"]) -> Iterator[Container]:
    """The section or program headers of *elf*, parsed as they are, in file order.

    pyelftools' own iterators build an object per section, and for some (hash tables) parse the
    whole section: the few sections used are built from their headers instead.
    """
    if table == "section":
        offset, count, size = elf["e_shoff"], elf.num_sections(), elf["e_shentsize"]
        struct_ = elf.structs.Elf_Shdr
    else:
        offset, count, size = elf["e_phoff"], elf.num_segments(), elf["e_phentsize"]
        struct_ = elf.structs.Elf_Phdr
    for index in range(min(count, MAX_HEADERS) if offset else 0):
        yield struct_parse(struct_, elf.stream, offset + index * size)


def _open(f: BinaryIO, size: int) -> ELFFile:
    """Parse the ELF header, checking first that the file holds everything its headers describe.

    A truncated file then fails with a reason a user understands, not deep inside pyelftools.
    """
    ident = f.read(5)
    if ident[:4] != _MAGIC:
        raise _InvalidElfError("it does not start with the ELF magic number")
    header_size = 64 if ident[4:] == b"\x02" else 52
    if size < header_size:
        raise _InvalidElfError(f"it is truncated ({size} bytes, shorter than an ELF header)")
    f.seek(0)
    elf = ELFFile(f)
    needed_size = max(
        elf["e_phoff"] + elf["e_phnum"] * elf["e_phentsize"],
        elf["e_shoff"] + elf["e_shnum"] * elf["e_shentsize"],
    )
    if size < needed_size:
        raise _InvalidElfError(f"it is truncated ({size} bytes, its headers need {needed_size})")
    # pyelftools builds an object per header; past 0xff00 the counts are stored in section 0
    # ("extended numbering"), which only relocatable objects need.
    for count, kind in ((elf.num_sections(), "section"), (elf.num_segments(), "program")):
        if count > MAX_HEADERS:
            msg = f"it claims {count} {kind} headers, more than the {MAX_HEADERS} a linker writes"
            raise _InvalidElfError(msg)
    return elf


def _sections(
    elf: ELFFile, size: int, limit: int | None
) -> tuple[Dynamic | None, GNUVerNeedSection | None, tuple[bytes, bytes] | None]:
    """``.dynamic``, ``.gnu.version_r``, and the bytes of ``.dynsym`` and its string table.

    Built from their headers, without the names of the sections: the section name table may lie
    far from the rest, and a stream would be read again to reach it.
    """
    found: dict[str, Container] = {}
    all_headers = list(headers(elf, "section"))
    for index, header in enumerate(all_headers):
        if header["sh_type"] != "SHT_NOBITS" and header["sh_offset"] + header["sh_size"] > size:
            name = elf.get_section(index).name
            raise _InvalidElfError(f"it is truncated ({size} bytes, section {name} lies beyond)")
        if header["sh_type"] in {"SHT_DYNAMIC", "SHT_GNU_verneed", "SHT_DYNSYM"}:
            found[header["sh_type"]] = header  # the last of each, as the loader's tags point once
    if limit is not None:
        linked = {t["sh_link"] for t in found.values() if t["sh_link"] < len(all_headers)}
        tables = [*found.values(), *(all_headers[i] for i in linked)]
        if sum(t["sh_size"] for t in tables if t["sh_type"] != "SHT_NOBITS") > limit:
            raise _TablesTooLargeError
    dynamic = verneed = symbols = None
    if (table := found.get("SHT_DYNAMIC")) is not None:
        strings = _string_table(elf, table)
        dynamic = Dynamic(elf.stream, elf, strings, table["sh_offset"], empty=False)
    if (table := found.get("SHT_GNU_verneed")) is not None:
        verneed = GNUVerNeedSection(table, "", elf, _string_table(elf, table))
    if (table := found.get("SHT_DYNSYM")) is not None:
        symbols = (Section(table, "", elf).data(), _string_table(elf, table).data())
    return dynamic, verneed, symbols


def _string_table(elf: ELFFile, header: Container) -> StringTableSection:
    """The string table section *header* links to."""
    link = header["sh_link"]
    if link >= min(elf.num_sections(), MAX_HEADERS):
        raise _InvalidElfError(
            f"a {header['sh_type']} section links to section {link}, past the last"
        )
    linked = struct_parse(
        elf.structs.Elf_Shdr, elf.stream, elf["e_shoff"] + link * elf["e_shentsize"]
    )
    if linked["sh_type"] != "SHT_STRTAB":
        msg = f"a {header['sh_type']} section links to section {link}, which is not a string table"
        raise _InvalidElfError(msg)
    return StringTableSection(linked, "", elf)


def _dynamic_strings(dynamic: Dynamic | None) -> dict[str, list[str]]:
    strings: dict[str, list[str]] = {
        "DT_NEEDED": [],
        "DT_SONAME": [],
        "DT_RPATH": [],
        "DT_RUNPATH": [],
    }
    for tag in dynamic.iter_tags() if dynamic is not None else ():
        if tag.entry.d_tag in strings:
            strings[tag.entry.d_tag].append(_tag_string(tag))
    return strings


def _symbols(
    elf: ELFFile, tables: tuple[bytes, bytes] | None
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    if tables is None:
        return (), (), False
    dynsym, strtab = tables
    return _scan_symbols(_iter_symbols(dynsym, elf.elfclass, little=elf.little_endian), strtab)


def _tag_string(tag: DynamicTag) -> str:
    # pyelftools stores the string of DT_NEEDED/DT_SONAME/... under the tag's lowercased name.
    return str(getattr(tag, tag.entry.d_tag[3:].lower()))


def _machine(elf: ELFFile) -> str:
    em = elf["e_machine"]
    if not isinstance(em, str):
        return f"em_{em}"
    machine = _MACHINES.get(em, em.removeprefix("EM_").lower())
    if machine == "ppc64" and elf.little_endian:
        return "ppc64le"
    if machine == "s390x" and elf.elfclass == _ELFCLASS32:
        return "s390"
    return machine


def _version_needs(section: GNUVerNeedSection | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if section is None:
        return ()
    needs: dict[str, set[str]] = {}
    for verneed, auxiliaries in section.iter_versions():
        needs.setdefault(str(verneed.name), set()).update(aux.name for aux in auxiliaries)
    return tuple((library, tuple(sorted(needs[library]))) for library in sorted(needs))


def _iter_symbols(
    data: bytes, elfclass: int, *, little: bool
) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(st_name, st_info, st_other, st_shndx)`` of every dynamic symbol.

    Unpacked in bulk with :mod:`struct`: pyelftools builds a container per symbol, which is
    two orders of magnitude slower on the tens of thousands of symbols of a C++ library.
    """
    order = "<" if little else ">"
    if elfclass == _ELFCLASS64:
        fmt, size = order + "IBBHQQ", 24
        usable = len(data) - len(data) % size
        for name, info, other, shndx, _value, _size in struct.iter_unpack(fmt, data[:usable]):
            yield name, info, other, shndx
    else:
        fmt, size = order + "IIIBBH", 16
        usable = len(data) - len(data) % size
        for name, _value, _size, info, other, shndx in struct.iter_unpack(fmt, data[:usable]):
            yield name, info, other, shndx


def _scan_symbols(
    symbols: Iterable[tuple[int, int, int, int]], strtab: bytes
) -> tuple[tuple[str, ...], tuple[str, ...], bool]:
    # Names are matched on the string table's bytes at the symbol's offset, so only the few
    # std:: exports are ever sliced and decoded.
    look_for_cxx11 = any(marker in strtab for marker in _CXX11_MARKERS)
    cxx11 = False
    weak: list[str] = []
    strong: list[str] = []
    for name, info, other, shndx in symbols:
        if look_for_cxx11 and not cxx11 and _CXX11.match(strtab, name):
            cxx11 = True
        bind = info >> 4
        if (
            shndx == _SHN_UNDEF
            or bind not in {_STB_GLOBAL, _STB_WEAK, _STB_GNU_UNIQUE}
            or other & 0x3 not in {_STV_DEFAULT, _STV_PROTECTED}
            or not _STD_SYMBOL.match(strtab, name)
        ):
            continue
        text = strtab[name : strtab.index(b"\0", name)].decode("utf-8", "replace")
        (weak if bind == _STB_WEAK else strong).append(text)
    return tuple(sorted(weak)), tuple(sorted(strong)), cxx11
