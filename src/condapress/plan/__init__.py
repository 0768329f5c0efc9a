"""Stage 2, plan: classify every package of the closure in a graph and decide what it becomes.

:func:`plan` is pure: it reads nothing from disk or network and records, for every package, the
class it got, why, and what it becomes (merged into a wheel, a wheel of its own, a
``Requires-Dist`` line, or nothing). What the archives themselves say arrives as
:class:`~condapress.model.PackageFacts`, gathered beforehand by :mod:`condapress.unpack._peek`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

import networkx as nx
from packaging.specifiers import SpecifierSet

from condapress._versions import pep440_version, translate_version_spec
from condapress.errors import SpecError
from condapress.model import (
    Becomes,
    NoArch,
    NodeClass,
    PackageDecision,
    PackageFacts,
    PlanOptions,
    WheelPlan,
    WheelSpec,
)
from condapress.plan._requirements import CondaRequirement, Requirements, merge, target_environment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from condapress.model import Closure, CondaRecord, NameSource

__all__ = ["build_graph", "facts_wanted", "is_compiler_runtime", "plan", "pypi_name"]

# conda-build names python builds py310h..., pyh..., py_0 (old noarch); a hint, never proof.
_PYTHON_BUILD_RE = re.compile(r"^py(\d+|h|_)")


@dataclass(frozen=True, slots=True)
class _Tables:
    names: frozenset[str]
    prefixes: tuple[str, ...]
    runtime: frozenset[str]
    runtime_osx: frozenset[str]
    pypi: Mapping[str, str]


@cache
def _tables() -> _Tables:
    data = resources.files("condapress") / "data"
    system = json.loads((data / "system_packages.json").read_text(encoding="utf-8"))
    pypi = json.loads((data / "conda_to_pypi.json").read_text(encoding="utf-8"))
    return _Tables(
        names=frozenset(system["names"]),
        prefixes=tuple(system["prefixes"]),
        runtime=frozenset(system["runtime"]),
        runtime_osx=frozenset(system["runtime_osx"]),
        pypi=dict(pypi["names"]),
    )


def is_compiler_runtime(name: str, subdir: str = "") -> bool:
    """Whether conda package *name* is a compiler runtime (libstdcxx-ng, libgcc-ng, libgomp...).

    For a macOS *subdir* (``osx-*``), libc++ (``libcxx``) and ``llvm-openmp`` are too.
    """
    tables = _tables()
    return name in tables.runtime or (subdir.startswith("osx-") and name in tables.runtime_osx)


def build_graph(closure: Closure) -> nx.DiGraph[str]:
    """The dependency graph of the closure: an edge ``a -> b`` when *a* depends on *b*.

    Each edge carries the dependency's match spec as ``spec``; dependencies outside the
    closure (virtual packages, the provided ``python``) are left out.
    """
    import rattler  # noqa: PLC0415 - parsing match specs only; no I/O

    graph: nx.DiGraph[str] = nx.DiGraph()
    names = {rec.name for rec in closure.records}
    for rec in closure.records:
        graph.add_node(rec.name, record=rec)
    for rec in closure.records:
        for dep in rec.depends:
            spec = rattler.MatchSpec(dep)
            target = spec.name.normalized
            if target in names and target != rec.name:
                graph.add_edge(rec.name, target, spec=dep)
    return graph


def pypi_name(record: CondaRecord, facts: PackageFacts | None) -> tuple[str, NameSource]:
    """The PyPI name of a python package: its own dist-info, else the table, else the conda name."""
    if facts is not None and facts.dist_info_name:
        return facts.dist_info_name, "dist-info"
    mapped = _tables().pypi.get(record.name)
    if mapped is not None:
        return mapped, "table"
    return record.name, "conda-name"


def facts_wanted(closure: Closure) -> frozenset[str]:
    """The packages of *closure* whose archives the plan reads: the roots and the python ones.

    A root's own METADATA decides its wheel's name, extras and markers; a python package's
    decides the name its ``Requires-Dist`` line uses, and its paths whether it is python at all.
    Natives, system packages and the compiler runtime are planned from their records alone.
    """
    tables = _tables()
    return frozenset(
        rec.name
        for rec in closure.records
        if rec.name in closure.roots
        or (
            rec.name not in tables.names
            and not rec.name.startswith(tables.prefixes)
            and rec.name not in tables.runtime
            and (rec.noarch is NoArch.PYTHON or _python_hint(rec) is not None)
        )
    )


def _classify(
    rec: CondaRecord, facts: PackageFacts | None, options: PlanOptions
) -> tuple[NodeClass, str]:
    tables = _tables()
    if rec.name in tables.names or rec.name.startswith(tables.prefixes):
        return NodeClass.SYSTEM, "provided by the target interpreter or platform"
    if rec.subdir.startswith("osx-") and rec.name in tables.runtime_osx:
        # Conda's macOS builds load it by @rpath (conda-forge's libc++ is newer than the one
        # in /usr/lib, and its builds rely on that): no macOS has it, whatever --runtime says.
        return NodeClass.NATIVE, "compiler runtime of macOS builds: bundled where a binary needs it"
    if rec.name in tables.runtime:
        if options.runtime == "system":
            return (
                NodeClass.SYSTEM,
                "compiler runtime: the target system's copy is used (--runtime system)",
            )
        return NodeClass.NATIVE, "compiler runtime, bundled under mangled names (--runtime bundle)"
    if rec.noarch is NoArch.PYTHON:
        return NodeClass.PYTHON, "noarch: python"
    seen = facts.has_site_packages if facts is not None else None
    if seen is True:
        return NodeClass.PYTHON, "installs files under site-packages (paths.json)"
    hint = _python_hint(rec)
    if hint is None:
        return NodeClass.NATIVE, "no python dependency and no python files"
    if seen is False:
        return NodeClass.NATIVE, f"{hint}, but installs nothing under site-packages (paths.json)"
    return NodeClass.PYTHON, f"{hint} (archive not read: not checked against paths.json)"


def _python_hint(rec: CondaRecord) -> str | None:
    for dep in rec.depends:
        name = dep.split(maxsplit=1)[0]
        if name in ("python", "python_abi"):
            return f"depends on {name}"
    if _PYTHON_BUILD_RE.match(rec.build):
        return f"python build string '{rec.build}'"
    return None


def plan(
    closure: Closure,
    facts: Mapping[str, PackageFacts] | None = None,
    options: PlanOptions | None = None,
) -> WheelPlan:
    """Decide what every package of *closure* becomes.

    :param facts: what the archives at hand say, by conda name (see :mod:`condapress.unpack._peek`).
    :param options: fat or split, and the compiler-runtime policy.
    """
    facts = facts or {}
    options = options or PlanOptions()
    graph = build_graph(closure)
    classes = {rec.name: _classify(rec, facts.get(rec.name), options) for rec in closure.records}
    roots = [name for name in dict.fromkeys(closure.roots) if name in graph]

    bundled = {root: _bundle(root, graph, classes, roots) for root in roots}
    wheel_of = {root: _wheel_name(root, graph, facts, classes, options) for root in roots}
    # Under --runtime bundle the compiler runtime is grafted into each wheel whose binaries
    # need it, never a wheel of its own: such a wheel would hold only what its users need.
    runtime = {
        n
        for n in graph
        if is_compiler_runtime(n, graph.nodes[n]["record"].subdir) and _is_native(n, classes, roots)
    }
    if not options.fat:
        for members in bundled.values():
            for native in members[1:]:
                if native not in runtime:
                    wheel_of.setdefault(native, options.native_name.format(name=native))

    wheel_members = {
        wheel: tuple(m for m in bundled[root] if options.fat or m == root)
        for root, wheel in wheel_of.items()
        if root in bundled
    }
    for name, wheel in wheel_of.items():
        wheel_members.setdefault(wheel, (name,))
    if not options.fat:
        wheel_members = {
            wheel: (*members, *_runtime_of(members, graph, runtime))
            for wheel, members in wheel_members.items()
        }

    owners: dict[str, list[str]] = {}  # package -> wheels it goes into
    for wheel, inside in wheel_members.items():
        for name in inside:
            owners.setdefault(name, []).append(wheel)

    environment = target_environment(closure.python, closure.subdir)
    requirements = _requirements(graph, classes, facts, wheel_members, wheel_of, roots, environment)
    decisions = tuple(
        _decide(rec, classes, owners, requirements, graph, facts, roots, options)
        for rec in closure.records
    )
    wheels = tuple(
        WheelSpec(
            distribution=wheel,
            version=pep440_version(graph.nodes[members[0]]["record"].version),
            members=members,
            requires_dist=requirements[wheel].lines,
            wheel_dependencies=tuple(
                sorted(
                    r.key
                    for r in requirements[wheel].requirements
                    if r.key is not None and r.key in wheel_members
                )
            ),
        )
        for wheel, members in wheel_members.items()
    )
    return WheelPlan(
        closure=closure,
        fat=options.fat,
        runtime=options.runtime,
        decisions=decisions,
        wheels=wheels,
        edges=tuple(sorted(graph.edges())),
        grafted=frozenset(name for name in runtime if name in owners),
    )


def _bundle(
    root: str,
    graph: nx.DiGraph[str],
    classes: Mapping[str, tuple[NodeClass, str]],
    roots: list[str],
) -> list[str]:
    """The root, then the natives it reaches without passing a python, system or other root."""
    natives = graph.subgraph(n for n in graph if n == root or _is_native(n, classes, roots))
    return list(nx.dfs_preorder_nodes(natives, root))


def _runtime_of(
    members: tuple[str, ...], graph: nx.DiGraph[str], runtime: set[str]
) -> tuple[str, ...]:
    """The compiler-runtime packages *members* reach through runtime packages alone."""
    reached: list[str] = []
    queue = [dep for member in members for dep in graph.successors(member) if dep in runtime]
    while queue:
        name = queue.pop(0)
        if name not in reached and name not in members:
            reached.append(name)
            queue += [dep for dep in graph.successors(name) if dep in runtime]
    return tuple(reached)


def _is_native(name: str, classes: Mapping[str, tuple[NodeClass, str]], roots: list[str]) -> bool:
    return classes[name][0] is NodeClass.NATIVE and name not in roots


def _wheel_name(
    root: str,
    graph: nx.DiGraph[str],
    facts: Mapping[str, PackageFacts],
    classes: Mapping[str, tuple[NodeClass, str]],
    options: PlanOptions,
) -> str:
    if classes[root][0] is NodeClass.PYTHON:
        return pypi_name(graph.nodes[root]["record"], facts.get(root))[0]
    # A native package's conda name may mean something else on PyPI (zstd, for one).
    return options.native_name.format(name=root)


def _requirements(
    graph: nx.DiGraph[str],
    classes: Mapping[str, tuple[NodeClass, str]],
    facts: Mapping[str, PackageFacts],
    wheel_members: Mapping[str, tuple[str, ...]],
    wheel_of: Mapping[str, str],
    roots: list[str],
    environment: Mapping[str, str],
) -> dict[str, Requirements]:
    """What each wheel requires: conda's dependencies merged with the root's own METADATA."""
    out: dict[str, Requirements] = {}
    for wheel, members in wheel_members.items():
        specs: dict[str, list[str]] = {}
        for member in members:
            spec: str
            for _, dep, spec in graph.out_edges(member, data="spec"):
                if dep in members:
                    continue
                if classes[dep][0] is NodeClass.PYTHON or dep in roots or dep in wheel_of:
                    specs.setdefault(dep, []).append(spec)
        conda: list[CondaRequirement] = []
        for dep, dep_specs in specs.items():
            rec = graph.nodes[dep]["record"]
            if dep in wheel_of:  # another wheel of this plan: pin it exactly
                name, version = wheel_of[dep], pep440_version(rec.version)
                conda.append(CondaRequirement(name, name, f"=={version}", version))
                continue
            name = pypi_name(rec, facts.get(dep))[0]
            specifier, notes = _specifier(dep_specs)
            conda.append(CondaRequirement(dep, name, specifier, _version_or_none(rec), notes))
        own = facts.get(members[0])
        out[wheel] = merge(own.requires_dist if own else None, conda, environment)
    return out


def _specifier(specs: list[str]) -> tuple[str, tuple[str, ...]]:
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


def _version_or_none(rec: CondaRecord) -> str | None:
    """The PEP 440 spelling of *rec*'s version; None when PEP 440 would order it elsewhere."""
    try:
        return pep440_version(rec.version)
    except SpecError:
        return None


