"""Mach-O, the binary format of macOS: read by condapress, edited by macholib, re-signed ad hoc.

:data:`MACHO` is the :class:`~condapress.formats.BinaryFormat` of the ``osx-64`` and
``osx-arm64`` subdirs. Its link names are install names (``@rpath/libyaml-0.2.dylib``,
``/usr/lib/libSystem.B.dylib``): the whole string a load command holds, which is what the
linker copied from the library's LC_ID_DYLIB.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING

from condapress._paths import SITE_PACKAGES
from condapress.formats.macho import _edit, _policy, _read

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from pathlib import Path

    from condapress.model import BinaryEdit, BinaryFacts, PlatformVerdict

__all__ = ["MACHO", "MachoCollector", "MachoFormat"]


class MachoCollector:
    """Reads a Mach-O wheel member: nothing is kept as it streams past; :meth:`read` seeks.

    The load commands, the code signature and (to check the signature) the pages it covers are
    read from the stream opened again, in increasing offsets but once: a zip member can seek.
    """

    def __init__(self, name: str, size: int) -> None:
        self.name = name
        self.size = size

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of the file (nothing to keep: :meth:`read` reads what it needs)."""

    def read(self, reopen: Callable[[], IO[bytes]]) -> BinaryFacts:
        """The facts of the member, read from the stream *reopen* opens.

        :raises BinaryError: it is not a valid Mach-O file.
        :raises TooLargeError: its load commands or signature are larger than condapress reads.
        """
        with reopen() as stream:
            return _read.parse_macho(stream, self.size, self.name, self.name)


class MachoFormat:
    """Mach-O files: see :class:`~condapress.formats.BinaryFormat` for what each method promises."""

    name = _read.KIND

    def is_binary(self, head: bytes) -> bool:  # noqa: D102 - the Protocol documents it
        return _read.is_macho(head)

    def read(self, path: Path) -> BinaryFacts:  # noqa: D102
        return _read.read_macho(path)

    def collector(self, name: str, size: int, *, seekable: bool = False) -> MachoCollector:  # noqa: ARG002, D102 - it always reads the file opened again
        return MachoCollector(name, size)

    def link_name(self, path: str, facts: BinaryFacts) -> str | None:
        """Its install name (LC_ID_DYLIB), for a library outside site-packages; else None.

        Libraries in site-packages are found beside their modules, not by a link name; a
        bundle (a plugin, MH_BUNDLE) has no install name and is loaded by path.
        """
        if not facts.is_shared or not path.startswith("lib/") or SITE_PACKAGES.match(path):
            return None
        return facts.soname

    # The edits are _edit's functions as they stand: no state of the format's is involved.
    plan_edit = staticmethod(_edit.plan_edit)
    apply_edit = staticmethod(_edit.apply_edit)

    def edited(self, facts: BinaryFacts, edit: BinaryEdit) -> None:  # noqa: ARG002
        """None: the edited file is read again (its signature or import table was rewritten)."""
        return

    def platform(  # noqa: D102
        self, binaries: Mapping[str, BinaryFacts], wheel_libs: Collection[str]
    ) -> PlatformVerdict:
        del wheel_libs  # a macOS tag says which macOS, not which libraries it has
        return _policy.platform_tag(binaries)

    def requested(self, verdict: PlatformVerdict, tag: str) -> PlatformVerdict:  # noqa: D102
        return _policy.check_requested(verdict, tag)

    def is_system_library(self, name: str, arch: str, tag: str | None = None) -> bool:  # noqa: D102
        del arch, tag  # every macOS has the same /usr/lib and /System
        return _policy.is_system_library(name)


#: The Mach-O format (a stateless singleton).
MACHO = MachoFormat()
