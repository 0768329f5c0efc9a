"""Read a Mach-O file's linking facts from its load commands and code signature, never its code.

Every slice of a universal file is read: its header and load commands (LC_ID_DYLIB, the
LC_LOAD_DYLIB family, LC_RPATH, LC_BUILD_VERSION or LC_VERSION_MIN_MACOSX, LC_CODE_SIGNATURE),
then its code signature, whose hashes are checked against the pages they cover
(:mod:`condapress.formats.macho._sign`). The file is read through ``seek`` and ``read`` in
increasing offsets as far as can be, so the stream of a zip member serves as well as a file;
only the load commands and the signature are held, each within a limit.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING

from condapress.errors import BinaryError, TooLargeError
from condapress.formats import _foreign
from condapress.formats.macho import _sign
from condapress.model import BinaryFacts, MachoSlice

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "KIND",
    "MAX_LOAD_COMMANDS",
    "MAX_SIGNATURE",
    "SliceLayout",
    "is_macho",
    "layout",
    "parse_macho",
    "read_macho",
]

#: The format's name in messages.
KIND = "Mach-O"
#: The most bytes of load commands read per slice: linkers write a few KiB (conda-build's
#: ``-headerpad_max_install_names`` pads the header, but not the commands).
MAX_LOAD_COMMANDS = 16 << 20
#: The largest code signature read: 32 bytes per 4 KiB page (SHA-256), so 16 MiB signs 2 GiB.
MAX_SIGNATURE = 64 << 20

_MH_MAGIC, _MH_MAGIC_64 = 0xFEEDFACE, 0xFEEDFACF  # little-endian on disk: x86 and arm
_FAT_MAGIC, _FAT_MAGIC_64 = 0xCAFEBABE, 0xCAFEBABF  # big-endian on disk
# Java class files share the fat magic; their next word (a version) is 45 or more, the
# architecture count of a universal file is small (cctools' file(1) draws the line at 20).
_MAX_SLICES = 20
_CPU_ARCH_ABI64 = 0x01000000
_CPUS = {
    7: "i386",
    7 | _CPU_ARCH_ABI64: "x86_64",
    12: "arm",
    12 | _CPU_ARCH_ABI64: "arm64",
    12 | 0x02000000: "arm64_32",
    18: "ppc",
    18 | _CPU_ARCH_ABI64: "ppc64",
}
# The architecture names of universal wheel tags (packaging.tags._mac_binary_formats).
_UNIVERSAL = {
    frozenset({"arm64", "x86_64"}): "universal2",
    frozenset({"i386", "x86_64"}): "intel",
    frozenset({"i386", "ppc"}): "fat",
    frozenset({"i386", "ppc", "x86_64"}): "fat3",
    frozenset({"ppc64", "x86_64"}): "fat64",
    frozenset({"i386", "ppc", "ppc64", "x86_64"}): "universal",
}
_MH_EXECUTE, _MH_DYLIB, _MH_BUNDLE, _MH_DYLIB_STUB = 2, 6, 8, 9
_LC_ID_DYLIB, _LC_RPATH, _LC_CODE_SIGNATURE = 0xD, 0x8000001C, 0x1D
# LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB:
# every command by which dyld loads another library.
_LOADS = frozenset({0xC, 0x80000018, 0x8000001F, 0x20, 0x80000023})
_LC_VERSION_MIN_MACOSX, _LC_BUILD_VERSION, _PLATFORM_MACOS = 0x24, 0x32, 1


def is_macho(head: bytes) -> bool:
    """Whether a file that starts with *head* is a Mach-O file, thin or universal."""
    if len(head) < 8:  # noqa: PLR2004
        return False
    if struct.unpack_from("<I", head)[0] in {_MH_MAGIC, _MH_MAGIC_64}:
        return True
    magic, count = struct.unpack_from(">II", head)
    return magic in {_FAT_MAGIC, _FAT_MAGIC_64} and 0 < count < _MAX_SLICES


@dataclass(frozen=True, slots=True)
class SliceLayout:
    """Where one slice lies in the file, and where its code signature lies in it."""

    #: the slice's offset and size in the file.
    base: int
    size: int
    #: the signature's offset in the slice and its size (LC_CODE_SIGNATURE); None without one.
    signature: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class _Slice:
    layout: SliceLayout
    arch: str
    filetype: int
    install_name: str | None
    loads: tuple[str, ...]
    rpaths: tuple[str, ...]
    minos: str | None


class _InvalidMachoError(Exception):
    """A structural problem; its text is the reason shown to users."""


def read_macho(path: Path) -> BinaryFacts:
    """Read the linking facts of the Mach-O file at *path*.

    :raises BinaryError: it is not a Mach-O file, or is truncated or corrupt.
    :raises TooLargeError: its load commands or signature are larger than condapress reads.
    """
    try:
        f = path.open("rb")
    except OSError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise BinaryError(path.name, reason, kind=KIND, path=str(path)) from exc
    with f:
        return parse_macho(f, os.fstat(f.fileno()).st_size, path.name, str(path))


def parse_macho(f: IO[bytes], size: int, name: str, path: str) -> BinaryFacts:
    """Read the linking facts of the Mach-O file of *size* bytes that *f* reads (and seeks).

    *name* and *path* go into the errors.

    :raises BinaryError: it is not a Mach-O file, or is truncated or corrupt.
    :raises TooLargeError: its load commands or signature are larger than condapress reads.
    """
    try:
        slices = [_slice(f, base, length) for base, length in _bounds(f, size)]
        checks = [_signature_problem(f, sl.layout) for sl in slices]
    except _InvalidMachoError as exc:
        raise BinaryError(name, str(exc), kind=KIND, path=path) from None
    except _TooLargeError as exc:
        raise TooLargeError(f"{name}: {exc}", path=path) from None
    first = slices[0]
    arches = [sl.arch for sl in slices]
    machine = arches[0] if len(arches) == 1 else _UNIVERSAL.get(frozenset(arches))
    return _foreign.facts(
        machine=machine or "+".join(sorted(arches)),
        is_shared=first.filetype in {_MH_DYLIB, _MH_BUNDLE, _MH_DYLIB_STUB},
        is_executable=first.filetype == _MH_EXECUTE,
        soname=first.install_name,
        needed=tuple(dict.fromkeys(name for sl in slices for name in sl.loads)),
        rpath=tuple(dict.fromkeys(entry for sl in slices for entry in sl.rpaths)),
        kind=KIND,
        slices=tuple(
            MachoSlice(sl.arch, sl.minos, sl.layout.signature is not None, problem)
            for sl, problem in zip(slices, checks, strict=True)
        ),
    )


def layout(f: IO[bytes], size: int) -> tuple[SliceLayout, ...]:
    """Where each slice of the Mach-O file that *f* reads lies, and its signature.

    :raises ValueError: it is not a valid Mach-O file (the message says why).
    """
    try:
        return tuple(_slice(f, base, length).layout for base, length in _bounds(f, size))
    except (_InvalidMachoError, _TooLargeError) as exc:
        raise ValueError(str(exc)) from None


class _TooLargeError(Exception):
    """A table larger than condapress reads."""


def _read_at(f: IO[bytes], offset: int, size: int) -> bytes:
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        msg = f"it is truncated: {size} bytes at offset {offset} lie past its end"
        raise _InvalidMachoError(msg)
    return data


def _bounds(f: IO[bytes], size: int) -> list[tuple[int, int]]:
    """``(offset, size)`` of every slice, in file order: the whole file when it is thin."""
    head = _read_at(f, 0, min(size, 8))
    if len(head) < 8 or not is_macho(head):  # noqa: PLR2004
        msg = "it does not start with a Mach-O magic number"
        raise _InvalidMachoError(msg)
    magic, count = struct.unpack_from(">II", head)
    if magic not in {_FAT_MAGIC, _FAT_MAGIC_64}:
        return [(0, size)]
    entry = struct.Struct(">iiQQII" if magic == _FAT_MAGIC_64 else ">iiIII")
    table = _read_at(f, 8, count * entry.size)
    bounds = sorted(entry.unpack_from(table, i * entry.size)[2:4] for i in range(count))
    end = 8 + count * entry.size
    for offset, length in bounds:
        if offset < end or offset + length > size:
            msg = f"its slice at offset {offset} ({length} bytes) overlaps another or its end"
            raise _InvalidMachoError(msg)
        end = offset + length
    return bounds


def _slice(f: IO[bytes], base: int, size: int) -> _Slice:
    magic = struct.unpack("<I", _read_at(f, base, 4))[0] if size >= 4 else 0  # noqa: PLR2004
    if magic not in {_MH_MAGIC, _MH_MAGIC_64}:
        msg = f"its slice at offset {base} does not start with a Mach-O magic number"
        raise _InvalidMachoError(msg)
    header = 32 if magic == _MH_MAGIC_64 else 28
    if size < header:
        msg = f"it is truncated ({size} bytes, shorter than a Mach-O header)"
        raise _InvalidMachoError(msg)
    head = _read_at(f, base, header)
    cpu, subtype, filetype, count, commands_size = struct.unpack_from("<iiIII", head, 4)
    if commands_size > MAX_LOAD_COMMANDS:
        msg = f"its load commands claim {commands_size} bytes, more than {MAX_LOAD_COMMANDS}"
        raise _TooLargeError(msg)
    if header + commands_size > size:
        msg = f"its load commands ({commands_size} bytes) run past the end of its slice"
        raise _InvalidMachoError(msg)
    commands = _read_at(f, base + header, commands_size)
    arch = _CPUS.get(cpu, f"cpu_{cpu & 0xFFFFFFFF:#x}_{subtype & 0xFF}")
    found = _commands(commands, count, size)
    return _Slice(layout=SliceLayout(base, size, found.signature), arch=arch, filetype=filetype,
                  install_name=found.install_name, loads=tuple(found.loads),
                  rpaths=tuple(found.rpaths), minos=found.minos)  # fmt: skip


@dataclass
class _Found:
    """What the load commands of one slice say."""

    install_name: str | None = None
    loads: list[str] = field(default_factory=list)
    rpaths: list[str] = field(default_factory=list)
    minos: str | None = None
    signature: tuple[int, int] | None = None


def _commands(data: bytes, count: int, size: int) -> _Found:
    found = _Found()
    at = 0
    for index in range(count):
        if at + 8 > len(data):
            msg = f"its load command {index} lies past the {len(data)} bytes of commands"
            raise _InvalidMachoError(msg)
        cmd, length = struct.unpack_from("<II", data, at)
        if length < 8 or at + length > len(data):  # noqa: PLR2004
            msg = f"its load command {index} ({cmd:#x}) has a size of {length} bytes"
            raise _InvalidMachoError(msg)
        _command(found, cmd, data[at : at + length], index, size)
        at += length
    return found


def _command(found: _Found, cmd: int, body: bytes, index: int, size: int) -> None:
    """Note what the load command *body* (number *index*, of type *cmd*) says in *found*."""
    if cmd == _LC_ID_DYLIB:
        found.install_name = _string(body, index)
    elif cmd in _LOADS:
        found.loads.append(_string(body, index))
    elif cmd == _LC_RPATH:
        found.rpaths.append(_string(body, index))
    elif cmd == _LC_BUILD_VERSION and len(body) >= 16:  # noqa: PLR2004
        platform, minos = struct.unpack_from("<II", body, 8)
        if platform == _PLATFORM_MACOS:
            found.minos = _version(minos)
    elif cmd == _LC_VERSION_MIN_MACOSX and len(body) >= 12 and found.minos is None:  # noqa: PLR2004
        found.minos = _version(struct.unpack_from("<I", body, 8)[0])
    elif cmd == _LC_CODE_SIGNATURE and len(body) >= 16:  # noqa: PLR2004
        offset, signature_size = struct.unpack_from("<II", body, 8)
        if offset + signature_size > size:
            msg = f"its code signature ({signature_size} bytes at {offset}) runs past its end"
            raise _InvalidMachoError(msg)
        found.signature = (offset, signature_size)


def _string(body: bytes, index: int) -> str:
    """The string a load command's first ``lc_str`` field points at, inside the command."""
    if len(body) < 12:  # noqa: PLR2004
        msg = f"its load command {index} is too short to name a path"
        raise _InvalidMachoError(msg)
    offset = struct.unpack_from("<I", body, 8)[0]
    if not 12 <= offset < len(body):  # noqa: PLR2004
        msg = f"its load command {index} points its name outside the command"
        raise _InvalidMachoError(msg)
    return body[offset:].split(b"\0", 1)[0].decode("utf-8", "replace")


def _version(packed: int) -> str:
    """``X.Y`` of a version packed as ``xxxx.yy.zz`` nibbles (0x000b0300 is 11.3)."""
    return f"{packed >> 16}.{(packed >> 8) & 0xFF}"


def _signature_problem(f: IO[bytes], where: SliceLayout) -> str | None:
    if where.signature is None:
        return None
    offset, size = where.signature
    if size > MAX_SIGNATURE:
        msg = f"its code signature claims {size} bytes, more than {MAX_SIGNATURE}"
        raise _TooLargeError(msg)
    blob = _read_at(f, where.base + offset, size)

    def read(start: int, length: int) -> bytes:
        f.seek(where.base + start)
        return f.read(length)

    return _sign.verify(read, offset, blob)
