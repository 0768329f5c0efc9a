"""The closure's dependency graph: which package depends on which, by what match spec.

A dict of dicts is all the plan walks (successors in the order the records list them,
predecessors, one depth-first walk): networkx, which takes longer to import than the whole plan
takes to make, is loaded only to draw the graph (``condapress plan --graph``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from condapress.model import Closure, CondaRecord

__all__ = ["DependencyGraph", "build_graph"]


@dataclass(frozen=True, slots=True)
class DependencyGraph:
    """Packages by name, in the closure's order; an edge ``a -> b`` when *a* depends on *b*."""

    #: every package's record, by conda name, in the closure's order.
    records: Mapping[str, CondaRecord]
    #: name -> {dependency: its match spec}, dependencies in the order *name*'s record lists
    #: them first (a dependency listed twice keeps its place and its last spec).
    out: Mapping[str, Mapping[str, str]]

    def __contains__(self, name: object) -> bool:
        return name in self.records

    def __iter__(self) -> Iterator[str]:
        return iter(self.records)

    def successors(self, name: str) -> Iterator[str]:
        """The packages *name* depends on."""
        return iter(self.out[name])

    def predecessors(self, name: str) -> Iterator[str]:
        """The packages that depend on *name*."""
        return (other for other, deps in self.out.items() if name in deps)

    def out_edges(self, name: str) -> Iterator[tuple[str, str]]:
        """``(dependency, match spec)`` of every dependency of *name*."""
        return iter(self.out[name].items())

    def edges(self) -> Iterator[tuple[str, str]]:
        """Every ``(package, dependency)`` pair."""
        return ((name, dep) for name, deps in self.out.items() for dep in deps)

    def preorder(self, root: str, within: Callable[[str], bool]) -> list[str]:
        """*root*, then what it reaches through packages *within* accepts, depth first.

        The order is networkx's ``dfs_preorder_nodes``: each package's dependencies in the order
        its record lists them.
        """
        order, seen = [root], {root}
        stack = [iter(self.out[root])]
        while stack:
            for dep in stack[-1]:
                if dep not in seen and within(dep):
                    seen.add(dep)
                    order.append(dep)
                    stack.append(iter(self.out[dep]))
                    break
            else:
                stack.pop()
        return order


def build_graph(closure: Closure) -> DependencyGraph:
    """The dependency graph of *closure*.

    Dependencies outside it (virtual packages, the provided ``python``) and on itself are left out.
    """
    import rattler  # noqa: PLC0415 - parsing match specs only; no I/O

    records = {rec.name: rec for rec in closure.records}
    out: dict[str, dict[str, str]] = {name: {} for name in records}
    for rec in closure.records:
        for dep in rec.depends:
            target = rattler.MatchSpec(dep).name.normalized
            if target in records and target != rec.name:
                out[rec.name][target] = dep
    return DependencyGraph(records, out)
