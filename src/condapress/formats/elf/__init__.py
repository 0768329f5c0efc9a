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

    def is_binary(self, head: bytes) -> bool:  # noqa: D102 - the Protocol documents it
        return head.startswith(_MAGIC)

    def read(self, path: Path) -> BinaryFacts:  # noqa: D102
        return _read.read_elf(path)

    def collector(self, name: str, size: int) -> ElfCollector:  # noqa: D102
        return ElfCollector(name, size)

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

    def platform(  # noqa: D102
        self, binaries: Mapping[str, BinaryFacts], wheel_libs: Collection[str]
    ) -> PlatformVerdict:
        return _policy.platform_tag(binaries, wheel_libs=wheel_libs)

    def requested(self, verdict: PlatformVerdict, tag: str) -> PlatformVerdict:  # noqa: D102
        _policy.check_requested(verdict, tag)
        return _policy.requested_verdict(verdict, tag)

    def is_system_library(self, name: str, arch: str, tag: str | None = None) -> bool:  # noqa: D102
        return _policy.is_system_library(name, arch, tag)


#: The ELF format (a stateless singleton).
ELF = ElfFormat()
