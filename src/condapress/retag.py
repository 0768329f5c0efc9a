"""Stage 6: choose a wheel's python, ABI and platform tags from its extension modules and ELF files.

The platform tag is the most compatible manylinux policy of auditwheel's policy data (read through
``auditwheel.policy.WheelPolicies``) that every ELF file of the wheel meets: symbol versions within
the policy's limits, and every library not shipped in the wheel on the policy's whitelist.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from auditwheel.architecture import Architecture
from auditwheel.libc import Libc
from auditwheel.policy import WheelPolicies
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from condapress.errors import CondapressError, PolicyViolation, SpecError

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

    from auditwheel.policy import Policy

    from condapress._elf import ElfFile

__all__ = [
    "PlatformVerdict",
    "bounded_by_requirements",
    "check_requested",
    "platform_tag",
    "python_tags",
    "wheel_tags",
]

_CPYTHON = re.compile(r"\.cpython-(?P<major>\d)(?P<minor>\d+)(?P<flags>[dmut]*)(?:-[^.]+)?\.so$")
_PYPY = re.compile(r"\.pypy(?P<version>\d+)-pp(?P<abi>\d+)(?:-[^.]+)?\.so$")
_ABI3 = re.compile(r"\.abi3\.so$")
# The stable ABI began with 3.2 (PEP 384): the claim made when nothing bounds python below.
_ABI3_FLOOR = 2
# The dynamic loader ships with libc; auditwheel leaves it out of every check and its policy
# data was built under that rule (auditwheel/elfutils.py, elf_find_versioned_symbols).
_LOADERS = re.compile(r"ld-linux.*|ld64\.so\.[12]")


@dataclass(frozen=True, slots=True)
class PlatformVerdict:
    """The most compatible platform tag a wheel's binaries allow, and what stood in the way."""

    #: the platform tag, e.g. ``manylinux_2_17_x86_64``; ``linux_<arch>`` when no policy fits.
    tag: str
    #: legacy aliases of the tag, e.g. ``("manylinux2014_x86_64",)``.
    aliases: tuple[str, ...]
    #: the auditwheel policy, without the architecture: ``manylinux_2_17`` or ``linux``.
    policy: str
    #: why no more compatible tag was possible, the most restrictive reason first.
    limits: tuple[str, ...]


def python_tags(
    extension_names: Iterable[str], requires_python: str | None = None
) -> tuple[str, str]:
    """The python and ABI tags of a wheel whose extension modules have these file names.

    ``.cpython-310-x86_64-linux-gnu.so`` gives ``cp310-cp310``, ``cpython-313t`` gives
    ``cp313-cp313t``, ``.pypy39-pp73-...so`` gives ``pp39-pypy39_pp73`` and ``.abi3.so`` gives
    ``cp3X-abi3``, X being the lowest Python 3 minor version *requires_python* admits (3.2, the
    first with a stable ABI, when it is None). Names without a version tag (plain ``.so``
    libraries) say nothing and are skipped; without any tagged module the wheel is ``py3-none``.
    abi3 modules may sit next to version-specific ones that they load into.

    >>> python_tags(["_yaml.cpython-311-x86_64-linux-gnu.so", "libyaml-0.so.2"])
    ('cp311', 'cp311')
    >>> python_tags(["_cffi_backend.abi3.so"], ">=3.8")
    ('cp38', 'abi3')
    >>> python_tags([])
    ('py3', 'none')

    :raises CondapressError: the modules were built for different interpreters.
    :raises SpecError: *requires_python* is not a version specifier, or admits no Python 3.
    """
    specific: dict[tuple[str, str], str] = {}
    abi3: list[str] = []
    for name in sorted(extension_names):
        if m := _CPYTHON.search(name):
            version = m["major"] + m["minor"]
            specific.setdefault((f"cp{version}", f"cp{version}{m['flags']}"), name)
        elif m := _PYPY.search(name):
            specific.setdefault((f"pp{m['version']}", f"pypy{m['version']}_pp{m['abi']}"), name)
        elif _ABI3.search(name):
            abi3.append(name)
    if len(specific) > 1:
        (first, first_name), (second, second_name) = sorted(specific.items())[:2]
        raise CondapressError(
            f"extension modules were built for different Pythons: {first_name} is "
            f"{'-'.join(first)}, {second_name} is {'-'.join(second)}",
            hint="press one conda build per Python version: a wheel serves one interpreter",
        )
    if not abi3:
        return next(iter(specific), ("py3", "none"))
    floor = _abi3_floor(requires_python)
    if not specific:
        return f"cp3{floor}", "abi3"
    (python, abi), name = next(iter(specific.items()))
    # abi3 modules load into CPython 3.floor and later, but not into free-threaded builds.
    if not (abi.startswith("cp3") and int(python[3:]) >= floor and not abi.endswith("t")):
        raise CondapressError(
            f"extension modules were built for different Pythons: {abi3[0]} is "
            f"cp3{floor}-abi3, {name} is {python}-{abi}",
            hint="press one conda build per Python version: a wheel serves one interpreter",
        )
    return python, abi


