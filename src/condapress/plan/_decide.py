"""Decide what one package becomes: a wheel, part of one, a ``Requires-Dist`` line, or nothing.

One function per outcome; :func:`decide` picks the one that applies, in this order: a root is
always a wheel; a package some wheel holds is merged into it or is a wheel of its own; a python
package no wheel holds becomes a requirement of the wheels that need it (or is dropped when only
other python packages do); a system package is dropped; so is a native that only packages
outside the wheels need.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from condapress.model import Becomes, NodeClass, PackageDecision

if TYPE_CHECKING:
    from condapress.model import CondaRecord
    from condapress.plan._context import PlanContext
    from condapress.plan._group import Wheels

__all__ = ["decide"]


def decide(rec: CondaRecord, ctx: PlanContext, wheels: Wheels) -> PackageDecision:
    """The plan's decision on package *rec*, with its class, the reason and notes."""
    if rec.name in ctx.roots:
        return _root(rec, ctx, wheels)
    if rec.name in wheels.owners:
        return _member(rec, ctx, wheels)
    match ctx.classes[rec.name].node_class:
        case NodeClass.PYTHON:
            return _python_dependency(rec, ctx, wheels)
        case NodeClass.SYSTEM:
            return _system(rec, ctx)
        case _:
            return _unused_native(rec, ctx)


def _root(rec: CondaRecord, ctx: PlanContext, wheels: Wheels) -> PackageDecision:
    """A requested package: always a wheel, named after its METADATA when it is python."""
    classified = ctx.classes[rec.name]
    named = classified.node_class is NodeClass.PYTHON
    name, source = ctx.names[rec.name] if named else (None, None)
    owners = wheels.owners[rec.name]
    return PackageDecision(
        record=rec,
        node_class=NodeClass.ROOT,
        reason=f"requested ({classified.node_class.value}: {classified.reason})",
        becomes=Becomes.WHEEL,
        wheels=owners,
        pypi_name=name,
        name_source=source,
        name_verified=source in (None, "dist-info"),
        notes=tuple(p for wheel in owners for p in wheels.requirements[wheel].problems),
    )


def _member(rec: CondaRecord, ctx: PlanContext, wheels: Wheels) -> PackageDecision:
    """A native some wheel holds: merged into it (fat, or the grafted runtime) or its own wheel."""
    grafted = not ctx.options.fat and rec.name in ctx.runtime
    return PackageDecision(
        record=rec,
        node_class=ctx.classes[rec.name].node_class,
        reason=ctx.classes[rec.name].reason,
        becomes=Becomes.MERGED if ctx.options.fat or grafted else Becomes.WHEEL,
        wheels=wheels.owners[rec.name],
    )


def _python_dependency(rec: CondaRecord, ctx: PlanContext, wheels: Wheels) -> PackageDecision:
    """A python package no wheel holds: a requirement of the wheels that need it, else dropped."""
    merged = [
        req
        for reqs in wheels.requirements.values()
        for req in reqs.requirements
        if req.key == rec.name
    ]
    lines = list(dict.fromkeys(line for req in merged for line in req.lines))
    if merged:
        notes = [n for req in merged for n in req.notes]
        notes += [f"also Requires-Dist: {line}" for line in lines[1:]]
    else:
        why = ctx.needed_by(rec.name)
        notes = [f"needed only by {why}; pip installs it through their own requirements"]
    name, source = ctx.names[rec.name]
    if source == "rename":
        notes.insert(0, f"named {name} by --rename")
    return PackageDecision(
        record=rec,
        node_class=NodeClass.PYTHON,
        reason=ctx.classes[rec.name].reason,
        becomes=Becomes.REQUIREMENT if merged else Becomes.DROPPED,
        requirement=lines[0] if merged else None,
        pypi_name=name,
        name_source=source,
        name_verified=source in ("dist-info", "rename"),
        notes=tuple(dict.fromkeys(notes)),
    )


def _system(rec: CondaRecord, ctx: PlanContext) -> PackageDecision:
    """A package the target provides: dropped, without a note."""
    return PackageDecision(
        record=rec,
        node_class=NodeClass.SYSTEM,
        reason=ctx.classes[rec.name].reason,
        becomes=Becomes.DROPPED,
    )


def _unused_native(rec: CondaRecord, ctx: PlanContext) -> PackageDecision:
    """A native no wheel holds (only python or system packages need it): dropped."""
    why = ctx.needed_by(rec.name)
    return PackageDecision(
        record=rec,
        node_class=NodeClass.NATIVE,
        reason=ctx.classes[rec.name].reason,
        becomes=Becomes.DROPPED,
        notes=(
            (
                f"needed only by {why}: a python dependency brings its own copy from PyPI, "
                "the target system provides what a system package needs"
            ),
        ),
    )
