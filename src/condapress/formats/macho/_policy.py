"""The macOS platform tag of a wheel's Mach-O files, and the libraries every macOS has.

A binary loads on the macOS its load commands name as its minimum (``minos``); the wheel's
tag is ``macosx_X_Y_<arch>`` for the highest minimum among them, as ``delocate`` tags a wheel
(``delocating._calculate_minimum_wheel_name``). Since macOS 11 the system reports its minor
version in a way that pip's tags ignore: they are ``macosx_11_0``, ``macosx_12_0``, ... only,
so a minimum of 11.3 is tagged ``macosx_11_0`` too (pip would never install ``macosx_11_3``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from condapress.errors import PolicyViolation, SpecError
from condapress.formats._arch import one_architecture
from condapress.model import PlatformVerdict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import BinaryFacts

__all__ = ["SYSTEM_PREFIXES", "check_requested", "is_system_library", "platform_tag"]

#: Install names of the libraries every macOS has: those under /usr/lib (libSystem, libc++,
#: libz, libobjc, ...) and the frameworks under /System (delocate: ``filter_system_libs``).
SYSTEM_PREFIXES = ("/usr/lib/", "/System/")
#: The oldest macOS of an architecture, assumed for binaries that name no minimum: the first
#: macOS on Apple silicon, and the oldest for which pip tags x86_64 wheels today.
_FLOOR = {"arm64": (11, 0), "universal2": (10, 9)}
_DEFAULT_FLOOR = (10, 9)
_MACOSX = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>[a-z0-9_]+)")
_ARM_ERA = (11, 0)


def platform_tag(binaries: Mapping[str, BinaryFacts]) -> PlatformVerdict:
    """The ``macosx_X_Y_<arch>`` tag of the highest minimum macOS among *binaries*.

    :param binaries: every Mach-O file of the wheel, by its path in the wheel; at least one.
    :raises MixedArchitecturesError: they are built for more than one architecture.
    """
    arch = one_architecture(binaries)
    paths = sorted(binaries)
    floor = _FLOOR.get(arch, _DEFAULT_FLOOR)
    needs = sorted(
        ((version, path) for path in paths if (version := minimum(binaries[path])) > floor),
        key=lambda item: (-item[0][0], -item[0][1], item[1]),
    )
    version = needs[0][0] if needs else floor
    limits = tuple(
        f"{path} needs macOS {_text(need)} (its minimum version)" for need, path in needs
    )
    return _verdict(version, arch, limits)


def minimum(facts: BinaryFacts) -> tuple[int, int]:
    """The oldest macOS a Mach-O file loads on: its slices' highest minimum, ``(0, 0)`` if none.

    In a universal file the arm64 slice's minimum counts only above 11.0: every arm64 Mac
    runs 11.0 or later, and a ``macosx_10_9_universal2`` tag means "10.9 on Intel".
    """
    best = (0, 0)
    for piece in facts.slices:
        if piece.minos is None:
            continue
        major, _, minor = piece.minos.partition(".")
        version = (int(major), int(minor or 0))
        if piece.arch == "arm64" and facts.machine != "arm64" and version <= _ARM_ERA:
            continue
        best = max(best, version)
    return best


def check_requested(verdict: PlatformVerdict, requested: str) -> PlatformVerdict:
    """The verdict tagged *requested* (``--plat``), once the binaries are found to honour it.

    A later macOS than the verdict's is always honoured.

    :raises SpecError: *requested* is not a macOS tag of the verdict's architecture, or not one
        pip installs (``macosx_11_3``).
    :raises PolicyViolation: the binaries need a later macOS than *requested*.
    """
    arch = verdict.arch
    match = _MACOSX.fullmatch(requested)
    if match is None or match["arch"] != arch:
        raise SpecError(
            f"{requested!r} is not a platform tag for {arch}",
            hint=f"ask for a tag such as macosx_11_0_{arch}, or leave --plat out",
        )
    wanted = (int(match["major"]), int(match["minor"]))
    if wanted >= _ARM_ERA and wanted[1] != 0:
        raise SpecError(
            f"{requested!r} is not a tag pip installs: from macOS 11 on, tags are X_0",
            hint=f"ask for macosx_{wanted[0]}_0_{arch}",
        )
    have = _version_of(verdict)
    if wanted < have:
        reason = verdict.limits[0] if verdict.limits else "the binaries need more"
        raise PolicyViolation(
            f"the binaries cannot be tagged {requested}: {reason}",
            hint=f"the most compatible tag they allow is {verdict.tag}; ask for that with --plat",
        )
    return _verdict(wanted, arch, verdict.limits)


def is_system_library(install_name: str) -> bool:
    """Whether every macOS has the library of *install_name* (under /usr/lib or /System).

    >>> is_system_library("/usr/lib/libSystem.B.dylib"), is_system_library("@rpath/libz.dylib")
    (True, False)
    """
    return install_name.startswith(SYSTEM_PREFIXES)


def _verdict(version: tuple[int, int], arch: str, limits: tuple[str, ...]) -> PlatformVerdict:
    major, minor = version
    # pip's tags for macOS 11 and later are X_0 only (packaging.tags.mac_platforms).
    policy = f"macosx_{major}_{minor if major < _ARM_ERA[0] else 0}"
    # Higher is more compatible: an older macOS is.
    rank = 1_000_000 - (major * 1000 + minor)
    return PlatformVerdict(f"{policy}_{arch}", (), policy, limits, arch=arch, rank=rank)


def _version_of(verdict: PlatformVerdict) -> tuple[int, int]:
    _, major, minor = verdict.policy.split("_")
    return int(major), int(minor)


def _text(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"
