"""ELF, the binary format of Linux: read with pyelftools, edited with patchelf, judged by manylinux.

:data:`ELF` is the :class:`~condapress.formats.BinaryFormat` of every ``linux-*`` subdir.
"""

from __future__ import annotations

import posixpath
from typing import TYPE_CHECKING

from condapress._paths import SITE_PACKAGES
from condapress.formats.elf import _edit, _policy, _read
from condapress.formats.elf._stream import ElfCollector

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping
    from pathlib import Path

    from condapress.model import BinaryFacts, PlatformVerdict

__all__ = ["ELF", "ElfFormat"]

_MAGIC = b"\x7fELF"


class ElfFormat:
    """ELF files: see :class:`~condapress.formats.BinaryFormat` for what each method promises."""

    name = "ELF"

    def is_binary(self, head: bytes) -> bool:
        r"""Whether *head* starts with the ELF magic ``\x7fELF``."""
        return head.startswith(_MAGIC)

    def read(self, path: Path) -> BinaryFacts:
        """The dynamic section, program headers and symbol versions, read with pyelftools.

        :raises BinaryError: the file is truncated or corrupt (``reason`` says how).
        """
        return _read.read_elf(path)

    def collector(self, name: str, size: int, *, seekable: bool = False) -> ElfCollector:
        """A reader that keeps only the ELF tables of *name* as its chunks arrive.

        With *seekable* it keeps nothing: the file opened again is parsed once.
        """
        return ElfCollector(name, size, seekable=seekable)

    def link_name(self, path: str, facts: BinaryFacts) -> str | None:
        """Its DT_SONAME; for a library in ``lib/`` without one, its file name.

        A library linked without a soname (tk's ``libtcl8.6.so``) is recorded in its users'
        DT_NEEDED by its file name. Libraries in site-packages are found beside their modules
        under their own names, not by a link name.
        """
        if not facts.is_shared or not path.startswith("lib/") or SITE_PACKAGES.match(path):
            return None
        if facts.soname:
            return facts.soname
        return posixpath.basename(path) if path.count("/") == 1 else None

    # The edits are _edit's functions as they stand: no state of the format's is involved.
    plan_edit = staticmethod(_edit.plan_edit)
    apply_edit = staticmethod(_edit.apply_edit)
    edited = staticmethod(_edit.edited)

    def platform(
        self, binaries: Mapping[str, BinaryFacts], wheel_libs: Collection[str]
    ) -> PlatformVerdict:
        """The most compatible manylinux tag whose policy (auditwheel's) all *binaries* meet.

        :raises MixedArchitecturesError: the binaries are built for several architectures.
        """
        return _policy.platform_tag(binaries, wheel_libs=wheel_libs)

    def requested(self, verdict: PlatformVerdict, tag: str) -> PlatformVerdict:
        """*verdict* tagged *tag*, a manylinux or ``linux_<arch>`` tag the binaries honour.

        :raises SpecError: *tag* is no platform tag of the verdict's architecture.
        :raises PolicyViolation: the binaries need more than *tag* allows.
        """
        _policy.check_requested(verdict, tag)
        return _policy.requested_verdict(verdict, tag)

    def is_system_library(self, name: str, arch: str, tag: str | None = None) -> bool:
        """Whether *name* is on the whitelist of *tag*'s manylinux policy (or the loader itself).

        >>> [ELF.is_system_library(name, "x86_64") for name in ("libc.so.6", "libzstd.so.1")]
        [True, False]
        """
        return _policy.is_system_library(name, arch, tag)


#: The ELF format (a stateless singleton).
ELF = ElfFormat()
