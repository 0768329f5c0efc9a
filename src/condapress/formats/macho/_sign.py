"""Ad hoc code signatures of Mach-O slices: checked page by page, and hashed again after an edit.

macOS on Apple silicon runs no code whose signature does not verify, and conda-forge's arm64
binaries carry an ad hoc one (no certificate: the hashes in the CodeDirectory are the whole
signature; ``codesign -s -`` and the linker write them). An edit that keeps the file's layout
(install names rewritten inside the header padding, a placeholder rewritten NUL-padded) leaves
the signature's place, size and code limit as they are and changes only the hashes of the
pages it touched: :func:`rehash` computes every page hash again, as ``codesign`` would; the
special slots (the requirements blob, entitlements) hash blobs that no edit touches. No
signature is made from nothing: a slice without one keeps none.

The blobs are big-endian, as xnu's ``osfmk/kern/cs_blobs.h`` lays them out: a SuperBlob
(``0xfade0cc0``) indexes one or more CodeDirectories (``0xfade0c02``; a SHA-1 one and a SHA-256
alternate in some builds), the requirements, entitlements, and a CMS wrapper (``0xfade0b01``),
empty for ad hoc signatures.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SignatureError", "rehash", "verify"]

_SUPERBLOB = 0xFADE0CC0
_CODE_DIRECTORY = 0xFADE0C02
_CMS_WRAPPER = 0xFADE0B01
# Blob types of the SuperBlob index: the CodeDirectory, its alternates, the CMS signature.
_CD_SLOT, _ALTERNATE_CDS, _CMS_SLOT = 0, range(0x1000, 0x1005), 0x10000
# Special slots a CodeDirectory hashes that live in the SuperBlob (slot n holds blob type n):
# requirements, entitlements, DER entitlements. The others (Info.plist, resources) are files
# of an app bundle, which a library has not.
_EMBEDDED_SPECIAL = (2, 5, 7)
_HASHES: dict[int, Callable[[bytes], hashlib._Hash]] = {
    1: hashlib.sha1,
    2: hashlib.sha256,
    3: hashlib.sha256,  # truncated to 20 bytes by the CodeDirectory's hashSize
    4: hashlib.sha384,
}
_HASH_NAMES = {1: "SHA-1", 2: "SHA-256", 3: "SHA-256/20", 4: "SHA-384"}
# An empty CMS wrapper (magic and length): what an ad hoc signature carries.
_EMPTY_WRAPPER = 8
_CD_HEADER = struct.Struct(">IIIIIIIIIBBBB")
# The most bytes of code read at once, whatever a (forged) page size says.
_BLOCK = 1 << 20


class SignatureError(ValueError):
    """A code signature that cannot be read, or cannot be hashed again; the text says why."""


@dataclass(frozen=True, slots=True)
class _Directory:
    """One CodeDirectory: where it is in the signature, and what it hashes."""

    offset: int
    length: int
    hash_offset: int
    special: int
    pages: int
    code_limit: int
    hash_size: int
    hash_type: int
    page_size: int

    def slot(self, index: int) -> tuple[int, int]:
        """The bytes of code slot *index* (negative: special slot) inside the signature."""
        start = self.offset + self.hash_offset + index * self.hash_size
        return start, start + self.hash_size

    def digest(self, data: bytes) -> bytes:
        return _HASHES[self.hash_type](data).digest()[: self.hash_size]


def verify(read: Callable[[int, int], bytes], offset: int, blob: bytes) -> str | None:
    """Why the signature *blob* of a slice does not verify, or None when every hash matches.

    :param read: ``read(start, size)``: bytes of the slice (fewer at its end).
    :param offset: where the signature starts in the slice (LC_CODE_SIGNATURE's dataoff).
    """
    try:
        directories, special = _parse(blob)
    except SignatureError as exc:
        return str(exc)
    for directory in directories:
        if directory.code_limit != offset:
            return (
                f"its signature covers {directory.code_limit} bytes, but starts at byte {offset}"
                " (the file was changed after it was signed)"
            )
        for slot, data in special.items():
            if slot <= directory.special:
                start, end = directory.slot(-slot)
                if blob[start:end] != directory.digest(data):
                    return f"the hash of its signature's blob {slot} (special slot) is wrong"
        wrong = _wrong_pages(read, blob, directory)
        if wrong:
            name = _HASH_NAMES[directory.hash_type]
            return f"{wrong} of its {directory.pages} page hashes ({name}) are wrong"
    return None


def rehash(data: bytearray, base: int, offset: int, size: int) -> None:
    """Hash every page of the slice at *base* of *data* again, into its own signature.

    :param offset: where the signature starts in the slice; *size*: its length.
    :raises SignatureError: the signature cannot be redone in place (its code limit is not
        where it starts, or it is signed with a certificate).
    """
    blob = bytes(data[base + offset : base + offset + size])
    directories, _special = _parse(blob)
    wrapper = _blob_at(blob, _CMS_SLOT)
    if wrapper is not None and len(wrapper) > _EMPTY_WRAPPER:
        msg = "it is signed with a certificate, which only its owner can sign again"
        raise SignatureError(msg)
    for directory in directories:
        if directory.code_limit != offset:
            msg = f"its signature covers {directory.code_limit} bytes but starts at {offset}"
            raise SignatureError(msg)
        for index in range(directory.pages):
            start = index * directory.page_size
            page = data[base + start : base + min(start + directory.page_size, offset)]
            first, end = directory.slot(index)
            data[base + offset + first : base + offset + end] = directory.digest(bytes(page))


def _wrong_pages(read: Callable[[int, int], bytes], blob: bytes, directory: _Directory) -> int:
    """How many page hashes of *directory* are wrong; all of them if the code is cut short.

    The code is read in blocks of at most :data:`_BLOCK` bytes, whatever the page size says.
    """
    new = _HASHES[directory.hash_type]
    wrong, at, page, hasher = 0, 0, 0, new(b"")
    while at < directory.code_limit:
        chunk = read(at, min(_BLOCK, directory.code_limit - at))
        if not chunk:
            return directory.pages  # the file ends before the code the signature covers
        view = memoryview(chunk)
        while view:
            page_end = min((page + 1) * directory.page_size, directory.code_limit)
            take = min(len(view), page_end - at)
            hasher.update(view[:take])
            view, at = view[take:], at + take
            if at == page_end:
                start, end = directory.slot(page)
                wrong += blob[start:end] != hasher.digest()[: directory.hash_size]
                page, hasher = page + 1, new(b"")
    return wrong


def _parse(blob: bytes) -> tuple[list[_Directory], dict[int, bytes]]:
    """The CodeDirectories of a signature, and its embedded special-slot blobs by slot.

    :raises SignatureError: the SuperBlob or a CodeDirectory is malformed.
    """
    if len(blob) < 12 or struct.unpack_from(">I", blob)[0] != _SUPERBLOB:  # noqa: PLR2004
        msg = "its code signature does not start with a SuperBlob"
        raise SignatureError(msg)
    directories = []
    for kind in (_CD_SLOT, *_ALTERNATE_CDS):
        span = _span(blob, kind)
        if span is not None:
            directories.append(_directory(blob, span[0]))
    if not directories:
        msg = "its code signature has no CodeDirectory"
        raise SignatureError(msg)
    special = {
        slot: data for slot in _EMBEDDED_SPECIAL if (data := _blob_at(blob, slot)) is not None
    }
    return directories, special


def _index(blob: bytes) -> dict[int, int]:
    """The SuperBlob's index: blob type -> offset."""
    length, count = struct.unpack_from(">II", blob, 4)
    if length > len(blob) or 12 + 8 * count > length:
        msg = "its code signature's SuperBlob is longer than the signature"
        raise SignatureError(msg)
    return dict(struct.iter_unpack(">II", blob[12 : 12 + 8 * count]))


def _blob_at(blob: bytes, kind: int) -> bytes | None:
    """The blob of type *kind*, or None."""
    span = _span(blob, kind)
    return None if span is None else blob[span[0] : span[1]]


def _span(blob: bytes, kind: int) -> tuple[int, int] | None:
    """Where the blob of type *kind* lies in the signature, or None."""
    start = _index(blob).get(kind)
    if start is None:
        return None
    if start + 8 > len(blob):
        msg = f"its code signature's blob {kind:#x} lies past the signature's end"
        raise SignatureError(msg)
    length = struct.unpack_from(">I", blob, start + 4)[0]
    if length < 8 or start + length > len(blob):  # noqa: PLR2004
        msg = f"its code signature's blob {kind:#x} has a length of {length} bytes"
        raise SignatureError(msg)
    return start, start + length


def _directory(blob: bytes, start: int) -> _Directory:
    if start + _CD_HEADER.size > len(blob):
        msg = "its CodeDirectory is truncated"
        raise SignatureError(msg)
    (magic, length, _version, _flags, hash_offset, _ident, special, pages, limit, hash_size,
     hash_type, _platform, page_log) = _CD_HEADER.unpack_from(blob, start)  # fmt: skip
    if magic != _CODE_DIRECTORY:
        msg = f"a CodeDirectory slot holds a blob of magic {magic:#x}"
        raise SignatureError(msg)
    if hash_type not in _HASHES or not 0 < hash_size <= _HASHES[hash_type](b"").digest_size:
        msg = f"its CodeDirectory uses hash type {hash_type} of {hash_size} bytes"
        raise SignatureError(msg)
    if hash_offset < special * hash_size or hash_offset + pages * hash_size > length:
        msg = "its CodeDirectory's hash slots lie outside it"
        raise SignatureError(msg)
    if start + length > len(blob):
        msg = "its CodeDirectory is longer than the signature"
        raise SignatureError(msg)
    page_size = 1 << page_log if page_log else max(limit, 1)
    if pages != -(-limit // page_size):
        msg = f"its CodeDirectory has {pages} page hashes for {limit} bytes of code"
        raise SignatureError(msg)
    return _Directory(
        start, length, hash_offset, special, pages, limit, hash_size, hash_type, page_size
    )
