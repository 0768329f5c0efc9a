"""The manylinux policies: which platform tag an ELF wheel's binaries allow, from auditwheel's data.

The platform tag is the most compatible manylinux policy of auditwheel's policy data (read through
``auditwheel.policy.WheelPolicies``, built once per architecture) that every ELF file of the wheel
meets: symbol versions within the policy's limits, and every library not shipped in the wheel on
the policy's whitelist. auditwheel's objects stay in this module.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

from auditwheel.architecture import Architecture
from auditwheel.libc import Libc
from auditwheel.policy import WheelPolicies

from condapress.errors import PolicyViolation, SpecError
from condapress.formats._arch import one_architecture
from condapress.model import PlatformVerdict

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping

    from auditwheel.policy import Policy

    from condapress.model import BinaryFacts

__all__ = [
    "LOADERS",
    "check_requested",
    "is_system_library",
    "platform_tag",
    "requested_verdict",
    "whitelist",
]

#: The dynamic loader ships with libc; auditwheel leaves it out of every check and its policy
#: data was built under that rule (auditwheel/elfutils.py, elf_find_versioned_symbols).
LOADERS = re.compile(r"ld-linux.*|ld64\.so\.[12]")


@functools.cache
def _policies(arch: str) -> WheelPolicies:
    return WheelPolicies(libc=Libc.GLIBC, arch=Architecture(arch))


def platform_tag(
    elfs: Mapping[str, BinaryFacts], *, wheel_libs: Collection[str], arch: str | None = None
) -> PlatformVerdict:
    """The most compatible manylinux tag that every ELF file in the wheel meets.

    :param elfs: every ELF file of the wheel, by its path inside the wheel; at least one
        (a wheel without binaries is tagged ``any`` by its caller).
    :param wheel_libs: sonames of the libraries shipped in the wheel; they need not be on a
        whitelist, and the symbol versions needed from them are the wheel's own business.
    :param arch: the wheel's architecture; by default that of the ELF files.
    :raises MixedArchitecturesError: the ELF files are built for more than one architecture, or
        not for *arch*.
    """
    if not elfs:
        msg = "platform_tag needs at least one ELF file; a wheel without any is tagged 'any'"
        raise ValueError(msg)
    arch = one_architecture(elfs, arch)
    paths = sorted(elfs)
    try:
        policies = _policies(arch)
    except ValueError:
        limit = f"auditwheel has no manylinux policy for the {arch} architecture"
        return PlatformVerdict(f"linux_{arch}", (), "linux", (limit,), arch=arch)

    # Every requirement, with the most compatible policy that meets it. Policies are nested
    # (auditwheel checks PEP 600 compliance on load), so a requirement excludes a policy and
    # every more compatible one.
    found: dict[str, tuple[int, str]] = {}
    for path in paths:
        for key, policy, reason in _requirements(path, elfs[path], wheel_libs, policies):
            if key not in found or policy.priority < found[key][0]:
                found[key] = (policy.priority, reason)

    ranked = sorted(policies, reverse=True)  # most compatible first, linux last
    chosen = min((priority for priority, _ in found.values()), default=policies.highest.priority)
    policy = next(p for p in ranked if p.priority == chosen)
    limits = tuple(reason for _, reason in sorted(found.values(), key=lambda item: item[0]))
    if policy is policies.linux:
        return PlatformVerdict(f"linux_{arch}", (), "linux", limits, arch=arch)
    return _verdict(policy, policies, limits)


def _verdict(policy: Policy, policies: WheelPolicies, limits: tuple[str, ...]) -> PlatformVerdict:
    return PlatformVerdict(
        tag=policy.name,
        aliases=tuple(policy.aliases),
        policy=_base(policy.name, policies),
        limits=limits,
        arch=policies.architecture.value,
        rank=int(policy.priority),
    )


def _requirements(
    path: str, elf: BinaryFacts, wheel_libs: Collection[str], policies: WheelPolicies
) -> Iterator[tuple[str, Policy, str]]:
    """Yield ``(key, most compatible policy allowing it, reason)`` for what *elf* needs.

    Needs that every policy allows are left out; of the needs sharing a key (one library, or
    one symbol-version prefix, of one file) the caller keeps the most restrictive.
    """
    ranked = sorted(policies, reverse=True)
    for library in elf.needed:
        if library in wheel_libs or LOADERS.fullmatch(library):
            continue
        best = next(p for p in ranked if p is policies.linux or library in p.whitelist)
        if best is policies.linux:
            where = "not on the manylinux whitelist"
        else:
            where = f"on the manylinux whitelist only from {_base(best.name, policies)}"
        if best is not policies.highest:
            reason = f"{path} needs {library}, which is not in the wheel and {where}"
            yield f"{path}\0{library}", best, reason
    for library, versions in elf.version_needs:
        if library in wheel_libs or LOADERS.fullmatch(library):
            continue
        # Highest version first: of two equally restrictive needs, the caller names the first.
        for version in sorted(versions, key=_version_key, reverse=True):
            prefix, _, number = version.partition("_")
            best = next(p for p in ranked if p is policies.linux or _allows(p, prefix, number))
            if best is not policies.highest:
                yield f"{path}\0{prefix}", best, f"{path} needs {version} (from {library})"


def _allows(policy: Policy, prefix: str, number: str) -> bool:
    # A prefix the policy does not know is not its business (auditwheel:
    # WheelPolicies.versioned_symbols_policy): OPENSSL_3.0.0 is judged by libssl's soname.
    versions = policy.symbol_versions.get(prefix)
    return versions is None or number in versions


def _version_key(version: str) -> tuple[int, ...]:
    number = version.partition("_")[2]
    parts = number.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (1 << 30,)


def _base(name: str, policies: WheelPolicies) -> str:
    return name.removesuffix(f"_{policies.architecture.baseline.value}")


def check_requested(verdict: PlatformVerdict, requested: str) -> None:
    """Make sure the binaries honour *requested* (``--plat``), a tag or alias like the verdict's.

    A less compatible tag than the verdict's is always honoured.

    :raises SpecError: *requested* is not a Linux platform tag for the verdict's architecture.
    :raises PolicyViolation: the binaries need more than *requested* allows; the message names
        the most restrictive reason.
    """
    arch = verdict.arch
    if requested in {verdict.tag, *verdict.aliases} or requested == f"linux_{arch}":
        return
    name = requested if requested.endswith(f"_{arch}") else f"{requested}_{arch}"
    try:
        policies = _policies(arch)
        wanted = policies.get_policy_by_name(name)
    except (ValueError, LookupError) as exc:
        raise SpecError(
            f"{requested!r} is not a platform tag for {arch}",
            hint=f"ask for a tag such as manylinux_2_28_{arch}, or leave --plat out",
        ) from exc
    current = policies.get_policy_by_name(verdict.tag) if verdict.policy != "linux" else None
    if current is not None and wanted.priority <= current.priority:
        return
    reason = verdict.limits[0] if verdict.limits else "the binaries need more"
    raise PolicyViolation(
        f"the binaries cannot be tagged {requested}: {reason}",
        hint=f"the most compatible tag they allow is {verdict.tag}; ask for that with --plat, "
        "or pass --runtime bundle",
    )


def requested_verdict(verdict: PlatformVerdict, requested: str) -> PlatformVerdict:
    """The verdict to tag with once :func:`check_requested` accepted *requested*."""
    arch = verdict.arch
    if requested in {verdict.tag, *verdict.aliases}:
        return verdict
    name = requested if requested.endswith(f"_{arch}") else f"{requested}_{arch}"
    if name == f"linux_{arch}":
        return PlatformVerdict(name, (), "linux", verdict.limits, arch=arch)
    policies = _policies(arch)
    return _verdict(policies.get_policy_by_name(name), policies, verdict.limits)


def is_system_library(soname: str, arch: str, tag: str | None = None) -> bool:
    """Whether the systems of policy *tag* provide *soname*: on its whitelist, or the loader.

    :param tag: a policy's tag; None for the most permissive policy of *arch*.
    """
    return bool(LOADERS.fullmatch(soname)) or soname in whitelist(arch, tag)


@functools.cache
def whitelist(arch: str, tag: str | None) -> frozenset[str]:
    """The system libraries of policy *tag*; of the most permissive policy of *arch* when None.

    An architecture auditwheel has no policy for is judged by x86_64's sonames.
    """
    try:
        policies = _policies(arch)
    except ValueError:
        policies = _policies("x86_64")
    policy = policies.lowest if tag is None else policies.get_policy_by_name(tag)
    return frozenset(policy.whitelist)
