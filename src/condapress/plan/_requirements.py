"""Merge a python package's own ``Requires-Dist`` with the dependencies its conda closure gives it.

The package's own ``*.dist-info/METADATA`` says *which* dependencies it has and *where*
(markers, extras); conda's solve says only which versions the closure was built against, for
the one target it was solved for. The rule (docs/decisions.md, "Requires-Dist"):

- every line of the package's own METADATA stays, with its extras and marker;
- a line whose dependency conda also gives the wheel, and whose marker holds on the target, gets
  conda's constraint as well (both specifiers, intersected); should the version in the closure
  fall outside the package's own specifier, conda's constraint replaces it (the recipe
  deliberately departed from upstream, and the wheel must install beside what it was built with);
- a line whose marker does not hold on the target stays as written: the solve says nothing
  about other platforms or interpreters;
- a dependency that conda gives and the METADATA does not name is added unconditionally, as
  from any package without METADATA of its own.

Names are compared after PEP 503 normalization. Nothing here parses requirement text by hand:
``packaging.requirements``, ``packaging.markers`` and ``packaging.specifiers`` do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from packaging.markers import Marker
    from packaging.specifiers import Specifier

__all__ = [
    "CondaRequirement",
    "MergedRequirement",
    "Requirements",
    "merge",
    "target_environment",
]

#: conda's platform (the subdir's first part) -> sys.platform, platform.system(), os.name there.
_SYSTEMS = {
    "linux": ("linux", "Linux", "posix"),
    "osx": ("darwin", "Darwin", "posix"),
    "win": ("win32", "Windows", "nt"),
}
#: conda subdir -> platform.machine() on it.
_MACHINES = {
    "linux-64": "x86_64",
    "linux-aarch64": "aarch64",
    "linux-ppc64le": "ppc64le",
    "linux-s390x": "s390x",
    "osx-64": "x86_64",
    "osx-arm64": "arm64",
    "win-64": "AMD64",
}
_LOWER = (">=", ">")
_UPPER = ("<=", "<")


@dataclass(frozen=True, slots=True)
class CondaRequirement:
    """One dependency the conda closure gives a wheel: a python package or another wheel."""

    #: the conda package it stands for (another wheel of the plan: that wheel's name).
    key: str
    #: the name it goes by on PyPI (or the other wheel's name).
    name: str
    #: the PEP 440 specifier conda's constraints translate to; ``""`` is any version.
    specifier: str
    #: the version the closure holds, in PEP 440; None when it has no PEP 440 spelling.
    version: str | None = None
    #: what the translation of conda's constraints changed.
    notes: tuple[str, ...] = ()
    #: the name it had before ``--rename`` gave it *name*: the package's own METADATA names it
    #: so, and its lines are renamed.
    was: str | None = None


@dataclass(frozen=True, slots=True)
class MergedRequirement:
    """The ``Requires-Dist`` lines of one dependency, and why they read as they do."""

    #: the :attr:`CondaRequirement.key` it stands for; None for a dependency only the
    #: package's own METADATA names.
    key: str | None
    #: the lines, those whose marker holds on the target first.
    lines: tuple[str, ...]
    #: what merging conda's constraint into the package's own lines changed, in words.
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Requirements:
    """Everything a wheel requires, and the lines of its own METADATA that had to be left out."""

    #: one entry per dependency: conda's and the package's own, merged.
    requirements: tuple[MergedRequirement, ...]
    #: ``left out ...: why``, one per line of the package's own METADATA that is not used.
    problems: tuple[str, ...] = ()

    @property
    def lines(self) -> tuple[str, ...]:
        """Every ``Requires-Dist`` line, sorted."""
        return tuple(sorted({line for req in self.requirements for line in req.lines}))


def target_environment(python: str, subdir: str) -> dict[str, str]:
    """The PEP 508 marker environment of the target a closure is solved for.

    CPython *python* (``X.Y``) on conda's *subdir*, without any extra. Release numbers of the
    interpreter and the kernel are not known: ``python_full_version`` is ``X.Y.0`` and
    ``platform_release``/``platform_version`` are empty.

    >>> env = target_environment("3.10", "linux-64")
    >>> env["python_version"], env["sys_platform"], env["platform_machine"]
    ('3.10', 'linux', 'x86_64')
    """
    sys_platform, system, os_name = _SYSTEMS[subdir.partition("-")[0]]
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python}.0",
        "os_name": os_name,
        "platform_machine": _MACHINES[subdir],
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": system,
        "platform_version": "",
        "python_full_version": f"{python}.0",
        "python_version": python,
        "sys_platform": sys_platform,
        "extra": "",
    }


def merge(
    upstream: Sequence[str] | None,
    conda: Sequence[CondaRequirement],
    environment: Mapping[str, str],
) -> Requirements:
    """The ``Requires-Dist`` of a wheel: its package's own lines merged with conda's (see above).

    :param upstream: the ``Requires-Dist`` lines of the package's own METADATA; None when it
        has none, and conda's dependencies are all there is.
    :param conda: the dependencies the closure gives the wheel.
    :param environment: the target's marker environment (:func:`target_environment`).

    >>> env = target_environment("3.10", "linux-64")
    >>> clib = CondaRequirement("ruamel.yaml.clib", "ruamel.yaml.clib", ">=0.1.2", "0.2.8")
    >>> merge(['ruamel.yaml.clib >=0.2.7 ; python_version<"3.13"', "ryd ; extra == 'docs'"],
    ...       [clib], env).lines
    ('ruamel.yaml.clib>=0.2.7; python_version < "3.13"', 'ryd; extra == "docs"')
    """
    if upstream is None:
        return Requirements(tuple(_as_conda_says(dep) for dep in conda))
    parsed, problems = _parse(upstream)
    by_name = {canonicalize_name(dep.was or dep.name): dep for dep in conda}
    lines: dict[str | None, list[tuple[bool, str]]] = {}
    notes: dict[str | None, list[str]] = {}
    for req in parsed:
        dep = by_name.get(canonicalize_name(req.name))
        holds = req.marker is None or _holds(req.marker, environment)
        key = dep.key if dep is not None else None
        if dep is not None and dep.was is not None:
            req.name = dep.name  # --rename: the name it goes by on the index
        if dep is not None and holds:
            notes.setdefault(key, []).extend(_narrow(req, dep))
        elif dep is not None:
            notes.setdefault(key, []).append(
                f"'{req}' does not apply to the target: kept as the package's own METADATA has it"
            )
        # Lines that hold on the target first: PackageDecision.requirement shows the first.
        lines.setdefault(key, []).append((not holds, str(req)))
    merged = [
        MergedRequirement(
            key,
            tuple(dict.fromkeys(line for _, line in sorted(found))),
            tuple(dict.fromkeys(notes.get(key, []))),
        )
        for key, found in lines.items()
        if key is not None
    ]
    named = {req.key for req in merged}
    merged += [_as_conda_says(dep) for dep in conda if dep.key not in named]
    merged.append(
        MergedRequirement(None, tuple(dict.fromkeys(line for _, line in lines.get(None, []))))
    )
    return Requirements(tuple(req for req in merged if req.lines), problems)


def _as_conda_says(dep: CondaRequirement) -> MergedRequirement:
    return MergedRequirement(dep.key, (f"{dep.name}{dep.specifier}",), dep.notes)


def _parse(lines: Iterable[str]) -> tuple[list[Requirement], tuple[str, ...]]:
    parsed: list[Requirement] = []
    problems: list[str] = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            problems.append(
                f"left out Requires-Dist '{line}' of its own METADATA: not a PEP 508 requirement"
            )
            continue
        if req.url:
            problems.append(
                f"left out Requires-Dist '{line}' of its own METADATA: PyPI refuses direct "
                "references"
            )
            continue
        parsed.append(req)
    return parsed, tuple(problems)


def _holds(marker: Marker, environment: Mapping[str, str]) -> bool:
    """Whether *marker* holds on the target; a marker it cannot evaluate does not."""
    try:
        return marker.evaluate(dict(environment))
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False


def _narrow(req: Requirement, dep: CondaRequirement) -> list[str]:
    """Give *req* conda's constraint too (in place); return why it reads as it does."""
    notes = list(dep.notes)
    own = req.specifier
    if dep.version is not None and own and not own.contains(dep.version, prereleases=True):
        notes.append(
            f"the closure holds {dep.version}, outside '{own}' of the package's own METADATA: "
            "conda's constraint replaces it"
        )
        req.specifier = SpecifierSet(dep.specifier)
    else:
        req.specifier = _simplest(own & SpecifierSet(dep.specifier))
    return notes


def _simplest(specifiers: SpecifierSet) -> SpecifierSet:
    """*specifiers* without the clauses others imply.

    An exact ``==V`` that the other clauses admit is all that is needed; of the lower bounds
    (and of the upper bounds) with the same operator, the tightest.

    >>> str(_simplest(SpecifierSet(">=0.1.2,>=0.2.7,<2,<3")))
    '<2,>=0.2.7'
    >>> str(_simplest(SpecifierSet("==1.2.0,>=1.2")))
    '==1.2.0'
    """
    clauses = list(specifiers)
    for clause in clauses:
        if clause.operator == "==" and not clause.version.endswith(".*"):
            others = SpecifierSet(",".join(str(c) for c in clauses if c is not clause))
            if others.contains(clause.version, prereleases=True):
                return SpecifierSet(str(clause))
    kept: list[Specifier] = [c for c in clauses if c.operator not in (*_LOWER, *_UPPER)]
    for operator in (*_LOWER, *_UPPER):
        bounds = [c for c in clauses if c.operator == operator]
        if bounds:
            pick = max if operator in _LOWER else min
            kept.append(pick(bounds, key=lambda c: Version(c.version)))
    return SpecifierSet(",".join(str(c) for c in kept))
