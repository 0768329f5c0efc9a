"""Wheels made to hurt the one who audits them, written without holding their bulk anywhere.

A member may be :class:`Inflating`: a few real bytes around gigabytes of zeros, deflated a
mebibyte at a time (after a full flush, each mebibyte of zeros deflates to the same bytes) with
its CRC-32 computed by zlib's zero-extension operator, so a 3 GiB member costs milliseconds
and three megabytes. RECORD lists every member with its true sha256 unless told otherwise.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

MIB = 1 << 20
METADATA = b"Metadata-Version: 2.4\nName: demo\nVersion: 1.0\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


@dataclass(frozen=True)
class Inflating:
    """Member data that inflates to *prefix*, *zeros* zero bytes, then *suffix*."""

    prefix: bytes = b""
    zeros: int = 0
    suffix: bytes = b""

    @property
    def size(self) -> int:
        return len(self.prefix) + self.zeros + len(self.suffix)

    def deflated(self) -> bytes:
        """The raw deflate stream, built from one deflated mebibyte of zeros repeated."""
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        out = [compressor.compress(self.prefix), compressor.flush(zlib.Z_FULL_FLUSH)]
        whole, rest = divmod(self.zeros, MIB)
        if whole:
            block = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
            again = compressor.compress(bytes(MIB)) + compressor.flush(zlib.Z_FULL_FLUSH)
            assert block == again  # the state is reset by a full flush
            out += [block] * whole
        out += [compressor.compress(bytes(rest) + self.suffix), compressor.flush()]
        return b"".join(out)

    def crc32(self) -> int:
        crc = zlib.crc32(self.prefix)
        return zlib.crc32(self.suffix, crc32_zeros(crc, self.zeros))

    def sha256(self) -> str:
        digest = hashlib.sha256(self.prefix)
        zeros = bytes(MIB)
        whole, rest = divmod(self.zeros, MIB)
        for _ in range(whole):
            digest.update(zeros)
        digest.update(bytes(rest) + self.suffix)
        return _b64(digest.digest())


def _gf2_times(matrix: list[int], vector: int) -> int:
    total, row = 0, 0
    while vector:
        if vector & 1:
            total ^= matrix[row]
        vector >>= 1
        row += 1
    return total


def crc32_zeros(crc: int, count: int) -> int:
    """``zlib.crc32(bytes(count), crc)`` in O(log count): zlib's ``crc32_combine`` operator."""
    odd = [0xEDB88320] + [1 << n for n in range(31)]  # one zero bit
    even = [_gf2_times(odd, row) for row in odd]  # two zero bits
    odd = [_gf2_times(even, row) for row in even]  # four zero bits
    register = crc ^ 0xFFFFFFFF
    while count:
        even = [_gf2_times(odd, row) for row in odd]  # 8, 32, ... zero bits: one, four, ... bytes
        if count & 1:
            register = _gf2_times(even, register)
        count >>= 1
        if not count:
            break
        odd = [_gf2_times(even, row) for row in even]
        if count & 1:
            register = _gf2_times(odd, register)
        count >>= 1
    return register ^ 0xFFFFFFFF


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def write_wheel(
    path: Path,
    payload: Mapping[str, bytes | Inflating],
    *,
    dist_info: Mapping[str, bytes | Inflating] | None = None,
    unlisted: frozenset[str] = frozenset(),
) -> Path:
    """A wheel named *path* of *payload* and a demo-1.0 ``.dist-info`` with a true RECORD.

    *dist_info* adds or replaces ``.dist-info`` files (a RECORD given there is kept as given);
    members named in *unlisted* are left out of RECORD.
    """
    members: dict[str, bytes | Inflating] = dict(payload)
    generated = {"METADATA": METADATA, "WHEEL": WHEEL, **(dist_info or {})}
    members |= {f"demo-1.0.dist-info/{leaf}": data for leaf, data in generated.items()}
    record = "demo-1.0.dist-info/RECORD"
    if record not in members:
        rows = [
            [name, f"sha256={_digest(data)}", str(_size(data))]
            for name, data in members.items()
            if name not in unlisted
        ]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows([*rows, [record, "", ""]])
        members[record] = buffer.getvalue().encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            if isinstance(data, bytes):
                zf.writestr(name, data)
            else:  # stored as the raw deflate stream, then declared deflated below
                zf.writestr(zipfile.ZipInfo(name), data.deflated(), zipfile.ZIP_STORED)
    inflating = {name: data for name, data in members.items() if isinstance(data, Inflating)}
    _declare_deflated(path, inflating)
    return path


def _digest(data: bytes | Inflating) -> str:
    return _b64(hashlib.sha256(data).digest()) if isinstance(data, bytes) else data.sha256()


def _size(data: bytes | Inflating) -> int:
    return len(data) if isinstance(data, bytes) else data.size


def _declare_deflated(path: Path, members: Mapping[str, Inflating]) -> None:
    """Turn stored members into deflated ones: method, CRC-32 and size in both headers."""
    with zipfile.ZipFile(path) as zf:
        infos = {info.filename: info for info in zf.infolist() if info.filename in members}
        directory = zf.start_dir
    raw = bytearray(path.read_bytes())
    for name, data in members.items():
        assert data.size < 1 << 32  # no ZIP64 fields to patch
        fields = (8, data.crc32(), data.size)
        struct.pack_into("<H", raw, infos[name].header_offset + 8, fields[0])
        struct.pack_into("<I", raw, infos[name].header_offset + 14, fields[1])
        struct.pack_into("<I", raw, infos[name].header_offset + 22, fields[2])
        entry = _directory_entry(raw, directory, name)
        struct.pack_into("<H", raw, entry + 10, fields[0])
        struct.pack_into("<I", raw, entry + 16, fields[1])
        struct.pack_into("<I", raw, entry + 24, fields[2])
    path.write_bytes(bytes(raw))


def _directory_entry(raw: bytearray, offset: int, name: str) -> int:
    """The offset of *name*'s entry in the central directory that starts at *offset*."""
    while raw[offset : offset + 4] == b"PK\x01\x02":
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", raw, offset + 28)
        if raw[offset + 46 : offset + 46 + name_length].decode() == name:
            return offset
        offset += 46 + name_length + extra_length + comment_length
    raise KeyError(name)


def declare_size(path: Path, name: str, size: int) -> None:
    """Make the central directory claim that *name* inflates to *size* bytes (it does not)."""
    with zipfile.ZipFile(path) as zf:
        directory = zf.start_dir
    raw = bytearray(path.read_bytes())
    struct.pack_into("<I", raw, _directory_entry(raw, directory, name) + 24, size)
    path.write_bytes(bytes(raw))


def many_members(path: Path, count: int) -> Path:
    """A zip of *count* empty files, packed here: zipfile takes half a minute for 200 000."""
    local, central = [], []
    offset = 0
    for index in range(count):
        name = f"demo/{index}".encode()
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name), 0)
        central.append(
            struct.pack(
                "<IHHHHHHIIIHHHHHII",
                0x02014B50,
                20,
                20,
                0,
                0,
                0,
                0x21,
                0,
                0,
                0,
                len(name),
                0,
                0,
                0,
                0,
                0o644 << 16,
                offset,
            )
            + name
        )
        local.append(header + name)
        offset += len(header) + len(name)
    directory = b"".join(central)
    # More than 65 535 entries need the ZIP64 end records before the classic one.
    zip64 = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), offset
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, offset + len(directory), 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, len(directory), offset, 0)
    path.write_bytes(b"".join(local) + directory + zip64 + locator + end)
    return path
