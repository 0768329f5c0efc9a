"""Stage 6, retag: each staged wheel's python, ABI and platform tags, from its own binaries.

The python and ABI tags come from the extension modules' file names; the platform tag from the
binary format (:meth:`~condapress.formats.BinaryFormat.platform`: for ELF, the most compatible
manylinux policy every binary meets), bounded by the tags of the wheels it requires, and
``--plat`` when given.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from condapress.errors import MixedPythonsError, SpecError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from condapress.formats import BinaryFormat
    from condapress.model import BinaryFacts, PlatformVerdict, StagedWheel

__all__ = ["bounded_by_requirements", "extension_names", "python_tags", "tag", "wheel_tags"]

#: The tags of a wheel without binaries.
_PURE = ("py3-none-any",)

_CPYTHON = re.compile(
    r"\.cpython-(?P<major>\d)(?P<minor>\d+)(?P<flags>[dmut]*)(?:-[^.]+)?\.so$"
    # Windows: .cp311-win_amd64.pyd, .cp313t-win_arm64.pyd
    r"|\.cp(?P<wmajor>\d)(?P<wminor>\d+)(?P<wflags>t?)-win(?:32|_amd64|_arm64)\.pyd$"
)
_PYPY = re.compile(r"\.pypy(?P<version>\d+)-pp(?P<abi>\d+)(?:-[^.]+)?\.so$")
_ABI3 = re.compile(r"\.abi3\.(?:so|pyd)$")
# The DLL a Windows extension module imports says which interpreter it was built for.
_PYTHON_DLL = re.compile(r"python(?P<major>3)(?P<minor>\d*)\.dll")
# The stable ABI began with 3.2 (PEP 384): the claim made when nothing bounds python below.
_ABI3_FLOOR = 2


def tag(
    staged: Sequence[StagedWheel], fmt: BinaryFormat, *, plat: str | None = None
) -> tuple[StagedWheel, ...]:
    """*staged* with their tags: ``py3-none-any`` without binaries, else from the binaries.

    A wheel's platform verdict is its binaries' (:meth:`BinaryFormat.platform`), bounded by
    those of the wheels it requires (:func:`bounded_by_requirements`), then *plat* if given.

    :param plat: the platform tag asked for (``--plat``).
    :raises MixedPythonsError: a wheel's extension modules are built for different Pythons.
    :raises MixedArchitecturesError: a wheel's binaries are built for several architectures.
    :raises SpecError: *plat* is no platform tag of the binaries' architecture.
    :raises PolicyViolation: the binaries cannot honour *plat*.
    """
    pythons: dict[str, tuple[str, str]] = {}
    verdicts: dict[str, PlatformVerdict | None] = {}
    for wheel in staged:
        name, binaries = wheel.spec.distribution, dict(wheel.binaries)
        verdicts[name] = None
        if binaries:
            libs = f"{wheel.layout.libs_dir}/"
            modules = {dest: facts for dest, facts in binaries.items() if not dest.startswith(libs)}
            pythons[name] = python_tags(extension_names(modules))
            links = {facts.soname for facts in binaries.values() if facts.soname}
            # an excluded library is the system's or another wheel's: the tag does not vouch
            # for it, as auditwheel's --exclude
            verdicts[name] = fmt.platform(binaries, links | wheel.external | set(wheel.excluded))
    requires = {wheel.spec.distribution: wheel.spec.wheel_dependencies for wheel in staged}
    bounded = bounded_by_requirements(verdicts, requires)
    tagged = []
    for wheel in staged:
        verdict = bounded[wheel.spec.distribution]
        if verdict is None:
            tagged.append(replace(wheel, tags=_PURE))
            continue
        if plat is not None:
            verdict = fmt.requested(verdict, plat)
        python, abi = pythons[wheel.spec.distribution]
        tagged.append(replace(wheel, tags=wheel_tags(python, abi, verdict), verdict=verdict))
    return tuple(tagged)


def extension_names(binaries: Mapping[str, BinaryFacts]) -> list[str]:
    """The file names of *binaries* as :func:`python_tags` reads them.

    A Windows extension module named without a tag (``win32api.pyd``, which Python also
    imports) says which interpreter it is for by the DLL it imports: ``python39.dll`` makes it
    ``win32api.cp39-win_amd64.pyd``, the stable ABI's ``python3.dll`` ``win32api.abi3.pyd``.

    >>> from condapress.model import BinaryFacts
    >>> pyd = BinaryFacts("amd64", True, False, None, ("python39.dll",), (), (), None, (), (),
    ...                   (), False, "PE")
    >>> extension_names({"win32/win32api.pyd": pyd, "_yaml.cp39-win_amd64.pyd": pyd})
    ['win32/win32api.cp39-win_amd64.pyd', '_yaml.cp39-win_amd64.pyd']
    """
    names = []
    for dest, facts in binaries.items():
        name = dest
        if dest.endswith(".pyd") and not _CPYTHON.search(dest) and not _ABI3.search(dest):
            found = next(filter(None, map(_PYTHON_DLL.fullmatch, facts.needed)), None)
            if found is not None and found["minor"]:
                name = f"{dest[:-4]}.cp3{found['minor']}-win_amd64.pyd"
            elif found is not None:
                name = f"{dest[:-4]}.abi3.pyd"
        names.append(name)
    return names


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
    >>> python_tags(["yaml/_yaml.cp39-win_amd64.pyd", "pyyaml.libs/yaml-1a2b3c4d.dll"])
    ('cp39', 'cp39')
    >>> python_tags([])
    ('py3', 'none')

    :raises MixedPythonsError: the modules were built for different interpreters.
    :raises SpecError: *requires_python* is not a version specifier, or admits no Python 3.
    """
    specific: dict[tuple[str, str], str] = {}
    abi3: list[str] = []
    for name in sorted(extension_names):
        if m := _CPYTHON.search(name):
            version = (m["major"] or m["wmajor"]) + (m["minor"] or m["wminor"])
            flags = m["flags"] or m["wflags"] or ""
            specific.setdefault((f"cp{version}", f"cp{version}{flags}"), name)
        elif m := _PYPY.search(name):
            specific.setdefault((f"pp{m['version']}", f"pypy{m['version']}_pp{m['abi']}"), name)
        elif _ABI3.search(name):
            abi3.append(name)
    if len(specific) > 1:
        (first, first_name), (second, second_name) = sorted(specific.items())[:2]
        raise MixedPythonsError(
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
        raise MixedPythonsError(
            f"extension modules were built for different Pythons: {abi3[0]} is "
            f"cp3{floor}-abi3, {name} is {python}-{abi}",
            hint="press one conda build per Python version: a wheel serves one interpreter",
        )
    return python, abi


def _abi3_floor(requires_python: str | None) -> int:
    """The oldest CPython 3 minor version *requires_python* admits, for an abi3 tag.

    >>> _abi3_floor(">=3.9"), _abi3_floor(">3.8"), _abi3_floor(None) == _ABI3_FLOOR
    (9, 8, True)

    :raises SpecError: it is no specifier, or admits no Python 3.
    """
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
            (theirs.rank, name, theirs)
            for name in _required(wheel, requires)
            if (theirs := verdicts.get(name)) is not None
        )
        if not culprits or culprits[0][0] >= own.rank:
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


def wheel_tags(python: str, abi: str, verdict: PlatformVerdict) -> tuple[str, ...]:
    """The WHEEL file's ``Tag:`` lines, in the order ``auditwheel repair`` writes them.

    The tag itself comes first, then its legacy aliases. (The file name joins the platform
    tags in sorted order instead: ``manylinux2014_x86_64.manylinux_2_17_x86_64``.)

    >>> from condapress.model import PlatformVerdict
    >>> v = PlatformVerdict("manylinux_2_17_x86_64", ("manylinux2014_x86_64",), "", ())
    >>> wheel_tags("cp311", "cp311", v)
    ('cp311-cp311-manylinux_2_17_x86_64', 'cp311-cp311-manylinux2014_x86_64')
    """
    return tuple(f"{python}-{abi}-{platform}" for platform in (verdict.tag, *verdict.aliases))
