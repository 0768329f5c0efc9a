"""Read what the Windows loader and the platform tag care about from a PE file, never running it.

pefile parses the headers, the import and delay-import tables (the DLLs a file needs, by name)
and the export directory (the name a DLL gives itself); its objects never leave this module,
callers get :class:`BinaryFacts`. The Windows loader looks DLLs up by file name without regard
to case, so every DLL name is read in lower case: ``KERNEL32.dll`` is ``kernel32.dll``.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

import pefile

from condapress._paths import safe_name
from condapress.errors import BinaryError, TooLargeError
from condapress.formats import _foreign

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from condapress.model import BinaryFacts

__all__ = ["MACHINES", "MAX_PE_FILE", "PeCollector", "is_pe", "parse_pe", "read_pe"]

#: ``IMAGE_FILE_HEADER.Machine`` -> the architecture, spelled as in the wheel tag ``win_<arch>``
#: (``x86`` is ``win32``).
MACHINES = {0x8664: "amd64", 0xAA64: "arm64", 0x14C: "x86"}
#: The largest PE file the audit reads: it holds the whole file in memory to parse it, so the
#: bound is the ELF reader's (MAX_ELF_TABLES). conda's DLLs take a few MiB; the largest CUDA
#: DLLs in PyPI's Windows wheels are larger, and are reported as too large to read.
MAX_PE_FILE = 256 << 20

_IMAGE_FILE_DLL = 0x2000
_IMAGE_FILE_EXECUTABLE_IMAGE = 0x0002
_DIRECTORIES = [
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DELAY_IMPORT"],
    pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_EXPORT"],
]


def is_pe(head: bytes) -> bool:
    r"""Whether *head*, a file's first bytes, starts a PE image: ``MZ`` then ``PE\0\0`` where
    ``e_lfanew`` (offset 0x3c) says, when *head* reaches that far.

    >>> is_pe(b"MZ" + bytes(58) + (64).to_bytes(4, "little") + b"PE\0\0")
    True
    >>> is_pe(b"MZ plain text that starts with MZ")
    False
    """  # noqa: D205 - the summary needs both magic numbers
    if not head.startswith(b"MZ") or len(head) < 0x40:  # noqa: PLR2004
        return False
    offset = int.from_bytes(head[0x3C:0x40], "little")
    return len(head) < offset + 4 or head[offset : offset + 4] == b"PE\0\0"


def read_pe(path: Path) -> BinaryFacts:
    """The facts of the PE file at *path*.

    :raises BinaryError: it is truncated or corrupt.
    """
    return parse_pe(path.read_bytes(), path.name)


def parse_pe(data: bytes, name: str) -> BinaryFacts:
    """The facts of the PE file whose bytes are *data* (*name* is used in messages).

    :raises BinaryError: *data* is no valid PE image, is truncated, or names no DLL where an
        import should.
    """
    try:
        pe = pefile.PE(data=data, fast_load=True)
    except pefile.PEFormatError as exc:
        raise BinaryError(name, str(exc.value), kind="PE", path=name) from exc
    with pe:
        end = max((s.PointerToRawData + s.SizeOfRawData for s in pe.sections), default=0)
        if len(data) < end:
            reason = f"it is truncated: its sections end at byte {end:,}, the file at {len(data):,}"
            raise BinaryError(name, reason, kind="PE", path=name)
        pe.parse_data_directories(directories=_DIRECTORIES, import_dllnames_only=True)
        machine = pe.FILE_HEADER.Machine
        characteristics = pe.FILE_HEADER.Characteristics
        imports = [
            *getattr(pe, "DIRECTORY_ENTRY_IMPORT", ()),
            *getattr(pe, "DIRECTORY_ENTRY_DELAY_IMPORT", ()),
        ]
        needed = []
        for entry in imports:
            if not isinstance(entry.dll, bytes):  # pefile gives None for an unreadable name
                raise BinaryError(name, "an import names no DLL", kind="PE", path=name)
            needed.append(entry.dll.decode("ascii", "backslashreplace").lower())
        export = _export_name(pe)
    is_dll = bool(characteristics & _IMAGE_FILE_DLL)
    return _foreign.facts(
        machine=MACHINES.get(machine, f"machine-{machine:#06x}"),
        is_shared=is_dll,
        is_executable=not is_dll and bool(characteristics & _IMAGE_FILE_EXECUTABLE_IMAGE),
        # The loader knows a DLL by its file name alone; the export directory's name is kept
        # for the reports (libzstd.dll of conda's zstd calls itself zstd.dll).
        soname=export,
        needed=tuple(dict.fromkeys(needed)),
        rpath=(),
        kind="PE",
    )


def _export_name(pe: pefile.PE) -> str | None:
    """The name in the export directory, when it is one plain file name (it is only reported)."""
    export = getattr(pe, "DIRECTORY_ENTRY_EXPORT", None)
    if export is None or not export.struct.Name:
        return None
    try:
        raw = pe.get_string_at_rva(export.struct.Name)
    except pefile.PEFormatError:
        return None
    name = raw.decode("ascii", "backslashreplace") if raw else ""
    return name if safe_name(name) else None


class PeCollector:
    """Keeps the bytes of one PE file as it streams past (the audit's reader).

    :param name: the file's name in messages.
    :param size: its size in bytes; a file above *limit* is refused unread.
    :param seekable: the file opened again reads at no cost (a file on disk): its bytes are not
        kept, :meth:`read` reads them again.
    """

    def __init__(
        self, name: str, size: int, limit: int = MAX_PE_FILE, *, seekable: bool = False
    ) -> None:
        self.name = name
        self.size = size
        self.limit = limit
        self._seekable = seekable
        self._data = bytearray()
        self._fed = 0

    def feed(self, chunk: bytes) -> None:
        """Take the next *chunk* of the file.

        :raises TooLargeError: the file is larger than condapress reads.
        """
        if self.size > self.limit or self._fed + len(chunk) > self.limit:
            message = (
                f"{self.name} is a PE file of {max(self.size, self._fed + len(chunk)):,} "
                f"bytes, more than the {self.limit:,} condapress reads"
            )
            raise TooLargeError(message, path=self.name)
        self._fed += len(chunk)
        if not self._seekable:
            self._data += chunk

    def read(self, reopen: Callable[[], IO[bytes]]) -> BinaryFacts:
        """The facts, once the whole file has been fed.

        :raises BinaryError: the file is no valid PE image.
        """
        if self._seekable:
            with reopen() as stream:
                return parse_pe(stream.read(self._fed), self.name)
        data, self._data = bytes(self._data), bytearray()
        return parse_pe(data, self.name)