def _decide(
    rec: CondaRecord,
    classes: Mapping[str, tuple[NodeClass, str]],
    owners: Mapping[str, list[str]],
    requirements: Mapping[str, Requirements],
    graph: nx.DiGraph[str],
    facts: Mapping[str, PackageFacts],
    roots: list[str],
    options: PlanOptions,
) -> PackageDecision:
    node_class, reason = classes[rec.name]
    if rec.name in roots:
        named = node_class is NodeClass.PYTHON
        name, source = pypi_name(rec, facts.get(rec.name)) if named else (None, None)
        return PackageDecision(
            record=rec,
            node_class=NodeClass.ROOT,
            reason=f"requested ({node_class.value}: {reason})",
            becomes=Becomes.WHEEL,
            wheels=tuple(owners[rec.name]),
            pypi_name=name,
            name_source=source,
            name_verified=source in (None, "dist-info"),
            notes=tuple(p for wheel in owners[rec.name] for p in requirements[wheel].problems),
        )
    if rec.name in owners:
        grafted = not options.fat and is_compiler_runtime(rec.name, rec.subdir)
        becomes = Becomes.MERGED if options.fat or grafted else Becomes.WHEEL
        return PackageDecision(
            record=rec,
            node_class=node_class,
            reason=reason,
            becomes=becomes,
            wheels=tuple(owners[rec.name]),
        )
    if node_class is NodeClass.PYTHON:
        name, source = pypi_name(rec, facts.get(rec.name))
        merged = [
            req
            for reqs in requirements.values()
            for req in reqs.requirements
            if req.key == rec.name
        ]
        if merged:
            lines = list(dict.fromkeys(line for req in merged for line in req.lines))
            notes = [n for req in merged for n in req.notes]
            notes += [f"also Requires-Dist: {line}" for line in lines[1:]]
            return PackageDecision(
                record=rec,
                node_class=node_class,
                reason=reason,
                becomes=Becomes.REQUIREMENT,
                requirement=lines[0],
                pypi_name=name,
                name_source=source,
                name_verified=source == "dist-info",
                notes=tuple(dict.fromkeys(notes)),
            )
        why = _needed_by(rec.name, graph)
        return PackageDecision(
            record=rec,
            node_class=node_class,
            reason=reason,
            becomes=Becomes.DROPPED,
            pypi_name=name,
            name_source=source,
            name_verified=source == "dist-info",
            notes=(f"needed only by {why}; pip installs it through their own requirements",),
        )
    if node_class is NodeClass.SYSTEM:
        return PackageDecision(
            record=rec, node_class=node_class, reason=reason, becomes=Becomes.DROPPED
        )
    why = _needed_by(rec.name, graph)
    return PackageDecision(
        record=rec,
        node_class=node_class,
        reason=reason,
        becomes=Becomes.DROPPED,
        notes=(
            (
                f"needed only by {why}: a python dependency brings its own copy from PyPI, "
                "the target system provides what a system package needs"
            ),
        ),
    )


def _needed_by(name: str, graph: nx.DiGraph[str]) -> str:
    return ", ".join(sorted(graph.predecessors(name))) or "nothing in the closure"
