"""Oracles for Mach-O files that condapress's own code did not write: lief, and a page-hash check.

``code_signature_states`` checks an embedded code signature the way the kernel does for each
page it maps (every page hash of every CodeDirectory, the code limit, the requirements slot),
written apart from ``condapress.formats.macho._sign``, from Apple's ``cs_blobs.h`` layout. It
is trusted because it accepts what Apple's ``codesign``, ld64, LLVM's ld64.lld and delocate
(through ``codesign``) wrote (``tests/unit/test_macho.py``) and refuses a file changed by one
byte. ``lief_slices`` reads the load commands with lief, a second reader.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import zipfile
from dataclasses import dataclass
from typing import TYPE_CHECKING

import conda_package_handling.api
import lief

from support import REPO

if TYPE_CHECKING:
    from pathlib import Path

lief.logging.disable()

DATA = REPO / "tests" / "data"
_SITE312, _SITE310 = "lib/python3.12/site-packages", "lib/python3.10/site-packages"
#: Every Mach-O file of the test data: (archive in tests/data/macos, path in it), or (None, file
#: of tests/data/macho).
TEST_BINARIES = {
    "_yaml": ("osx-arm64/pyyaml-6.0.3-py312h04c11ed_1.conda",
              f"{_SITE312}/yaml/_yaml.cpython-312-darwin.so"),
    "libyaml": ("osx-arm64/yaml-0.2.5-h925e9cb_3.conda", "lib/libyaml-0.2.dylib"),
    "_cffi_arm64": ("osx-arm64/cffi-1.16.0-py310hdcd7c05_0.conda",
                    f"{_SITE310}/_cffi_backend.cpython-310-darwin.so"),
    "libffi_arm64": ("osx-arm64/libffi-3.4.2-h3422bc3_5.tar.bz2", "lib/libffi.8.dylib"),
    "_cffi_x86_64": ("osx-64/cffi-1.17.1-py312h9205ec4_0.conda",
                     f"{_SITE312}/_cffi_backend.cpython-312-darwin.so"),
    "libffi_x86_64": ("osx-64/libffi-3.4.4-hecd8cb5_1.conda", "lib/libffi.8.dylib"),
    "libhello": (None, "libhello.1-universal2.dylib"),
    "libwebpdemux": (None, "libwebpdemux.2.dylib"),
}  # fmt: skip


def extract_binaries(root: Path) -> dict[str, Path]:
    """Every file of TEST_BINARIES under *root*, extracted from its archive (or copied)."""
    found = {}
    for name, (archive, path) in TEST_BINARIES.items():
        if archive is None:
            found[name] = root / name
            shutil.copyfile(DATA / "macho" / path, found[name])
            continue
        folder = root / archive.rpartition("/")[2]
        if not folder.is_dir():
            conda_package_handling.api.extract(str(DATA / "macos" / archive), str(folder))
        found[name] = folder / path
    return found


_CPU = {0x01000007: "x86_64", 0x0100000C: "arm64"}
_LOADS = {
    lief.MachO.LoadCommand.TYPE.LOAD_DYLIB,
    lief.MachO.LoadCommand.TYPE.LOAD_WEAK_DYLIB,
    lief.MachO.LoadCommand.TYPE.REEXPORT_DYLIB,
    lief.MachO.LoadCommand.TYPE.LAZY_LOAD_DYLIB,
    lief.MachO.LoadCommand.TYPE.LOAD_UPWARD_DYLIB,
}


def _slices(data: bytes) -> list[tuple[str, bytes]]:
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0xCAFEBABE:
        found = []
        for i in range(count):
            cpu, _sub, offset, size, _align = struct.unpack(
                ">iiIII", data[8 + 20 * i : 28 + 20 * i]
            )
            found.append((_CPU.get(cpu, hex(cpu)), data[offset : offset + size]))
        return found
    return [(_CPU.get(struct.unpack("<i", data[4:8])[0], "?"), data)]


def _check(piece: bytes) -> str:  # noqa: C901 - one check after the other, as the kernel does
    ncmds = struct.unpack("<I", piece[16:20])[0]
    at, signature = 32, None
    for _ in range(ncmds):
        cmd, size = struct.unpack("<II", piece[at : at + 8])
        if cmd == 0x1D:  # LC_CODE_SIGNATURE
            signature = struct.unpack("<II", piece[at + 8 : at + 16])
        at += size
    if signature is None:
        return "unsigned"
    start, size = signature
    blob = piece[start : start + size]
    if struct.unpack(">I", blob[:4])[0] != 0xFADE0CC0:
        return "invalid: no SuperBlob"
    count = struct.unpack(">I", blob[8:12])[0]
    index = [struct.unpack(">II", blob[12 + 8 * i : 20 + 8 * i]) for i in range(count)]
    requirements = next(
        (blob[o : o + struct.unpack(">I", blob[o + 4 : o + 8])[0]] for t, o in index if t == 2),
        None,
    )
    directories = 0
    for _kind, offset in index:
        magic, length = struct.unpack(">II", blob[offset : offset + 8])
        if magic != 0xFADE0C02:
            continue
        directories += 1
        cd = blob[offset : offset + length]
        hash_offset, _ident, special, pages, limit = struct.unpack(">IIIII", cd[16:36])
        hash_size, hash_type, _platform, page_log = cd[36], cd[37], cd[38], cd[39]
        digest = {1: hashlib.sha1, 2: hashlib.sha256}[hash_type]
        page = 1 << page_log
        if limit != start:
            return f"invalid: code limit {limit} != signature offset {start}"
        if pages != (limit + page - 1) // page:
            return f"invalid: {pages} page slots for {limit} bytes"
        for i in range(pages):
            expected = digest(piece[i * page : min((i + 1) * page, limit)]).digest()[:hash_size]
            if cd[hash_offset + i * hash_size : hash_offset + (i + 1) * hash_size] != expected:
                return f"invalid: page {i} hash"
        if special >= 2 and requirements is not None:
            slot = cd[hash_offset - 2 * hash_size : hash_offset - hash_size]
            if slot != digest(requirements).digest()[:hash_size]:
                return "invalid: requirements slot"
    return f"valid ({directories} CodeDirectories)" if directories else "invalid: no CodeDirectory"


def code_signature_states(data: bytes) -> dict[str, str]:
    """Per architecture: ``valid (N CodeDirectories)``, ``unsigned`` or ``invalid: why``."""
    return {arch: _check(piece) for arch, piece in _slices(data)}


@dataclass(frozen=True)
class LiefSlice:
    """One slice as lief reads it."""

    arch: str
    file_type: str
    install_name: str | None
    loads: tuple[str, ...]
    rpaths: tuple[str, ...]
    minos: tuple[int, ...] | None
    signed: bool


def lief_binary(path: Path, index: int = 0) -> lief.MachO.Binary:
    """Slice *index* of the Mach-O file at *path*, as lief parses it."""
    fat = lief.MachO.parse(str(path))
    assert fat is not None, path
    binary = fat.at(index)
    assert binary is not None, (path, index)
    return binary


def lief_slices(path: Path) -> list[LiefSlice]:
    """Every slice of the Mach-O file at *path*, read by lief."""
    fat = lief.MachO.parse(str(path))
    assert fat is not None, path
    found = []
    for i in range(fat.size):
        binary = lief_binary(path, i)
        dylibs = [c for c in binary.commands if isinstance(c, lief.MachO.DylibCommand)]
        ids = [c.name for c in dylibs if c.command == lief.MachO.LoadCommand.TYPE.ID_DYLIB]
        rpaths = [c.path for c in binary.commands if isinstance(c, lief.MachO.RPathCommand)]
        minos = None
        if binary.build_version is not None:
            minos = tuple(binary.build_version.minos)
        elif binary.version_min is not None:
            minos = tuple(binary.version_min.version)
        found.append(
            LiefSlice(
                arch=str(binary.header.cpu_type).rpartition(".")[2].lower(),
                file_type=str(binary.header.file_type).rpartition(".")[2],
                install_name=ids[0] if ids else None,
                loads=tuple(c.name for c in dylibs if c.command in _LOADS),
                rpaths=tuple(rpaths),
                minos=minos,
                signed=binary.has_code_signature,
            )
        )
    return found


def wheel_binaries(wheel: Path, into: Path) -> dict[str, Path]:
    """Extract every Mach-O member of *wheel* under *into*: its wheel path -> the file."""
    found = {}
    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            head = zf.open(name).read(4)
            if head in (b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"):
                found[name] = into / name
                found[name].parent.mkdir(parents=True, exist_ok=True)
                found[name].write_bytes(zf.read(name))
    return found
