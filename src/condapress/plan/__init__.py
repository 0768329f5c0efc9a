"""Stage 3, plan: classify every package of the closure in a graph and decide what it becomes.

:func:`plan` is pure: it reads nothing from disk or network and records, for every package, the
class it got, why, and what it becomes (merged into a wheel, a wheel of its own, a
``Requires-Dist`` line, or nothing). What the archives themselves say arrives as
:class:`~condapress.model.PackageFacts`, gathered beforehand by :func:`condapress.unpack.peek`
for the packages :func:`facts_wanted` names.

The steps are the private modules': ``_classify`` gives each package its class, ``_group``
makes the wheels and their requirements (``_requirements`` merges conda's with the package's
own), ``_decide`` gives each package its decision; ``_tables`` holds the package-data tables and
``_render`` shows the plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from condapress.model import NoArch, NodeClass, PlanOptions, WheelPlan
from condapress.plan import _controls
from condapress.plan._classify import classify, python_hint
from condapress.plan._context import PlanContext
from condapress.plan._decide import decide
from condapress.plan._graph import build_graph
from condapress.plan._group import group, wheel_specs
from condapress.plan._requirements import target_environment
from condapress.plan._tables import pypi_names, system_packages

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import Closure, CondaRecord, NameSource, PackageFacts

__all__ = ["build_graph", "facts_wanted", "is_compiler_runtime", "plan", "pypi_name"]


def is_compiler_runtime(name: str, subdir: str = "") -> bool:
    """Whether conda package *name* is a compiler runtime (libstdcxx-ng, libgcc-ng, libgomp...).

    For a macOS *subdir* (``osx-*``), libc++ (``libcxx``) and ``llvm-openmp`` are too.

    >>> is_compiler_runtime("libcxx"), is_compiler_runtime("libcxx", "osx-arm64")
    (False, True)
    """
    tables = system_packages()
    return name in tables.runtime or (subdir.startswith("osx-") and name in tables.runtime_osx)


def pypi_name(record: CondaRecord, facts: PackageFacts | None) -> tuple[str, NameSource]:
    """The PyPI name of a python package: its own dist-info, else the table, else the conda name."""
    if facts is not None and facts.dist_info_name:
        return facts.dist_info_name, "dist-info"
    mapped = pypi_names().get(record.name)
    if mapped is not None:
        return mapped, "table"
    return record.name, "conda-name"


def facts_wanted(closure: Closure) -> frozenset[str]:
    """The packages of *closure* whose archives the plan reads: the roots and the python ones.

    A root's own METADATA decides its wheel's name, extras and markers; a python package's
    decides the name its ``Requires-Dist`` line uses, and its paths whether it is python at all.
    Natives, system packages and the compiler runtime are planned from their records alone.
    """
    tables = system_packages()
    return frozenset(
        rec.name
        for rec in closure.records
        if rec.name in closure.roots
        or (
            not tables.provides(rec.name)
            and rec.name not in tables.runtime
            and (rec.noarch is NoArch.PYTHON or python_hint(rec) is not None)
        )
    )


def plan(
    closure: Closure,
    facts: Mapping[str, PackageFacts] | None = None,
    options: PlanOptions | None = None,
) -> WheelPlan:
    """Decide what every package of *closure* becomes.

    :param facts: what the archives at hand say, by conda name (see :func:`facts_wanted` and
        :func:`condapress.unpack.peek`).
    :param options: fat or split, the compiler-runtime policy, the user's controls.
    :raises SpecError: a version of the closure has no PEP 440 spelling for a wheel or a pin;
        a control is invalid, or renames a package that is not a python dependency.
    """
    options = options or PlanOptions()
    _controls.check(options, closure.subdir)
    ctx = _context(closure, facts or {}, options)
    wheels = _controls.with_added_requires(group(ctx), ctx.roots, options)
    root_wheels = tuple(dict.fromkeys(wheels.own[root] for root in ctx.roots))
    return WheelPlan(
        closure=closure,
        fat=ctx.options.fat,
        runtime=ctx.options.runtime,
        decisions=tuple(decide(rec, ctx, wheels) for rec in closure.records),
        wheels=wheel_specs(wheels, ctx),
        edges=tuple(sorted(ctx.graph.edges())),
        grafted=frozenset(name for name in ctx.runtime if name in wheels.owners),
        controls=_controls.controls(options, ctx.names, root_wheels),
        exclude=options.exclude,
        strip=options.strip,
    )


def _context(
    closure: Closure, facts: Mapping[str, PackageFacts], options: PlanOptions
) -> PlanContext:
    """The graph of *closure*, every package's class and PyPI name: what every decision reads."""
    graph = build_graph(closure)
    classes = {rec.name: classify(rec, facts.get(rec.name), options) for rec in closure.records}
    roots = tuple(name for name in dict.fromkeys(closure.roots) if name in graph)
    natives = {n for n, c in classes.items() if c.node_class is NodeClass.NATIVE} - set(roots)
    names = {rec.name: pypi_name(rec, facts.get(rec.name)) for rec in closure.records}
    names, renamed_from = _controls.renamed(names, classes, roots, options)
    return PlanContext(
        graph=graph,
        classes=classes,
        names=names,
        renamed_from=renamed_from,
        facts=facts,
        roots=roots,
        options=options,
        runtime=frozenset(name for name in natives if is_compiler_runtime(name, closure.subdir)),
        environment=target_environment(closure.python, closure.subdir),
    )