def _abi3_floor(requires_python: str | None) -> int:
    if requires_python is None:
        return _ABI3_FLOOR
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier as exc:
        raise SpecError(
            f"requires-python {requires_python!r} is not a version specifier",
            hint="write it the way PEP 440 does, for example '>=3.9'",
        ) from exc
    for minor in range(_ABI3_FLOOR, 100):
        # 3.N.99 stands in for the whole minor series: '>3.8' admits 3.8.1 and so Python 3.8.
        if spec.contains(f"3.{minor}", prereleases=True) or spec.contains(f"3.{minor}.99"):
            return minor
    if spec.contains("3.0") or spec.contains("3.1.99"):
        return _ABI3_FLOOR
    raise SpecError(
        f"requires-python {requires_python!r} admits no Python 3 version",
        hint="correct the python dependency of the conda package",
    )


@functools.cache
def _policies(arch: str) -> WheelPolicies:
    return WheelPolicies(libc=Libc.GLIBC, arch=Architecture(arch))


def platform_tag(
    elfs: Mapping[str, ElfFile], *, wheel_libs: Collection[str], arch: str | None = None
) -> PlatformVerdict:
    """The most compatible manylinux tag that every ELF file in the wheel meets.

    :param elfs: every ELF file of the wheel, by its path inside the wheel; at least one
        (a wheel without binaries is tagged ``any`` by its caller).
    :param wheel_libs: sonames of the libraries shipped in the wheel; they need not be on a
        whitelist, and the symbol versions needed from them are the wheel's own business.
    :param arch: the wheel's architecture; by default that of the ELF files.
    :raises CondapressError: the ELF files are built for more than one architecture, or not
        for *arch*.
    """
    if not elfs:
        msg = "platform_tag needs at least one ELF file; a wheel without any is tagged 'any'"
        raise ValueError(msg)
    paths = sorted(elfs)
    arch = arch or elfs[paths[0]].machine
    for path in paths:
        if elfs[path].machine != arch:
            raise CondapressError(
                f"{path} is built for {elfs[path].machine}, but the wheel is for {arch}",
                hint="a wheel holds binaries for one architecture: remove the odd file",
            )
    try:
        policies = _policies(arch)
    except ValueError:
        limit = f"auditwheel has no manylinux policy for the {arch} architecture"
        return PlatformVerdict(f"linux_{arch}", (), "linux", (limit,))

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
        return PlatformVerdict(f"linux_{arch}", (), "linux", limits)
    return PlatformVerdict(policy.name, policy.aliases, _base(policy.name, policies), limits)


def _requirements(
    path: str, elf: ElfFile, wheel_libs: Collection[str], policies: WheelPolicies
) -> Iterator[tuple[str, Policy, str]]:
    """Yield ``(key, most compatible policy allowing it, reason)`` for what *elf* needs.

    Needs that every policy allows are left out; of the needs sharing a key (one library, or
    one symbol-version prefix, of one file) the caller keeps the most restrictive.
    """
    ranked = sorted(policies, reverse=True)
    for library in elf.needed:
        if library in wheel_libs or _LOADERS.fullmatch(library):
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
        if library in wheel_libs or _LOADERS.fullmatch(library):
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


