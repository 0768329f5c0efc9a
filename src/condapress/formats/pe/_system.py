"""What a Windows system provides, and the platform tag of PE binaries.

The DLL list is package data (``data/windows_dlls.json``, written from delvewheel's lists by
``scripts/update_windows_dlls.py``): the DLLs in System32 of every Windows from 7 SP1 to 11, the
interpreter's own (``python3X.dll``), the API sets (``api-ms-win-*``) and the Microsoft Visual C++
runtime (``vcruntime140.dll``, ``msvcp140.dll``, ``ucrtbase.dll``, ...), which conda ships as
the ``vc``/``vs2015_runtime``/``vc14_runtime``/``ucrt`` packages and condapress takes as the
system's, as it takes glibc on Linux.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from condapress.errors import PolicyViolation, SpecError
from condapress.formats._arch import one_architecture
from condapress.model import PlatformVerdict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import BinaryFacts

__all__ = [
    "TAGS",
    "check_requested",
    "is_msvc_runtime",
    "is_system_dll",
    "needs_redistributable",
    "platform_tag",
]

#: The wheel platform tag of each PE architecture.
TAGS = {"amd64": "win_amd64", "arm64": "win_arm64", "x86": "win32"}


@dataclass(frozen=True, slots=True)
class _Table:
    names: Mapping[str, frozenset[str]]
    patterns: tuple[re.Pattern[str], ...]
    msvc_runtime: re.Pattern[str]


@cache
def _table() -> _Table:
    raw = json.loads(
        (resources.files("condapress") / "data" / "windows_dlls.json").read_text(encoding="utf-8")
    )
    return _Table(
        names={arch: frozenset(names) for arch, names in raw["names"].items()},
        patterns=tuple(re.compile(pattern) for pattern in raw["patterns"]),
        msvc_runtime=re.compile(raw["msvc_runtime"]),
    )


def is_msvc_runtime(name: str) -> bool:
    """Whether DLL *name* is part of the Microsoft Visual C++ runtime.

    >>> is_msvc_runtime("MSVCP140.dll"), is_msvc_runtime("yaml.dll")
    (True, False)
    """
    return _table().msvc_runtime.fullmatch(name.lower()) is not None


#: The Visual C++ runtime DLLs that need no Redistributable: CPython's installer ships the first
#: two beside python.exe; the Universal CRT is part of Windows 10 and of every Windows that
#: CPython 3.9 and later runs on (with its updates).
_WITHOUT_REDISTRIBUTABLE = frozenset({"vcruntime140.dll", "vcruntime140_1.dll", "ucrtbase.dll"})


def needs_redistributable(name: str, arch: str) -> bool:
    """Whether DLL *name* is Windows' only once the Visual C++ Redistributable is installed.

    >>> needs_redistributable("msvcp140.dll", "amd64"), needs_redistributable("msvcrt.dll", "amd64")
    (True, False)
    >>> needs_redistributable("VCRUNTIME140.dll", "amd64")
    False
    """
    lower = name.lower()
    return (
        is_msvc_runtime(lower)
        and lower not in _WITHOUT_REDISTRIBUTABLE
        and lower not in _table().names.get(arch, frozenset())
    )


def is_system_dll(name: str, arch: str) -> bool:
    """Whether every Windows system of *arch* (amd64, arm64, x86) has DLL *name*.

    >>> is_system_dll("KERNEL32.dll", "amd64"), is_system_dll("python39.dll", "amd64")
    (True, True)
    >>> is_system_dll("api-ms-win-crt-heap-l1-1-0.dll", "x86"), is_system_dll("yaml.dll", "amd64")
    (True, False)
    """
    table, lower = _table(), name.lower()
    return (
        lower in table.names.get(arch, frozenset())
        or any(pattern.fullmatch(lower) for pattern in table.patterns)
        or is_msvc_runtime(lower)
    )


def platform_tag(binaries: Mapping[str, BinaryFacts]) -> PlatformVerdict:
    """The platform verdict of PE *binaries*: ``win_<arch>`` of their one architecture.

    Windows has no tag below or above ``win_amd64``: every DLL the binaries import is either the
    system's or in the wheel, and the audit checks which.

    :raises MixedArchitecturesError: the binaries are built for more than one architecture.
    :raises PolicyViolation: they are built for a machine no wheel tag names.
    """
    first = min(binaries)
    arch = one_architecture(binaries)
    if arch not in TAGS:
        raise PolicyViolation(
            f"{first} is built for {arch}, which no wheel platform tag names",
            hint="press packages built for win-64 (or a Windows subdir with a wheel tag)",
            path=first,
        )
    return PlatformVerdict(TAGS[arch], (), "win", (), arch=arch, rank=1)


def check_requested(verdict: PlatformVerdict, requested: str) -> None:
    """Make sure *requested* (``--plat``) is the tag of the binaries' architecture.

    :raises SpecError: it is not.
    """
    if requested != verdict.tag:
        raise SpecError(
            f"{requested!r} is not the platform tag of {verdict.arch} Windows binaries",
            hint=f"ask for {verdict.tag}, or leave --plat out",
        )
