"""The binary-format seam: what the relocate, retag and audit stages ask of a binary format.

No stage reads, edits or judges a binary itself. The relocate stage asks the
:class:`BinaryFormat` of the target subdir (:func:`for_subdir`) what a file says and which
edit it needs, and has it apply the edits; the retag stage asks it for the platform tag; the
audit asks the format of each member it meets (:func:`for_head`). ELF is the format of
``linux-*`` (:mod:`condapress.formats.elf`), Mach-O that of ``osx-*``
(:mod:`condapress.formats.macho`), PE that of ``win-*`` (:mod:`condapress.formats.pe`); each
answers the same questions and has one line in
:data:`_BY_PLATFORM`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from condapress.errors import SpecError
from condapress.formats.elf import ELF
from condapress.formats.macho import MACHO
from condapress.formats.pe import PE
from condapress.model import KNOWN_SUBDIRS

if TYPE_CHECKING:
    from collections.abc import Callable, Collection, Mapping
    from pathlib import Path
    from typing import IO

    from condapress.model import BinaryEdit, BinaryFacts, PlatformVerdict, Providers

__all__ = ["BinaryFormat", "Collector", "for_facts", "for_head", "for_subdir"]


class Collector(Protocol):
    """Gathers one binary's facts from its bytes as they stream past (the audit's reader)."""

    def feed(self, chunk: bytes) -> None:
        """Take the next chunk of the file."""

    def read(self, reopen: Callable[[], IO[bytes]]) -> BinaryFacts:
        """The facts, once every chunk was fed; *reopen* streams the file again if needed.

        :raises BinaryError: the file is not valid.
        :raises TooLargeError: its tables are larger than condapress reads.
        """


class BinaryFormat(Protocol):
    """One binary format: read a file's linking facts, plan and apply edits, judge a platform."""

    #: the format's name in messages: ``ELF``.
    name: str

    def is_binary(self, head: bytes) -> bool:
        """Whether a file that starts with *head* (its first bytes) is of this format."""

    def read(self, path: Path) -> BinaryFacts:
        """What the file at *path* says about linking; never runs it.

        :raises BinaryError: the file is truncated or corrupt (``reason`` says how).
        """

    def collector(self, name: str, size: int, *, seekable: bool = False) -> Collector:
        """A reader for the file *name* of *size* bytes that arrives in chunks (a wheel member).

        :param seekable: the stream that :meth:`Collector.read` opens again seeks at no cost
            (a file on disk, where a zip member must be inflated again up to where it seeks):
            nothing need be kept as the chunks stream past.
        """

    def link_name(self, path: str, facts: BinaryFacts) -> str | None:
        """The name other binaries link the library at *path* (in a conda prefix) by; None."""

    def plan_edit(
        self,
        dest: str,
        facts: BinaryFacts,
        link_name: str | None,
        providers: Providers,
    ) -> BinaryEdit:
        """Every change the binary bound for *dest* (in the wheel) needs, as data.

        :param link_name: its own link name (:meth:`link_name`), renamed if *providers* has it.
        :param providers: link name -> (wheel folder, file name) of every library it may find.
        """

    def apply_edit(self, source: Path, edit: BinaryEdit, output: Path | None) -> None:
        """Apply *edit* to *source* in one step; into *output* when given, leaving *source*.

        :raises RelocationError: the format's tool could not make the edit.
        """

    def edited(self, facts: BinaryFacts, edit: BinaryEdit) -> BinaryFacts | None:
        """What a binary that said *facts* says once :meth:`apply_edit` made *edit*.

        None when the format cannot tell without reading the file again (then it is read).
        """

    def platform(
        self, binaries: Mapping[str, BinaryFacts], wheel_libs: Collection[str]
    ) -> PlatformVerdict:
        """The most compatible platform tag every one of *binaries* (by wheel path) allows.

        :param wheel_libs: link names of the libraries the wheel ships or requires.
        :raises MixedArchitecturesError: the binaries are built for several architectures.
        """

    def requested(self, verdict: PlatformVerdict, tag: str) -> PlatformVerdict:
        """The verdict tagged *tag* (``--plat``), once the binaries are found to honour it.

        :raises SpecError: *tag* is no platform tag of the verdict's architecture.
        :raises PolicyViolation: the binaries need more than *tag* allows.
        """

    def is_system_library(self, name: str, arch: str, tag: str | None = None) -> bool:
        """Whether the systems of platform *tag* provide the library *name*.

        :param tag: a platform tag of *arch*; None for the most permissive platform of *arch*.
        """


#: The format of each platform, by the first part of a conda subdir.
_BY_PLATFORM: dict[str, BinaryFormat] = {"linux": ELF, "osx": MACHO, "win": PE}


def for_subdir(subdir: str) -> BinaryFormat:
    """The binary format of packages built for *subdir* (``linux-64`` -> ELF).

    >>> for_subdir("linux-aarch64").name, for_subdir("win-64").name
    ('ELF', 'PE')

    :raises SpecError: condapress cannot press wheels for *subdir* yet.
    """
    found = _BY_PLATFORM.get(subdir.partition("-")[0])
    if found is None:
        implemented = ", ".join(f"{name}-*" for name in _BY_PLATFORM)
        raise SpecError(
            f"condapress cannot press wheels for {subdir} yet: only {implemented} are implemented",
            hint="press for one of: "
            + ", ".join(s for s in KNOWN_SUBDIRS if s.partition("-")[0] in _BY_PLATFORM),
        )
    return found


def for_head(head: bytes) -> BinaryFormat | None:
    r"""The format of a file that starts with *head*, or None when it is no binary condapress reads.

    >>> for_head(b"\x7fELF\x02\x01").name, for_head(b"#!/bin/sh")
    ('ELF', None)
    """
    return next((fmt for fmt in _BY_PLATFORM.values() if fmt.is_binary(head)), None)


def for_facts(facts: BinaryFacts) -> BinaryFormat:
    """The format that read *facts*."""
    return next(fmt for fmt in _BY_PLATFORM.values() if fmt.name == facts.format)
