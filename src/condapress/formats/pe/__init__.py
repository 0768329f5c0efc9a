"""PE, the binary format of Windows: read with pefile, import tables renamed in place, ``win_*``.

:data:`PE` is the :class:`~condapress.formats.BinaryFormat` of every ``win-*`` subdir. The
Windows loader finds a DLL by its file name (without regard to case) in the folders it searches:
a DLL's link name is its file name, and the DLLs it imports are the names of its import tables.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from condapress.formats.pe import _edit, _read, _system

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from pathlib import Path

    from condapress.model import BinaryEdit, BinaryFacts, PlatformVerdict

__all__ = ["DLL_FOLDERS", "PE", "PeFormat"]

#: The folders of a conda environment on Windows that conda puts on PATH when it activates the
#: environment (the prefix itself first): the DLLs there are found by name by every binary of
#: the environment, as the libraries of ``lib/`` are on Linux.
DLL_FOLDERS = ("", "Library/mingw-w64/bin", "Library/usr/bin", "Library/bin", "Scripts", "bin")


class PeFormat:
    """PE files: see :class:`~condapress.formats.BinaryFormat` for what each method promises."""

    name = "PE"

    def is_binary(self, head: bytes) -> bool:  # noqa: D102 - the Protocol documents it
        return _read.is_pe(head)

    def read(self, path: Path) -> BinaryFacts:  # noqa: D102
        return _read.read_pe(path)

    def collector(self, name: str, size: int, *, seekable: bool = False) -> _read.PeCollector:  # noqa: D102
        return _read.PeCollector(name, size, seekable=seekable)

    def link_name(self, path: str, facts: BinaryFacts) -> str | None:
        """The file name, in lower case, of a DLL in a folder that conda puts on PATH.

        >>> from condapress.model import BinaryFacts
        >>> dll = BinaryFacts("amd64", True, False, "zstd.dll", (), (), (), None, (), (), (),
        ...                   False, "PE")
        >>> PE.link_name("Library/bin/libzstd.dll", dll)
        'libzstd.dll'
        >>> PE.link_name("Lib/site-packages/a.pyd", dll) is None
        True

        The name in the DLL's export directory is not it: conda's ``libzstd.dll`` calls itself
        ``zstd.dll``, and its users import it as ``libzstd.dll``.
        """
        folder, name = posixpath.split(path)
        if not facts.is_shared or folder not in DLL_FOLDERS or not name.lower().endswith(".dll"):
            return None
        return name.lower()

    # The edits are _edit's functions as they stand: no state of the format's is involved.
    plan_edit = staticmethod(_edit.plan_edit)
    apply_edit = staticmethod(_edit.apply_edit)

    def edited(self, facts: BinaryFacts, edit: BinaryEdit) -> None:  # noqa: ARG002
        """None: the edited file is read again (its signature or import table was rewritten)."""
        return

    def platform(  # noqa: D102
        self,
        binaries: Mapping[str, BinaryFacts],
        wheel_libs: Collection[str],  # noqa: ARG002 - Windows tags do not depend on them
    ) -> PlatformVerdict:
        return _system.platform_tag(binaries)

    def requested(self, verdict: PlatformVerdict, tag: str) -> PlatformVerdict:  # noqa: D102
        _system.check_requested(verdict, tag)
        return verdict

    def is_system_library(self, name: str, arch: str, tag: str | None = None) -> bool:  # noqa: D102, ARG002
        return _system.is_system_dll(name, arch)


#: The PE format (a stateless singleton).
PE = PeFormat()
