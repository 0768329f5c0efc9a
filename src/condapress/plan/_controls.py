"""The user's controls of dependencies and size: --exclude, --rename, --add-requires, --strip.

Each is checked first, every problem listed in one error; then applied where the plan decides
(a rename where names are given, the added lines where wheels get their requirements) and
recorded as a :class:`~condapress.model.Control` that says what it does in this plan. The
libraries ``--exclude`` names are left out by the relocate stage, which reads their names.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidName, canonicalize_name

from condapress.errors import SpecError, listing, printable
from condapress.model import Control, NodeClass
from condapress.plan._requirements import MergedRequirement

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import NameSource, PlanOptions
    from condapress.plan._classify import Classified
    from condapress.plan._group import Wheels

__all__ = ["check", "controls", "renamed", "with_added_requires"]

#: What an excluded library is, for the plan and the docs.
EXCLUDED = (
    "libraries of these names are not bundled: another wheel or the target system provides "
    "them; the binaries keep needing them by that name, and the platform tag does not vouch "
    "for them"
)


def check(options: PlanOptions, subdir: str) -> None:
    """Refuse controls that cannot be applied; one error lists every problem.

    :param subdir: the closure's; ``--exclude`` and ``--strip`` apply to ``linux-*`` (ELF) only.
    :raises SpecError: ``invalid --exclude, --rename or --add-requires: <problem>; ...``, or
        ``--exclude``/``--strip`` for a macOS or Windows subdir.
    """
    _check_format(options, subdir)
    problems = [
        f"--exclude {pattern!r} is not a library name pattern (a file name, '*' and '?' allowed)"
        for pattern in options.exclude
        if not pattern or "/" in pattern or pattern != pattern.strip()
    ]
    seen: set[str] = set()
    for conda, pypi in options.rename:
        given = f"--rename {conda}={pypi}"
        if not conda or not pypi or conda != conda.strip():
            problems.append(f"{given!r} is not CONDA=PYPI (a conda name, '=', a PyPI name)")
            continue
        if conda in seen:
            problems.append(f"{given!r}: {conda} is renamed twice")
        try:
            canonicalize_name(pypi, validate=True)
        except InvalidName:
            problems.append(f"{given!r}: {pypi!r} is not a valid distribution name")
        seen.add(conda)
    for line in options.add_requires:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            problems.append(f"--add-requires {line!r} is not a PEP 508 requirement")
            continue
        if requirement.url:
            problems.append(f"--add-requires {line!r} is a direct reference, which PyPI refuses")
    if problems:
        raise SpecError(
            f"invalid --exclude, --rename or --add-requires: {listing(problems, '; ')}",
            hint="fix the values (see 'condapress press --help'); names and requirements are "
            "written as in pyproject.toml",
            detail="\n".join(printable(p) for p in problems),
        )


def _check_format(options: PlanOptions, subdir: str) -> None:
    # Mach-O and PE keep their debug information outside the binary (a .dSYM, a .pdb), so there
    # is nothing to strip; and the macOS and Windows audits cannot yet vouch for a library left
    # to the system (docs/decisions.md).
    used = [name for name, on in (("--exclude", options.exclude), ("--strip", options.strip)) if on]
    if not used or subdir.startswith(_ELF_PLATFORM):
        return
    given = " and ".join(used)
    verb = "apply" if len(used) > 1 else "applies"
    raise SpecError(
        f"{given} {verb} to linux-* wheels only (ELF binaries), not to {subdir}",
        hint=f"press {subdir} without {given}: macOS and Windows binaries keep their debug "
        "information outside them, and their wheels bundle every library they load",
    )


#: The subdirs whose binaries are ELF, the only ones --exclude and --strip apply to.
_ELF_PLATFORM = "linux-"


def renamed(
    names: Mapping[str, tuple[str, NameSource]],
    classes: Mapping[str, Classified],
    roots: tuple[str, ...],
    options: PlanOptions,
) -> tuple[dict[str, tuple[str, NameSource]], dict[str, str]]:
    """*names* with the PyPI names ``--rename`` gives, and the names the renamed had before.

    A root's own METADATA names its dependencies by their names before: those lines are renamed
    too.

    :raises SpecError: a rename names a requested package, or one that is not python.
    """
    result = dict(names)
    was: dict[str, str] = {}
    problems = []
    for conda, pypi in options.rename:
        if conda not in classes:
            continue  # said in the plan's controls: a shared configuration may name others
        node_class = classes[conda].node_class
        if conda in roots:
            problems.append(f"{conda} is requested: its wheel's name is its own")
        elif node_class is not NodeClass.PYTHON:
            problems.append(f"{conda} is a {node_class.value} package, never a Requires-Dist")
        else:
            was[conda] = names[conda][0]
            result[conda] = (pypi, "rename")
    if problems:
        raise SpecError(
            f"--rename applies to python dependencies only: {listing(problems, '; ')}",
            hint="leave those packages out of --rename",
        )
    return result, was


def with_added_requires(wheels: Wheels, roots: tuple[str, ...], options: PlanOptions) -> Wheels:
    """*wheels* with the ``--add-requires`` lines among the requirements of every root's wheel."""
    if not options.add_requires:
        return wheels
    added = tuple(
        MergedRequirement(None, (str(Requirement(line)),)) for line in options.add_requires
    )
    requirements = dict(wheels.requirements)
    for root in roots:
        wheel = wheels.own[root]
        requirements[wheel] = replace(
            requirements[wheel], requirements=requirements[wheel].requirements + added
        )
    return replace(wheels, requirements=requirements)


def controls(
    options: PlanOptions, names: Mapping[str, tuple[str, NameSource]], root_wheels: tuple[str, ...]
) -> tuple[Control, ...]:
    """What each control does in this plan, in the order of the options."""
    found = [Control("exclude", pattern, EXCLUDED) for pattern in options.exclude]
    for conda, pypi in options.rename:
        used = names.get(conda, ("", None))[1] == "rename"
        reason = (
            f"the Requires-Dist name of conda package {conda}"
            if used
            else f"unused: no python dependency of this closure is named {conda}"
        )
        found.append(Control("rename", f"{conda}={pypi}", reason))
    found += [
        Control("add-requires", line, f"added to the Requires-Dist of {', '.join(root_wheels)}")
        for line in options.add_requires
    ]
    if options.strip:
        reason = "the debug sections of every binary the wheels carry are removed (strip)"
        found.append(Control("strip", "", reason))
    return tuple(found)
