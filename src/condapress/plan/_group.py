"""Group the packages of a closure into wheels, and work out what each wheel requires."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet

from condapress._versions import pep440_version, translate_version_spec
from condapress.errors import SpecError
from condapress.model import NodeClass, WheelSpec
from condapress.plan._requirements import CondaRequirement, Requirements, merge

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import CondaRecord
    from condapress.plan._context import PlanContext

__all__ = ["Wheels", "group", "wheel_specs"]


@dataclass(frozen=True, slots=True)
class Wheels:
    """The wheels of a plan: the packages in each, the wheels of each package, what each needs."""

    #: wheel name -> its conda members, the package it is named after first.
    members: Mapping[str, tuple[str, ...]]
    #: conda name -> the wheel named after it (a root; in split mode also a native).
    own: Mapping[str, str]
    #: conda name -> the wheels it goes into.
    owners: Mapping[str, tuple[str, ...]]
    #: wheel name -> its ``Requires-Dist`` lines, and the lines of its own METADATA left out.
    requirements: Mapping[str, Requirements]


def group(ctx: PlanContext) -> Wheels:
    """The wheels of the plan: a root's with the natives it reaches (fat), or one each (split)."""
    bundled = {root: _bundle(root, ctx) for root in ctx.roots}
    own = {root: _wheel_name(root, ctx) for root in ctx.roots}
    if not ctx.options.fat:
        for members in bundled.values():
            for native in members[1:]:
                if native not in ctx.runtime:
                    own.setdefault(native, ctx.options.native_name.format(name=native))

    wheel_members = {
        wheel: tuple(m for m in bundled[root] if ctx.options.fat or m == root)
        for root, wheel in own.items()
        if root in bundled
    }
    for name, wheel in own.items():
        wheel_members.setdefault(wheel, (name,))
    if not ctx.options.fat:
        wheel_members = {
            wheel: (*members, *_runtime_of(members, ctx))
            for wheel, members in wheel_members.items()
        }

    owners: dict[str, tuple[str, ...]] = {}
    for wheel, inside in wheel_members.items():
        for name in inside:
            owners[name] = (*owners.get(name, ()), wheel)
    requirements = {
        wheel: _requirements(members, own, ctx) for wheel, members in wheel_members.items()
    }
    return Wheels(members=wheel_members, own=own, owners=owners, requirements=requirements)


def wheel_specs(wheels: Wheels, ctx: PlanContext) -> tuple[WheelSpec, ...]:
    """One :class:`~condapress.model.WheelSpec` per wheel, in the order of *wheels*."""
    return tuple(
        WheelSpec(
            distribution=wheel,
            version=pep440_version(ctx.record(members[0]).version),
            members=members,
            requires_dist=wheels.requirements[wheel].lines,
            wheel_dependencies=tuple(
                sorted(
                    r.key
                    for r in wheels.requirements[wheel].requirements
                    if r.key is not None and r.key in wheels.members
                )
            ),
        )
        for wheel, members in wheels.members.items()
    )


def _bundle(root: str, ctx: PlanContext) -> list[str]:
    """The root, then the natives it reaches without passing a python, system or other root."""
    return ctx.graph.preorder(root, ctx.is_native)


def _runtime_of(members: tuple[str, ...], ctx: PlanContext) -> tuple[str, ...]:
    """The compiler-runtime packages *members* reach through runtime packages alone."""
    graph, runtime = ctx.graph, ctx.runtime
    reached: list[str] = []
    queue = [dep for member in members for dep in graph.successors(member) if dep in runtime]
    while queue:
        name = queue.pop(0)
        if name not in reached and name not in members:
            reached.append(name)
            queue += [dep for dep in graph.successors(name) if dep in runtime]
    return tuple(reached)


def _wheel_name(root: str, ctx: PlanContext) -> str:
    if ctx.classes[root].node_class is NodeClass.PYTHON:
        return ctx.names[root][0]
    # A native package's conda name may mean something else on PyPI (zstd, for one).
    return ctx.options.native_name.format(name=root)


def _requirements(
    members: tuple[str, ...], own: Mapping[str, str], ctx: PlanContext
) -> Requirements:
    """What a wheel requires: conda's dependencies merged with the root's own METADATA.

    :param own: the wheel named after each package that has one (pinned exactly).
    """
    specs: dict[str, list[str]] = {}
    for member in members:
        for dep, spec in ctx.graph.out_edges(member):
            if dep in members:
                continue
            if ctx.classes[dep].node_class is NodeClass.PYTHON or dep in ctx.roots or dep in own:
                specs.setdefault(dep, []).append(spec)
    conda: list[CondaRequirement] = []
    for dep, dep_specs in specs.items():
        rec = ctx.record(dep)
        if dep in own:  # another wheel of this plan: pin it exactly
            name, version = own[dep], pep440_version(rec.version)
            conda.append(CondaRequirement(name, name, f"=={version}", version))
            continue
        specifier, notes = _specifier(dep_specs)
        name, was = ctx.names[dep][0], ctx.renamed_from.get(dep)
        conda.append(CondaRequirement(dep, name, specifier, _version(rec), notes, was=was))
    facts = ctx.facts.get(members[0])
    return merge(facts.requires_dist if facts else None, conda, ctx.environment)


def _specifier(specs: list[str]) -> tuple[str, tuple[str, ...]]:
    """The PEP 440 specifier of one dependency's conda match specs, with translation notes."""
    import rattler  # noqa: PLC0415

    combined = SpecifierSet()
    notes: list[str] = []
    for text in specs:
        spec = rattler.MatchSpec(text)
        translation = translate_version_spec(
            str(spec.version) if spec.version is not None else None,
            str(spec.build) if spec.build is not None else None,
        )
        combined &= SpecifierSet(translation.specifier)
        notes.extend(translation.notes)
    return str(combined), tuple(notes)


def _version(rec: CondaRecord) -> str | None:
    """The PEP 440 spelling of *rec*'s version; None when PEP 440 would order it elsewhere."""
    try:
        return pep440_version(rec.version)
    except SpecError:
        return None