def bounded_by_requirements(
    verdicts: Mapping[str, PlatformVerdict | None], requires: Mapping[str, Sequence[str]]
) -> dict[str, PlatformVerdict | None]:
    """Each wheel's verdict, bounded by those of the wheels of the same press it requires.

    A wheel whose binaries load libraries from another wheel (split mode, pinned ``==``) can
    be installed only where that wheel can: its tag must not promise more. Its verdict becomes
    the least compatible of its own and those of every wheel it requires, directly or through
    others (wheels without binaries included), and the reason heads its limits. A wheel without
    binaries (verdict None) stays ``any``: it promises nothing about a platform.

    :param verdicts: by wheel name, the verdict of its own binaries; None without binaries.
    :param requires: by wheel name, the wheels of the press it requires.
    """
    bounded: dict[str, PlatformVerdict | None] = {}
    for wheel, own in verdicts.items():
        if own is None:
            bounded[wheel] = None
            continue
        # the least compatible wheel it requires, by name among equals: the same every time
        culprits = sorted(
            (_rank(theirs), name, theirs)
            for name in _required(wheel, requires)
            if (theirs := verdicts.get(name)) is not None
        )
        if not culprits or culprits[0][0] >= _rank(own):
            bounded[wheel] = own
            continue
        _, name, theirs = culprits[0]
        limit = f"requires {name}, which is tagged {theirs.tag}"
        limit += f" ({theirs.limits[0]})" if theirs.limits else ""
        bounded[wheel] = replace(theirs, limits=(limit, *own.limits))
    return bounded


def _required(wheel: str, requires: Mapping[str, Sequence[str]]) -> set[str]:
    """Every wheel that *wheel* requires, directly or through others."""
    found: set[str] = set()
    todo = [wheel]
    while todo:
        for dependency in requires.get(todo.pop(), ()):
            if dependency not in found and dependency != wheel:
                found.add(dependency)
                todo.append(dependency)
    return found


def _rank(verdict: PlatformVerdict) -> int:
    """The priority of *verdict*'s policy: higher is more compatible, ``linux`` is 0."""
    if verdict.policy == "linux":
        return 0
    arch = verdict.tag.removeprefix(f"{verdict.policy}_")
    return int(_policies(arch).get_policy_by_name(verdict.tag).priority)


def wheel_tags(python: str, abi: str, verdict: PlatformVerdict) -> tuple[str, ...]:
    """The WHEEL file's ``Tag:`` lines, in the order ``auditwheel repair`` writes them.

    The tag itself comes first, then its legacy aliases. (The file name joins the platform
    tags in sorted order instead: ``manylinux2014_x86_64.manylinux_2_17_x86_64``.)

    >>> v = PlatformVerdict("manylinux_2_17_x86_64", ("manylinux2014_x86_64",), "", ())
    >>> wheel_tags("cp311", "cp311", v)
    ('cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64')
    """
    return tuple(f"{python}-{abi}-{platform}" for platform in (verdict.tag, *verdict.aliases))


def check_requested(verdict: PlatformVerdict, requested: str) -> None:
    """Make sure the binaries honour *requested* (``--plat``), a tag or alias like the verdict's.

    A less compatible tag than the verdict's is always honoured.

    :raises SpecError: *requested* is not a Linux platform tag for the verdict's architecture.
    :raises PolicyViolation: the binaries need more than *requested* allows; the message names
        the most restrictive reason.
    """
    arch = verdict.tag.removeprefix(f"{verdict.policy}_")
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
    arch = verdict.tag.removeprefix(f"{verdict.policy}_")
    if requested in {verdict.tag, *verdict.aliases}:
        return verdict
    name = requested if requested.endswith(f"_{arch}") else f"{requested}_{arch}"
    if name == f"linux_{arch}":
        return PlatformVerdict(tag=name, aliases=(), policy="linux", limits=verdict.limits)
    policy = _policies(arch).get_policy_by_name(name)
    return PlatformVerdict(
        tag=policy.name,
        aliases=tuple(policy.aliases),
        policy=policy.name.removesuffix(f"_{arch}"),
        limits=verdict.limits,
    )


def is_system_library(soname: str, arch: str) -> bool:
    """Whether a manylinux system provides *soname*: on any policy's whitelist, or the loader."""
    if _LOADERS.fullmatch(soname):
        return True
    try:
        policies = _policies(arch)
    except ValueError:  # an architecture auditwheel has no policy for
        return False
    return any(soname in policy.whitelist for policy in policies)
